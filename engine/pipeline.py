"""Streaming separation: blocks of the mixture in, blocks of stems out, in bounded memory.

    native blocks -> [resample to the backend's rate] -> Chunker(backend)
                  -> [resample stems back] -> mixture consistency -> requested outputs

``Chunker`` cuts the stream into cores of ``plan.chunk`` samples, each separated with
``plan.context`` samples of real signal on both sides (zeros beyond the file's ends, the same
zeros whole-file processing sees) and crossfaded into its neighbours over ``plan.crossfade``.
Chunk starts sit on multiples of ``plan.align``, so a backend whose context covers everything it
looks at gives the same output chunked or not; the crossfade hides what remains for backends
that cannot promise that.

Mixture consistency: after resampling back, the stems are projected onto the set of stems that
sum to the input, ``s_i += (x - sum_j s_j) / S``, the smallest change (in L2) that makes the sum
exact. So stems sum back to the mix whatever the backend and the rates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import soxr

from .backends.base import Backend, ChunkPlan

CheckCancel = Callable[[], None]
OnPosition = Callable[[float], None]  # samples of the stream separated so far (within a chunk)


def _fades(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Raised-cosine fade-in and fade-out of ``n`` samples that sum to one."""
    fade_in = (np.sin(0.5 * np.pi * (np.arange(n) + 0.5) / n) ** 2).astype(np.float32)
    return fade_in, 1.0 - fade_in


class _Fifo:
    """Samples queued along the last axis."""

    def __init__(self, lead_shape: tuple[int, ...]):
        self._lead = lead_shape
        self._parts: list[np.ndarray] = []
        self.size = 0

    def put(self, block: np.ndarray) -> None:
        if block.shape[-1]:
            self._parts.append(block)
            self.size += block.shape[-1]

    def peek(self, n: int) -> np.ndarray:
        """The first ``n`` queued samples, zero-padded if fewer are queued."""
        joined = np.concatenate(self._parts, axis=-1) if self._parts else np.zeros(
            self._lead + (0,), np.float32)
        self._parts = [joined] if joined.shape[-1] else []
        if joined.shape[-1] >= n:
            return joined[..., :n]
        pad = np.zeros(self._lead + (n - joined.shape[-1],), np.float32)
        return np.concatenate([joined, pad], axis=-1)

    def drop(self, n: int) -> None:
        joined = self.peek(self.size)
        self._parts = [joined[..., n:]] if joined.shape[-1] > n else []
        self.size = max(0, self.size - n)

    def take(self, n: int) -> np.ndarray:
        out = self.peek(n).copy()
        self.drop(n)
        return out


