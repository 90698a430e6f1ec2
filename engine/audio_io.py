"""Reading and writing audio files: the only module of the engine that touches them.

Arrays are ``float32`` with shape ``(C, N)``: channels first, samples second. Reading never
changes the sample rate, the channel count or the number of samples: what a file holds is what
comes out, with the encoder delay and padding of MP3 and AAC removed so that decoded lengths match
what was encoded. Streamed blocks are exactly the whole-file decode, cut up. A file that ends before
its header says (cut off while copying) is read as far as it goes, with a warning naming the file
and how much is missing. Writing is atomic (a temporary file in the same folder, renamed at the
end) and never replaces an existing file unless ``overwrite`` is set.

Backends: libsndfile through ``soundfile`` for WAV, FLAC, AIFF, OGG/Vorbis, Opus and MP3 (mpg123
reads the LAME gapless header); FFmpeg through PyAV for M4A/AAC/ALAC/MP4, NI ``.stem.mp4`` and
MP3s without a length header (which mpg123 would stop decoding at a guessed length).
"""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import os
import re
import secrets
import shutil
import stat
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from . import containers
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


def _undecodable(path: Path) -> str:
    """Why a file that does not decode was refused, in words (no library or errno text)."""
    kind = path.suffix.lstrip(".").upper() or "audio"
    return (f"cannot decode: not valid {kind} audio (the file is damaged, incomplete, or not "
            "what its name says)")


# --- input checks --------------------------------------------------------------------------


def _check_path(path: Path) -> None:
    if str(path) == "-":
        raise AudioReadError("reading audio from standard input is not supported; save it to "
                             "a file and pass the file's path", path)
    if not path.exists():
        raise AudioNotFoundError("file not found", path)
    if path.is_dir():
        raise AudioReadError("is a folder, not an audio file", path)
    if not stat.S_ISREG(path.stat().st_mode):
        raise AudioReadError("is a pipe or a device, not a file; Stemma reads audio files "
                             "(save the stream to a file first)", path)
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


_STDERR_LOCK = threading.Lock()


@contextlib.contextmanager
def _decoder_notes_to_log() -> Iterator[None]:
    """Divert file descriptor 2 to the debug log while libsndfile runs.

    libmpg123, inside libsndfile, prints its notes ("Note: Illegal Audio-MPEG-Header ...",
    "Warning: Xing stream size off ...") straight to the process's stderr, between our own
    one-line messages. Anything another thread writes to stderr meanwhile goes to the log too.
    """
    with _STDERR_LOCK, tempfile.TemporaryFile() as sink:
        try:
            saved = os.dup(2)
        except OSError:  # no stderr at all: nothing to divert
            yield
            return
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            notes = sink.read().decode(errors="replace").split("\n")
            if any(notes):
                log.debug("decoder notes: %s", " | ".join(n for n in notes if n))


# --- readers -------------------------------------------------------------------------------


