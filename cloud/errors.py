"""The cloud's one error hierarchy; every message says what was wrong."""


class CloudError(Exception):
    """Base of every error the cloud raises on purpose."""


class ConfigError(CloudError):
    """A setting is missing or invalid."""


class StoreError(CloudError):
    """The store could not be opened or migrated."""


class AlertNotFoundError(CloudError):
    """No alert has the given id."""


class AlertStateError(CloudError):
    """The alert's status does not allow the requested transition."""


class CommandNotSentError(CloudError):
    """A command could not be handed to the MQTT client."""
