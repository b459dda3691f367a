"""Issue 16: DOLBOM_LOG_FORMAT=json: one JSON object per log line; hostile text stays inside."""

import json
import logging
import subprocess
import sys
from pathlib import Path

from dolbom.logformat import JsonFormatter, configure

REPO = Path(__file__).resolve().parents[1]


def test_a_record_is_one_json_line_and_a_forged_newline_stays_in_the_message() -> None:
    record = logging.LogRecord(
        "cloud.ingest",
        logging.WARNING,
        __file__,
        1,
        "dead-lettered %r",
        ('x\n{"level": "fake"}',),
        None,
    )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    doc = json.loads(line)
    assert doc["level"] == "WARNING"
    assert doc["logger"] == "cloud.ingest"
    assert "fake" in doc["message"]
    assert doc["ts"].endswith("+00:00")


def test_an_exception_is_carried_in_exc() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    doc = json.loads(JsonFormatter().format(record))
    assert "ValueError: boom" in doc["exc"]


def test_an_unknown_format_warns_in_korean_and_english_and_falls_back_to_text() -> None:
    root = logging.getLogger()
    saved = root.handlers[:]
    try:
        root.handlers = []
        warning = configure(logging.INFO, "xml")
        assert warning is not None
        assert "알 수 없는 형식" in warning
        assert "not a known format" in warning
        assert not isinstance(root.handlers[0].formatter, JsonFormatter)
    finally:
        root.handlers = saved


def test_the_cli_logs_json_when_asked() -> None:
    code = (
        "from dolbom.cli import _root; import logging; _root();"
        " logging.getLogger('x').warning('hi')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={"DOLBOM_LOG_FORMAT": "json", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    doc = json.loads(out.stderr.strip().splitlines()[-1])
    assert (doc["logger"], doc["message"]) == ("x", "hi")


def test_opening_the_store_prints_no_alembic_info_lines_unless_verbose(tmp_path: Path) -> None:
    """A CLI call that migrates the store used to print Alembic's INFO lines to every user."""
    script = (
        "import logging, sys\n"
        "from dolbom.logformat import configure\n"
        "configure(int(sys.argv[1]), None)\n"
        "from cloud.store.migrate import migrate\n"
        "migrate(sys.argv[2])\n"
    )
    quiet = subprocess.run(
        [sys.executable, "-c", script, str(logging.INFO), f"sqlite:///{tmp_path / 'a.sqlite3'}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "alembic" not in quiet.stderr
    assert "Running upgrade" not in quiet.stderr
    verbose = subprocess.run(
        [sys.executable, "-c", script, str(logging.DEBUG), f"sqlite:///{tmp_path / 'b.sqlite3'}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "Running upgrade" in verbose.stderr
