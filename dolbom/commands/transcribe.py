"""`dolbom device transcribe FILE`: what the robot hears in a WAV file, and what it understands."""

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from device.audio.asr import SpeechRecognizer, load_model
from device.audio.pipeline import Listener
from device.audio.source import WavSource
from device.audio.vad import SileroVad
from device.config import VadConfig
from device.errors import DeviceError

logger = logging.getLogger(__name__)


def transcribe(
    file: Annotated[
        Path, typer.Argument(help="A WAV file (any rate, channels, 16/24/32-bit or float).")
    ],
    json_out: Annotated[
        bool, typer.Option("--json", help="One JSON object per utterance and line, for scripts.")
    ] = False,
) -> None:
    """Print each utterance the robot hears in a WAV file and the intent it finds (checks a mic)."""
    try:
        source = WavSource(file)
        listener = Listener(SpeechRecognizer(load_model()), SileroVad(), VadConfig())
        heard = 0
        for u in listener.listen(source):
            heard += 1
            if json_out:
                record = {
                    "start_s": round(u.start_s, 3),
                    "end_s": round(u.end_s, 3),
                    "text": u.text,
                    "intent": u.intent.value,
                    "confidence": round(u.confidence, 3),
                    "grammar_text": u.grammar_text,
                }
                typer.echo(json.dumps(record, ensure_ascii=False))
            else:
                typer.echo(
                    f"{u.start_s:7.2f}–{u.end_s:7.2f} s  {u.text or '(nothing recognised)'}"
                    f"  → {u.intent.value} ({u.confidence:.2f})"
                )
    except DeviceError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    if not json_out and heard == 0:
        typer.echo(f"no speech heard in {file} ({source.duration_s:.1f} s of audio)", err=True)
