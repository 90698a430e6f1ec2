"""Reconstruction losses for the codec: multi-resolution mel and STFT (spectral convergence and
log magnitude), as in Parallel WaveGAN / DAC, at three resolutions so both transients (short
windows) and pitch (long windows) count."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.dsp.mel import mel_filters


class MultiResolutionLoss(nn.Module):
    def __init__(self, sample_rate: int, fft_sizes: tuple[int, ...] = (512, 1024, 2048),
                 n_mels: tuple[int, ...] = (40, 80, 128)):
        super().__init__()
        self.fft_sizes = fft_sizes
        for n_fft, mels in zip(fft_sizes, n_mels, strict=True):
            fb = mel_filters(sample_rate, n_fft, mels, sample_rate / 2)
            self.register_buffer(f"mel_{n_fft}", torch.from_numpy(fb.T.astype(np.float32)),
                                 persistent=False)
            self.register_buffer(f"win_{n_fft}", torch.hann_window(n_fft), persistent=False)

    def forward(self, estimate: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, N) each -> {"mel": L1 of log-mels, "sc": spectral convergence, "mag": L1 of log
        magnitudes}, each averaged over the resolutions."""
        est, ref = estimate.float(), target.float()
        out = {"mel": 0.0, "sc": 0.0, "mag": 0.0}
        for n_fft in self.fft_sizes:
            window = getattr(self, f"win_{n_fft}")
            s_est = torch.stft(est, n_fft, n_fft // 4, window=window, return_complex=True).abs()
            s_ref = torch.stft(ref, n_fft, n_fft // 4, window=window, return_complex=True).abs()
            fb = getattr(self, f"mel_{n_fft}")
            out["mel"] = out["mel"] + F.l1_loss(torch.log((s_est.transpose(1, 2) @ fb) + 1e-5),
                                                torch.log((s_ref.transpose(1, 2) @ fb) + 1e-5))
            out["sc"] = out["sc"] + torch.linalg.norm(s_ref - s_est) / (
                torch.linalg.norm(s_ref) + 1e-7)
            out["mag"] = out["mag"] + F.l1_loss(torch.log(s_est + 1e-5), torch.log(s_ref + 1e-5))
        k = len(self.fft_sizes)
        return {name: value / k for name, value in out.items()}
