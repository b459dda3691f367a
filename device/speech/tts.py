"""The robot's voice behind one seam: espeak-ng aloud in live mode, printed in simulation."""

import logging
import shutil
import subprocess
from collections.abc import Callable
from typing import Protocol

from device.errors import DeviceError

log = logging.getLogger(__name__)

_VOICES = {"ko": "ko", "en": "en-us"}


class Speaker(Protocol):
    """Something that says a sentence to the senior."""

    def say(self, text: str, language: str) -> None:
        """Say it (blocking until done is allowed)."""


class PrintSpeaker:
    """Simulation: the robot's words go to a callback (the demo prints them)."""

    def __init__(self, out: Callable[[str], None]) -> None:
        self._out = out

    def say(self, text: str, language: str) -> None:
        """Hand the sentence to the callback."""
        self._out(text)


class EspeakSpeaker:
    """Live mode: speak through espeak-ng on the default audio output."""

    def __init__(self, rate_wpm: int = 140, binary: str = "espeak-ng") -> None:
        path = shutil.which(binary)
        if path is None:
            raise DeviceError(
                "speech output needs espeak-ng: install the Debian package espeak-ng "
                "(apt-get install espeak-ng), or set speech_out = 'print'"
            )
        self._binary = path
        self._rate = rate_wpm

    def command(self, text: str, language: str, wav_out: str | None = None) -> list[str]:
        """The espeak-ng command line for a sentence (optionally into a WAV file)."""
        cmd = [self._binary, "-v", _VOICES.get(language, "ko"), "-s", str(self._rate)]
        if wav_out:
            cmd += ["-w", wav_out]
        return [*cmd, "--", text]

    def say(self, text: str, language: str) -> None:
        """Speak now; a failing audio device is logged, never fatal to the safety loop."""
        try:
            subprocess.run(self.command(text, language), check=True, timeout=60)
        except (subprocess.SubprocessError, OSError) as e:
            log.error("could not speak %r: %s", text, e)

    def synthesize(self, text: str, language: str, wav_out: str) -> None:
        """Write the sentence to a WAV file (used to make test clips)."""
        subprocess.run(self.command(text, language, wav_out), check=True, timeout=60)
