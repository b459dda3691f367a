"""`dolbom models predict emotion`: good input gives one JSON line each; bad input a clear error."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from device.perception.emotion_text import LABELS
from dolbom.cli import app

ARTIFACTS = Path(__file__).resolve().parents[2] / "models" / "artifacts"


def _run(*args: str, stdin: str | None = None) -> "Result":
    result = CliRunner().invoke(app, ["models", "predict", "emotion", *args], input=stdin)
    return Result(result.exit_code, result.stdout, result.stderr)


class Result:
    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.code, self.stdout, self.stderr = code, stdout, stderr

    def json_lines(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


def test_text_as_json_gives_label_scores_and_valence() -> None:
    r = _run("--text", "아이고 무릎이야 오늘따라 더 쑤시네", "--json")
    assert r.code == 0, r.stderr
    (row,) = r.json_lines()
    assert set(row) == {"label", "scores", "valence"}
    assert row["label"] == "pain"
    assert isinstance(row["scores"], dict)
    assert set(row["scores"]) == set(LABELS)
    assert isinstance(row["valence"], float)
    assert -1.0 <= row["valence"] < 0


def test_text_without_json_is_one_readable_line() -> None:
    r = _run("--text", "I miss my husband so much")
    assert r.code == 0, r.stderr
    assert r.stdout.startswith("sad_lonely ")
    assert "valence -" in r.stdout


def test_an_input_file_gives_one_line_per_text_in_order(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    lines = [
        {"text": "손주가 와서 너무 좋아"},
        {"text": "what time is it", "id": 7},
        {"text": "허리가 너무 아파"},
    ]
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n\n", "utf-8")
    r = _run("--input", str(path))
    assert r.code == 0, r.stderr
    rows = r.json_lines()
    assert [row["label"] for row in rows] == ["happy", "neutral", "pain"]


def test_standard_input_works_with_a_dash() -> None:
    r = _run("--input", "-", stdin='{"text": "I am so worried about the rent"}\n')
    assert r.code == 0, r.stderr
    assert [row["label"] for row in r.json_lines()] == ["anxious"]


def test_bad_lines_are_reported_with_their_numbers_and_nothing_is_predicted(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"text": "좋다"}\nnot json\n{"txt": "x"}\n{"text": 5}\n{"text": "  "}\n["a"]\n',
        encoding="utf-8",
    )
    r = _run("--input", str(path))
    assert r.code == 2
    assert r.stdout == ""
    assert "line 2: not valid JSON" in r.stderr
    assert 'line 3: no "text" field' in r.stderr
    assert 'line 4: "text" must be a string' in r.stderr
    assert 'line 5: "text" is empty' in r.stderr
    assert "line 6: expected a JSON object" in r.stderr
    assert "5 bad line(s)" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_line_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"text": "ok"}\n{"text": "caf\xe9"}\n')
    r = _run("--input", str(path))
    assert r.code == 2
    assert "line 2: not UTF-8 text" in r.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "exactly one of --text or --input"),
        (("--text", "hi", "--input", "x.jsonl"), "exactly one of --text or --input"),
        (("--text", "   "), "--text is empty"),
        (("--input", "/nonexistent/in.jsonl"), "does not exist"),
    ],
)
def test_wrong_usage_is_a_clear_error(args: tuple[str, ...], message: str) -> None:
    r = _run(*args)
    assert r.code == 2
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_an_empty_input_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n", encoding="utf-8")
    r = _run("--input", str(path))
    assert r.code == 2
    assert "no lines to predict" in r.stderr


def test_a_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    r = _run("--text", "좋다", "--models-dir", str(tmp_path))
    assert r.code == 2
    assert "no emotion model" in r.stderr


def test_a_tampered_model_is_refused(tmp_path: Path) -> None:
    for name in ("emotion-1.0.0.json", "emotion-1.0.0.onnx"):
        (tmp_path / name).write_bytes((ARTIFACTS / name).read_bytes())
    onnx = tmp_path / "emotion-1.0.0.onnx"
    data = bytearray(onnx.read_bytes())
    data[-10] ^= 0xFF
    onnx.write_bytes(bytes(data))
    r = _run("--text", "좋다", "--models-dir", str(tmp_path))
    assert r.code == 2
    assert "does not match its sidecar" in r.stderr
