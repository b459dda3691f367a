"""`dolbom protocol schema` exports the whole contract."""

import json
from pathlib import Path

from typer.testing import CliRunner

from dolbom.cli import app
from protocol import EventType


def test_schema_command_writes_every_payload_and_the_envelope(tmp_path: Path) -> None:
    out = tmp_path / "contract.json"
    result = CliRunner().invoke(app, ["protocol", "schema", "--out", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert set(doc["payloads"]) == {t.value for t in EventType}
    assert {"v", "device_id", "epoch", "seq", "ts", "type", "priority", "payload"} <= set(
        doc["envelope"]["properties"]
    )
    assert doc["topics"]["events"] == "dolbom/v1/devices/{device_id}/events"
