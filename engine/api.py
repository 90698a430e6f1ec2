"""The one facade the command line, the desktop app and the plugin backend all call."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import audio_io, backends, outputs, registry
from .devices import cuda_available, resolve_device
from .errors import (
    Cancelled,
    InvalidArgumentError,
    NonFiniteAudioError,
    TooManyChannelsError,
    UnsupportedSampleRateError,
)
from .outputs import OutputSet, OutputSpec
from .pipeline import StemStream, output_names

log = logging.getLogger(__name__)

VOCALS = "vocals"  # the sung stem, which a karaoke track leaves out
READ_BLOCK = 1 << 16  # samples per read: small enough for prompt cancel, big enough to be cheap
PathLike = str | Path


@dataclass(frozen=True)
class Progress:
    """Where a job stands. Times in seconds."""

    stage: str  # "separating", "finishing" or "done"
    done: float  # seconds of audio finished
    total: float | None  # seconds of audio in all (None if unknown)
    elapsed: float  # wall-clock seconds since the job started

    @property
    def fraction(self) -> float | None:
        return None if not self.total else min(1.0, self.done / self.total)

    @property
    def eta(self) -> float | None:
        """Estimated seconds left, from the pace so far."""
        if not self.total or self.done <= 0:
            return None
        return self.elapsed * (self.total - self.done) / self.done


ProgressCallback = Callable[[Progress], None]
# (first sample, {output name: (C, n) block}): stems as they are finished, in order.
ChunkCallback = Callable[[int, Mapping[str, np.ndarray]], None]


class CancelToken:
    """Shared between a job and whoever may stop it (a UI button, a signal handler).

    The engine checks it between steps and raises :class:`Cancelled`, after removing anything
    it had begun to write.
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled()


class Stems(Mapping[str, np.ndarray]):
    """Separated stems: name -> (C, N) float32 array, all at one ``sample_rate``."""

    def __init__(self, arrays: Mapping[str, np.ndarray], sample_rate: int):
        self._arrays = dict(arrays)
        self.sample_rate = sample_rate
        shapes = {a.shape for a in self._arrays.values()}
        if len(shapes) > 1:
            raise InvalidArgumentError(f"stems differ in shape: {sorted(shapes)}")

    def __getitem__(self, name: str) -> np.ndarray:
        return self._arrays[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)

    def __repr__(self) -> str:
        return (f"Stems({', '.join(self._arrays)}; {self.n_channels} ch, "
                f"{self.n_frames} samples at {self.sample_rate} Hz)")

    @property
    def n_channels(self) -> int:
        return next(iter(self._arrays.values())).shape[0]

    @property
    def n_frames(self) -> int:
        return next(iter(self._arrays.values())).shape[1]

    def remix(self, gains: Mapping[str, float] | None = None) -> np.ndarray:
        """Sum of the stems, each times its linear gain (missing names: 1.0, 0.0 mutes)."""
        gains = gains or {}
        _check_gains(gains, self._arrays)
        out = np.zeros((self.n_channels, self.n_frames), np.float32)
        for name, audio in self._arrays.items():
            out += np.float32(gains.get(name, 1.0)) * audio
        return out

    def instrumental(self, vocals: str = VOCALS) -> np.ndarray:
        """Everything but the vocals: the karaoke track."""
        if f"no_{vocals}" in self._arrays:
            return self._arrays[f"no_{vocals}"].copy()
        if vocals not in self._arrays:
            raise InvalidArgumentError(f"no '{vocals}' stem to leave out")
        return self.remix({vocals: 0.0})

    def save(self, out_dir: PathLike, fmt: str = "wav", bit_depth: str = "32f",
             overwrite: bool = False, name_template: str = "{stem}",
             track: str = "") -> dict[str, audio_io.WriteReport]:
        """Write every stem to ``out_dir/<template>.<fmt>``; all files or none."""
        spec = OutputSpec(fmt, bit_depth, overwrite, name_template)
        paths = outputs.targets(out_dir, list(self._arrays), spec, track)
        return outputs.write_arrays(self._arrays, paths, self.sample_rate, spec, together=True)

    @classmethod
    def load(cls, folder: PathLike) -> Stems:
        """Stems from a folder of audio files, named after the files (``vocals.wav`` ...)."""
        paths = stem_files(folder)
        arrays, rate = {}, None
        for name, path in paths.items():
            audio, sr = audio_io.read(path)
            if rate not in (None, sr):
                raise InvalidArgumentError(f"stems differ in sample rate ({rate} vs {sr} Hz)",
                                           path)
            arrays[name], rate = audio, sr
        assert rate is not None
        return cls(arrays, rate)


