"""The robot's settings: frozen pydantic dataclasses loaded from a TOML file.

Every field is typed and checked when the file is read: `silent_timeout_s = "abc"` or
`port = "eighty"` stop the robot at start with the file, the key and the reason, in Korean
and English, instead of failing hours later in the stage that reads it. Types are strict
(TOML has types: a string is never silently turned into a number); an integer is accepted
where a float is expected.
"""

import tomllib
from dataclasses import fields, replace
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ConfigDict, Field, Strict, ValidationError, field_validator
from pydantic.dataclasses import dataclass

from device.errors import ConfigError
from protocol import ProtocolError, validate_device_id
from protocol.validation import reason_ko

_STRICT = ConfigDict(extra="forbid")
# Scalars are strict (TOML has types: "3" is not a number); tables become the section
# dataclasses, a TOML list becomes a tuple and a path string a Path.
Str = Annotated[str, Strict()]
Int = Annotated[int, Strict()]
Bool = Annotated[bool, Strict()]
Float = Annotated[float, Strict()]  # an integer is accepted too
Seconds = Annotated[float, Strict(), Field(gt=0)]
"""A duration that must be positive."""


@dataclass(frozen=True, config=_STRICT)
class MqttConfig:
    """How the robot reaches the broker; username is the device id unless set."""

    host: Annotated[Str, Field(min_length=1)] = "127.0.0.1"
    port: Annotated[Int, Field(ge=1, le=65535)] = 1883
    username: Str | None = None
    password: Str | None = None
    protocol: Literal["5", "3.1.1"] = "5"
    tls: Bool = False
    ca_file: Str | None = None
    keepalive_s: Annotated[Int, Field(ge=5, le=3600)] = 30
    reconnect_min_s: Seconds = 0.5
    reconnect_max_s: Seconds = 30.0


@dataclass(frozen=True, config=_STRICT)
class AudioConfig:
    """Where the robot's ears are: the microphone, or a WAV file for tests and installers."""

    source: Literal["mic", "wav"] = "mic"
    wav_path: Str | None = None
    realtime: Bool = True
    mic_device: Str | None = None

    def __post_init__(self) -> None:
        """A WAV source needs its file."""
        if self.source == "wav" and not self.wav_path:
            raise ValueError("source = 'wav' needs wav_path")


@dataclass(frozen=True, config=_STRICT)
class VadConfig:
    """Speech segmentation thresholds."""

    threshold: Annotated[Float, Field(gt=0, lt=1)] = 0.5
    min_speech_s: Seconds = 0.15
    hangover_s: Seconds = 0.4
    pre_roll_s: Annotated[Float, Field(ge=0)] = 0.3
    max_segment_s: Seconds = 15.0


@dataclass(frozen=True, config=_STRICT)
class SafetyConfig:
    """The "are you OK?" loop."""

    countdown_s: Seconds = 30.0


@dataclass(frozen=True, config=_STRICT)
class HalConfig:
    """The robot's body: the MCU on a serial port (a UART on a Pi, a PTY in simulation)."""

    enabled: Bool = False
    port: Str | None = None
    baudrate: Annotated[Int, Field(gt=0)] = 115200
    silent_timeout_s: Seconds = 3.0  # no valid frame this long → device_fault mcu_silent
    touch_period_s: Seconds = 900.0  # touch counts are summed and sent once per period
    battery_low_pct: Annotated[Float, Field(ge=0, le=100)] = 15.0  # below: every 1 % drop
    battery_step_pct: Annotated[Float, Field(gt=0, le=100)] = 10.0  # else an event per this
    stuck_imu_s: Seconds = 2.0  # identical IMU samples this long → device_fault imu_stuck
    led: Bool = True  # LED and vibration feedback (red blinking while help is called)


@dataclass(frozen=True, config=_STRICT)
class PerceptionConfig:
    """On-device ONNX models: activity and falls from the IMU, emotion from words and voice."""

    enabled: Bool = True
    models_dir: Str | None = None  # None: the models shipped in models/artifacts
    threads: Annotated[Int, Field(ge=1, le=8)] = 1
    activity_period_s: Seconds = 900.0  # `activity` events sum minutes per class over this
    cloud_url: Str | None = None  # model rollouts are fetched from this cloud API only
    cloud_ca_file: Str | None = None  # the CA that signed the cloud's HTTPS certificate
    rollout_timeout_s: Seconds = 30.0  # a model download must finish within this
    rollout_max_bytes: Annotated[Int, Field(gt=0)] = 8_000_000  # a larger package is refused
    mood_period_s: Seconds = 1800.0  # one `mood` event summarises the utterances of this period
    mood_voice: Bool = True  # arousal from the voice's prosody (False: words only)


