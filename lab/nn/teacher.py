"""The semantic teacher: a small encoder pre-trained on our own audio with BEST-RQ (Chiu et al.
2022; stage 1 of Lin et al., "DUO-TOK: Dual-Track Semantic Music Tokenizer for
Vocal-Accompaniment Generation"), then frozen. It stands in for the paper's HuBERT, whose
weights the lab does not download.

BEST-RQ needs no labels and no learned tokenizer: a *random-projection quantizer* (a fixed
random matrix and a fixed random codebook, never trained) turns each normalised log-mel frame
into a target id, spans of input frames are masked, and the encoder learns to predict the ids
of the masked frames. What it learns to predict is what its features encode: the spectral
shape and its context, at the frame rate of the codec's STFT (50 Hz at 48 kHz).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from engine.nn.blocks import RMSNorm, TransformerLayer, rope_tables


@dataclass(frozen=True)
class TeacherConfig:
    n_mels: int = 80  # log-mel bands of the input
    dim: int = 192  # encoder width
    n_layers: int = 4
    n_heads: int = 4
    hidden: int = 512  # feed-forward width
    feature_layer: int = 3  # whose output the codec regresses (1-based; middle layers are
    #                         the most "semantic" in masked-prediction models)
    codebook_size: int = 1024  # random-projection quantizer: targets
    proj_dim: int = 16  # random-projection quantizer: projection width
    mask_prob: float = 0.04  # chance a frame starts a masked span
    mask_span: int = 10  # frames per masked span (200 ms at 50 Hz)


class RandomProjectionQuantizer(nn.Module):
    """Fixed random projection + fixed random unit codebook: (B, T, M) -> ids (B, T)."""

    def __init__(self, cfg: TeacherConfig, seed: int = 1234):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.register_buffer("projection", torch.randn(cfg.n_mels, cfg.proj_dim, generator=g))
        book = torch.randn(cfg.codebook_size, cfg.proj_dim, generator=g)
        self.register_buffer("codebook", F.normalize(book, dim=-1))

    @torch.no_grad()
    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        z = F.normalize(mel @ self.projection, dim=-1)
        return (z @ self.codebook.t()).argmax(-1)


class Teacher(nn.Module):
    """Log-mel frames (normalised) -> features. ``mel_mean``/``mel_std`` are set from data."""

    def __init__(self, cfg: TeacherConfig):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("mel_mean", torch.zeros(cfg.n_mels))
        self.register_buffer("mel_std", torch.ones(cfg.n_mels))
        self.inp = nn.Linear(cfg.n_mels, cfg.dim)
        self.mask_embedding = nn.Parameter(torch.zeros(cfg.dim))
        self.layers = nn.ModuleList([TransformerLayer(cfg.dim, cfg.n_heads, cfg.hidden)
                                     for _ in range(cfg.n_layers)])
        self.norm = RMSNorm(cfg.dim)
        self.head = nn.Linear(cfg.dim, cfg.codebook_size)  # used only in pre-training
        self.rpq = RandomProjectionQuantizer(cfg)

    def normalise(self, mel: torch.Tensor) -> torch.Tensor:
        return (mel - self.mel_mean) / self.mel_std

    def _run(self, mel: torch.Tensor, mask: torch.Tensor | None, upto: int) -> torch.Tensor:
        x = self.inp(self.normalise(mel))
        if mask is not None:
            x = torch.where(mask[..., None], self.mask_embedding.to(x.dtype), x)
        cos, sin = rope_tables(x.shape[1], self.cfg.dim // self.cfg.n_heads, device=x.device)
        for layer in self.layers[:upto]:
            x = layer(x, cos, sin)
        return x

    def features(self, mel: torch.Tensor) -> torch.Tensor:
        """(B, T, n_mels) log-mel -> (B, T, dim) features of ``feature_layer``, RMS-normalised
        per frame so the codec regresses their direction, not their scale."""
        x = self._run(mel, None, self.cfg.feature_layer)
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)

    def masked_prediction_loss(self, mel: torch.Tensor,
                               generator: torch.Generator | None = None) -> torch.Tensor:
        """BEST-RQ pre-training loss on a batch of log-mel frames (B, T, n_mels)."""
        b, t, _ = mel.shape
        starts = torch.rand(b, t, generator=generator, device=mel.device) < self.cfg.mask_prob
        mask = starts.clone()
        for k in range(1, self.cfg.mask_span):
            mask[:, k:] |= starts[:, :-k]
        targets = self.rpq(self.normalise(mel))
        logits = self.head(self.norm(self._run(mel, mask, len(self.layers))))
        return F.cross_entropy(logits[mask], targets[mask])
