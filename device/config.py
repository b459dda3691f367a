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


@dataclass(frozen=True)
class PerceptionConfig:
    """On-device ONNX models: activity and falls from the IMU, emotion from words and voice."""

    enabled: bool = True
    models_dir: str | None = None  # None: the models shipped in models/artifacts
    threads: int = 1


@dataclass(frozen=True)
class DialogConfig:
    """The companion: greetings, check-ins, reminders, screening, content."""

    enabled: bool = True
    robot_name: str = "돌봄이"
    transcript_retention_h: float = 24.0


@dataclass(frozen=True)
class DeviceConfig:
    """Everything the agent needs; `load_config` reads it from TOML."""

    device_id: str
    data_dir: Path = Path("var/device")
    language: Literal["ko", "en"] = "ko"
    speech_out: Literal["espeak", "print"] = "espeak"
    heartbeat_interval_s: float = 60.0
    asr_rss_budget_mb: float | None = 700.0  # renew the free recognizer past this RSS
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