def _clock_time(value: str) -> str:
    hh, _, mm = value.partition(":")
    if not (hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
        raise ValueError(f"must be a time like '07:30', not {value!r}")
    return value


@dataclass(frozen=True, config=_STRICT)
class DialogConfig:
    """The companion: greetings, check-ins, reminders, screening, content."""

    enabled: Bool = True
    robot_name: Annotated[Str, Field(min_length=1)] = "돌봄이"
    transcript_retention_h: Seconds = 24.0  # on-device transcripts are deleted after this
    keep_transcripts: Bool = True  # on the device only (the chat console's history)
    timezone: Str = "Asia/Seoul"  # the senior's; a `schedule` command may change it
    quiet_start: Str = "22:00"  # night-time quiet hours: nothing proactive...
    quiet_end: Str = "07:00"  # ...except a reminder while the senior is plainly awake
    checkin_from: Str = "08:00"  # the daily check-in is asked between these local times
    checkin_until: Str = "20:00"
    answer_timeout_s: Seconds = 30.0  # silence after a question this long: ask once more
    # gaps between a reminder's prompts (at most 5)
    reminder_repeat_min: Annotated[tuple[Seconds, ...], Field(max_length=5)] = (10.0, 30.0)
    reminder_final_wait_min: Seconds = 10.0  # after the last prompt, then "missed"
    reminder_max_delay_min: Seconds = 120.0  # a reminder not given by then is "missed"
    reminder_confirm_window_min: Seconds = 30.0  # "okay" without "I took it": "given" after this
    offer_every_min: Seconds = 90.0  # content offers at most this often...
    offer_idle_min: Seconds = 10.0  # ...when nobody has talked for this long...
    max_offers_per_day: Annotated[Int, Field(ge=0)] = 4  # ...and at most this many a day
    away_after_min: Seconds = 30.0  # no presence, touch or voice this long: the senior is away
    screening_resume_after_min: Seconds = 20.0  # an interrupted screening resumes after this
    conversation_period_min: Seconds = 60.0  # `conversation` events summarise this long
    content_dirs: tuple[Str, ...] = ()  # extra content packs beside the shipped

    @field_validator("quiet_start", "quiet_end", "checkin_from", "checkin_until")
    @classmethod
    def _hh_mm(cls, value: str) -> str:
        return _clock_time(value)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a known time zone") from None
        return value

    @field_validator("robot_name")
    @classmethod
    def _named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value


@dataclass(frozen=True, config=_STRICT)
class DeviceConfig:
    """Everything the agent needs; `load_config` reads it from TOML."""

    device_id: Str
    data_dir: Path = Path("var/device")
    language: Literal["ko", "en"] = "ko"
    speech_out: Literal["espeak", "print"] = "espeak"
    speech_rate_wpm: Annotated[Int, Field(ge=80, le=450)] = 140  # espeak-ng words per minute
    reply_cache_mb: Annotated[Float, Field(ge=0)] = 32.0  # synthesised replies kept, LRU
    heartbeat_interval_s: Seconds = 60.0
    # the recogniser's probe in the heartbeat (Agent._asr_self_test): ~60 ms of CPU here, a few
    # times that on a Pi; a simulation at 2400x sets it in simulated time (dolbom.scenario)
    asr_check_every_s: Seconds = 600.0
    asr_rss_growth_mb: Annotated[Float, Field(gt=0)] | None = 70.0  # renew the free recognizer
    # "mapped": the speech model's lexicon graph is mapped from an aligned copy under data_dir
    # (device.speech_graph; -130 MB at start, pages come in as the decoder touches them)
    asr_graph: Literal["heap", "mapped"] = "heap"
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    audio: AudioConfig = Field(default_factory=AudioConfig)
    vad: VadConfig = Field(default_factory=VadConfig)
    safety: SafetyConfig = Field(default_factory=SafetyConfig)
    hal: HalConfig = Field(default_factory=HalConfig)
    perception: PerceptionConfig = Field(default_factory=PerceptionConfig)
    dialog: DialogConfig = Field(default_factory=DialogConfig)

    @field_validator("device_id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        try:
            validate_device_id(value)
        except ProtocolError as e:
            raise ValueError(str(e)) from None
        return value

    @property
    def outbox_path(self) -> Path:
        """The durable event queue."""
        return self.data_dir / "outbox.sqlite3"

    @property
    def mqtt_username(self) -> str:
        """The broker username: the device id unless the config says otherwise."""
        return self.mqtt.username or self.device_id


def _where(loc: tuple[int | str, ...]) -> str:
    """`[hal] silent_timeout_s` for ('hal', 'silent_timeout_s')."""
    names = [str(p) for p in loc]
    sections = {f.name for f in fields(DeviceConfig) if f.name in _SECTIONS}
    if names and names[0] in sections:
        return " ".join([f"[{names[0]}]", ".".join(names[1:])]).strip()
    return ".".join(names) or "(file)"


def describe(error: ValidationError, source: str) -> str:
    """One line per problem: file, key, the value read, and why (Korean / English)."""
    lines = []
    for problem in error.errors(include_url=False):
        where = _where(tuple(problem["loc"]))
        ko = reason_ko(problem["type"])
        en = str(problem["msg"]).removeprefix("Value error, ")
        if problem["type"] == "unexpected_keyword_argument":
            en = "unknown key"
        value = "" if problem["type"] in ("missing",) else f" = {problem.get('input')!r}"
        if isinstance(problem.get("input"), dict):
            value = ""
        elif where.endswith("password"):
            value = " = ***"  # never echo a secret into a log
        lines.append(f"{source}: {where}{value}: {ko} / {en}")
    return "\n".join(lines)


_SECTIONS = ("mqtt", "audio", "vad", "safety", "hal", "perception", "dialog")


def config_from_dict(raw: dict[str, Any], where: str = "config") -> DeviceConfig:
    """Build and check a DeviceConfig from parsed TOML; ConfigError names every bad key."""
    try:
        return DeviceConfig(**raw)
    except ValidationError as e:
        raise ConfigError(describe(e, where)) from None


def load_config(path: Path) -> DeviceConfig:
    """Read a robot's TOML config; relative paths in it are relative to the file's folder."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: 설정 파일이 없습니다 / config file does not exist") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: UTF-8 이 아닙니다 / not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: TOML 형식이 아닙니다 / not valid TOML: {e}") from None
    cfg = config_from_dict(raw, str(path))
    base = path.parent
    data_dir = cfg.data_dir if cfg.data_dir.is_absolute() else base / cfg.data_dir
    audio = cfg.audio
    if audio.wav_path and not Path(audio.wav_path).is_absolute():
        audio = replace(audio, wav_path=str(base / audio.wav_path))
    return replace(cfg, data_dir=data_dir, audio=audio)
