"""The one error type of the wire contract."""


class ProtocolError(ValueError):
    """A message or topic that breaks the contract; the message says what was wrong."""
