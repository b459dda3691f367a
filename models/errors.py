"""The models package's error hierarchy: each message says what was wrong and what to do."""


class ModelsError(Exception):
    """Base of every error the model pipeline reports to a person."""


class ArtifactError(ModelsError):
    """A model artifact (.onnx + sidecar JSON) is missing, malformed or does not match."""


class DataError(ModelsError):
    """Input data (a CSV, a data set) is malformed; the message names the file and the place."""


class UnknownModelError(ModelsError):
    """No recipe is registered under that name."""
