"""Reading and writing audio files: the only module of the engine that touches them.

Arrays are ``float32`` with shape ``(C, N)``: channels first, samples second. Reading never
changes the sample rate, the channel count or the number of samples: what a file holds is what
comes out, with the encoder delay and padding of MP3 and AAC removed so that decoded lengths match
what was encoded. Writing is atomic (a temporary file in the same folder, renamed at the end) and
never replaces an existing file unless ``overwrite`` is set.

Backends: libsndfile through ``soundfile`` for WAV, FLAC, AIFF, OGG/Vorbis, Opus and MP3 (mpg123
reads the LAME gapless header); FFmpeg through PyAV for M4A/AAC/ALAC/MP4 and NI ``.stem.mp4``.
"""

from __future__ import annotations

import io
import logging
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from .errors import (
    AudioNotFoundError,
    AudioReadError,
    CorruptAudioError,
    EmptyAudioError,
    InvalidArgumentError,
    NonFiniteAudioError,
    OutputError,
    OutputExistsError,
    TooManyChannelsError,
    UnsupportedFormatError,
    UnsupportedSampleRateError,
)

log = logging.getLogger(__name__)

SOUNDFILE_EXTENSIONS = (".wav", ".wave", ".flac", ".aif", ".aiff", ".aifc", ".ogg", ".oga",
                        ".opus", ".mp3", ".w64", ".rf64", ".caf")
PYAV_EXTENSIONS = (".m4a", ".m4b", ".aac", ".alac", ".mp4", ".mov")
READ_EXTENSIONS = SOUNDFILE_EXTENSIONS + PYAV_EXTENSIONS
MIN_SAMPLE_RATE = 8_000  # Hz: below this there is no music left to separate
MAX_SAMPLE_RATE = 192_000  # Hz: the highest rate studios deliver
MAX_CHANNELS = 2

