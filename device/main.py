"""Wire one robot from its config: the real stages behind the agent's seams."""

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from pathlib import Path

from device.agent import Agent, Observer
from device.audio.asr import SpeechRecognizer, load_model
from device.audio.pipeline import Listener
from device.audio.source import AudioSource, MicSource, WavSource
from device.audio.vad import SileroVad
from device.config import DeviceConfig
from device.link.mqtt import MqttLink
from device.outbox import Outbox
from device.speech.tts import EspeakSpeaker, PrintSpeaker, Speaker
from device.stages import Stage

log = logging.getLogger(__name__)


def open_source(config: DeviceConfig) -> AudioSource:
    """The configured ears: the live microphone or a WAV file."""
    if config.audio.source == "wav":
        assert config.audio.wav_path is not None  # checked when the config was loaded
        return WavSource(Path(config.audio.wav_path), realtime=config.audio.realtime)
    return MicSource(device=config.audio.mic_device)


def open_speaker(config: DeviceConfig) -> Speaker:
    """The configured voice: espeak-ng aloud, or printed."""
    if config.speech_out == "espeak":
        return EspeakSpeaker()
    return PrintSpeaker(lambda text: log.info("robot says: %s", text))


def default_stages(config: DeviceConfig) -> list[Stage]:
    """The stages this robot's config asks for, in the order they see each item.

    Each stage's block is independent: the hardware layer (config.hal), perception
    (config.perception) and the companion dialog (config.dialog).
    """
    stages: list[Stage] = []
    # hardware layer (device.hal): added when it lands
    # perception (device.perception): added when it lands
    # companion dialog (device.dialog): added when it lands
    return stages


def build_agent(
    config: DeviceConfig,
    *,
    source: AudioSource | None = None,
    speaker: Speaker | None = None,
    observer: Observer | None = None,
    on_acked: Callable[[int], None] | None = None,
    stages: list[Stage] | None = None,
) -> Agent:
    """Load the model once, open the outbox and the link, and hand them to the agent."""
    recognizer = SpeechRecognizer(load_model(), rss_budget_mb=config.asr_rss_budget_mb)
    listener = Listener(recognizer, SileroVad(), config.vad)
    outbox = Outbox(config.outbox_path, config.device_id)
    agent_ref: list[Agent] = []
    link = MqttLink(
        config.device_id,
        config.mqtt,
        outbox,
        on_command=lambda command: agent_ref[0].on_command(command),
        on_acked=on_acked,
    )
    agent = Agent(
        config,
        source=source or open_source(config),
        listener=listener,
        speaker=speaker or open_speaker(config),
        outbox=outbox,
        link=link,
        observer=observer,
        stages=default_stages(config) if stages is None else stages,
    )
    agent_ref.append(agent)
    return agent


def run_agent(config: DeviceConfig) -> None:
    """`dolbom device run`: until SIGINT/SIGTERM; the outbox keeps what is unsent."""
    agent = build_agent(config)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await agent.run(stop)

    asyncio.run(main())
