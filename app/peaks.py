"""Waveform overviews that redraw fast at any zoom (no Qt).

A pyramid of min/max envelopes: level 0 holds the min and max of every 64 samples, each next
level halves the resolution. A view of any time range picks the level that gives about two
buckets per pixel, so drawing a 10-minute song costs the same as drawing a 10-second one.
Stems that arrive piece by piece update only the buckets they touch.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

BASE = 64  # samples per bucket at level 0
TOP = 512  # the coarsest level has at most this many buckets
STEP = 4096  # buckets per piece when building level 0 (256 k samples)


class Peaks:
    def __init__(self, audio: np.ndarray | None, sample_rate: int, filled: bool = True,
                 n_frames: int | None = None):
        """``audio`` (C, N) is kept by reference (zoomed far in, samples are drawn directly);
        with ``filled`` False it is still being written and ``update`` is called as it is.
        ``audio`` None with ``n_frames``: an overview without samples (see ``streamed``)."""
        self.audio = audio
        self.sample_rate = sample_rate
        self.n_frames = audio.shape[-1] if audio is not None else int(n_frames or 0)
        self.levels: list[tuple[np.ndarray, np.ndarray]] = []
        n = -(-self.n_frames // BASE)
        while True:
            self.levels.append((np.full(n, np.inf, np.float32), np.full(n, -np.inf, np.float32)))
            if n <= TOP:
                break
            n = -(-n // 2)
        if filled and audio is not None:
            self.update(0, self.n_frames)

    @classmethod
    def streamed(cls, blocks: Iterable[np.ndarray], sample_rate: int) -> Peaks:
        """The overview of audio decoded block by block, keeping none of it: a song's waveform
        shows before the whole song is in memory (on a long song, allocating and filling that
        memory takes longer than decoding). Every block (C, n) but the last must be a multiple
        of 64 frames. ``attach`` later hands over the samples for close-up views."""
        mins, maxs, n_frames = [], [], 0
        for block in blocks:
            if n_frames % BASE:
                raise ValueError("only the last block may end inside a bucket")
            lo, hi = _channel_extremes(block)
            mins.append(lo.reshape(-1, BASE).min(axis=1))
            maxs.append(hi.reshape(-1, BASE).max(axis=1))
            n_frames += block.shape[-1]
        peaks = cls(None, sample_rate, n_frames=n_frames)
        if mins:
            level_min, level_max = peaks.levels[0]
            level_min[:] = np.concatenate(mins)
            level_max[:] = np.concatenate(maxs)
            peaks._propagate(0, len(level_min))
        return peaks

    def attach(self, audio: np.ndarray) -> bool:
        """Keep ``audio`` (C, N) as the samples of a streamed overview; False (nothing kept)
        when its length is not the overview's."""
        if audio.shape[-1] != self.n_frames:
            return False
        self.audio = audio
        return True

    def update(self, start: int, end: int) -> None:
        """Recompute the buckets covering samples [start, end) from ``audio``."""
        b0, b1 = start // BASE, -(-min(end, self.n_frames) // BASE)
        mins, maxs = self.levels[0]
        # In cache-sized pieces: no temporaries the size of the song (their page faults
        # cost more than the arithmetic).
        for p0 in range(b0, b1, STEP):
            p1 = min(b1, p0 + STEP)
            lo, hi = _channel_extremes(self.audio[:, p0 * BASE:p1 * BASE])
            mins[p0:p1] = lo.reshape(-1, BASE).min(axis=1)
            maxs[p0:p1] = hi.reshape(-1, BASE).max(axis=1)
        self._propagate(b0, b1)

    def _propagate(self, b0: int, b1: int) -> None:
        """Recompute the coarser levels over level-0 buckets [b0, b1)."""
        for level in range(1, len(self.levels)):
            b0, b1 = b0 // 2, -(-b1 // 2)
            lo_min, lo_max = self.levels[level - 1]
            mins, maxs = self.levels[level]
            # The last bucket may have one child only: pad the pair with empties.
            child_min = np.full(2 * (b1 - b0), np.inf, np.float32)
            child_max = np.full(2 * (b1 - b0), -np.inf, np.float32)
            avail = lo_min[2 * b0:2 * b1]
            child_min[:len(avail)] = avail
            child_max[:len(avail)] = lo_max[2 * b0:2 * b1]
            mins[b0:b1] = child_min.reshape(-1, 2).min(axis=1)
            maxs[b0:b1] = child_max.reshape(-1, 2).max(axis=1)

    def view(self, t0: float, t1: float, pixels: int) -> tuple[np.ndarray, np.ndarray]:
        """(x seconds, y) to draw [t0, t1) seconds across ``pixels``: interleaved min/max per
        bucket, or the samples themselves when there are fewer than two per pixel."""
        sr = self.sample_rate
        s0 = int(np.clip(t0 * sr, 0, self.n_frames))
        s1 = int(np.clip(np.ceil(t1 * sr), s0, self.n_frames))
        per_pixel = (s1 - s0) / max(1, pixels)
        if per_pixel < 2 * BASE and self.audio is not None:  # close up: the samples
            lo, hi = max(0, s0 - 1), min(self.n_frames, s1 + 1)
            y = self.audio[:, lo:hi].mean(axis=0)  # (mean of channels)
            return np.arange(lo, hi) / sr, np.nan_to_num(y)
        level = min(len(self.levels) - 1, max(0, int(np.log2(max(per_pixel, 1) / BASE / 2))))
        size = BASE << level
        mins, maxs = self.levels[level]
        b0, b1 = s0 // size, min(len(mins), -(-s1 // size))
        lo, hi = mins[b0:b1], maxs[b0:b1]
        y = np.empty(2 * len(lo), np.float32)
        y[0::2] = np.where(np.isfinite(lo), lo, 0.0)  # not yet written: a flat line
        y[1::2] = np.where(np.isfinite(hi), hi, 0.0)
        x = np.repeat((np.arange(b0, b1) + 0.5) * size / sr, 2)
        return x, y


def _channel_extremes(seg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, the lowest and highest sample over the channels of ``seg`` (C, n), padded to
    whole buckets by repeating the last frame (a song's last bucket is short)."""
    # Elementwise across channel rows: fast whether the rows are contiguous or are views of
    # interleaved frames (as loaded audio may be).
    lo, hi = np.array(seg[0]), np.array(seg[0])
    for row in seg[1:]:
        np.minimum(lo, row, out=lo)
        np.maximum(hi, row, out=hi)
    pad = -lo.shape[-1] % BASE
    if pad:
        lo, hi = np.pad(lo, (0, pad), mode="edge"), np.pad(hi, (0, pad), mode="edge")
    return lo, hi
