"""The report of `make check-arm64` (deploy/pi/check-arm64.sh): arm64 against x86, same run.

Usage: arm64_report.py RUN_DIR WHEEL OUT_JSON. Prints a table, writes the JSON, and exits 1
when a transcript or intent differs, a self-test fails, or the scripted minute stored no
emergency.
"""

import json
import sys
from pathlib import Path
from typing import Any


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _rss(path: Path) -> float | None:
    try:
        return float(json.loads(path.read_text(encoding="utf-8"))["peak_rss_mb"])
    except (OSError, ValueError, KeyError):
        return None


def _decisions(utterances: list[dict[str, Any]]) -> list[tuple[str | None, str, str | None]]:
    """What must be equal across machines: words, intent and sound label, in order."""
    return [(u.get("text"), str(u.get("intent")), u.get("sound")) for u in utterances]


def main(run: Path, wheel: str, out: Path) -> int:
    """Compare, print, write; 0 when arm64 decides as x86 does and every check passed."""
    clips: list[dict[str, Any]] = []
    for arm in sorted((run / "arm64").glob("*.jsonl")):
        x86 = run / "x86" / arm.name
        a, b = _lines(arm), _lines(x86)
        clips.append(
            {
                "clip": arm.stem,
                "same": _decisions(a) == _decisions(b) and bool(b),
                "arm64": _decisions(a),
                "x86": _decisions(b),
                "peak_rss_mb_arm64_emulated": _rss(run / "arm64" / f"{arm.stem}.rss"),
                "peak_rss_mb_x86": _rss(run / "x86" / f"{arm.stem}.rss"),
            }
        )
    try:
        selftest = json.loads((run / "arm64" / "selftest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        selftest = {"ok": False, "checks": [], "error": "no self-test output"}
    try:
        outbox = json.loads((run / "arm64" / "outbox.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        outbox = {}
    packages = json.loads((run / "arm64" / "pip-list.json").read_text(encoding="utf-8"))
    forbidden = {"fastapi", "sqlalchemy", "psycopg", "pandas", "statsmodels", "matplotlib"}
    installed = {p["name"].lower() for p in packages}
    unwanted = sorted(installed & forbidden)
    report: dict[str, Any] = {
        "what": "make check-arm64: dolbom[robot] on Debian bookworm arm64 under qemu-user",
        "wheel": wheel,
        "timings": "not reported: under emulation they mean nothing",
        "venv_mb": int((run / "arm64" / "venv_mb").read_text().strip()),
        "speech_model_mb": int((run / "arm64" / "model_mb").read_text().strip()),
        "packages": sorted(installed),
        "cloud_or_research_packages_installed": unwanted,
        "clips": clips,
        "same_decisions": all(c["same"] for c in clips) and bool(clips),
        "selftest": selftest,
        "selftest_peak_rss_mb_emulated": _rss(run / "arm64" / "selftest.rss"),
        "minute_outbox": outbox,
        "minute_peak_rss_mb_emulated": _rss(run / "arm64" / "minute.rss"),
        "rss_note": (
            "peak RSS under qemu-user is the emulator's: guest memory plus translation buffers;"
            " the x86 figures of the same run are the native reference"
        ),
    }
    ok = (
        report["same_decisions"]
        and bool(selftest.get("ok"))
        and "button" in outbox.get("emergency_triggers", [])
        and outbox.get("heartbeat", 0) >= 1
        and not unwanted
    )
    report["ok"] = ok
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"{'clip':28} {'same':5} {'arm64 (emulated) MB':>20} {'x86 MB':>8}  arm64 heard")
    for c in clips:
        heard = "; ".join(f"{t!r}→{i}" + (f" [{s}]" if s else "") for t, i, s in c["arm64"])
        print(
            f"{c['clip']:28} {'yes' if c['same'] else 'NO':5} "
            f"{c['peak_rss_mb_arm64_emulated'] or 0:>20.0f} {c['peak_rss_mb_x86'] or 0:>8.0f}"
            f"  {heard}"
        )
    for check in selftest.get("checks", []):
        print(f"selftest {check['name']:16} {'ok' if check['ok'] else 'FAIL'}  {check['detail']}")
    print(f"scripted minute: outbox {outbox}")
    print(
        f"install: venv {report['venv_mb']} MB (speech model {report['speech_model_mb']} MB),"
        f" {len(installed)} packages, cloud/research packages: {unwanted or 'none'}"
    )
    print(f"{'PASS' if ok else 'FAIL'}: {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])))
