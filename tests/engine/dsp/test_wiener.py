"""Soft masks and the multichannel Wiener filter."""

from __future__ import annotations

import numpy as np

from engine.dsp.stft import istft, stft
from engine.dsp.wiener import soft_masks, wiener


def test_masks_sum_to_one_even_in_silence():
    v = np.random.default_rng(0).random((4, 10, 12)).astype(np.float32)
    v[:, 3] = 0.0
    m = soft_masks(v)
    assert np.allclose(m.sum(axis=0), 1.0)


def test_mono_is_the_soft_mask():
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((1, 8, 9)) + 1j * rng.standard_normal((1, 8, 9))).astype(np.complex64)
    v = rng.random((3, 8, 9)).astype(np.float32)
    for y, m in zip(wiener(x, v, 5), soft_masks(v), strict=True):
        assert np.allclose(y, m[None] * x)


def test_stereo_outputs_sum_to_the_mixture():
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((2, 50, 30)) + 1j * rng.standard_normal((2, 50, 30))).astype(
        np.complex64)
    v = rng.random((4, 50, 30)).astype(np.float32) + 0.1
    total = sum(wiener(x, v, 9))
    assert np.allclose(total, x, atol=1e-3)


def test_spatial_image_improves_on_the_soft_mask():
    """Two noises, one mostly left, one mostly right, with power estimates that are right on
    average but wrong bin by bin (as real estimates are): the soft mask keeps the errors, the
    multichannel filter learns each source's side from the masked images and corrects them.
    (With no spectral cue at all a single pass cannot start: both masked images look alike.)"""
    rng = np.random.default_rng(3)
    n, n_fft, hop = 44100 * 2, 1024, 256
    a, b = rng.standard_normal(n), rng.standard_normal(n)
    images = [np.stack([a, 0.1 * a]), np.stack([0.1 * b, b])]
    mix = (images[0] + images[1]).astype(np.float32)
    x = stft(mix, n_fft, hop)
    v = np.stack([np.mean(np.abs(stft(im.astype(np.float32), n_fft, hop)) ** 2, axis=0)
                  * rng.lognormal(0.0, 1.0, x.shape[1:]) for im in images]).astype(np.float32)
    err_wiener = err_mask = 0.0
    for y, m, truth in zip(wiener(x, v, 41), soft_masks(v), images, strict=True):
        err_wiener += np.sum((istft(y, n_fft, hop, n) - truth) ** 2)
        err_mask += np.sum((istft(m[None] * x, n_fft, hop, n) - truth) ** 2)
    assert err_wiener < 0.75 * err_mask  # measured 0.58: the error drops by about 40%
