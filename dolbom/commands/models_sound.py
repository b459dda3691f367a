"""`dolbom models predict sound`: the shipped sound model on a WAV file, as the robot runs it."""

import json
from pathlib import Path

import typer

from dolbom.bilingual import fail


def predict_sound(
    wav: Path = typer.Option(..., "--wav", help="A WAV file (any rate and channels)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    models_dir: Path | None = typer.Option(None, "--models-dir", help="[models/artifacts]"),
) -> None:
    """Is this sound wordless distress (a scream, moan, crying, panting)? As the robot decides.

    The whole file is one segment; over 10 s it is cut into 5 s windows and the most
    distressed window answers."""
    from device.audio.sounds import SoundClassifier, SoundInputError
    from device.audio.source import SAMPLE_RATE_HZ, read_wav
    from device.errors import AudioError
    from device.perception.loader import ModelLoadError

    try:
        pcm = read_wav(wav)
    except AudioError as e:
        raise fail("WAV 파일을 읽을 수 없습니다", str(e)) from None
    try:
        classifier = SoundClassifier.load(models_dir)
    except ModelLoadError as e:
        raise fail("소리 모델을 불러올 수 없습니다", str(e)) from None
    try:
        event = classifier.classify(pcm, SAMPLE_RATE_HZ)
    except SoundInputError as e:
        raise fail(f"{wav}: 이 소리는 분류할 수 없습니다", f"{wav}: {e}") from None
    if as_json:
        row = {
            "file": str(wav),
            "duration_s": round(pcm.size / SAMPLE_RATE_HZ, 3),
            "label": event.label,
            "distress": round(event.distress, 4),
            "is_distress": event.is_distress,
            "threshold": classifier.threshold,
            "model": f"{classifier.ref.name} {classifier.ref.version}",
            "scores": dict(event.scores),
        }
        typer.echo(json.dumps(row, ensure_ascii=False))
        return
    ranked = sorted(event.scores.items(), key=lambda kv: -kv[1])
    others = "  ".join(f"{label} {score:.2f}" for label, score in ranked[1:3])
    verdict = "DISTRESS / 괴로운 소리" if event.is_distress else "not distress / 일상 소리"
    typer.echo(
        f"{verdict}: distress {event.distress:.2f} (threshold {classifier.threshold:.2f});"
        f" {event.label} {event.scores[event.label]:.2f}  (then {others})"
    )
