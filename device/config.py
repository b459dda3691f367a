"""The robot's settings: a frozen dataclass loaded from a TOML file."""

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from device.errors import ConfigError
from protocol import ProtocolError, validate_device_id


@dataclass(frozen=True)
class MqttConfig:
    """How the robot reaches the broker; username is the device id unless set."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    protocol: Literal["5", "3.1.1"] = "5"
    tls: bool = False
    ca_file: str | None = None
    keepalive_s: int = 30
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0


@dataclass(frozen=True)
class AudioConfig:
    """Where the robot's ears are: the microphone, or a WAV file for tests and installers."""

    source: Literal["mic", "wav"] = "mic"
    wav_path: str | None = None
    realtime: bool = True
    mic_device: str | None = None


@dataclass(frozen=True)
class VadConfig:
    """Speech segmentation thresholds."""

    threshold: float = 0.5
    min_speech_s: float = 0.15
    hangover_s: float = 0.4
    pre_roll_s: float = 0.3
    max_segment_s: float = 15.0


@dataclass(frozen=True)
class SafetyConfig:
    """The "are you OK?" loop."""

    countdown_s: float = 30.0


@dataclass(frozen=True)
class HalConfig:
    """The robot's body: the MCU on a serial port (a UART on a Pi, a PTY in simulation)."""

    enabled: bool = False
    port: str | None = None
    baudrate: int = 115200
    silent_timeout_s: float = 3.0  # no valid frame this long → device_fault mcu_silent
    touch_period_s: float = 900.0  # touch counts are summed and sent once per period
    battery_low_pct: float = 15.0  # below this every 1 % drop is reported
    battery_step_pct: float = 10.0  # otherwise a battery event per this much change
    stuck_imu_s: float = 2.0  # identical IMU samples this long → device_fault imu_stuck
    led: bool = True  # LED and vibration feedback (red blinking while help is called)


@dataclass(frozen=True)
class PerceptionConfig:
    """On-device ONNX models: activity and falls from the IMU, emotion from words and voice."""

    enabled: bool = True
    models_dir: str | None = None  # None: the models shipped in models/artifacts
    threads: int = 1
    activity_period_s: float = 900.0  # `activity` events sum minutes per class over this
    cloud_url: str | None = None  # model rollouts are fetched from this cloud API only
    cloud_ca_file: str | None = None  # the CA that signed the cloud's HTTPS certificate
    rollout_timeout_s: float = 30.0  # a model download must finish within this
    rollout_max_bytes: int = 8_000_000  # a larger package is refused
    mood_period_s: float = 1800.0  # one `mood` event summarises the utterances of this period
    mood_voice: bool = True  # arousal from the voice's prosody (False: words only)


