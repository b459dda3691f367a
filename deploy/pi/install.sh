#!/usr/bin/env bash
# Install the dolbom robot agent on Raspberry Pi OS (bookworm, arm64). Run as root on the Pi:
#
#   sudo deploy/pi/install.sh --wheel dolbom-0.2.0-py3-none-any.whl --config robot.toml [--ca ca.crt]
#   sudo deploy/pi/install.sh --version 0.2.0 --config robot.toml       # from the package index
#
# It creates the `dolbom` system user (groups audio, dialout), /opt/dolbom/venv with
# `dolbom[robot]` from aarch64 wheels only, /etc/dolbom/robot.toml (0640 root:dolbom: it holds the
# broker password) and /var/lib/dolbom (0700 dolbom), picks the ALSA microphone and speaker
# (a USB card first; --mic-card/--speaker-card to choose) into /etc/asound.conf, installs the
# journald limits and the systemd unit (watchdog, restart, hardening), checks the config and the
# models with `dolbom device selftest`, and starts the robot. Run it again to upgrade.
# Docs: docs/robot.md. Tested: the unit with systemd-analyze and the card choice in
# tests/deploy/test_pi.py; the pip install on arm64 with `make check-arm64`.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PREFIX=/opt/dolbom
CONF_DIR=/etc/dolbom
DATA_DIR=/var/lib/dolbom
UNIT=dolbom-robot.service
DEBS="python3 python3-venv python3-pip ca-certificates libatomic1 libjemalloc2 libportaudio2 espeak-ng alsa-utils"

die() { printf 'install: %s\n' "$*" >&2; exit 2; }

# pick_card: the ALSA card number to use, from `arecord -l` or `aplay -l` output on stdin.
# A USB card (a USB microphone or speaker) wins over the Pi's own HDMI/headphone outputs;
# otherwise the first card listed. Prints nothing when there is no card.
pick_card() {
  local usb="" first="" line number
  while IFS= read -r line; do
    [[ $line =~ ^card\ ([0-9]+): ]] || continue
    number=${BASH_REMATCH[1]}
    [ -n "$first" ] || first=$number
    if [ -z "$usb" ] && [[ $line =~ [Uu][Ss][Bb] ]]; then usb=$number; fi
  done
  printf '%s' "${usb:-$first}"
}

# asound_conf CAPTURE PLAYBACK: /etc/asound.conf making them ALSA's default (PortAudio and
# espeak-ng open "default"); plug converts the rate and channels the card does not do.
asound_conf() {
  cat <<CONF
# Written by dolbom deploy/pi/install.sh: the robot's microphone (card $1) and speaker (card $2).
pcm.!default {
    type asym
    capture.pcm "plug:dsnoop_robot"
    playback.pcm "plug:dmix_robot"
}
pcm.dsnoop_robot { type dsnoop; ipc_key 5978; slave.pcm "hw:$1,0" }
pcm.dmix_robot { type dmix; ipc_key 5979; slave.pcm "hw:$2,0" }
ctl.!default { type hw; card $1 }
CONF
}

# Sourced by the tests for the functions above; nothing below runs then.
if [ "${BASH_SOURCE[0]}" != "$0" ]; then return 0; fi

WHEEL="" VERSION="" CONFIG="" CA="" MIC_CARD="" SPEAKER_CARD="" START=1
while [ $# -gt 0 ]; do
  case $1 in
    --wheel) WHEEL=$2; shift 2 ;;
    --version) VERSION=$2; shift 2 ;;
    --config) CONFIG=$2; shift 2 ;;
    --ca) CA=$2; shift 2 ;;
    --mic-card) MIC_CARD=$2; shift 2 ;;
    --speaker-card) SPEAKER_CARD=$2; shift 2 ;;
    --no-start) START=0; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) die "unknown option $1 / 알 수 없는 옵션입니다" ;;
  esac
done

