"""The engine's exceptions: one family, so callers can catch ``EngineError`` and show ``str(err)``.

Every message says what was wrong and, where there is one, what to do about it. Errors about a
file carry its ``path`` and start with it, so a batch can report each failure on one line.
"""

from __future__ import annotations

from pathlib import Path


class EngineError(Exception):
    """Base class of everything the engine raises on purpose."""

    def __init__(self, message: str, path: str | Path | None = None):
        self.path = None if path is None else Path(path)
        self.problem = message
        super().__init__(f"{self.path}: {message}" if self.path is not None else message)


class InvalidArgumentError(EngineError, ValueError):
    """A caller passed an option or array the engine cannot use."""


# --- input audio -------------------------------------------------------------------------


class AudioInputError(EngineError):
    """An input file or array cannot be used as audio to separate."""


class AudioNotFoundError(AudioInputError, FileNotFoundError):
    """The input path does not exist."""


class AudioReadError(AudioInputError):
    """The file exists but cannot be opened (permissions, a directory, I/O error)."""


class EmptyAudioError(AudioInputError):
    """The file has zero bytes, or holds a valid header with no samples."""


class UnsupportedFormatError(AudioInputError):
    """The file's format is not one Stemma reads."""


class CorruptAudioError(AudioInputError):
    """The file claims a supported format but cannot be decoded."""


class TooManyChannelsError(AudioInputError):
    """More than two channels: Stemma separates mono and stereo."""


class UnsupportedSampleRateError(AudioInputError):
    """The sample rate is outside 8 kHz to 192 kHz."""


class NonFiniteAudioError(AudioInputError):
    """The audio holds NaN or infinite samples."""


# --- output --------------------------------------------------------------------------------


class OutputError(EngineError):
    """An output cannot be written."""


class OutputExistsError(OutputError, FileExistsError):
    """The output file exists and overwriting was not asked for."""


# --- models and devices ----------------------------------------------------------------------


class ModelError(EngineError):
    """A model cannot be found, verified or loaded."""


class ModelNotFoundError(ModelError):
    """No shipped model has that name and no folder with a manifest is at that path."""


class ModelIntegrityError(ModelError):
    """A model file is missing or its sha256 does not match the manifest."""


class UnknownModelFormatError(ModelError):
    """A file is not a checkpoint format Stemma can read (``stemma models add``)."""


class ModelConfigError(ModelError):
    """A checkpoint and its settings or config do not fit together, or a setting is missing."""


class MissingExtraError(ModelError):
    """The model needs an optional package that is not installed; the message says which
    extra installs it."""


class DeviceError(EngineError):
    """The requested device (e.g. ``cuda``) is not available."""


# --- control flow --------------------------------------------------------------------------------


class Cancelled(EngineError):
    """The job was cancelled through its ``CancelToken``; nothing partial was left behind."""

    def __init__(self, message: str = "cancelled", path: str | Path | None = None):
        super().__init__(message, path)
