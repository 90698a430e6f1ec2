"""The STFT must give back exactly what it got, on a grid chunks can share."""

from __future__ import annotations

import numpy as np
import pytest

from engine.dsp.stft import istft, stft


@pytest.mark.parametrize("n_fft", [256, 1024, 4096])
@pytest.mark.parametrize("length", [1, 100, 4095, 44100 + 17])
def test_round_trip_is_exact(n_fft, length):
    x = np.random.default_rng(length).standard_normal((2, length)).astype(np.float32)
    y = istft(stft(x, n_fft, n_fft // 4), n_fft, n_fft // 4, length)
    assert y.shape == x.shape
    assert np.max(np.abs(y - x)) < 1e-5


def test_frames_sit_on_an_absolute_grid():
    """A signal cut at a multiple of hop has the same frames, shifted: what chunking relies on."""
    n_fft, hop = 1024, 256
    x = np.random.default_rng(0).standard_normal(20000).astype(np.float32)
    whole = stft(x, n_fft, hop)
    cut = 40 * hop
    part = stft(x[cut:], n_fft, hop)
    # Frames fully inside both signals agree exactly.
    assert np.allclose(part[4:20], whole[40 + 4:40 + 20], atol=1e-4)
