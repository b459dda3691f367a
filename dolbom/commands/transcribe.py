"""`dolbom device transcribe FILE`: what the robot hears in a WAV file, and what it understands.

The same ears as the robot (device.main.open_listener: energy gate, VAD, recogniser, safety
evidence, sound classifier), so an installer checks a microphone and a researcher scores
recall with the robot's own decisions. `--json` writes one object per utterance and one per
wordless sound event, each with the reasons for its safety decision.
"""

import json
import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from device.audio.pipeline import Utterance
from device.audio.source import WavSource
from device.config import DeviceConfig, load_config
from device.dialog.intents import Intent
from device.errors import DeviceError
from dolbom.bilingual import fail, fail_with

logger = logging.getLogger(__name__)

LANGUAGES = ("ko", "en")


def _sound_event(u: Utterance) -> bool:
    return u.sound is not None and (u.intent is Intent.DISTRESS or not u.text.strip())


def record(u: Utterance) -> dict[str, Any]:
    """The JSON object of one utterance or sound event (never audio)."""
    base: dict[str, Any] = {"start_s": round(u.start_s, 3), "end_s": round(u.end_s, 3)}
    if u.sound is not None and _sound_event(u):
        return {
            **base,
            "text": None,
            "sound": u.sound.label,
            "intent": u.intent.value,
            "confidence": round(u.sound.distress, 3),
            "why": list(u.reasons),
        }
    return {
        **base,
        "text": u.text,
        "intent": u.intent.value,
        "confidence": round(u.confidence, 3),
        "grammar_text": u.grammar_text,
        "loud": u.loud,
        "why": list(u.reasons),
    }


def transcribe(
    file: Annotated[
        Path, typer.Argument(help="A WAV file (any rate, channels, 16/24/32-bit or float).")
    ],
    json_out: Annotated[
        bool,
        typer.Option("--json", help="One JSON object per utterance or sound, for scripts."),
    ] = False,
    lang: Annotated[
        str | None,
        typer.Option(
            "--lang",
            help="ko or en (default: the robot's config) / 인식 언어 (기본: 로봇 설정)",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="The robot's TOML config (for its language)."),
    ] = None,
) -> None:
    """Print each utterance and sound the robot hears in a WAV file and what it decides
    (checks a microphone) / WAV 파일에서 로봇이 듣고 판단한 내용을 보여 줍니다."""
    from device.main import open_listener

    try:
        robot = load_config(config) if config is not None else DeviceConfig(device_id="transcribe")
    except DeviceError as e:
        raise fail_with(e, "받아쓰지 못했습니다") from None
    language = lang or robot.language
    if language not in LANGUAGES:
        raise fail(
            f"--lang은 ko 또는 en이어야 합니다({language!r})",
            f"--lang must be ko or en, not {language!r}",
        )
    try:
        source = WavSource(file)
        listener = open_listener(robot, language)
        heard = 0
        for u in listener.listen(source):
            heard += 1
            if json_out:
                typer.echo(json.dumps(record(u), ensure_ascii=False))
            elif u.sound is not None and _sound_event(u):
                typer.echo(
                    f"{u.start_s:7.2f}–{u.end_s:7.2f} s  [sound: {u.sound.label}]"
                    f"  → {u.intent.value} ({u.sound.distress:.2f})"
                )
            else:
                typer.echo(
                    f"{u.start_s:7.2f}–{u.end_s:7.2f} s  {u.text or '(nothing recognised)'}"
                    f"  → {u.intent.value} ({u.confidence:.2f})"
                )
    except DeviceError as e:
        raise fail_with(e, "받아쓰지 못했습니다") from None
    if not json_out and heard == 0:
        typer.echo(
            f"no speech heard in {file} ({source.duration_s:.1f} s of audio)"
            f" / 들린 말이 없습니다 ({source.duration_s:.1f}초)",
            err=True,
        )
