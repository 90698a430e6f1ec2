"""Waveform overviews that redraw fast at any zoom (no Qt).

A pyramid of min/max envelopes: level 0 holds the min and max of every 64 samples, each next
level halves the resolution. A view of any time range picks the level that gives about two
buckets per pixel, so drawing a 10-minute song costs the same as drawing a 10-second one.
Stems that arrive piece by piece update only the buckets they touch.
"""

from __future__ import annotations

import numpy as np

BASE = 64  # samples per bucket at level 0
TOP = 512  # the coarsest level has at most this many buckets
STEP = 4096  # buckets per piece when building level 0 (256 k samples)


class Peaks:
    def __init__(self, audio: np.ndarray, sample_rate: int, filled: bool = True):
        """``audio`` (C, N) is kept by reference (zoomed far in, samples are drawn directly);
        with ``filled`` False it is still being written and ``update`` is called as it is."""
        self.audio = audio
        self.sample_rate = sample_rate
        self.n_frames = audio.shape[-1]
        self.levels: list[tuple[np.ndarray, np.ndarray]] = []
        n = -(-self.n_frames // BASE)
        while True:
            self.levels.append((np.full(n, np.inf, np.float32), np.full(n, -np.inf, np.float32)))
            if n <= TOP:
                break
            n = -(-n // 2)
        if filled:
            self.update(0, self.n_frames)

    def update(self, start: int, end: int) -> None:
        """Recompute the buckets covering samples [start, end) from ``audio``."""
        b0, b1 = start // BASE, -(-min(end, self.n_frames) // BASE)
        mins, maxs = self.levels[0]
        # In cache-sized pieces: no temporaries the size of the song (their page faults
        # cost more than the arithmetic).
        for p0 in range(b0, b1, STEP):
            p1 = min(b1, p0 + STEP)
            seg = self.audio[:, p0 * BASE:p1 * BASE]
            # Elementwise across channel rows: fast whether the rows are contiguous or are
            # views of interleaved frames (as loaded audio may be).
            lo, hi = np.array(seg[0]), np.array(seg[0])
            for row in seg[1:]:
                np.minimum(lo, row, out=lo)
                np.maximum(hi, row, out=hi)
            pad = (p1 - p0) * BASE - lo.shape[-1]
            if pad:  # the song's last bucket is short: repeat its last sample
                lo, hi = np.pad(lo, (0, pad), mode="edge"), np.pad(hi, (0, pad), mode="edge")
            mins[p0:p1] = lo.reshape(-1, BASE).min(axis=1)
            maxs[p0:p1] = hi.reshape(-1, BASE).max(axis=1)
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
        if per_pixel < 2 * BASE:  # close up: the samples (mean of channels)
            lo, hi = max(0, s0 - 1), min(self.n_frames, s1 + 1)
            y = self.audio[:, lo:hi].mean(axis=0)
            return np.arange(lo, hi) / sr, np.nan_to_num(y)
        level = min(len(self.levels) - 1, int(np.log2(per_pixel / BASE / 2)))
        size = BASE << level
        mins, maxs = self.levels[level]
        b0, b1 = s0 // size, min(len(mins), -(-s1 // size))
        lo, hi = mins[b0:b1], maxs[b0:b1]
        y = np.empty(2 * len(lo), np.float32)
        y[0::2] = np.where(np.isfinite(lo), lo, 0.0)  # not yet written: a flat line
        y[1::2] = np.where(np.isfinite(hi), hi, 0.0)
        x = np.repeat((np.arange(b0, b1) + 0.5) * size / sr, 2)
        return x, y
