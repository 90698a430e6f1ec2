"""Stemma's separation engine: the public API.

    from engine import Separator
    sep = Separator()                        # the best installed model, on the best device
    stems = sep.separate("song.mp3")         # in memory: stems["vocals"] is (C, N) float32
    sep.separate_file("song.mp3", "out/")    # disk to disk, streaming, atomic
    JobRunner().run(Request("song.mp3", "out/song"))   # the same as a job (ids, events, cancel)

Everything else in the package is internal and may change.
"""

from .api import (
    VOCALS,
    CancelToken,
    FileResult,
    Progress,
    Separator,
    Stems,
    remix_files,
    track_name,
)
from .audio_io import AudioInfo, WriteReport, open_audio
from .audio_io import probe as probe_audio
from .audio_io import read as load_audio
from .audio_io import write as save_audio
from .client import Client as ServerClient
from .client import read_discovery as read_server_discovery
from .errors import (
    AudioInputError,
    AudioNotFoundError,
    AudioReadError,
    Cancelled,
    CorruptAudioError,
    DeviceError,
    EmptyAudioError,
    EngineError,
    InvalidArgumentError,
    MissingExtraError,
    ModelConfigError,
    ModelError,
    ModelIntegrityError,
    ModelNotFoundError,
    NonFiniteAudioError,
    OutputError,
    OutputExistsError,
    TooManyChannelsError,
    UnknownModelFormatError,
    UnsupportedFormatError,
    UnsupportedSampleRateError,
)
from .jobs import Job, JobEvent, JobRunner, JobState, ModelCache, Request, StemCache
from .outputs import OutputSpec, write_arrays
from .registry import ModelInfo, shipped_assets
from .registry import resolve as resolve_model

__all__ = [
    "Separator", "Stems", "Progress", "CancelToken", "FileResult", "ModelInfo",
    "AudioInfo", "WriteReport", "open_audio", "load_audio", "save_audio", "probe_audio",
    "remix_files", "track_name", "VOCALS", "resolve_model", "shipped_assets", "OutputSpec",
    "write_arrays",
    "Request", "JobRunner", "Job", "JobEvent", "JobState", "ModelCache", "StemCache",
    "ServerClient", "read_server_discovery",
    "EngineError", "InvalidArgumentError", "AudioInputError", "AudioNotFoundError",
    "AudioReadError", "EmptyAudioError", "UnsupportedFormatError", "CorruptAudioError",
    "TooManyChannelsError", "UnsupportedSampleRateError", "NonFiniteAudioError", "OutputError",
    "OutputExistsError", "ModelError", "ModelNotFoundError", "ModelIntegrityError",
    "DeviceError", "Cancelled", "UnknownModelFormatError", "ModelConfigError",
    "MissingExtraError",
]
