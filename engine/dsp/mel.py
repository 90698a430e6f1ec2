"""Mel filterbanks on Slaney's scale (linear below 1 kHz, logarithmic above), as librosa
builds them with ``htk=False, norm="slaney"``."""

from __future__ import annotations

import numpy as np


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    f = np.asarray(f, dtype=np.float64)
    step = np.log(6.4) / 27.0
    return np.where(f < 1000.0, f / (200.0 / 3), 15.0 + np.log(np.maximum(f, 1e-9) / 1000.0)
                    / step)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    step = np.log(6.4) / 27.0
    return np.where(m < 15.0, m * (200.0 / 3), 1000.0 * np.exp(step * (m - 15.0)))


def mel_filters(sample_rate: int, n_fft: int, n_mels: int, f_max: float,
                f_min: float = 0.0) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular filters, each of unit area."""
    bins = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    widths = np.diff(edges)
    rising = (bins[None] - edges[:-2, None]) / widths[:-1, None]
    falling = (edges[2:, None] - bins[None]) / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return weights * (2.0 / (edges[2:] - edges[:-2]))[:, None]
