"""The device package's error hierarchy: each message says what was wrong and what to do."""


class DeviceError(Exception):
    """Base of every error the agent reports to a person."""


class ConfigError(DeviceError):
    """The robot's configuration file is missing or wrong."""


class AudioError(DeviceError):
    """An audio source can't be opened or read."""


class AsrError(DeviceError):
    """The speech model can't be loaded or a grammar phrase is outside its vocabulary."""


class OutboxError(DeviceError):
    """The durable event queue can't be opened, read or written; its file is left untouched."""


class EventTooLargeError(OutboxError):
    """An event would exceed the envelope's 64 KiB limit; a device_fault was queued instead."""
