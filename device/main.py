"""Wire one robot from its config: the real stages behind the agent's seams."""

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from pathlib import Path

from device.agent import Agent, Ears, Observer
from device.audio.asr import Recognizer, SpeechRecognizer, default_model_path, load_model
from device.audio.pipeline import Listener, robot_listener
from device.audio.sounds import SoundClassifier
from device.audio.source import AudioSource, MicSource, WavSource
from device.clock import Clock
from device.config import DeviceConfig
from device.errors import DeviceError
from device.link.mqtt import MqttLink
from device.outbox import Outbox
from device.perception.loader import ModelLoadError
from device.privacy import PrivacyStage
from device.speech.tts import (
    CachedSpeaker,
    EspeakSpeaker,
    EspeakSynthesizer,
    PrintSpeaker,
    ReplyCache,
    SoundDevicePlayer,
    Speaker,
)
from device.speech_graph import load_mapped_model
from device.stages import Stage
from device.watchdog import Notifier, WatchdogStage

log = logging.getLogger(__name__)


def open_source(config: DeviceConfig) -> AudioSource:
    """The configured ears: the live microphone or a WAV file."""
    if config.audio.source == "wav":
        assert config.audio.wav_path is not None  # checked when the config was loaded
        return WavSource(Path(config.audio.wav_path), realtime=config.audio.realtime)
    return MicSource(device=config.audio.mic_device)


def open_recognizer(config: DeviceConfig, language: str | None = None) -> Recognizer:
    """The ears' recogniser for the robot's language (or `language`): Vosk Korean, or
    pocketsphinx English."""
    if (language or config.language) == "en":
        from device.audio.asr_english import EnglishRecognizer  # optional extra

        return EnglishRecognizer()
    model = None
    if config.asr_graph == "mapped":  # None when it can't be mapped (logged): read as usual
        model = load_mapped_model(default_model_path(), config.data_dir / "speech-graph")
    recognizer = SpeechRecognizer(
        model if model is not None else load_model(), rss_growth_mb=config.asr_rss_growth_mb
    )
    # Before the first audio: the first call for help after a start must not pay the live
    # recognisers' cold set-up (SpeechRecognizer.warm).
    log.info("speech recogniser warmed on its probe (%.2f CPU-s)", recognizer.warm())
    return recognizer


def open_sounds() -> SoundClassifier | None:
    """The wordless-distress classifier (screams, moaning, crying, panting); None, logged as
    an error, when the shipped model can't be loaded (the words still reach the safety loop)."""
    try:
        return SoundClassifier.load()
    except ModelLoadError as e:
        log.error("no sound classifier, distress sounds will not be heard: %s", e)
        return None


def open_listener(config: DeviceConfig, language: str | None = None) -> Listener:
    """The robot's ears: gate, VAD, recogniser, safety evidence and sound classifier
    (`language` overrides the config's, for `transcribe --lang`)."""
    language = language or config.language
    recognizer = open_recognizer(config, language)
    return robot_listener(recognizer, config.vad, language, sounds=open_sounds())


def open_speaker(config: DeviceConfig) -> Speaker:
    """The configured voice: espeak-ng with cached replies through PortAudio (espeak-ng's
    own output when PortAudio is missing), or printed."""
    if config.speech_out == "espeak":
        try:
            player = SoundDevicePlayer()
        except DeviceError as e:
            log.warning("%s; speaking through espeak-ng directly, without the reply cache", e)
            return EspeakSpeaker(rate_wpm=config.speech_rate_wpm)
        cache = ReplyCache(config.data_dir / "tts-cache", int(config.reply_cache_mb * 2**20))
        return CachedSpeaker(EspeakSynthesizer(config.speech_rate_wpm), player, cache)
    return PrintSpeaker(lambda text: log.info("robot says: %s", text))


def default_stages(config: DeviceConfig) -> list[Stage]:
    """The stages this robot's config asks for, in the order they see each item.

    Each stage's block is independent: the hardware layer (config.hal), perception
    (config.perception) and the companion dialog (config.dialog).
    """
    stages: list[Stage] = []
    # privacy (device.privacy): `consent` and `data_deletion` commands; its `.filter`
    # (a ConsentFilter) decides which events the agent may emit.
    stages.append(PrivacyStage(config.data_dir, config.device_id, outbox_path=config.outbox_path))
    if config.hal.enabled:  # hardware layer (device.hal)
        from device.hal.stage import HalStage

        stages.append(HalStage.from_config(config))
    if config.perception.enabled:  # perception (device.perception): activity and falls
        from device.perception.motion import MotionStage

        stages.append(MotionStage.from_config(config))
    if config.perception.enabled:  # perception: mood from words and voice (device.perception.mood)
        from device.perception.mood import MoodStage

        stages.append(MoodStage.from_config(config))
    if config.dialog.enabled:  # companion dialog (device.dialog): reminders, check-ins, content
        from device.dialog.stage import DialogStage

        stages.append(DialogStage.from_config(config))
    notifier = Notifier()
    if notifier.enabled:  # under systemd (deploy/pi): READY=1, then the watchdog from the loop
        stages.append(WatchdogStage(notifier))  # last: a stage that hangs its tick stops it
    return stages


def build_agent(
    config: DeviceConfig,
    *,
    source: AudioSource | None = None,
    speaker: Speaker | None = None,
    observer: Observer | None = None,
    on_acked: Callable[[int], None] | None = None,
    stages: list[Stage] | None = None,
    clock: Clock | None = None,
    listener: Ears | None = None,
    offline: bool = False,
) -> Agent:
    """Load the model once, open the outbox and the link, and hand them to the agent.

    `clock`: the agent's time (a simulation passes a device.clock.ScaledClock).
    `listener`: other ears than the robot's (the chat console's typed words).
    `offline`: no MQTT link; events stay in the outbox (the chat console).
    """
    ears = listener if listener is not None else open_listener(config)
    asr_check = None  # the recogniser's probe: Vosk Korean or pocketsphinx English
    if isinstance(ears, Listener) and isinstance(ears.recognizer, SpeechRecognizer):
        asr_check = ears.recognizer.self_test
    elif isinstance(ears, Listener):
        asr_check = getattr(ears.recognizer, "self_test", None)  # English: an optional extra
    outbox = Outbox(config.outbox_path, config.device_id)
    agent_ref: list[Agent] = []
    link = (
        None
        if offline
        else MqttLink(
            config.device_id,
            config.mqtt,
            outbox,
            on_command=lambda command: agent_ref[0].on_command(command),
            on_acked=on_acked,
        )
    )
    chosen = default_stages(config) if stages is None else stages
    agent = Agent(
        config,
        source=source or open_source(config),
        listener=ears,
        speaker=speaker or open_speaker(config),
        outbox=outbox,
        link=link,
        observer=observer,
        stages=chosen,
        allows=next((s.filter.allows for s in chosen if isinstance(s, PrivacyStage)), None),
        clock=clock,
        asr_check=asr_check,
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