[ "$(id -u)" = 0 ] || die "run as root (sudo) / root 권한으로 실행하세요"
[ "$(uname -m)" = aarch64 ] || die "this is $(uname -m); the robot image is arm64 (aarch64) / arm64 가 아닙니다"
# shellcheck disable=SC1091
. /etc/os-release
[ "${VERSION_CODENAME:-}" = bookworm ] || echo "warning: tested on bookworm, this is ${VERSION_CODENAME:-unknown}" >&2
[ -n "$WHEEL$VERSION" ] || die "--wheel FILE or --version X.Y.Z is required / 설치할 패키지를 지정하세요"
[ -z "$WHEEL" ] || [ -f "$WHEEL" ] || die "no such wheel: $WHEEL / 파일이 없습니다"
[ -z "$CONFIG" ] || [ -f "$CONFIG" ] || die "no such config: $CONFIG / 설정 파일이 없습니다"

echo "== Debian packages: $DEBS"
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $DEBS

echo "== user dolbom (audio, dialout)"
id dolbom >/dev/null 2>&1 || useradd --system --home-dir "$DATA_DIR" --no-create-home \
  --shell /usr/sbin/nologin dolbom
usermod -a -G audio,dialout dolbom

echo "== directories"
install -d -m 0755 -o root -g root "$PREFIX"
install -d -m 0750 -o root -g dolbom "$CONF_DIR"
install -d -m 0700 -o dolbom -g dolbom "$DATA_DIR"

echo "== venv $PREFIX/venv: dolbom[robot] from aarch64 wheels only"
[ -x "$PREFIX/venv/bin/python" ] || python3 -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/pip" install --quiet --upgrade pip
if [ -n "$WHEEL" ]; then
  cp "$WHEEL" "$PREFIX/" && target="$PREFIX/$(basename "$WHEEL")[robot]"
else
  target="dolbom[robot]==$VERSION"
fi
# `srt` (a Vosk dependency) is published as source only: pure Python, allowed to build.
"$PREFIX/venv/bin/pip" install --quiet --only-binary=:all: --no-binary=srt "$target"

echo "== config $CONF_DIR/robot.toml"
if [ -n "$CONFIG" ]; then
  install -m 0640 -o root -g dolbom "$CONFIG" "$CONF_DIR/robot.toml"
elif [ ! -f "$CONF_DIR/robot.toml" ]; then
  install -m 0640 -o root -g dolbom "$HERE/robot.toml" "$CONF_DIR/robot.toml"
  echo "warning: $CONF_DIR/robot.toml is the template: set device_id and the broker password" \
    "(dolbom provision device writes it) / 템플릿입니다: 장치 ID와 비밀번호를 설정하세요" >&2
fi
[ -z "$CA" ] || install -m 0644 -o root -g root "$CA" "$CONF_DIR/ca.crt"
# Refuses a wrong key or value now, with the file, key and reason.
runuser -u dolbom -- "$PREFIX/venv/bin/python" -c \
  'from pathlib import Path; from device.config import load_config; load_config(Path("/etc/dolbom/robot.toml"))'

echo "== sound: microphone and speaker"
MIC_CARD=${MIC_CARD:-$(arecord -l 2>/dev/null | pick_card)}
SPEAKER_CARD=${SPEAKER_CARD:-$(aplay -l 2>/dev/null | pick_card)}
[ -n "$MIC_CARD" ] || die "no microphone found (arecord -l lists none): plug in a USB microphone / 마이크가 없습니다"
[ -n "$SPEAKER_CARD" ] || die "no speaker found (aplay -l lists none) / 스피커가 없습니다"
echo "microphone: card $MIC_CARD, speaker: card $SPEAKER_CARD"
[ ! -f /etc/asound.conf ] || cp /etc/asound.conf "/etc/asound.conf.before-dolbom"
asound_conf "$MIC_CARD" "$SPEAKER_CARD" > /etc/asound.conf

echo "== journald limits"
install -d /etc/systemd/journald.conf.d
install -m 0644 "$HERE/journald-dolbom.conf" /etc/systemd/journald.conf.d/dolbom.conf
systemctl restart systemd-journald

echo "== self-tests (models and the speech model)"
runuser -u dolbom -- "$PREFIX/venv/bin/dolbom" device selftest

echo "== systemd unit $UNIT"
install -m 0644 "$HERE/$UNIT" "/etc/systemd/system/$UNIT"
systemd-analyze verify "/etc/systemd/system/$UNIT"
systemctl daemon-reload
systemctl enable "$UNIT"
if [ "$START" = 1 ]; then
  systemctl restart "$UNIT"
  echo "started: journalctl -u $UNIT -f / 시작했습니다"
fi
