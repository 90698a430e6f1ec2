"""NISQA v2 (Mittag et al. 2021): non-intrusive speech quality, used here for sung vocals.

Our own implementation of the published NISQA-DIM architecture, loading the authors' weights
from a path given at run time (they are CC BY-NC-SA and never shipped with Stemma):

- features: a 48-band Slaney mel spectrogram of the magnitude STFT (4096-point FFT, 20 ms Hann
  window, 10 ms hop, up to 20 kHz) in dB with an 80 dB floor, cut into 15-frame segments every
  4 frames;
- an adaptive CNN (six conv + batch-norm layers, adaptive max pooling) per segment;
- two self-attention layers over segments;
- five attention-pooling heads: MOS, noisiness, discontinuity, coloration, loudness.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soxr
import torch
import torch.nn.functional as F
from torch import nn

from engine.dsp.mel import mel_filters

RATE = 48000  # the rate NISQA's 20 ms / 10 ms framing is applied at here
N_FFT, WIN_S, HOP_S, N_MELS, F_MAX = 4096, 0.02, 0.01, 48, 20000.0
SEG_LEN, SEG_HOP = 15, 4  # frames per segment, frames between segments
MAX_SEGMENTS = 1300  # the model's longest input (about 52 s); longer audio is split
OUTPUTS = ("mos", "noi", "dis", "col", "loud")


# --- features ----------------------------------------------------------------------------


def melspec_db(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """(N,) mono -> (n_mels, T) mel spectrogram in dB, 80 dB below its peak at most."""
    hop, win = int(sample_rate * HOP_S), int(sample_rate * WIN_S)
    window = np.zeros(N_FFT)
    start = (N_FFT - win) // 2
    window[start:start + win] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)
    padded = np.pad(audio.astype(np.float64), N_FFT // 2, mode="reflect")
    n = 1 + len(audio) // hop
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::hop][:n]
    magnitude = np.abs(np.fft.rfft(frames * window, axis=1)).T  # (F, T)
    mel = mel_filters(sample_rate, N_FFT, N_MELS, F_MAX) @ magnitude
    db = 20.0 * np.log10(np.maximum(mel, 1e-4))
    return np.maximum(db, db.max() - 80.0).astype(np.float32)


def segments(mel: np.ndarray) -> torch.Tensor:
    """(n_mels, T) -> (n_segments, 1, n_mels, SEG_LEN): overlapping windows of frames."""
    n = mel.shape[1] - (SEG_LEN - 1)
    if n < 1:
        mel = np.pad(mel, ((0, 0), (0, SEG_LEN - mel.shape[1])), constant_values=mel.min())
        n = 1
    windows = np.lib.stride_tricks.sliding_window_view(mel, SEG_LEN, axis=1)[:, :n]  # (M, n, L)
    return torch.from_numpy(np.ascontiguousarray(windows.transpose(1, 0, 2)[::SEG_HOP, None]))


# --- model -------------------------------------------------------------------------------


class _AdaptCNN(nn.Module):
    """Per-segment CNN: (S, 1, 48, 15) -> (S, 384)."""

    def __init__(self) -> None:
        super().__init__()
        chans = [(1, 16), (16, 32), (32, 64), (64, 64), (64, 64)]
        for i, (cin, cout) in enumerate(chans, start=1):
            setattr(self, f"conv{i}", nn.Conv2d(cin, cout, 3, padding=1))
            setattr(self, f"bn{i}", nn.BatchNorm2d(cout))
        self.conv6 = nn.Conv2d(64, 64, (3, 3), padding=(1, 0))  # width 3 -> 1
        self.bn6 = nn.BatchNorm2d(64)

    def _block(self, x: torch.Tensor, i: int) -> torch.Tensor:
        return F.relu(getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.adaptive_max_pool2d(self._block(x, 1), (24, 7))
        x = F.adaptive_max_pool2d(self._block(x, 2), (12, 5))
        x = F.adaptive_max_pool2d(self._block(self._block(x, 3), 4), (6, 3))
        x = self._block(self._block(x, 5), 6)  # (S, 64, 6, 1)
        return x.reshape(x.shape[0], -1)


class _AttentionLayer(nn.Module):
    """Post-norm Transformer encoder layer (attention, ReLU feed-forward)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, 1)
        self.linear1 = nn.Linear(dim, hidden)
        self.linear2 = nn.Linear(hidden, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (L, B, D)
        x = self.norm1(x + self.self_attn(x, x, x, need_weights=False)[0])
        return self.norm2(x + self.linear2(F.relu(self.linear1(x))))


class _SelfAttention(nn.Module):
    def __init__(self, dim_in: int = 384, dim: int = 64, n_layers: int = 2) -> None:
        super().__init__()
        self.linear = nn.Linear(dim_in, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.layers = nn.ModuleList([_AttentionLayer(dim, dim) for _ in range(n_layers)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, L, 384) -> (B, L, 64)
        x = self.norm1(self.linear(x).transpose(0, 1))
        for layer in self.layers:
            x = layer(x)
        return x.transpose(0, 1)


class _AttentionPool(nn.Module):
    """Attention over segments, then a linear read-out: (B, L, D) -> (B, 1)."""

    def __init__(self, dim: int = 64, hidden: int = 128) -> None:
        super().__init__()
        self.linear1 = nn.Linear(dim, hidden)
        self.linear2 = nn.Linear(hidden, 1)
        self.linear3 = nn.Linear(dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.linear2(F.relu(self.linear1(x))), dim=1)  # (B, L, 1)
        return self.linear3((weights * x).sum(dim=1))


class _Holder(nn.Module):
    """Keeps the checkpoint's ``<part>.model.<layer>`` parameter names."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model


class NisqaDim(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.cnn = _Holder(_AdaptCNN())
        self.time_dependency = _Holder(_SelfAttention())
        self.pool_layers = nn.ModuleList([_Holder(_AttentionPool()) for _ in OUTPUTS])

    def forward(self, segs: torch.Tensor) -> torch.Tensor:
        """(S, 1, 48, 15) segments of one clip -> (5,) scores."""
        x = self.time_dependency.model(self.cnn.model(segs)[None])
        return torch.cat([pool.model(x) for pool in self.pool_layers], dim=1)[0]


class Nisqa:
    """Scores audio with the NISQA-DIM weights at ``weights`` (the authors' ``nisqa.tar``)."""

    def __init__(self, weights: str | Path) -> None:
        checkpoint = torch.load(str(weights), map_location="cpu", weights_only=False)
        state = {k: v for k, v in checkpoint["model_state_dict"].items()
                 if not k.endswith("num_batches_tracked")}
        self.model = NisqaDim()
        self.model.load_state_dict(state, strict=True)
        self.model.eval()

    @torch.inference_mode()
    def __call__(self, audio: np.ndarray, sample_rate: int) -> dict[str, float]:
        """(C, N) or (N,) -> {"mos", "noi", "dis", "col", "loud"}; long audio is scored in
        pieces of at most MAX_SEGMENTS segments and averaged, weighted by length."""
        mono = np.asarray(audio, dtype=np.float64).reshape(-1, np.shape(audio)[-1]).mean(0)
        if sample_rate != RATE:
            mono = soxr.resample(mono, sample_rate, RATE, quality="HQ")
        if not np.any(mono):
            return {k: float("nan") for k in OUTPUTS}
        segs = segments(melspec_db(mono, RATE))
        scores, weights = [], []
        for start in range(0, len(segs), MAX_SEGMENTS):
            part = segs[start:start + MAX_SEGMENTS]
            scores.append(self.model(part).numpy())
            weights.append(len(part))
        mean = np.average(np.stack(scores), axis=0, weights=weights)
        return {k: float(v) for k, v in zip(OUTPUTS, mean, strict=True)}
