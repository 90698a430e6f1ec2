"""The conditional encoder (Lyu et al., arXiv:2604.09371, section 2.2): log-mel -> Conformer
-> linear adapter.

A 120-band log-mel spectrogram (FFT 2048, hop 960 at 48 kHz: 50 frames/s) is subsampled by
two stride-2 convolutions to the codec's 12.5 Hz, run through Conformer blocks (Gulati et al.
2020: half feed-forward, self-attention with rotary positions, a convolution module with a
depthwise kernel of 31, half feed-forward) and projected to the language model's width. Layer
norm replaces the batch norm of the original convolution module, so a window is encoded the
same whatever else is in its batch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.dsp.mel import mel_filters
from engine.nn.blocks import Attention, rope_tables


@dataclass(frozen=True)
class ConformerConfig:
    sample_rate: int = 48000  # Hz
    n_fft: int = 2048  # mel STFT window (the paper's)
    hop: int = 960  # 50 frames/s at 48 kHz
    n_mels: int = 120
    dim: int = 768  # Conformer width
    n_layers: int = 8
    n_heads: int = 12
    kernel_size: int = 31  # depthwise convolution in each block
    ff_mult: int = 4
    subsample: int = 4  # 50 Hz mel frames -> 12.5 Hz codec frames
    dropout: float = 0.1

    def to_dict(self) -> dict:
        return asdict(self)


class MelFrontend(nn.Module):
    """(B, N) audio at 48 kHz, N a multiple of hop -> (B, N / hop, n_mels) log-mel."""

    def __init__(self, cfg: ConformerConfig):
        super().__init__()
        self.n_fft, self.hop = cfg.n_fft, cfg.hop
        self.pad = (cfg.n_fft - cfg.hop) // 2
        self.register_buffer("window", torch.hann_window(cfg.n_fft), persistent=False)
        fb = mel_filters(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.sample_rate / 2)
        self.register_buffer("filters", torch.from_numpy(fb.T.astype(np.float32)),
                             persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        padded = F.pad(audio.float(), (self.pad, self.pad + (self.n_fft - self.hop) % 2))
        frames = padded.unfold(-1, self.n_fft, self.hop) * self.window
        spec = torch.fft.rfft(frames, dim=-1)
        mag = torch.sqrt(spec.real * spec.real + spec.imag * spec.imag + 1e-9)
        return torch.log(mag @ self.filters + 1e-5)


class _FeedForward(nn.Module):
    def __init__(self, dim: int, mult: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, mult * dim), nn.SiLU(),
                                 nn.Dropout(dropout), nn.Linear(mult * dim, dim),
                                 nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class _ConvModule(nn.Module):
    """Pointwise conv + GLU, depthwise conv, norm, SiLU, pointwise conv."""

    def __init__(self, dim: int, kernel_size: int, dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.pw1 = nn.Conv1d(dim, 2 * dim, 1)
        self.dw = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.dw_norm = nn.LayerNorm(dim)
        self.pw2 = nn.Conv1d(dim, dim, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, D)
        y = F.glu(self.pw1(self.norm(x).transpose(1, 2)), dim=1)
        y = self.dw_norm(self.dw(y).transpose(1, 2))
        return self.drop(self.pw2(F.silu(y).transpose(1, 2)).transpose(1, 2))


class ConformerBlock(nn.Module):
    def __init__(self, cfg: ConformerConfig):
        super().__init__()
        self.ff1 = _FeedForward(cfg.dim, cfg.ff_mult, cfg.dropout)
        self.attn_norm = nn.LayerNorm(cfg.dim)
        self.attn = Attention(cfg.dim, cfg.n_heads, cfg.dropout)
        self.conv = _ConvModule(cfg.dim, cfg.kernel_size, cfg.dropout)
        self.ff2 = _FeedForward(cfg.dim, cfg.ff_mult, cfg.dropout)
        self.norm = nn.LayerNorm(cfg.dim)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        x = x + 0.5 * self.ff1(x)
        x = x + self.drop(self.attn(self.attn_norm(x), cos, sin))
        x = x + self.conv(x)
        x = x + 0.5 * self.ff2(x)
        return self.norm(x)


class Conditioner(nn.Module):
    """Mixture audio -> the LM's continuous prefix: (B, N) -> (B, N / (hop * 4), lm_dim)."""

    def __init__(self, cfg: ConformerConfig, lm_dim: int):
        super().__init__()
        self.cfg = cfg
        self.mel = MelFrontend(cfg)
        self.in_norm = nn.LayerNorm(cfg.n_mels)
        self.sub1 = nn.Conv1d(cfg.n_mels, cfg.dim, 3, stride=2, padding=1)
        self.sub2 = nn.Conv1d(cfg.dim, cfg.dim, 3, stride=2, padding=1)
        self.blocks = nn.ModuleList([ConformerBlock(cfg) for _ in range(cfg.n_layers)])
        self.adapter = nn.Linear(cfg.dim, lm_dim)

    def from_mel(self, mel: torch.Tensor) -> torch.Tensor:
        """(B, T, n_mels) log-mel at 50 Hz -> (B, T / 4, lm_dim)."""
        x = self.in_norm(mel).transpose(1, 2)
        x = F.gelu(self.sub2(F.gelu(self.sub1(x)))).transpose(1, 2)
        cos, sin = rope_tables(x.shape[1], self.cfg.dim // self.cfg.n_heads, device=x.device)
        for block in self.blocks:
            x = block(x, cos, sin)
        return self.adapter(x)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return self.from_mel(self.mel(audio))
