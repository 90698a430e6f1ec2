"""Spectrograms for display (no Qt): magnitude in dB on a logarithmic frequency axis.

At most ``max_frames`` columns whatever the song's length (the hop grows with it), and
``n_rows`` log-spaced rows from 30 Hz to Nyquist, each the strongest FFT bin it covers, so a
10-minute song costs about what a 30-second one does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

F_MIN = 30.0  # Hz: the bottom of the display


@dataclass(frozen=True)
class Spectrogram:
    db: np.ndarray  # (T, R) float32
    seconds_per_frame: float
    log2_f_min: float  # row r covers log2 frequencies from log2_f_min + r * log2_step
    log2_step: float


def compute(audio: np.ndarray, sample_rate: int, max_frames: int = 3000,
            n_rows: int = 256) -> Spectrogram:
    mono = audio.mean(axis=0) if audio.ndim == 2 else audio
    n_fft = 4096 if sample_rate > 64000 else 2048
    hop = max(n_fft // 4, -(-len(mono) // max_frames))
    padded = np.pad(mono, (n_fft // 2, n_fft // 2 + hop))
    n = max(1, len(mono) // hop + 1)
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop][:n]
    spec = np.abs(np.fft.rfft(frames * np.hanning(n_fft).astype(np.float32), axis=1))
    freqs = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    lo, hi = np.log2(F_MIN), np.log2(sample_rate / 2)
    step = (hi - lo) / n_rows
    edges = 2 ** (lo + step * np.arange(n_rows + 1))
    first = np.clip(np.searchsorted(freqs, edges[:-1]), 1, len(freqs) - 1)
    # Row r: the strongest bin from first[r] up to first[r + 1] (rows narrower than a bin,
    # low down, repeat that bin: reduceat returns the element itself for equal indices).
    rows = np.maximum.reduceat(spec, first, axis=1)
    db = 20 * np.log10(rows + 1e-6).astype(np.float32)
    return Spectrogram(db, hop / sample_rate, float(lo), float(step))
