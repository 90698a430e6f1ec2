"""The one writer of output files: several audio files written as one all-or-nothing set.

Stems (``Separator.separate_file``, ``Stems.save``), the karaoke track, a remix and the
desktop app's export all go through :class:`OutputSet`, so they share one behaviour:

- an existing target is refused before any work unless ``overwrite``;
- every file is streamed into a hidden temporary file beside its target
  (``audio_io.AudioWriter``) and moved into place only when all are finished;
- on an error or a cancel before that, every temporary file is deleted, along with the
  folders the set created, and existing files are untouched;
- if moving one file into place fails, the files of this set already moved are taken back
  when they were new; a file that replaced an original (``overwrite``) is kept, because
  deleting it would lose the original too.

:class:`OutputSpec` is the format part of a request (format, bit depth, overwrite, file name
template), checked once when it is made.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import audio_io
from .errors import EngineError, InvalidArgumentError, OutputExistsError

FORMATS = ("wav", "flac")
DEFAULT_DEPTH = {"wav": "32f", "flac": "24"}  # float WAV keeps everything; FLAC has no float
WRITE_BLOCK = 1 << 16  # samples per write of an in-memory array


@dataclass(frozen=True)
class OutputSpec:
    """How output files are written: checked once, here, for a whole job."""

    fmt: str = "wav"  # "wav" or "flac"
    bit_depth: str | None = None  # "16", "24" or "32f"; None: 32f for WAV, 24 for FLAC
    overwrite: bool = False  # replace existing files (never before the new ones are complete)
    name_template: str = "{stem}"  # file names in a folder: {stem} and {track}

    def __post_init__(self) -> None:
        if self.fmt not in FORMATS:
            raise InvalidArgumentError(f"unknown output format '{self.fmt}'; use wav or flac")
        if self.bit_depth is None:
            object.__setattr__(self, "bit_depth", DEFAULT_DEPTH[self.fmt])
        audio_io.output_subtype(self.fmt, self.depth)
        file_names(self.name_template, ["a", "b"], "track")  # a bad template fails now

    @property
    def depth(self) -> str:
        """The bit depth, never None after construction."""
        assert self.bit_depth is not None
        return self.bit_depth

    @classmethod
    def for_file(cls, path: str | Path, bit_depth: str | None = None,
                 overwrite: bool = False) -> OutputSpec:
        """The spec a single output file's name asks for (``mix.flac``: FLAC)."""
        fmt = Path(path).suffix.lower().lstrip(".")
        if fmt not in FORMATS:
            raise InvalidArgumentError(f"cannot tell the output format from '{Path(path).name}';"
                                       " use a .wav or .flac name")
        return cls(fmt, bit_depth, overwrite)


def file_names(template: str, names: Iterable[str], track: str) -> dict[str, str]:
    """``template`` filled in for every output name; distinct names or an error."""
    out = {}
    for name in names:
        try:
            out[name] = template.format(stem=name, track=track)
        except (KeyError, IndexError, ValueError) as err:
            raise InvalidArgumentError(f"bad name template {template!r}: use {{stem}} and "
                                       f"{{track}} ({err})") from err
    if len(set(out.values())) < len(out):
        raise InvalidArgumentError(f"name template {template!r} gives several outputs one name")
    return out


def targets(folder: str | Path, names: Sequence[str], spec: OutputSpec,
            track: str = "") -> dict[str, Path]:
    """Where each output goes in ``folder``: ``<template>.<fmt>``."""
    return {name: Path(folder) / f"{filename}.{spec.fmt}"
            for name, filename in file_names(spec.name_template, names, track).items()}


def _missing_dirs(paths: Iterable[Path]) -> list[Path]:
    """Folders that writing ``paths`` will create, outermost first."""
    missing: list[Path] = []
    for path in paths:
        for folder in reversed(path.parents):
            if not folder.exists() and folder not in missing:
                missing.append(folder)
    return missing