# Output formats: name -> (libsndfile major format, {bit depth: libsndfile subtype}).
WRITE_FORMATS = {
    "wav": ("WAV", {"16": "PCM_16", "24": "PCM_24", "32f": "FLOAT"}),
    "flac": ("FLAC", {"16": "PCM_16", "24": "PCM_24"}),
}
WAV_SIZE_LIMIT = 4_000_000_000  # bytes: RIFF sizes are 32-bit; longer outputs are written as RF64


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds. ``n_frames`` is exact once decoding is gapless-corrected."""

    path: Path
    sample_rate: int  # Hz
    n_channels: int
    n_frames: int  # samples per channel
    format: str  # container, e.g. "WAV", "MP3", "mov,mp4,m4a"
    codec: str  # e.g. "PCM_24", "aac"

    @property
    def duration(self) -> float:
        """Seconds."""
        return self.n_frames / self.sample_rate


@dataclass(frozen=True)
class WriteReport:
    """What happened while writing one file."""

    path: Path
    n_frames: int
    peak: float  # largest |sample| before any conversion (1.0 = full scale)
    n_clipped: int  # samples clipped to fit an integer format (always 0 for float)


def _describe_formats() -> str:
    return "WAV, FLAC, AIFF, OGG, Opus, MP3, M4A/AAC/ALAC, MP4 and .stem.mp4"


# --- input checks --------------------------------------------------------------------------


def _check_path(path: Path) -> None:
    if not path.exists():
        raise AudioNotFoundError("file not found", path)
    if path.is_dir():
        raise AudioReadError("is a folder, not an audio file", path)
    if not os.access(path, os.R_OK):
        raise AudioReadError("permission denied: the file cannot be read", path)
    if path.stat().st_size == 0:
        raise EmptyAudioError("file is empty (0 bytes)", path)


def _check_info(info: AudioInfo) -> AudioInfo:
    if info.n_channels > MAX_CHANNELS:
        raise TooManyChannelsError(
            f"has {info.n_channels} channels; Stemma separates mono or stereo audio, "
            "so downmix it to stereo first", info.path)
    if not MIN_SAMPLE_RATE <= info.sample_rate <= MAX_SAMPLE_RATE:
        raise UnsupportedSampleRateError(
            f"sample rate {info.sample_rate} Hz is outside the supported "
            f"{MIN_SAMPLE_RATE // 1000} to {MAX_SAMPLE_RATE // 1000} kHz", info.path)
    if info.n_frames == 0:
        raise EmptyAudioError("contains no audio samples", info.path)
    return info


def check_finite(block: np.ndarray, path: Path | None, offset: int, sample_rate: int) -> None:
    """Raise ``NonFiniteAudioError`` if ``block`` (C, n) holds NaN or Inf; ``offset`` in samples.

    The float64 sum is finite exactly when every sample is (NaN and Inf propagate; float32
    magnitudes cannot overflow it): one pass and no temporary the size of the audio.
    """
    if np.isfinite(np.sum(block, dtype=np.float64)):
        return
    first = int(np.flatnonzero(~np.isfinite(block).all(axis=0))[0]) + offset
    raise NonFiniteAudioError(
        f"contains NaN or infinite samples (first at {first / sample_rate:.3f} s); "
        "the file is damaged or was written by a broken tool", path)


# --- readers -------------------------------------------------------------------------------


class AudioReader:
    """An open input file: ``info`` and ``blocks()``, which yields (C, n) float32 arrays."""

    info: AudioInfo

    def blocks(self, block_frames: int) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def read_all(self) -> np.ndarray:
        """The whole file as (C, N) float32."""
        parts = list(self.blocks(1 << 20))
        if not parts:
            return np.zeros((self.info.n_channels, 0), np.float32)
        return np.concatenate(parts, axis=1)

    def close(self) -> None:
        pass

    def __enter__(self) -> AudioReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _SoundFileReader(AudioReader):
    def __init__(self, path: Path):
        try:
            self._file = sf.SoundFile(str(path))
        except (sf.LibsndfileError, RuntimeError) as err:
            raise CorruptAudioError(f"cannot decode ({err})", path) from err
        f = self._file
        self.info = AudioInfo(path, f.samplerate, f.channels, f.frames, f.format, f.subtype)

    def blocks(self, block_frames: int) -> Iterator[np.ndarray]:
        done = 0
        while True:
            try:
                data = self._file.read(block_frames, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as err:
                raise CorruptAudioError(
                    f"decoding failed at {done / self.info.sample_rate:.2f} s ({err})",
                    self.info.path) from err
            if len(data) == 0:
                return
            block = np.ascontiguousarray(data.T)
            check_finite(block, self.info.path, done, self.info.sample_rate)
            done += block.shape[1]
            yield block

    def read_all(self) -> np.ndarray:
        """One read and one check; the (C, N) result is a view of libsndfile's (N, C) frames
        (a transposed copy of a long song costs more than decoding it)."""
        try:
            data = self._file.read(dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as err:
            raise CorruptAudioError(f"decoding failed ({err})", self.info.path) from err
        check_finite(data.T, self.info.path, 0, self.info.sample_rate)
        return data.T

    def close(self) -> None:
        self._file.close()


def _itunes_gapless(metadata: dict[str, str]) -> tuple[int, int] | None:
    """(priming, valid length) from an iTunSMPB tag, or None. Apple writes it into M4A files."""
    for key, value in metadata.items():
        if key.lower() == "itunsmpb":
            fields = value.split()
            try:
                return int(fields[1], 16), int(fields[3], 16)
            except (IndexError, ValueError):
                return None
    return None


class _PyAVReader(AudioReader):
    """FFmpeg decoding. The MP4 demuxer's edit list makes the decoder drop the AAC priming
    samples; the end padding is cut here, from the edit-list duration or an iTunSMPB tag."""

    def __init__(self, path: Path):
        import av  # imported here: only MP4-family inputs need FFmpeg

        try:
            self._container = av.open(str(path), metadata_errors="ignore")
        except (av.FFmpegError, UnicodeDecodeError, OSError) as err:
            raise CorruptAudioError(f"cannot decode ({err})", path) from err
        audio = self._container.streams.audio
        if not audio:
            self._container.close()
            raise CorruptAudioError("contains no audio stream", path)
        # NI .stem.mp4 keeps the full mix as the first audio stream, the stems after it.
        self._stream = audio[0]
        ctx = self._stream.codec_context
        rate = ctx.sample_rate or self._stream.rate
        self._skip = 0
        self._length = self._expected_length(rate)
        self.info = AudioInfo(path, rate, ctx.channels, self._length or 0,
                              self._container.format.name, ctx.name)
        if self._length is None:  # no duration in the container: count by decoding once
            try:
                count = self._count()
            except CorruptAudioError:
                self._container.close()
                raise
            self.info = AudioInfo(path, rate, ctx.channels, count, self._container.format.name,
                                  ctx.name)

    def _expected_length(self, rate: int) -> int | None:
        stream = self._stream
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = int(round(float(stream.duration * stream.time_base) * rate))
        gapless = _itunes_gapless({**self._container.metadata, **stream.metadata})
        if gapless is not None:
            priming, length = gapless
            # With an edit list the stream duration is the valid length and FFmpeg drops the
            # priming itself; without one it spans priming + audio + padding.
            if duration is not None and duration >= priming + length:
                self._skip = priming
            return length
        return duration

    def _decoded(self) -> Iterator[np.ndarray]:
        import av

        try:
            self._container.seek(0)
            for frame in self._container.decode(self._stream):
                yield _frame_to_array(frame)
        except av.FFmpegError as err:
            raise CorruptAudioError(f"decoding failed ({err})", self.info.path) from err

    def _count(self) -> int:
        return sum(block.shape[1] for block in self._decoded())

    def blocks(self, block_frames: int) -> Iterator[np.ndarray]:
        skip, remaining, done = self._skip, self.info.n_frames, 0
        pending: list[np.ndarray] = []
        n_pending = 0
        for block in self._decoded():
            if skip:
                cut = min(skip, block.shape[1])
                block, skip = block[:, cut:], skip - cut
            block = block[:, :remaining]
            remaining -= block.shape[1]
            pending.append(block)
            n_pending += block.shape[1]
            while n_pending >= block_frames:
                joined = np.concatenate(pending, axis=1)
                out, rest = joined[:, :block_frames], joined[:, block_frames:]
                pending, n_pending = [rest], rest.shape[1]
                check_finite(out, self.info.path, done, self.info.sample_rate)
                done += out.shape[1]
                yield np.ascontiguousarray(out)
            if remaining <= 0:
                break
        if n_pending:
            out = np.concatenate(pending, axis=1)
            check_finite(out, self.info.path, done, self.info.sample_rate)
            yield out

    def close(self) -> None:
        self._container.close()


def _frame_to_array(frame) -> np.ndarray:
    """An FFmpeg audio frame as (C, n) float32 in [-1, 1]."""
    data = frame.to_ndarray()
    n_channels = len(frame.layout.channels)
    if not frame.format.is_planar:
        data = data.reshape(-1, n_channels).T
    kind = frame.format.name.rstrip("p")
    if kind == "s16":
        data = data.astype(np.float32) / 32768.0
    elif kind == "s32":
        data = data.astype(np.float32) / 2147483648.0
    elif kind == "u8":
        data = (data.astype(np.float32) - 128.0) / 128.0
    return np.ascontiguousarray(data, dtype=np.float32)


def open_audio(path: str | Path) -> AudioReader:
    """Open ``path`` for streaming reads after checking it is usable audio.

    Raises a subclass of ``AudioInputError`` naming the file and the problem.
    """
    path = Path(path)
    _check_path(path)
    ext = path.suffix.lower()
    first, second = (_SoundFileReader, _PyAVReader)
    if ext in PYAV_EXTENSIONS:
        first, second = second, first
    try:
        reader = first(path)
    except CorruptAudioError as err:
        # A misnamed file (an M4A called .mp3) still opens through the other decoder.
        try:
            reader = second(path)
        except CorruptAudioError:
            if ext in READ_EXTENSIONS:
                raise err from None
            raise UnsupportedFormatError(
                f"'{ext or path.name}' is not an audio format Stemma reads "
                f"({_describe_formats()})", path) from None
    try:
        _check_info(reader.info)
    except Exception:
        reader.close()
        raise
    return reader


def probe(path: str | Path) -> AudioInfo:
    """Check ``path`` and return what it holds, without decoding the samples."""
    with open_audio(path) as reader:
        return reader.info


def read(path: str | Path) -> tuple[np.ndarray, int]:
    """The whole file as ((C, N) float32, sample rate). The array may be a transposed view
    (not C-contiguous); ``np.ascontiguousarray`` it where that matters."""
    with open_audio(path) as reader:
        return reader.read_all(), reader.info.sample_rate


# --- writers -------------------------------------------------------------------------------


def output_subtype(fmt: str, bit_depth: str) -> tuple[str, str]:
    """(libsndfile format, subtype) for a format name and bit depth, or InvalidArgumentError."""
    if fmt not in WRITE_FORMATS:
        raise InvalidArgumentError(
            f"output format '{fmt}' is not one of {', '.join(WRITE_FORMATS)}")
    major, depths = WRITE_FORMATS[fmt]
    if bit_depth not in depths:
        raise InvalidArgumentError(
            f"{fmt.upper()} cannot be written with bit depth '{bit_depth}'; "
            f"choose one of {', '.join(depths)}")
    return major, depths[bit_depth]


def _to_integer(block: np.ndarray, bits: int) -> tuple[np.ndarray, int]:
    """Scale float samples to a signed integer grid; returns (int array, clipped count).

    24-bit samples are carried in int32 with the low byte zero, as libsndfile expects.
    """
    full = float(1 << (bits - 1))
    scaled = np.rint(block * full)
    clipped = int(np.count_nonzero((scaled > full - 1) | (scaled < -full)))
    np.clip(scaled, -full, full - 1, out=scaled)
    if bits == 16:
        return scaled.astype(np.int16), clipped
    return scaled.astype(np.int32) << (32 - bits), clipped


class AudioWriter:
    """Streams (C, n) float32 blocks into a temporary file next to ``path``; ``commit()`` moves it
    into place, ``abort()`` (or leaving the ``with`` block on an exception) deletes it.

    ``overwrite`` is checked when opening, so a batch fails before any work, and again when
    committing, without ever replacing a file that appeared in between unless asked.
    """

    def __init__(self, path: str | Path, sample_rate: int, n_channels: int, fmt: str = "wav",
                 bit_depth: str = "32f", overwrite: bool = False, expected_frames: int = 0):
        self.path = Path(path)
        self.overwrite = overwrite
        major, subtype = output_subtype(fmt, bit_depth)
        if major == "WAV" and expected_frames * n_channels * 4 > WAV_SIZE_LIMIT:
            major = "RF64"
        if self.path.exists() and not overwrite:
            raise OutputExistsError("already exists; pass overwrite (--overwrite) to replace it",
                                    self.path)
        self._bits = {"PCM_16": 16, "PCM_24": 24}.get(subtype)
        self._tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.part")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = sf.SoundFile(str(self._tmp), "w", sample_rate, n_channels, subtype,
                                      format=major)
        except (OSError, sf.LibsndfileError, RuntimeError) as err:
            raise OutputError(f"cannot create output ({err})", self.path) from err
        self.n_frames = 0
        self.peak = 0.0
        self.n_clipped = 0

    def write(self, block: np.ndarray) -> None:
        """Append (C, n) float samples."""
        if block.shape[1] == 0:
            return
        self.peak = max(self.peak, float(np.max(np.abs(block))))
        data = block
        if self._bits is not None:
            data, clipped = _to_integer(block, self._bits)
            self.n_clipped += clipped
        try:
            self._file.write(np.ascontiguousarray(data.T))
        except (OSError, sf.LibsndfileError, RuntimeError) as err:
            raise OutputError(f"write failed ({err})", self.path) from err
        self.n_frames += block.shape[1]

    def commit(self) -> WriteReport:
        """Close the temporary file and move it to ``path``."""
        self._file.close()
        try:
            if self.overwrite:
                os.replace(self._tmp, self.path)
            else:
                os.link(self._tmp, self.path)  # fails if the target appeared meanwhile
                os.unlink(self._tmp)
        except FileExistsError:
            self.abort()
            raise OutputExistsError("already exists; pass overwrite (--overwrite) to replace it",
                                    self.path) from None
        except OSError as err:
            self.abort()
            raise OutputError(f"cannot move the finished file into place ({err})",
                              self.path) from err
        if self.n_clipped:
            log.warning("%s: %d samples clipped to fit %d-bit", self.path, self.n_clipped,
                        self._bits)
        return WriteReport(self.path, self.n_frames, self.peak, self.n_clipped)

    def abort(self) -> None:
        """Delete the temporary file; the target is untouched."""
        if not self._file.closed:
            self._file.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> AudioWriter:
        return self

    def __exit__(self, exc_type, *exc: object) -> None:
        if exc_type is not None:
            self.abort()


MEMORY_FORMATS = {"opus": ("OGG", "OPUS"), "flac": ("FLAC", "PCM_16")}


def encode_bytes(audio: np.ndarray, sample_rate: int, fmt: str = "opus") -> bytes:
    """(C, N) float audio -> an in-memory stream: "opus" (Ogg Opus at libsndfile's default
    bit rate, about 7 kB/s per channel) or "flac" (16-bit, lossless). For training clips
    only, never for stems."""
    major, subtype = MEMORY_FORMATS[fmt]
    buffer = io.BytesIO()
    sf.write(buffer, np.ascontiguousarray(np.atleast_2d(audio).T), sample_rate,
             format=major, subtype=subtype)
    return buffer.getvalue()


def decode_bytes(data: bytes) -> tuple[np.ndarray, int]:
    """An in-memory audio stream (any format libsndfile reads) -> ((C, N) float32, rate)."""
    audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return np.ascontiguousarray(audio.T), rate


def write(path: str | Path, audio: np.ndarray, sample_rate: int, fmt: str | None = None,
          bit_depth: str = "32f", overwrite: bool = False) -> WriteReport:
    """Write a whole (C, N) array atomically. ``fmt`` defaults to the path's extension."""
    path = Path(path)
    fmt = fmt or path.suffix.lower().lstrip(".")
    audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    with AudioWriter(path, sample_rate, audio.shape[0], fmt, bit_depth, overwrite,
                     audio.shape[1]) as writer:
        for start in range(0, audio.shape[1], 1 << 18):
            writer.write(audio[:, start:start + (1 << 18)])
        return writer.commit()