@dataclass(frozen=True)
class DialogConfig:
    """The companion: greetings, check-ins, reminders, screening, content."""

    enabled: bool = True
    robot_name: str = "돌봄이"
    transcript_retention_h: float = 24.0  # on-device transcripts are deleted after this
    keep_transcripts: bool = True  # on the device only (the chat console's history)
    timezone: str = "Asia/Seoul"  # the senior's; a `schedule` command may change it
    quiet_start: str = "22:00"  # night-time quiet hours: nothing proactive...
    quiet_end: str = "07:00"  # ...except a reminder while the senior is plainly awake
    checkin_from: str = "08:00"  # the daily check-in is asked between these local times
    checkin_until: str = "20:00"
    answer_timeout_s: float = 30.0  # silence after a question this long: ask once more
    reminder_repeat_min: tuple[float, ...] = (10.0, 30.0)  # gaps between a reminder's prompts
    reminder_final_wait_min: float = 10.0  # after the last prompt, then "missed"
    reminder_max_delay_min: float = 120.0  # a reminder not given by then is "missed"
    reminder_confirm_window_min: float = 30.0  # "okay" without "I took it": "given" after this
    offer_every_min: float = 90.0  # content offers at most this often...
    offer_idle_min: float = 10.0  # ...when nobody has talked for this long...
    max_offers_per_day: int = 4  # ...and at most this many a day
    away_after_min: float = 30.0  # no presence, touch or voice this long: the senior is away
    screening_resume_after_min: float = 20.0  # an interrupted screening resumes after this
    conversation_period_min: float = 60.0  # `conversation` events summarise this long
    content_dirs: tuple[str, ...] = ()  # extra content packs beside the shipped ones

    def __post_init__(self) -> None:
        """Check the dialog settings; a list from TOML becomes a tuple."""
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        object.__setattr__(self, "reminder_repeat_min", tuple(self.reminder_repeat_min))
        object.__setattr__(self, "content_dirs", tuple(self.content_dirs))
        for name in ("quiet_start", "quiet_end", "checkin_from", "checkin_until"):
            value = getattr(self, name)
            hh, _, mm = str(value).partition(":")
            if not (hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
                raise ConfigError(f"[dialog] {name} must be a time like '07:30', not {value!r}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"[dialog] timezone {self.timezone!r} is not a known time zone"
            ) from None
        numbers = (
            self.transcript_retention_h,
            self.answer_timeout_s,
            self.reminder_final_wait_min,
            self.reminder_max_delay_min,
            self.reminder_confirm_window_min,
            self.offer_every_min,
            self.offer_idle_min,
            self.away_after_min,
            self.screening_resume_after_min,
            self.conversation_period_min,
            *self.reminder_repeat_min,
        )
        if any(not isinstance(n, int | float) or n <= 0 for n in numbers):
            raise ConfigError("[dialog] durations must be positive numbers")
        if len(self.reminder_repeat_min) > 5 or self.max_offers_per_day < 0:
            raise ConfigError("[dialog] at most 5 reminder repeats; max_offers_per_day >= 0")
        if not self.robot_name.strip():
            raise ConfigError("[dialog] robot_name must not be empty")


@dataclass(frozen=True)
class DeviceConfig:
    """Everything the agent needs; `load_config` reads it from TOML."""

    device_id: str
    data_dir: Path = Path("var/device")
    language: Literal["ko", "en"] = "ko"
    speech_out: Literal["espeak", "print"] = "espeak"
    speech_rate_wpm: int = 140  # espeak-ng words per minute (part of the reply cache's key)
    reply_cache_mb: float = 32.0  # synthesised replies kept in data_dir/tts-cache, LRU
    heartbeat_interval_s: float = 60.0
    asr_rss_growth_mb: float | None = 70.0  # renew the free recognizer once RSS grew this much
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    vad: VadConfig = field(default_factory=VadConfig)
    safety: SafetyConfig = field(default_factory=SafetyConfig)
    hal: HalConfig = field(default_factory=HalConfig)
    perception: PerceptionConfig = field(default_factory=PerceptionConfig)
    dialog: DialogConfig = field(default_factory=DialogConfig)

    @property
    def outbox_path(self) -> Path:
        """The durable event queue."""
        return self.data_dir / "outbox.sqlite3"

    @property
    def mqtt_username(self) -> str:
        """The broker username: the device id unless the config says otherwise."""
        return self.mqtt.username or self.device_id


_SECTIONS: dict[str, type[Any]] = {
    "mqtt": MqttConfig,
    "audio": AudioConfig,
    "vad": VadConfig,
    "safety": SafetyConfig,
    "hal": HalConfig,
    "perception": PerceptionConfig,
    "dialog": DialogConfig,
}


def _section(name: str, cls: type[Any], raw: Any, where: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: [{name}] must be a table")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) in [{name}]: {', '.join(unknown)}")
    try:
        return cls(**raw)
    except TypeError as e:
        raise ConfigError(f"{where}: [{name}]: {e}") from None


def config_from_dict(raw: dict[str, Any], where: str = "config") -> DeviceConfig:
    """Build and check a DeviceConfig from parsed TOML."""
    raw = dict(raw)
    if "device_id" not in raw:
        raise ConfigError(f"{where}: device_id is required")
    try:
        validate_device_id(str(raw["device_id"]))
    except ProtocolError as e:
        raise ConfigError(f"{where}: {e}") from None
    sections = {k: _section(k, cls, raw.pop(k), where) for k, cls in _SECTIONS.items() if k in raw}
    known = {f.name for f in fields(DeviceConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s): {', '.join(unknown)}")
    if "data_dir" in raw:
        raw["data_dir"] = Path(raw["data_dir"])
    cfg = DeviceConfig(**raw, **sections)
    if cfg.language not in ("ko", "en"):
        raise ConfigError(f"{where}: language must be 'ko' or 'en', not {cfg.language!r}")
    if cfg.mqtt.protocol not in ("5", "3.1.1"):
        raise ConfigError(f"{where}: mqtt.protocol must be '5' or '3.1.1'")
    if cfg.audio.source == "wav" and not cfg.audio.wav_path:
        raise ConfigError(f"{where}: audio.source = 'wav' needs audio.wav_path")
    return cfg


def load_config(path: Path) -> DeviceConfig:
    """Read a robot's TOML config; relative paths in it are relative to the file's folder."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    cfg = config_from_dict(raw, str(path))
    base = path.parent
    data_dir = cfg.data_dir if cfg.data_dir.is_absolute() else base / cfg.data_dir
    audio = cfg.audio
    if audio.wav_path and not Path(audio.wav_path).is_absolute():
        audio = replace(audio, wav_path=str(base / audio.wav_path))
    return replace(cfg, data_dir=data_dir, audio=audio)