class AudioReader:
    """An open input file: ``info`` and ``blocks()``, which yields (C, n) float32 arrays.

    ``promised`` is the length the file's header declares, where it declares one. When decoding
    ends before it (or on a decoder error part-way), what did decode is used and a warning
    names the file and the missing duration; ``missing_frames`` says how many.
    """

    info: AudioInfo
    promised: int | None = None  # frames the header declares; None: the header does not say
    ends_unmarked: bool = False  # an Ogg file without its end-of-stream mark
    tolerance: int = 0  # frames a decode may fall short of ``promised`` unremarked
    missing_frames: int = 0

    def blocks(self, block_frames: int) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def read_all(self) -> np.ndarray:
        """The whole file as (C, N) float32."""
        parts = list(self.blocks(1 << 20))
        if not parts:
            return np.zeros((self.info.n_channels, 0), np.float32)
        return np.concatenate(parts, axis=1)

    def _ended(self, done: int, error: str | None) -> None:
        """Decoding stopped after ``done`` frames (``error``: the decoder's complaint, if any)."""
        path, rate = self.info.path, self.info.sample_rate
        if error:
            log.debug("%s: decoder stopped at frame %d: %s", path, done, error)
        if done == 0:
            raise CorruptAudioError("no audio could be decoded: the file is damaged, or cut "
                                    "off right after its header", path)
        if self.promised is not None and done < self.promised - self.tolerance:
            self.missing_frames = self.promised - done
            log.warning("%s: the file ends %.2f s short of the %.2f s its header declares (cut "
                        "off or damaged); the %.2f s before that are used", path,
                        self.missing_frames / rate, self.promised / rate, done / rate)
        elif error:
            log.warning("%s: decoding stopped at %.2f s on damaged data; the audio before that "
                        "is used", path, done / rate)
        elif self.ends_unmarked:
            log.warning("%s: the file ends without its end-of-stream mark, so it was probably "
                        "cut off (Ogg files do not record their length: how much is missing is "
                        "unknown); the %.2f s that are there are used", path, done / rate)

    def close(self) -> None:
        pass

    def __enter__(self) -> AudioReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _SoundFileReader(AudioReader):
    """libsndfile decoding, called directly rather than through ``SoundFile.read``.

    Issue 11: ``SoundFile.read`` seeks to the current position after every read (its
    ``_cdata_io`` keeps the position that way), and libsndfile hands every seek of an MP3 to
    ``mpg123_seek`` (``mpeg_dec_seek``), even a seek to where decoding already is. mpg123 then
    re-synchronises from an earlier frame, and its decoder state (the bit reservoir, the
    overlap of the filter banks) is not what a straight decode had there: at many block
    boundaries (multiples of 65,536 frames in ``stemma separate``) the next 3,000-4,000
    samples came out different from the file decoded whole, and the stems summed to a different
    song there. Opus blocks differed the same way at some block sizes. Reading through
    ``sf_readf_float`` with no seek makes every block the continuation of the last; it also
    returns the frames decoded before an error, which ``SoundFile.read`` throws away.
    """

    def __init__(self, path: Path):
        with _decoder_notes_to_log():
            try:
                self._file = sf.SoundFile(str(path))
            except (sf.LibsndfileError, RuntimeError) as err:
                log.debug("%s: libsndfile: %s", path, err)
                raise CorruptAudioError(_undecodable(path), path) from err
        f = self._file
        self._chatty = f.format == "MP3"  # only mpg123 prints
        self._error: str | None = None  # the decoder's complaint; reading stops there
        if f.seekable():
            # One seek to the start, as SoundFile.read's first call makes: without it mpg123
            # decodes MPEG-2 rates (22.05 kHz ...) through another synthesis path, a few
            # float ulps away from what every soundfile user gets.
            try:
                with _decoder_notes_to_log() if self._chatty else contextlib.nullcontext():
                    f.seek(0)
            except (sf.LibsndfileError, RuntimeError) as err:  # nothing after the header
                self._error = str(err)
        self.info = AudioInfo(path, f.samplerate, f.channels, f.frames, f.format, f.subtype)
        declared = containers.declared_frames(path, f.format, f.subtype, f.channels)
        self.promised = max(f.frames, declared or 0) if f.format in ("WAV", "AIFF", "FLAC",
                                                                     "MP3") else None
        self.ends_unmarked = f.format == "OGG" and containers.ogg_cut_short(path)

    def _read_into(self, out: np.ndarray) -> int:
        """Decode up to len(out) frames into ``out`` (n, C) float32; returns how many."""
        if self._error is not None:
            return 0
        handle = self._file._file  # SNDFILE*: see the class docstring for why not read()
        notes = _decoder_notes_to_log() if self._chatty else contextlib.nullcontext()
        with notes:
            n = sf._snd.sf_readf_float(handle, sf._ffi.cast("float *", out.ctypes.data),
                                       len(out))
            if sf._snd.sf_error(handle):
                self._error = sf._ffi.string(sf._snd.sf_strerror(handle)).decode(
                    errors="replace")
        return max(int(n), 0)

    def blocks(self, block_frames: int) -> Iterator[np.ndarray]:
        done = 0
        while True:
            data = np.empty((block_frames, self.info.n_channels), np.float32)
            n = self._read_into(data)
            if n == 0:
                break
            block = np.ascontiguousarray(data[:n].T)
            check_finite(block, self.info.path, done, self.info.sample_rate)
            done += n
            yield block
        self._ended(done, self._error)

    def read_all(self) -> np.ndarray:
        """One buffer, filled in pieces and checked once; the (C, N) result is a view of
        libsndfile's (N, C) frames (a transposed copy of a long song costs more than decoding
        it)."""
        data = np.empty((max(self.info.n_frames, self.promised or 0) + 1,
                         self.info.n_channels), np.float32)
        done = 0
        while True:
            if done == len(data):  # more than the header said: grow
                data = np.concatenate([data, np.empty_like(data)])
            n = self._read_into(data[done:done + (1 << 20)])
            if n == 0:
                break
            done += n
        self._ended(done, self._error)
        check_finite(data[:done].T, self.info.path, 0, self.info.sample_rate)
        return data[:done].T

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
    samples; the end padding is cut here, from the edit-list duration or an iTunSMPB tag.
    MP3 (only those without a length header come here) is decoded to its end: FFmpeg's
    duration for it is an estimate."""

    def __init__(self, path: Path):
        import av  # imported here: only MP4-family inputs need FFmpeg

        try:
            self._container = av.open(str(path), metadata_errors="ignore")
        except (av.FFmpegError, UnicodeDecodeError, OSError) as err:
            log.debug("%s: FFmpeg: %s", path, err)
            if path.suffix.lower() in PYAV_EXTENSIONS and containers.mp4_missing_index(path):
                raise CorruptAudioError(
                    "is incomplete: its audio is there but not the index MP4/M4A files keep at "
                    "their end (it was cut off while being written or copied)", path) from err
            raise CorruptAudioError(_undecodable(path), path) from err
        audio = self._container.streams.audio
        if not audio:
            self._container.close()
            raise CorruptAudioError("contains no audio stream", path)
        # NI .stem.mp4 keeps the full mix as the first audio stream, the stems after it.
        self._stream = audio[0]
        ctx = self._stream.codec_context
        rate = ctx.sample_rate or self._stream.rate
        if not rate or not ctx.channels:  # FFmpeg guessed a stream in random bytes
            self._container.close()
            raise CorruptAudioError(_undecodable(path), path)
        self._skip = 0
        self._started = False  # a decoding pass has begun: the next one re-opens the file
        self._error: str | None = None
        self.promised = self._expected_length(rate)
        self.tolerance = rate // 1000 + 1  # MP4 edit lists keep durations in milliseconds
        self.info = AudioInfo(path, rate, ctx.channels, self.promised or 0,
                              self._container.format.name, ctx.name)
        if self.promised is None:  # no trustworthy length in the container: count by decoding
            count = self._count()
            if count == 0:
                self._container.close()
                raise CorruptAudioError(_undecodable(path), path)
            self.info = AudioInfo(path, rate, ctx.channels, count, self._container.format.name,
                                  ctx.name)

    def _expected_length(self, rate: int) -> int | None:
        stream = self._stream
        if self._container.format.name == "mp3":
            return None
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
        """Every decoded frame from the start; stops at the first decoder error (kept in
        ``_error``), so a cut-off file yields what it has.

        A second pass re-opens the file: after ``seek(0)`` FFmpeg's AAC decoder restarts with
        the priming frame's overlap missing, and the first frames come out unlike a fresh
        decode."""
        import av

        if self._started:
            self._container.close()
            self._container = av.open(str(self.info.path), metadata_errors="ignore")
            self._stream = self._container.streams.audio[0]
        self._started, self._error = True, None
        try:
            for frame in self._container.decode(self._stream):
                yield _frame_to_array(frame)
        except av.FFmpegError as err:
            self._error = str(err)

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
            done += out.shape[1]
            yield out
        self._ended(done, self._error)

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


def _decoders(path: Path) -> tuple[type[AudioReader], type[AudioReader]]:
    """Which decoder to try first for ``path``, and which second."""
    ext = path.suffix.lower()
    if ext in PYAV_EXTENSIONS or (ext == ".mp3" and not containers.mp3_has_length_header(path)):
        return _PyAVReader, _SoundFileReader
    return _SoundFileReader, _PyAVReader


def open_audio(path: str | Path) -> AudioReader:
    """Open ``path`` for streaming reads after checking it is usable audio.

    Raises a subclass of ``AudioInputError`` naming the file and the problem.
    """
    path = Path(path)
    _check_path(path)
    first, second = _decoders(path)
    try:
        reader = first(path)
    except CorruptAudioError as err:
        # A misnamed file (an M4A called .mp3) still opens through the other decoder.
        try:
            reader = second(path)
        except CorruptAudioError:
            if path.suffix.lower() in READ_EXTENSIONS:
                raise err from None
            raise UnsupportedFormatError(
                f"'{path.suffix.lower() or path.name}' is not an audio format Stemma reads "
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


def quantize_together(stems: np.ndarray, bit_depth: str,
                      mix: np.ndarray | None = None) -> np.ndarray:
    """Round (S, C, n) stems to the grid of an integer ``bit_depth`` so that they sum exactly
    to ``mix`` (C, n) rounded to that grid; without ``mix``, to their own sum rounded (float
    depths: returned unchanged).

    Rounding each stem alone leaves up to S/2 steps of error in their sum. Here each sample's
    stems are rounded, then the few whose rounding went furthest against the target take one
    step the other way: every stem stays within about a step of its exact value, and the sum
    lands on the rounded mix, so stems of a 16-bit song sum back to it exactly. Values come
    back as float32 on the grid (k / 2**(bits-1), exact in float32), which the writer keeps.
    """
    bits = {"16": 16, "24": 24}.get(bit_depth)
    if bits is None or stems.shape[0] < 2:
        return stems
    full = float(1 << (bits - 1))
    scaled = stems.astype(np.float64) * full
    rounded = np.rint(scaled)
    target = scaled.sum(axis=0) if mix is None else mix.astype(np.float64) * full
    short = np.rint(target) - rounded.sum(axis=0)  # (C, n) whole steps
    residual = scaled - rounded  # how far each stem was rounded down, in [-0.5, 0.5]
    rank = np.argsort(np.argsort(-residual, axis=0, kind="stable"), axis=0)  # 0: most down
    n = stems.shape[0]
    rounded += (rank < short) & (short > 0)  # round up those rounded down the most
    rounded -= (n - 1 - rank < -short) & (short < 0)  # and down those rounded up the most
    return (rounded / full).astype(np.float32)


# Temporary files are '.<target name>.stemma-<pid>-<random>.part' beside their target.
TEMP_NAME = re.compile(r"^\..*\.stemma-(\d+)-[0-9a-f]{8}\.part$")
NAME_MAX = 255  # bytes in one file name (ext4, APFS, NTFS)


def temp_path(target: Path) -> Path:
    """A hidden, process-stamped temporary name beside ``target``, never longer than a file
    name may be (the target's name is shortened inside it if need be)."""
    stamp = f".stemma-{os.getpid()}-{secrets.token_hex(4)}.part"
    room = NAME_MAX - 1 - len(stamp.encode())
    base = target.name.encode()[:room].decode(errors="ignore")
    return target.with_name(f".{base}{stamp}")


def _process_alive(pid: int) -> bool:
    if pid == os.getpid() or os.name != "posix":  # never guess on other systems
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, run by someone else
        return True
    return True


def _held(path: Path) -> bool:
    """True if a writer holds ``path`` open (the lock every AudioWriter keeps on its file)."""
    try:
        import fcntl
    except ImportError:
        return True
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def remove_stale_temps(folder: Path) -> list[Path]:
    """Delete the temporary files a run stopped by force (SIGKILL, a crash, a power cut) left
    in ``folder``: ours by name, stamped with a process that is gone, and locked by no one."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    removed = []
    for name in names:
        match = TEMP_NAME.match(name)
        path = folder / name
        if match and not _process_alive(int(match.group(1))) and not _held(path):
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    if removed:
        log.info("%s: removed %d unfinished file(s) left by a run that was stopped",
                 folder, len(removed))
    return removed


def _lock(path: Path) -> int | None:
    """Hold a shared lock on ``path`` while it is written; the fd, or None where unsupported."""
    try:
        import fcntl
    except ImportError:
        return None
    fd = os.open(path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_SH)
    return fd


def _existing_folder(path: Path) -> Path:
    for folder in path.parents:
        if folder.exists():
            return folder
    return Path(".")


def _output_problem(err: BaseException, target: Path) -> str:
    """Why ``target`` cannot be created or written, in words: no library text, no errno, no
    temporary file name."""
    folder = _existing_folder(target)
    code = getattr(err, "errno", None)  # libsndfile's errors carry none
    if code == errno.ENOSPC:
        return "the disk is full"
    if code in (errno.EROFS, errno.EACCES, errno.EPERM) or not os.access(folder, os.W_OK):
        return f"cannot write in {folder} (read-only, or permission denied)"
    with contextlib.suppress(OSError):
        if shutil.disk_usage(folder).free < (1 << 20):
            return "the disk is full"
    if code == errno.ENAMETOOLONG or len(target.name.encode()) > NAME_MAX:
        return "the file name is too long"
    reason = getattr(err, "strerror", None)
    return f"cannot be written ({reason})" if reason else "cannot be written"


class AudioWriter:
    """Streams (C, n) float32 blocks into a temporary file next to ``path``; ``commit()`` moves it
    into place, ``abort()`` (or leaving the ``with`` block on an exception) deletes it.

    ``overwrite`` is checked when opening, so a batch fails before any work, and again when
    committing, without ever replacing a file that appeared in between unless asked. The
    temporary file is locked while written; a run that was killed leaves it unlocked, and the
    next writer into the same folder removes it.
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
        self._tmp = temp_path(self.path)
        self._lock_fd: int | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_temps(self.path.parent)
            self._file = sf.SoundFile(str(self._tmp), "w", sample_rate, n_channels, subtype,
                                      format=major)
        except (OSError, sf.LibsndfileError, RuntimeError) as err:
            log.debug("%s: creating %s: %s", self.path, self._tmp.name, err)
            with contextlib.suppress(OSError):  # a read-only folder refuses even that
                self._tmp.unlink(missing_ok=True)
            raise OutputError(_output_problem(err, self.path), self.path) from err
        with contextlib.suppress(OSError):
            self._lock_fd = _lock(self._tmp)
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
            log.debug("%s: writing %s: %s", self.path, self._tmp.name, err)
            raise OutputError(_output_problem(err, self.path), self.path) from err
        self.n_frames += block.shape[1]

    def commit(self) -> WriteReport:
        """Close the temporary file and move it to ``path``."""
        try:
            self._file.close()  # writes the final header: can still fail on a full disk
            if self.overwrite:
                os.replace(self._tmp, self.path)
            else:
                os.link(self._tmp, self.path)  # fails if the target appeared meanwhile
                os.unlink(self._tmp)
        except FileExistsError:
            self.abort()
            raise OutputExistsError("already exists; pass overwrite (--overwrite) to replace it",
                                    self.path) from None
        except (OSError, sf.LibsndfileError, RuntimeError) as err:
            self.abort()
            raise OutputError(_output_problem(err, self.path), self.path) from err
        self._unlock()
        if self.n_clipped:
            log.debug("%s: %d samples clipped to fit %d-bit", self.path, self.n_clipped,
                      self._bits)
        return WriteReport(self.path, self.n_frames, self.peak, self.n_clipped)

    def abort(self) -> None:
        """Delete the temporary file; the target is untouched."""
        if not self._file.closed:
            with contextlib.suppress(sf.LibsndfileError, RuntimeError, OSError):
                self._file.close()
        try:
            self._tmp.unlink()
        except FileNotFoundError:
            pass
        except OSError as err:  # say so: the user has a file to delete
            log.warning("%s: cannot remove the unfinished %s (%s)", self.path, self._tmp.name,
                        err.strerror)
        self._unlock()

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

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
