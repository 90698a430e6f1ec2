"""The mixing engine shared by playback and export (no Qt, no audio device).

``render`` fills an output block from the sources with the current gains. It is what the audio
callback calls, so it allocates no sample buffers (all arithmetic goes into preallocated
arrays), takes no locks and never blocks: new gains are published by swapping a reference, and
the callback picks them up at the start of its next block, ramping from the old ones across
that block so a fader move does not click. Offline export calls the same function, so a render
with steady gains is sample for sample what playback produces.
"""

from __future__ import annotations

import numpy as np

MAX_BLOCK = 16384  # frames: the largest block an audio callback may ask for


class Mixer:
    """Mixes sources (S, C, N) float32 into (n, 2) stereo blocks."""

    def __init__(self, sources: np.ndarray, gains: np.ndarray | None = None):
        if sources.ndim != 3 or sources.shape[1] not in (1, 2):
            raise ValueError(f"sources must be (S, C, N) with C 1 or 2, not {sources.shape}")
        self.sources = sources
        self.n_sources, self.n_channels, self.n_frames = sources.shape
        self._gains = np.ones((self.n_sources, 2), np.float32) if gains is None else gains
        self._applied = self._gains  # the gains the last block ended with
        self._tmp = np.zeros((MAX_BLOCK, 2), np.float32)
        self._ramp = np.zeros((MAX_BLOCK, 1), np.float32)
        self._delta = np.zeros(2, np.float32)

    def set_gains(self, gains: np.ndarray) -> None:
        """Publish (S, 2) gains; called from the UI thread, used from the next block on."""
        self._gains = np.array(gains, dtype=np.float32).reshape(self.n_sources, 2)

    def render(self, start: int, out: np.ndarray, ramp: bool = True) -> None:
        """Fill ``out`` (n, 2) with the mix of frames [start, start + n); zeros past the end."""
        n = out.shape[0]
        out.fill(0.0)
        target, previous = self._gains, self._applied
        self._applied = target
        avail = max(0, min(n, self.n_frames - start))
        if avail == 0:
            return
        tmp, dst = self._tmp[:avail], out[:avail]
        ramping = ramp and previous is not target and not np.array_equal(previous, target)
        if ramping:
            self._ramp[:avail, 0] = np.arange(1, avail + 1, dtype=np.float32)
            self._ramp[:avail] /= avail
        for s in range(self.n_sources):
            src = self.sources[s, :, start:start + avail].T  # (n, C) view; C=1 feeds both sides
            if ramping:  # gain(t) = previous + (target - previous) * t / n
                np.subtract(target[s], previous[s], out=self._delta)
                np.multiply(self._ramp[:avail], self._delta, out=tmp)
                np.add(tmp, previous[s], out=tmp)
                np.multiply(tmp, src, out=tmp)
            elif target[s].any():
                np.multiply(src, target[s], out=tmp)
            else:
                continue
            np.add(dst, tmp, out=dst)

    def render_offline(self, start: int = 0, end: int | None = None) -> np.ndarray:
        """The mix of [start, end) with the current gains, as (2, n): what export writes.
        Use a Mixer of its own (the sources are shared): the scratch buffers are not."""
        end = self.n_frames if end is None else end
        out = np.zeros((end - start, 2), np.float32)
        for at in range(start, end, MAX_BLOCK):
            self.render(at, out[at - start:min(end, at + MAX_BLOCK) - start], ramp=False)
        return np.ascontiguousarray(out.T)