class Chunker:
    """Overlapping chunked separation of one stream at the backend's rate.

    Chunk ``k`` separates the window ``[kL - lead, (k+1)L + lead)`` and emits
    ``[kL - h, (k+1)L - h)``: the first ``2h`` samples crossfaded with the previous chunk's
    faded-out tail, the last ``2h`` kept as this chunk's tail (L: core, h: half the crossfade).
    With ``workers`` > 1, that many consecutive windows are separated at once in threads (numpy,
    SciPy and onnxruntime release the GIL), and stitched in order.
    """

    def __init__(self, backend: Backend, sample_rate: int, n_channels: int,
                 check_cancel: CheckCancel, plan: ChunkPlan | None = None, workers: int = 1,
                 on_position: OnPosition | None = None):
        self.backend = backend
        self.sample_rate = sample_rate
        self.check_cancel = check_cancel
        self.on_position = on_position
        plan = plan or backend.plan(sample_rate)
        self.core = plan.chunk
        self.half_fade = min(plan.crossfade, plan.chunk) // 2
        # Lead: context plus half a crossfade, rounded up so windows start on the grid.
        align = plan.align
        self.lead = -(-(plan.context + self.half_fade) // align) * align
        self.fade_in, self.fade_out = _fades(2 * self.half_fade)
        self.workers = max(1, workers)
        self._pool = ThreadPoolExecutor(self.workers) if self.workers > 1 else None
        self._input = _Fifo((n_channels,))
        self._input.put(np.zeros((n_channels, self.lead), np.float32))  # silence before 0
        self._tail: np.ndarray | None = None  # faded-out end of the previous chunk
        self._core_start = 0  # absolute start of the next core
        self._n_in = 0
        self._n_out = 0

    def push(self, block: np.ndarray) -> list[np.ndarray]:
        """Feed (C, n) samples; returns finished (S, C, m) output blocks."""
        self._input.put(block)
        self._n_in += block.shape[1]
        out = []
        while self._input.size >= self.workers * self.core + 2 * self.lead:
            out.extend(self._run(final=False))
        return out

    def finish(self) -> list[np.ndarray]:
        """Separate what is left; the outputs then total exactly the samples pushed."""
        out = []
        try:
            while self._n_out < self._n_in:
                out.extend(self._run(final=True))
        finally:
            self.close()
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _separate(self, job: tuple[np.ndarray, int, int, bool]) -> np.ndarray:
        window, start, end, _ = job
        self.check_cancel()
        on_fraction = None
        if self.on_position is not None:
            report = self.on_position

            def on_fraction(fraction: float) -> None:  # the chunk's window -> its core
                report(start + fraction * (end - start))
        return self.backend.separate_chunk(window, self.sample_rate, self.check_cancel,
                                           on_fraction)

    def _run(self, final: bool) -> list[np.ndarray]:
        """Cut up to ``workers`` windows, separate them, and stitch the results in order."""
        jobs = []
        while len(jobs) < self.workers and (not final or self._core_start < self._n_in):
            start = self._core_start
            last = final and self._n_in - start <= self.core
            end = self._n_in if last else start + self.core
            window = self._input.peek(end - start + 2 * self.lead)  # zeros past the input end
            jobs.append((np.ascontiguousarray(window), start, end, last))
            self._input.drop(self.core)
            self._core_start += self.core
            if last:
                break
        if self._pool is not None and len(jobs) > 1:
            results = list(self._pool.map(self._separate, jobs))
        else:
            results = [self._separate(job) for job in jobs]
        return [self._stitch(result, start, end, last)
                for result, (_, start, end, last) in zip(results, jobs, strict=True)]

    def _stitch(self, result: np.ndarray, start: int, end: int, last: bool) -> np.ndarray:
        lead, h = self.lead, self.half_fade
        emit_end = end if last else end - h
        out = result[..., self._n_out - start + lead:emit_end - start + lead].copy()
        if self._tail is not None:
            m = min(2 * h, out.shape[-1])
            out[..., :m] = self._tail[..., :m] + out[..., :m] * self.fade_in[:m]
        self._tail = None if last or not h else (
            result[..., end - h - start + lead:end + h - start + lead] * self.fade_out)
        self._n_out = emit_end
        return out


def output_names(stems: Sequence[str], requested: Sequence[str] | None) -> tuple[str, ...]:
    """Validate requested outputs: stem names, or ``no_<stem>`` for everything but that stem."""
    from .errors import InvalidArgumentError

    if not requested:
        return tuple(stems)
    known = set(stems) | {f"no_{s}" for s in stems}
    unknown = [name for name in requested if name not in known]
    if unknown:
        raise InvalidArgumentError(
            f"unknown stem {', '.join(repr(u) for u in unknown)}; this model gives "
            f"{', '.join(stems)} (and no_<stem> for everything but one)")
    return tuple(dict.fromkeys(requested))


class StemStream:
    """Native-rate mixture blocks in, requested outputs out, summing to the mixture.

    Output blocks are (O, C, m), one row per name in ``outputs``; their total length equals
    the input's exactly. ``last_mix`` is the (C, m) mixture the last block was cut from.
    """

    def __init__(self, backend: Backend, sample_rate: int, n_channels: int,
                 outputs: Sequence[str], check_cancel: CheckCancel,
                 plan: ChunkPlan | None = None, workers: int = 1,
                 on_seconds: Callable[[float], None] | None = None):
        """``on_seconds(s)``: the first ``s`` seconds of the input are being finished (inside
        a chunk: for progress while a long chunk is separated)."""
        self.n_stems = len(backend.stems)
        self.consistent = backend.mixture_consistent
        self.work_rate = backend.working_rate(sample_rate)
        resampling = self.work_rate != sample_rate
        self._down = soxr.ResampleStream(sample_rate, self.work_rate, n_channels, dtype="float32",
                                         quality="HQ") if resampling else None
        self._up = soxr.ResampleStream(self.work_rate, sample_rate, self.n_stems * n_channels,
                                       dtype="float32", quality="HQ") if resampling else None
        on_position = None
        if on_seconds is not None:
            rate = self.work_rate

            def on_position(samples: float) -> None:
                on_seconds(samples / rate)
        self.chunker = Chunker(backend, self.work_rate, n_channels, check_cancel, plan, workers,
                               on_position)
        self.n_channels = n_channels
        self._mix = _Fifo((n_channels,))
        self._stems = _Fifo((self.n_stems, n_channels))
        index = {name: i for i, name in enumerate(backend.stems)}
        self._picks = [(index[name.removeprefix("no_")], name.startswith("no_"))
                       for name in outputs]
        self.last_mix: np.ndarray | None = None

    def push(self, block: np.ndarray) -> np.ndarray | None:
        """Feed (C, n) native-rate samples; returns an (O, C, m) block when one is ready."""
        self._mix.put(block)
        work = block if self._down is None else self._resample(self._down, block, last=False)
        for out in self.chunker.push(work):
            self._collect(out, last=False)
        return self._emit(final=False)

    def close(self) -> None:
        """Stop worker threads (after an error or a cancel; ``finish`` does it otherwise)."""
        self.chunker.close()

    def finish(self) -> np.ndarray | None:
        if self._down is not None:
            tail = self._resample(self._down, np.zeros((self.n_channels, 0), np.float32), last=True)
            for out in self.chunker.push(tail):
                self._collect(out, last=False)
        outs = self.chunker.finish()
        for i, out in enumerate(outs):
            self._collect(out, last=i == len(outs) - 1)
        if not outs and self._up is not None:
            self._collect(np.zeros((self.n_stems, self.n_channels, 0), np.float32), True)
        return self._emit(final=True)

    @staticmethod
    def _resample(stream: soxr.ResampleStream, block: np.ndarray, last: bool) -> np.ndarray:
        """(K, n) -> (K, m) through a soxr stream (which wants (n, K))."""
        out = stream.resample_chunk(np.ascontiguousarray(block.T), last=last)
        return np.ascontiguousarray(out.T)

    def _collect(self, out: np.ndarray, last: bool) -> None:
        if self._up is not None:
            s, c, n = out.shape
            out = self._resample(self._up, out.reshape(s * c, n), last=last).reshape(s, c, -1)
        self._stems.put(out)

    def _emit(self, final: bool) -> np.ndarray | None:
        n = self._mix.size if final else min(self._mix.size, self._stems.size)
        if n == 0:
            return None
        mix = self.last_mix = self._mix.take(n)
        stems = self._stems.take(n)  # zero-padded if resampling came out a sample short
        if self.consistent:
            stems += (mix - stems.sum(axis=0)) / self.n_stems
        return np.stack([mix - stems[i] if complement else stems[i]
                         for i, complement in self._picks])
