"""STFT and its inverse in torch, in a form ONNX export accepts.

A sqrt-Hann window at 50% overlap (hop = n_fft / 2) reconstructs exactly (its square, Hann,
sums to one at that overlap). Frames are not centred: the signal is padded by
(n_fft - hop) / 2 on both sides, so a signal of N samples (a multiple of hop) gives exactly
N / hop frames and the inverse gives back N samples. The inverse is ``irfft`` plus an
overlap-add written with reshapes, because ``torch.istft`` does not export to ONNX.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from engine.dsp.mel import mel_filters


class STFT(nn.Module):
    def __init__(self, n_fft: int, hop: int):
        super().__init__()
        assert n_fft == 2 * hop, "the overlap-add below assumes 50% overlap"
        self.n_fft, self.hop = n_fft, hop
        self.pad = (n_fft - hop) // 2
        window = torch.hann_window(n_fft, periodic=True).sqrt()
        self.register_buffer("window", window, persistent=False)
        # The imaginary parts of the DC and Nyquist bins mean nothing for a real signal:
        # torch's irfft drops them, ONNX's DFT does not, so zero them explicitly.
        real_bins = torch.ones(n_fft // 2 + 1)
        real_bins[0] = real_bins[-1] = 0.0
        self.register_buffer("imag_mask", real_bins, persistent=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, N), N a multiple of hop -> (real, imag), each (B, T, n_fft // 2 + 1).
        Always in float32 (FFTs have no bfloat16 kernels; autocast may hand us bf16)."""
        padded = torch.nn.functional.pad(x.float(), (self.pad, self.pad))
        frames = padded.unfold(-1, self.n_fft, self.hop) * self.window
        spec = torch.fft.rfft(frames, dim=-1)
        return spec.real, spec.imag

    def _overlap_add(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, T, n_fft) -> (B, T * hop), the padding trimmed."""
        b, t, _ = frames.shape
        first, second = frames[..., :self.hop], frames[..., self.hop:]
        zeros = torch.zeros(b, 1, self.hop, dtype=frames.dtype, device=frames.device)
        slots = torch.cat([first, zeros], 1) + torch.cat([zeros, second], 1)  # (B, T+1, hop)
        return slots.reshape(b, -1)[:, self.pad:self.pad + t * self.hop]

    def inverse(self, real: torch.Tensor, imag: torch.Tensor) -> torch.Tensor:
        """(B, T, F) real and imaginary parts -> (B, T * hop).

        Divided by the overlap-added squared window: 1 inside, at least 0.5 in the first and
        last (n_fft - hop) / 2 samples that only one frame covers, so the ends are exact too.
        """
        spec = torch.complex(real.float(), imag.float() * self.imag_mask)
        frames = torch.fft.irfft(spec, n=self.n_fft, dim=-1) * self.window
        squared = (self.window * self.window).expand(1, frames.shape[1], self.n_fft)
        return self._overlap_add(frames) / self._overlap_add(squared)


class LogMel(nn.Module):
    """Log mel spectrogram of an STFT magnitude: (B, T, F) -> (B, T, n_mels)."""

    def __init__(self, sample_rate: int, n_fft: int, n_mels: int, f_max: float | None = None):
        super().__init__()
        fb = mel_filters(sample_rate, n_fft, n_mels, f_max or sample_rate / 2)
        self.register_buffer("filters", torch.from_numpy(fb.T.astype(np.float32)),
                             persistent=False)

    def forward(self, magnitude: torch.Tensor) -> torch.Tensor:
        return torch.log(magnitude @ self.filters + 1e-5)
