"""The codec's STFT: exact inversion, and the frame count the stride-4 step relies on."""

from __future__ import annotations

import torch

from lab.nn.spectral import STFT


def test_round_trip_is_exact_including_the_ends():
    stft = STFT(1920, 960)
    x = torch.randn(3, 960 * 20)
    real, imag = stft(x)
    assert real.shape == (3, 20, 961)  # N / hop frames exactly
    assert torch.allclose(stft.inverse(real, imag), x, atol=1e-5)


def test_bfloat16_input_is_computed_in_float32():
    stft = STFT(1920, 960)
    x = torch.randn(1, 960 * 4)
    real, imag = stft(x.to(torch.bfloat16))
    assert real.dtype == torch.float32
    y = stft.inverse(real.to(torch.bfloat16), imag.to(torch.bfloat16))
    assert y.dtype == torch.float32 and y.shape == x.shape
