"""Smoothing filters over (..., T, F) arrays: medians and moving averages along time or frequency.

All are local (a sample depends only on neighbours within half a kernel), which keeps the
classic separator's context bounded and chunked processing exact.
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage as ndi


def odd(n: float) -> int:
    """The nearest odd integer >= 1: median kernels need a centre."""
    k = max(1, int(round(n)))
    return k if k % 2 else k + 1


def median_time(x: np.ndarray, size: int) -> np.ndarray:
    """Median over ``size`` frames (axis -2) of a (..., T, F) array."""
    shape = (1,) * (x.ndim - 2) + (size, 1)
    return ndi.median_filter(x, size=shape, mode="nearest")


def median_freq(x: np.ndarray, size: int) -> np.ndarray:
    """Median over ``size`` bins (axis -1) of a (..., T, F) array."""
    shape = (1,) * (x.ndim - 1) + (size,)
    return ndi.median_filter(x, size=shape, mode="nearest")


def median_time_strided(x: np.ndarray, size: int, stride: int) -> np.ndarray:
    """Median over ``size`` frames taken ``stride`` apart, evaluated every ``stride`` frames
    and held in between: a long (``size * stride`` frames) median at 1/stride² of the cost.

    Frames are grouped from index 0, so callers keep chunk starts on multiples of ``stride``
    frames to stay on one grid.
    """
    t = x.shape[-2]
    coarse = median_time(x[..., ::stride, :], size)
    return np.repeat(coarse, stride, axis=-2)[..., :t, :]


def mean_time(x: np.ndarray, size: int) -> np.ndarray:
    """Moving average over ``size`` frames (axis -2), edges held."""
    return ndi.uniform_filter1d(x, size, axis=-2, mode="nearest")


def median_of_rows(x: np.ndarray) -> np.ndarray:
    """Median along axis 1 of (T, K, F), K small; selection through ``np.partition``."""
    k = x.shape[1]
    part = np.partition(x, k // 2, axis=1)
    if k % 2:
        return part[:, k // 2]
    lower = np.max(part[:, : k // 2], axis=1)
    return 0.5 * (lower + part[:, k // 2])