def _check_gains(gains: Mapping[str, float], stems: Iterable[str]) -> None:
    names = list(stems)
    unknown = set(gains) - set(names)
    if unknown:
        raise InvalidArgumentError(f"no stem named {', '.join(sorted(unknown))}; stems are "
                                   f"{', '.join(names)}")
    for name, gain in gains.items():
        if not math.isfinite(gain):
            raise InvalidArgumentError(f"the gain of '{name}' must be a finite number, not "
                                       f"{gain}")


def known_stems() -> set[str]:
    """Names of the stems installed models write, with their ``no_<stem>`` complements."""
    stems = {s for m in registry.list_models() for s in m.stems}
    return stems | {f"no_{s}" for s in stems}


def stem_files(folder: PathLike) -> dict[str, Path]:
    """The stems in ``folder`` as a separation writes them (``vocals.wav``, ``no_vocals.flac``
    ...), by stem name. Other files are left out with a warning; a folder without stems, with
    one stem twice, or with stems that overlap (``no_vocals`` holds the drums) is refused."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InvalidArgumentError("not a folder of stems", folder)
    known = known_stems()
    paths: dict[str, Path] = {}
    others = []
    for p in sorted(folder.iterdir()):
        name, ext = p.stem, p.suffix.lower()
        if p.name.startswith(".") or not p.is_file():
            continue
        if name not in known or ext not in (".wav", ".flac"):
            others.append(p.name)
        elif name in paths:
            raise InvalidArgumentError(f"holds the stem '{name}' twice ({paths[name].name}, "
                                       f"{p.name}); keep one", folder)
        else:
            paths[name] = p
    if not paths:
        raise InvalidArgumentError(
            f"holds no stems: stem files are named {', '.join(sorted(known))} (.wav or .flac), "
            "as `stemma separate` writes them", folder)
    complements = [n for n in paths if n.startswith("no_")]
    if complements and not (len(paths) == 1 or set(paths) == {complements[0],
                                                             complements[0][3:]}):
        raise InvalidArgumentError(f"its stems overlap ({', '.join(paths)}): {complements[0]} "
                                   "already holds the others", folder)
    if others:
        log.warning("%s: not stems, left out of the mix: %s", folder, ", ".join(others))
    return paths


@dataclass(frozen=True)
class FileResult:
    """What ``separate_file`` did."""

    input: audio_io.AudioInfo
    outputs: dict[str, audio_io.WriteReport]
    seconds: float  # wall-clock time of the job

    @property
    def speed(self) -> float:
        """Audio seconds per wall second (10 = ten times faster than real time)."""
        return self.input.duration / max(self.seconds, 1e-9)


def _as_audio(audio: np.ndarray, sample_rate: int | None) -> np.ndarray:
    """Check an in-memory mixture and return it as contiguous (C, N) float32."""
    if sample_rate is None:
        raise InvalidArgumentError("separating an array needs its sample_rate")
    if not audio_io.MIN_SAMPLE_RATE <= sample_rate <= audio_io.MAX_SAMPLE_RATE:
        raise UnsupportedSampleRateError(f"sample rate {sample_rate} Hz is outside 8 to 192 kHz")
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[None]
    if audio.ndim != 2:
        raise InvalidArgumentError(f"audio must be (channels, samples); got shape {audio.shape}")
    if audio.shape[0] > audio_io.MAX_CHANNELS:
        hint = " (it looks like (samples, channels): pass audio.T)" if audio.shape[1] <= 2 else ""
        raise TooManyChannelsError(f"audio has {audio.shape[0]} channels; Stemma separates mono "
                                   f"or stereo, shaped (channels, samples){hint}")
    if not np.isfinite(audio).all():
        raise NonFiniteAudioError("audio contains NaN or infinite samples")
    return np.ascontiguousarray(audio)


class _Reporter:
    """Turns a job's advance into ``Progress`` reports: finished output (``emitted`` samples
    at the input's rate) and, while a long chunk is separated, how far into it the model is
    (``inside``, from the pipeline, possibly on a worker thread). Never reports going back."""

    def __init__(self, sample_rate: int, total: int | None,
                 on_progress: ProgressCallback | None):
        self.rate, self.on_progress = sample_rate, on_progress
        self.total = None if total is None else total / sample_rate
        self.start = time.perf_counter()
        self.emitted = 0  # samples written out
        self._done = 0.0  # seconds reported so far
        self._lock = threading.Lock()

    def inside(self, seconds: float) -> None:
        self._report("separating", seconds)

    def __call__(self, stage: str) -> None:
        self._report(stage, self.emitted / self.rate)

    def _report(self, stage: str, seconds: float) -> None:
        if self.on_progress is None:
            return
        with self._lock:
            if stage == "separating" and seconds <= self._done and seconds > 0:
                return
            self._done = max(self._done, seconds)
            done = self._done
        if self.total is not None:
            done = min(done, self.total)
        self.on_progress(Progress(stage, done, self.total, time.perf_counter() - self.start))


class Separator:
    """Separates songs into stems with one model.

    ``model``: ``"auto"`` (the best measured model installed), a model name from
    ``stemma models``, or a folder holding a ``manifest.json``. ``device``: ``"auto"``, ``"cpu"``
    or ``"cuda"``; asking for CUDA where it cannot run is an error, not a silent fallback.
    ``chunk_seconds`` overrides how much new audio each chunk holds, ``threads`` how many chunks
    are separated at once (default: CPU cores, at most 4); memory grows with both.
    ``options`` override the model's own settings (e.g. ``{"refine": False}`` for the raw
    output of ``tokenlm``).
    """

    def __init__(self, model: PathLike = "auto", device: str = "auto", *,
                 chunk_seconds: float | None = None, threads: int | None = None,
                 verify: bool = True, options: dict | None = None):
        if chunk_seconds is not None and chunk_seconds <= 0:
            raise InvalidArgumentError(f"chunk_seconds must be positive, not {chunk_seconds}")
        if threads is not None and threads < 1:
            raise InvalidArgumentError(f"threads must be at least 1, not {threads}")
        self.threads = threads or min(4, os.cpu_count() or 1)
        self.model = registry.resolve(model)
        self.device = resolve_device(device, self.model)
        if verify:
            self.model.verify()
        self.chunk_seconds = chunk_seconds
        self._backend = backends.create(self.model, self.device, options)

    @property
    def stems(self) -> tuple[str, ...]:
        """The stems this model gives, in order."""
        return self._backend.stems

    @property
    def placement(self) -> str:
        """Where the model's parts run, e.g. "cpu" or "LM: torch on cuda; conditioner:
        CUDAExecutionProvider; ..." (what onnxruntime actually chose, not what was asked)."""
        return self._backend.placement

    @staticmethod
    def models() -> list[registry.ModelInfo]:
        """Every installed model (what ``stemma models`` lists)."""
        return registry.list_models()

    @staticmethod
    def available_devices() -> list[str]:
        """Devices a model could run on here: ``cpu``, plus ``cuda`` when a GPU is usable."""
        return ["cpu", "cuda"] if cuda_available() else ["cpu"]

    def close(self) -> None:
        self._backend.close()

    def __enter__(self) -> Separator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _stream(self, sample_rate: int, n_channels: int, outputs: Sequence[str],
                cancel: CancelToken | None, reporter: _Reporter) -> StemStream:
        plan = None
        if self.chunk_seconds is not None:
            work_rate = self._backend.working_rate(sample_rate)
            base = self._backend.plan(work_rate)
            chunk = max(base.align, int(self.chunk_seconds * work_rate) // base.align * base.align)
            plan = base._replace(chunk=chunk)
        check = cancel.check if cancel is not None else (lambda: None)
        workers = min(self.threads, self._backend.max_workers or self.threads)
        return StemStream(self._backend, sample_rate, n_channels, outputs, check, plan,
                          workers, reporter.inside)

    def _partition(self, outputs: Sequence[str]) -> bool:
        """True if ``outputs`` sum to the mix: every stem, or one stem and the rest."""
        pair = len(outputs) == 2 and any(set(outputs) == {s, f"no_{s}"} for s in self.stems)
        return self._backend.mixture_consistent and (
            sorted(outputs) == sorted(self.stems) or pair)

    def _run(self, blocks: Iterator[np.ndarray], stream: StemStream, reporter: _Reporter,
             sink: Callable[[np.ndarray], None], cancel: CancelToken | None,
             outputs: Sequence[str], on_chunk: ChunkCallback | None) -> None:
        def emit(block: np.ndarray) -> None:
            sink(block)
            if on_chunk is not None:
                on_chunk(reporter.emitted, dict(zip(outputs, block, strict=True)))
            reporter.emitted += block.shape[-1]

        reporter("separating")
        try:
            for block in blocks:
                if cancel is not None:
                    cancel.check()
                out = stream.push(block)
                if out is not None:
                    emit(out)
                    reporter("separating")
            out = stream.finish()
        finally:
            stream.close()
        if out is not None:
            emit(out)
        reporter("finishing")

    def separate(self, audio: np.ndarray | PathLike, sample_rate: int | None = None, *,
                 stems: Sequence[str] | None = None,
                 on_progress: ProgressCallback | None = None,
                 cancel: CancelToken | None = None,
                 on_chunk: ChunkCallback | None = None) -> Stems:
        """Separate a (C, N) or (N,) array at ``sample_rate``, or an audio file, in memory.

        ``stems`` picks outputs: names from :attr:`stems`, or ``no_<stem>`` for the mix
        without that stem. Returns (C, N) arrays with the input's rate, channels and length.
        ``on_chunk(first_sample, blocks)`` receives the stems piece by piece as they finish.
        """
        outputs = output_names(self.stems, stems)
        parts: list[np.ndarray] = []
        if isinstance(audio, str | Path):
            with audio_io.open_audio(audio) as reader:
                info = reader.info
                rate, channels = info.sample_rate, info.n_channels
                reporter = _Reporter(rate, info.n_frames, on_progress)
                stream = self._stream(rate, channels, outputs, cancel, reporter)
                self._run(reader.blocks(READ_BLOCK), stream, reporter, parts.append, cancel,
                          outputs, on_chunk)
        else:
            array = _as_audio(audio, sample_rate)
            rate, channels = int(sample_rate), array.shape[0]  # type: ignore[arg-type]
            reporter = _Reporter(rate, array.shape[1], on_progress)
            stream = self._stream(rate, channels, outputs, cancel, reporter)
            blocks = (array[:, i:i + READ_BLOCK] for i in range(0, array.shape[1], READ_BLOCK))
            self._run(blocks, stream, reporter, parts.append, cancel, outputs, on_chunk)
        joined = (np.concatenate(parts, axis=-1) if parts
                  else np.zeros((len(outputs), channels, 0), np.float32))
        reporter("done")
        return Stems(dict(zip(outputs, joined, strict=True)), rate)

    def separate_file(self, in_path: PathLike, out: PathLike | Mapping[str, PathLike], *,
                      stems: Sequence[str] | None = None, output: OutputSpec | None = None,
                      span: tuple[float, float | None] | None = None,
                      on_progress: ProgressCallback | None = None,
                      cancel: CancelToken | None = None,
                      on_chunk: ChunkCallback | None = None) -> FileResult:
        """Stream ``in_path`` from disk through the model to files, in bounded memory.

        ``out`` is a folder (files named by ``output.name_template`` with ``{stem}`` and
        ``{track}``) or a mapping from output name to file path; ``output`` says the format,
        bit depth and whether existing files may be replaced (default: float WAV, never).
        ``span`` = (start, end) in seconds separates only that part of the song (end None:
        to the end), as if it were the whole file.
        Files appear only when all are finished; on an error or a cancel nothing is left
        behind and existing files are untouched (``engine.outputs``). ``on_chunk`` sees each
        piece as it is written.
        """
        started = time.perf_counter()
        spec = output or OutputSpec()
        if isinstance(out, Mapping):
            names = output_names(self.stems, list(out))
            paths = {name: Path(out[name]) for name in names}
        else:
            names = output_names(self.stems, stems)
            paths = outputs.targets(out, names, spec, track_name(in_path))
        with audio_io.open_audio(in_path) as reader:
            info = reader.info
            first, last = _span_frames(span, info)
            reporter = _Reporter(info.sample_rate, last - first, on_progress)
            stream = self._stream(info.sample_rate, info.n_channels, names, cancel, reporter)
            whole = self._partition(names)
            with OutputSet(paths, info.sample_rate, info.n_channels, spec,
                           last - first) as files:

                def sink(block: np.ndarray) -> None:
                    files.write_together(block, stream.last_mix if whole else None)

                blocks = reader.blocks(READ_BLOCK)  # read to its end: the reader then
                if span is not None:  # checks the length and warns about a cut-off file
                    blocks = _cut(blocks, first, last)
                self._run(blocks, stream, reporter, sink, cancel, names, on_chunk)
                if cancel is not None:
                    cancel.check()
                reports = files.commit()
        reporter("done")
        return FileResult(info, reports, time.perf_counter() - started)


def _span_frames(span: tuple[float, float | None] | None,
                 info: audio_io.AudioInfo) -> tuple[int, int]:
    """(first, end) samples of a (start, end) seconds span of the song; the whole song for
    None. A span outside the song is an error naming the file."""
    if span is None:
        return 0, info.n_frames
    start, end = span
    first = round(start * info.sample_rate)
    last = info.n_frames if end is None else min(info.n_frames, round(end * info.sample_rate))
    if first >= last:
        raise InvalidArgumentError(f"the range {start:g}-{'end' if end is None else f'{end:g}'}"
                                   f" s holds no audio: the song is {info.duration:.1f} s long",
                                   info.path)
    return first, last


def _cut(blocks: Iterable[np.ndarray], first: int, last: int) -> Iterator[np.ndarray]:
    """The samples [first, last) of a stream of (C, n) blocks."""
    at = 0
    for block in blocks:
        lo, hi = max(first - at, 0), min(block.shape[-1], last - at)
        if hi > lo:
            yield block[:, lo:hi]
        at += block.shape[-1]
        if at >= last:
            return


def track_name(path: PathLike) -> str:
    """A song's name from its file: ``song.mp3`` and NI ``song.stem.mp4`` give ``song``."""
    name = Path(path).name
    return name[: -len(".stem.mp4")] if name.lower().endswith(".stem.mp4") else Path(name).stem


def remix_files(paths: Mapping[str, PathLike], gains: Mapping[str, float], out_path: PathLike,
                output: OutputSpec | None = None,
                cancel: CancelToken | None = None) -> audio_io.WriteReport:
    """Stream-mix stem files with finite linear ``gains`` (missing: 1.0) into ``out_path``,
    which may not be one of the stems. ``output`` defaults to what the file name asks for."""
    out_path = Path(out_path)
    spec = output or OutputSpec.for_file(out_path)
    _check_gains(gains, paths)
    for path in paths.values():
        if out_path.exists() and os.path.samefile(out_path, path):
            raise InvalidArgumentError("is one of the stems being mixed; write the mix to "
                                       "another file", out_path)
    with contextlib.ExitStack() as stack:
        readers = {n: stack.enter_context(audio_io.open_audio(p)) for n, p in paths.items()}
        infos = [r.info for r in readers.values()]
        first = infos[0]
        for info in infos[1:]:
            if (info.sample_rate, info.n_channels, info.n_frames) != (
                    first.sample_rate, first.n_channels, first.n_frames):
                raise InvalidArgumentError(
                    f"does not match {first.path.name} in rate, channels or length", info.path)
        with OutputSet({"mix": out_path}, first.sample_rate, first.n_channels, spec,
                       first.n_frames) as out:
            streams = {n: r.blocks(READ_BLOCK) for n, r in readers.items()}
            for blocks in zip(*streams.values(), strict=True):
                if cancel is not None:
                    cancel.check()
                mix = np.zeros_like(blocks[0])
                for name, block in zip(streams, blocks, strict=True):
                    mix += np.float32(gains.get(name, 1.0)) * block
                out.writers["mix"].write(mix)
            return out.commit()["mix"]