class OutputSet:
    """Atomic writers for several files, committed together.

    ``with OutputSet(targets, rate, channels, spec, n_frames) as out:`` then
    ``out.writers[name].write(block)`` (or :meth:`write_together`) and ``out.commit()``.
    Leaving the block without committing, by an exception or a cancel, removes everything.
    ``channels`` is one count for all, or a count per output name.
    """

    def __init__(self, paths: Mapping[str, Path], sample_rate: int,
                 channels: int | Mapping[str, int], spec: OutputSpec, n_frames: int = 0):
        self.paths, self.spec = dict(paths), spec
        if not spec.overwrite:  # fail before any work if a target exists
            for path in self.paths.values():
                if path.exists():
                    raise OutputExistsError(
                        "already exists; pass overwrite (--overwrite) to replace it", path)
        self._args = (sample_rate, channels, n_frames)
        self._stack = contextlib.ExitStack()
        self._new_dirs: list[Path] = []
        self.writers: dict[str, audio_io.AudioWriter] = {}

    def __enter__(self) -> OutputSet:
        rate, channels, n_frames = self._args
        self._new_dirs = _missing_dirs(self.paths.values())
        try:
            for name, path in self.paths.items():
                n = channels if isinstance(channels, int) else channels[name]
                self.writers[name] = self._stack.enter_context(audio_io.AudioWriter(
                    path, rate, n, self.spec.fmt, self.spec.depth, self.spec.overwrite,
                    n_frames))
        except BaseException:
            self.__exit__(True)
            raise
        return self

    def __exit__(self, exc_type, *exc: object) -> None:
        if exc_type is None:
            self._stack.close()
            return
        self._stack.__exit__(exc_type, None, None)  # aborts every writer
        for folder in reversed(self._new_dirs):  # leave no empty folders behind either
            with contextlib.suppress(OSError):
                folder.rmdir()

    def write_together(self, block: np.ndarray, mix: np.ndarray | None = None) -> None:
        """(S, C, n) stems in the writers' order, rounded together to the bit depth so they
        sum to ``mix`` (or to their own sum) on its grid."""
        block = audio_io.quantize_together(block, self.spec.depth, mix)
        for writer, audio in zip(self.writers.values(), block, strict=True):
            writer.write(audio)

    def commit(self) -> dict[str, audio_io.WriteReport]:
        """Move every finished file into place (see the module's rules when one fails)."""
        reports: dict[str, audio_io.WriteReport] = {}
        replaced = {name for name, path in self.paths.items() if path.exists()}
        try:
            for name, writer in self.writers.items():
                reports[name] = writer.commit()
        except EngineError:
            for name, report in reports.items():
                if name not in replaced:  # never delete a file that stands for an original
                    report.path.unlink(missing_ok=True)
            raise
        return reports


def write_arrays(arrays: Mapping[str, np.ndarray], paths: Mapping[str, Path],
                 sample_rate: int, spec: OutputSpec, *, together: bool = False,
                 check_cancel: Callable[[], None] = lambda: None,
                 on_file: Callable[[int, int, Path], None] | None = None
                 ) -> dict[str, audio_io.WriteReport]:
    """Write in-memory (C, N) arrays as one all-or-nothing set. ``together``: arrays of one
    shape (stems) rounded together so they sum to their mix; ``on_file(i, n, path)`` before
    each file is written; ``check_cancel`` raises to stop (nothing is left)."""
    n_frames = max((a.shape[-1] for a in arrays.values()), default=0)
    channels = {name: a.shape[0] for name, a in arrays.items()}
    with OutputSet(paths, sample_rate, channels, spec, n_frames) as out:
        if together:
            names = list(out.writers)
            for start in range(0, n_frames, WRITE_BLOCK):
                check_cancel()
                end = start + WRITE_BLOCK
                out.write_together(np.stack([arrays[n][:, start:end] for n in names]))
        else:
            for i, (name, writer) in enumerate(out.writers.items()):
                if on_file is not None:
                    on_file(i, len(paths), paths[name])
                audio = np.asarray(arrays[name], np.float32)
                for start in range(0, audio.shape[-1], WRITE_BLOCK):
                    check_cancel()
                    writer.write(audio[:, start:start + WRITE_BLOCK])
        check_cancel()
        return out.commit()
