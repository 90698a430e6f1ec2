"""The one interface every separation method implements.

A backend separates one chunk of audio at a time; everything else (reading, resampling, chunking
with overlap, crossfades, mixture consistency, writing, progress and cancel) is the engine's job
in ``engine.pipeline``. So a new method is one class: declare the stems, the sample rate and how
much context a chunk needs, and implement ``separate_chunk``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

CheckCancel = Callable[[], None]  # raises engine.errors.Cancelled when the job was cancelled
OnFraction = Callable[[float], None]  # the share of a chunk's work done so far, 0 to 1


class ChunkPlan(NamedTuple):
    """How a backend wants its input cut, in samples at its working rate."""

    chunk: int  # new samples per chunk (the core, without context)
    context: int  # samples of real signal needed on each side of the core
    align: int  # chunk starts are multiples of this (frame grids line up)
    crossfade: int  # samples over which neighbouring cores are faded into each other


class Backend(ABC):
    """A separation method. Instances are created by the engine from a model manifest."""

    #: stem names, in output order
    stems: tuple[str, ...]

    @abstractmethod
    def working_rate(self, input_rate: int) -> int:
        """The sample rate the backend separates at (the input's own rate if it can)."""

    @abstractmethod
    def plan(self, sample_rate: int) -> ChunkPlan:
        """Chunking for audio at ``sample_rate`` (the working rate)."""

    @abstractmethod
    def separate_chunk(self, audio: np.ndarray, sample_rate: int, check_cancel: CheckCancel,
                       on_fraction: OnFraction | None = None) -> np.ndarray:
        """(C, N) float32 -> (S, C, N) float32, one slice per stem in ``stems`` order.

        N is ``plan.chunk + 2 * plan.context`` or less at the end of a file. Outputs need not
        sum to the input exactly: the engine restores mixture consistency. A backend whose
        chunk takes long calls ``check_cancel`` often and reports ``on_fraction`` as it goes.
        """

    @property
    def mixture_consistent(self) -> bool:
        """Whether the engine projects the outputs to sum to the input. A generative backend
        in raw mode says False: its stems are not meant to add up to the mix."""
        return True

    @property
    def device(self) -> str:
        """Where the backend computes ("cpu", "cuda")."""
        return "cpu"

    @property
    def placement(self) -> str:
        """Where each part runs, in words, so users see a GPU is used (or why not)."""
        return self.device

    @property
    def max_workers(self) -> int | None:
        """Chunks that may be separated at once (None: as many as the engine likes). A
        backend whose chunk already fills the machine says 1."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release models and device memory."""
