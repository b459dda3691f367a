"""Issue 17: deploy/pi — the systemd unit passes `systemd-analyze verify` with no warning and
keeps its watchdog, restart policy and hardening; the install script picks the right sound card."""

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PI = ROOT / "deploy" / "pi"
UNIT = PI / "dolbom-robot.service"
ANALYZE = shutil.which("systemd-analyze")
needs_systemd = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")


def _unit_here(tmp_path: Path, text: str | None = None) -> Path:
    """The unit with ExecStart pointing at this venv's `dolbom` (verify checks it exists)."""
    body = UNIT.read_text(encoding="utf-8") if text is None else text
    dolbom = Path(sys.executable).parent / "dolbom"
    path = tmp_path / UNIT.name
    path.write_text(body.replace("/opt/dolbom/venv/bin/dolbom", str(dolbom)), encoding="utf-8")
    return path


def _verify(path: Path) -> subprocess.CompletedProcess[str]:
    assert ANALYZE is not None
    return subprocess.run(
        [ANALYZE, "verify", str(path)], capture_output=True, text=True, timeout=120, check=False
    )


def _service() -> dict[str, list[str]]:
    """[Service] as key → every value (systemd allows repeated keys)."""
    out: dict[str, list[str]] = {}
    section = ""
    for raw in UNIT.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


@needs_systemd
def test_unit_passes_systemd_analyze_verify_without_a_warning(tmp_path: Path) -> None:
    run = _verify(_unit_here(tmp_path))
    assert run.returncode == 0, run.stderr
    assert run.stderr.strip() == ""


@needs_systemd
def test_verify_would_catch_a_misspelt_directive(tmp_path: Path) -> None:
    broken = UNIT.read_text(encoding="utf-8").replace("ProtectSystem=", "ProtectSytem=")
    broken = broken.replace("WatchdogSec=30", "WatchdogSec=soon")
    run = _verify(_unit_here(tmp_path, broken))
    assert "Unknown key 'ProtectSytem'" in run.stderr
    assert "soon" in run.stderr


@needs_systemd
def test_unit_exposure_is_low_by_systemd_analyze_security(tmp_path: Path) -> None:
    assert ANALYZE is not None
    run = subprocess.run(
        [ANALYZE, "security", "--offline=yes", "--no-pager", str(_unit_here(tmp_path))],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", run.stdout + run.stderr)
    assert found is not None, run.stdout + run.stderr
    assert float(found.group(1)) <= 2.0


def test_unit_has_the_watchdog_restart_policy_and_hardening() -> None:
    service = _service()
    assert service["Type"] == ["notify"]
    assert service["WatchdogSec"] == ["30"]
    assert service["Restart"] == ["always"]
    assert service["User"] == ["dolbom"]
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
        "ProtectKernelModules": "yes",
        "RestrictSUIDSGID": "yes",
        "DevicePolicy": "closed",
        "CapabilityBoundingSet": "",
    }.items():
        assert service[key] == [value], key
    assert "char-alsa rw" in service["DeviceAllow"]
    assert service["ExecStart"] == [
        "/opt/dolbom/venv/bin/dolbom device run --config /etc/dolbom/robot.toml"
    ]


def test_unit_preloads_the_jemalloc_that_install_installs() -> None:
    env = _service()["Environment"]
    assert "LD_PRELOAD=/usr/lib/aarch64-linux-gnu/libjemalloc.so.2" in env
    assert "MALLOC_ARENA_MAX=2" in env  # if jemalloc is missing, glibc serves with two arenas
    assert "MALLOC_CONF=dirty_decay_ms:0,muzzy_decay_ms:0" in env  # freed pages go back at once
    install = (PI / "install.sh").read_text(encoding="utf-8")
    debs = next(line for line in install.splitlines() if line.startswith("DEBS="))
    assert "libjemalloc2" in debs.split()


def test_journald_limits_bound_the_logs_on_the_sd_card() -> None:
    conf = configparser.ConfigParser()
    conf.read(PI / "journald-dolbom.conf", encoding="utf-8")
    journal = conf["Journal"]
    assert journal["SystemMaxUse"] == "64M"
    assert journal["RuntimeMaxUse"] == "16M"
    assert journal["MaxRetentionSec"] == "1month"


def _bash(script: str, stdin: str = "") -> str:
    run = subprocess.run(
        ["bash", "-c", f"source {PI / 'install.sh'}; {script}"],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return run.stdout


ARECORD_PI_AND_USB = """\
**** List of CAPTURE Hardware Devices ****
card 0: Headphones [bcm2835 Headphones], device 0: bcm2835 Headphones [bcm2835 Headphones]
card 2: Device [USB PnP Sound Device], device 0: USB Audio [USB Audio]
  Subdevices: 1/1
card 3: Mic [USB Microphone], device 0: USB Audio [USB Audio]
"""


def test_install_picks_the_first_usb_card() -> None:
    assert _bash("pick_card", ARECORD_PI_AND_USB) == "2"


def test_install_falls_back_to_the_first_card_without_usb() -> None:
    listing = "card 1: vc4hdmi0 [vc4-hdmi-0], device 0: MAI PCM\ncard 4: Other [x], device 0\n"
    assert _bash("pick_card", listing) == "1"


def test_install_finds_no_card_in_an_empty_listing() -> None:
    assert _bash("pick_card", "**** List of CAPTURE Hardware Devices ****\n") == ""


def test_install_makes_the_chosen_cards_alsa_default() -> None:
    conf = _bash("asound_conf 2 0")
    assert 'slave.pcm "hw:2,0"' in conf
    assert 'slave.pcm "hw:0,0"' in conf
    assert "pcm.!default" in conf


def test_install_script_parses() -> None:
    subprocess.run(["bash", "-n", str(PI / "install.sh")], check=True, timeout=60)
    subprocess.run(["bash", "-n", str(PI / "check-arm64.sh")], check=True, timeout=60)
