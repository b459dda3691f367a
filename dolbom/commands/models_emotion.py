"""`dolbom models predict emotion`: the shipped emotion model on your text, as the robot runs it."""

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from dolbom.bilingual import error_line, fail, fail_with

MAX_TEXT_CHARS = 5000
MAX_REPORTED_ERRORS = 20
BATCH = 256


class InputLineError(ValueError):
    """One line of a JSONL input is unusable; carries its line number."""

    def __init__(self, line: int, why: str) -> None:
        super().__init__(f"line {line}: {why}")
        self.line = line


def parse_jsonl(lines: Iterator[bytes]) -> tuple[list[str], list[InputLineError]]:
    """Texts from `{"text": ...}` lines (blank lines skipped) and every bad line's error."""
    texts: list[str] = []
    errors: list[InputLineError] = []
    for number, raw in enumerate(lines, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            errors.append(InputLineError(number, "not UTF-8 text"))
            continue
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(InputLineError(number, f"not valid JSON ({e.msg} at column {e.colno})"))
            continue
        if not isinstance(row, dict):
            errors.append(InputLineError(number, 'expected a JSON object like {"text": "..."}'))
            continue
        text = row.get("text")
        if not isinstance(text, str):
            why = 'no "text" field' if "text" not in row else '"text" must be a string'
            errors.append(InputLineError(number, why))
            continue
        if not text.strip():
            errors.append(InputLineError(number, '"text" is empty'))
            continue
        if len(text) > MAX_TEXT_CHARS:
            errors.append(InputLineError(number, f'"text" is over {MAX_TEXT_CHARS} characters'))
            continue
        texts.append(text)
    return texts, errors


def _fail(message: str, code: int = 2) -> typer.Exit:
    return fail_with(message, "모델 작업에 실패했습니다", code)


def _row(prediction: Any) -> dict[str, Any]:
    return {"label": prediction.label, "scores": prediction.scores, "valence": prediction.valence}


def predict_emotion(
    text: str | None = typer.Option(None, "--text", help="One transcript (Korean or English)."),
    input_file: Path | None = typer.Option(
        None,
        "--input",
        help='JSON lines, one {"text": "..."} each ("-" reads standard input);'
        ' prints one {"label", "scores", "valence"} per line.',
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (always, with --input)."),
    models_dir: Path | None = typer.Option(None, "--models-dir", help="[models/artifacts]"),
) -> None:
    """Emotion class scores and valence of a transcript, as the robot computes them."""
    from device.perception.emotion import EmotionModel
    from device.perception.loader import SHIPPED_DIR, ModelLoadError

    if (text is None) == (input_file is None):
        raise fail("--text와 --input 중 하나만 적으세요", "give exactly one of --text or --input")
    if text is not None:
        if not text.strip():
            raise fail("--text가 비어 있습니다", "--text is empty")
        if len(text) > MAX_TEXT_CHARS:
            raise fail(
                f"--text는 {MAX_TEXT_CHARS}자를 넘을 수 없습니다",
                f"--text is over {MAX_TEXT_CHARS} characters",
            )
        texts = [text]
    else:
        assert input_file is not None
        try:
            if str(input_file) == "-":
                texts, errors = parse_jsonl(iter(sys.stdin.buffer.read().splitlines()))
            else:
                with input_file.open("rb") as f:
                    texts, errors = parse_jsonl(line.rstrip(b"\r\n") for line in f)
        except FileNotFoundError:
            raise fail(f"{input_file} 파일이 없습니다", f"{input_file} does not exist") from None
        except IsADirectoryError:
            raise fail(
                f"{input_file}은(는) JSONL 파일이 아니라 폴더입니다",
                f"{input_file} is a folder, not a JSONL file",
            ) from None
        except OSError as e:
            raise fail(
                f"{input_file}을(를) 읽을 수 없습니다", f"cannot read {input_file}: {e.strerror}"
            ) from None
        if errors:
            for bad in errors[:MAX_REPORTED_ERRORS]:
                typer.echo(error_line(f"{input_file}: 잘못된 줄", f"{input_file}: {bad}"), err=True)
            more = len(errors) - MAX_REPORTED_ERRORS
            if more > 0:
                typer.echo(error_line(f"… 외 {more}줄", f"… and {more} more bad line(s)"), err=True)
            raise fail(
                f"{input_file}에 잘못된 줄이 {len(errors)}개 있어 아무것도 예측하지 않았습니다",
                f"{len(errors)} bad line(s) in {input_file}; nothing was predicted",
            )
        if not texts:
            raise fail(
                f"{input_file}에 예측할 줄이 없습니다", f"{input_file} has no lines to predict"
            )
    try:
        model = EmotionModel.load_newest(models_dir or SHIPPED_DIR)
    except ModelLoadError as e:
        raise _fail(str(e)) from None
    for start in range(0, len(texts), BATCH):
        for prediction in model.predict_batch(texts[start : start + BATCH]):
            if as_json or input_file is not None:
                typer.echo(json.dumps(_row(prediction), ensure_ascii=False))
            else:
                ranked = sorted(prediction.scores.items(), key=lambda kv: -kv[1])
                others = "  ".join(f"{label} {score:.2f}" for label, score in ranked[1:3])
                typer.echo(
                    f"{prediction.label} {prediction.scores[prediction.label]:.2f}"
                    f"  (then {others})  valence {prediction.valence:+.2f}"
                )
