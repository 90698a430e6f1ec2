"""Multichannel Wiener filtering from per-source power estimates.

Given the mixture STFT ``X`` (C, T, F) and a power estimate ``v`` (S, T, F) per source, each
source image is ``Y_s = v_s R_s (sum_j v_j R_j)^-1 X`` with ``R_s`` the source's 2x2 spatial
covariance, normalised to unit average power (Duong, Vincent & Gribonval 2010; the "EM" step of
open-unmix's ``filtering.py`` done once). ``R_s`` is estimated from soft-masked source images,
averaged over a moving window of frames rather than the whole song, so the filter only looks a
bounded time either side and chunked processing stays exact. The powers are the given ``v``:
recomputing them from the masked images would square the masks a second time. Where all
sources share one spatial image the filter equals the soft mask ``v_s / sum_j v_j``, which is
also what mono input gets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from .filters import mean_time

EPS = 1e-10  # power floor: keeps silent bins finite; far below any audible level
SPATIAL_FLOOR = 0.01  # share of identity in each covariance: bounds its condition number (~200)


def soft_masks(v: np.ndarray) -> np.ndarray:
    """(S, T, F) powers -> (S, T, F) masks that sum to 1 in every bin (even in silence)."""
    total = v.sum(axis=0, keepdims=True)
    masks = v / np.maximum(total, EPS)
    silent = total[0] <= EPS
    masks[:, silent] = 1.0 / v.shape[0]
    return masks


def _spatial_covariance(y: np.ndarray, smooth_frames: int) -> tuple[np.ndarray, ...]:
    """Local covariance of a stereo image (2, T, F), normalised to unit mean channel power:
    (r11, r22, r12)."""
    p1 = y[0].real ** 2 + y[0].imag ** 2
    p2 = y[1].real ** 2 + y[1].imag ** 2
    cross = y[0] * np.conj(y[1])
    power = 0.5 * (p1 + p2)
    norm = mean_time(power, smooth_frames) + EPS
    r11 = mean_time(p1, smooth_frames) / norm
    r22 = mean_time(p2, smooth_frames) / norm
    r12 = (mean_time(cross.real, smooth_frames) + 1j * mean_time(cross.imag, smooth_frames)) / norm
    # A source identical in both channels (a mono file saved as stereo, DC) has a singular
    # covariance, and so would the mixture's: the 2x2 inverse then explodes in float32. Mixing
    # in a little identity keeps every inverse well conditioned.
    keep = 1.0 - SPATIAL_FLOOR
    return (keep * r11 + SPATIAL_FLOOR, keep * r22 + SPATIAL_FLOOR,
            (keep * r12).astype(np.complex64))


def wiener(x: np.ndarray, v: np.ndarray, smooth_frames: int,
           check: Callable[[], None] | None = None) -> Iterator[np.ndarray]:
    """Yield each source's filtered STFT (C, T, F), in the order of ``v``'s first axis.
    ``check()`` runs before each source's covariance and each source's image (a cancel check
    that may raise), so a long block never runs far past a cancel."""
    check = check or (lambda: None)
    masks = soft_masks(v)
    if x.shape[0] == 1:
        for mask in masks:
            yield mask[None] * x
        return
    covs = []
    c11 = np.full(x.shape[1:], EPS, np.float32)
    c22 = c11.copy()
    c12 = np.zeros(x.shape[1:], np.complex64)
    for mask, power in zip(masks, v, strict=True):
        check()
        r11, r22, r12 = _spatial_covariance(mask[None] * x, smooth_frames)
        covs.append((r11, r22, r12, power))
        c11 += power * r11
        c22 += power * r22
        c12 += power * r12
    det = np.maximum(c11 * c22 - (c12.real ** 2 + c12.imag ** 2), EPS)
    i11, i22, i12 = c22 / det, c11 / det, -c12 / det
    for r11, r22, r12, power in covs:
        check()
        g11 = r11 * i11 + r12 * np.conj(i12)
        g12 = r11 * i12 + r12 * i22
        g21 = np.conj(r12) * i11 + r22 * np.conj(i12)
        g22 = np.conj(r12) * i12 + r22 * i22
        yield np.stack([power * (g11 * x[0] + g12 * x[1]), power * (g21 * x[0] + g22 * x[1])])
