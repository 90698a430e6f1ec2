"""The dual-path neural audio codec of the paper ("HCodec": Lyu et al., arXiv:2604.09371,
section 2.3).

48 kHz mono in, two token streams at 12.5 Hz out, each from a 16-level residual VQ:

- acoustic path: STFT (n_fft 1920, hop 960: 50 frames/s) -> log-magnitude and phase features
  -> ConvNeXt blocks -> Transformer layers -> a stride-4 step to 12.5 Hz latents -> RVQ;
- semantic path: the frozen BEST-RQ teacher's features (``teacher.py``) -> a convolutional
  adapter down to 12.5 Hz -> its own RVQ; a semantic decoder regresses the teacher's features
  from the quantized latents (a training loss that keeps these tokens "semantic").

The decoder mirrors the acoustic encoder on the fused latents of both paths and ends in an
inverse-STFT head (magnitude and phase per bin, as in Vocos). Presets: ``paper`` (HCodec-2.0's
published sizes) and ``small`` (the same structure, trainable on a CPU).

Shapes: B batch, N samples, T frames at 50 Hz, S codec frames at 12.5 Hz (T = 4 S), L levels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from engine.nn.blocks import ConvNeXtBlock, TransformerLayer, init_weights, rope_tables
from engine.nn.serialization import load_module

from .rvq import ResidualVQ
from .spectral import STFT, LogMel
from .teacher import Teacher, TeacherConfig


@dataclass(frozen=True)
class CodecConfig:
    sample_rate: int = 48000  # Hz
    n_fft: int = 1920  # STFT window: 40 ms
    hop: int = 960  # STFT hop: 20 ms, 50 frames per second
    downsample: int = 4  # 50 Hz STFT frames -> 12.5 Hz codec frames
    dim: int = 512  # encoder/decoder width at 50 Hz
    latent_dim: int = 512  # quantized latents at 12.5 Hz (both paths)
    n_convnext: int = 8  # ConvNeXt blocks in the acoustic encoder (and decoder)
    n_transformer: int = 4  # Transformer layers in the acoustic encoder (and decoder)
    n_heads: int = 8
    hidden: int = 1536  # Transformer feed-forward width
    n_levels: int = 16  # RVQ depth per path
    codebook_size: int = 1024  # entries per RVQ level
    code_dim: int = 64  # RVQ works in this projected width (small codebooks, cheap search)
    semantic_dim: int = 256  # semantic adapter width at 50 Hz
    teacher: TeacherConfig = field(default_factory=TeacherConfig)

    @property
    def frame_samples(self) -> int:
        """Samples per codec frame (3840 at 48 kHz: 12.5 Hz)."""
        return self.hop * self.downsample

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.frame_samples

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    @classmethod
    def from_dict(cls, data: dict) -> CodecConfig:
        data = dict(data)
        data["teacher"] = TeacherConfig(**data.get("teacher", {}))
        return cls(**data)

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS = {
    "paper": CodecConfig(),
    "small": CodecConfig(dim=192, latent_dim=256, n_convnext=4, n_transformer=2, n_heads=4,
                         hidden=512, code_dim=32, semantic_dim=128,
                         teacher=TeacherConfig(dim=128, n_layers=4, n_heads=4, hidden=384)),
}


def codec_config(name: str) -> CodecConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown codec preset '{name}'; presets: {', '.join(PRESETS)}")
    return PRESETS[name]


class _Stack(nn.Module):
    """ConvNeXt blocks then Transformer layers (encoder order; the decoder reverses it)."""

    def __init__(self, cfg: CodecConfig, reverse: bool):
        super().__init__()
        self.reverse = reverse
        self.convnext = nn.ModuleList([ConvNeXtBlock(cfg.dim) for _ in range(cfg.n_convnext)])
        self.transformer = nn.ModuleList([TransformerLayer(cfg.dim, cfg.n_heads, cfg.hidden)
                                          for _ in range(cfg.n_transformer)])
        self.head_dim = cfg.dim // cfg.n_heads

    def _conv(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(1, 2)
        for block in self.convnext:
            x = block(x)
        return x.transpose(1, 2)

    def _attend(self, x: torch.Tensor) -> torch.Tensor:
        cos, sin = rope_tables(x.shape[1], self.head_dim, device=x.device)
        for layer in self.transformer:
            x = layer(x, cos, sin)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, D) -> (B, T, D)
        return self._conv(self._attend(x)) if self.reverse else self._attend(self._conv(x))


class CodecOutput(NamedTuple):
    audio: torch.Tensor  # (B, N) reconstruction
    semantic_pred: torch.Tensor  # (B, T, teacher dim) regressed teacher features
    semantic_target: torch.Tensor  # (B, T, teacher dim) the frozen teacher's features
    commit: torch.Tensor  # commitment loss, both paths
    codes: torch.Tensor  # (B, 2, L, S)


class Codec(nn.Module):
    def __init__(self, cfg: CodecConfig):
        super().__init__()
        self.cfg = cfg
        c, f = cfg, cfg.n_bins
        self.stft = STFT(c.n_fft, c.hop)
        self.mel = LogMel(c.sample_rate, c.n_fft, c.teacher.n_mels)
        self.teacher = Teacher(c.teacher)
        self.teacher.requires_grad_(False)
        # acoustic path
        self.inp = nn.Linear(3 * f, c.dim)
        self.encoder = _Stack(c, reverse=False)
        self.down = nn.Linear(c.downsample * c.dim, c.latent_dim)
        self.acoustic_rvq = ResidualVQ(c.latent_dim, c.n_levels, c.codebook_size, c.code_dim)
        # semantic path
        t = c.teacher.dim
        self.sem_conv = nn.Sequential(nn.Conv1d(t, c.semantic_dim, 3, padding=1), nn.GELU(),
                                      nn.Conv1d(c.semantic_dim, c.semantic_dim, 3, padding=1),
                                      nn.GELU())
        self.sem_down = nn.Linear(c.downsample * c.semantic_dim, c.latent_dim)
        self.semantic_rvq = ResidualVQ(c.latent_dim, c.n_levels, c.codebook_size, c.code_dim)
        self.sem_up = nn.Linear(c.latent_dim, c.downsample * c.semantic_dim)
        self.sem_out = nn.Sequential(nn.Conv1d(c.semantic_dim, c.semantic_dim, 3, padding=1),
                                     nn.GELU(), nn.Conv1d(c.semantic_dim, t, 3, padding=1))
        # decoder
        self.fuse = nn.Linear(2 * c.latent_dim, c.latent_dim)
        self.up = nn.Linear(c.latent_dim, c.downsample * c.dim)
        self.decoder = _Stack(c, reverse=True)
        self.head = nn.Linear(c.dim, 2 * f)
        init_weights(self)

    # --- pieces ------------------------------------------------------------------------

    def pad(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, N) -> (B, N') zero-padded to whole codec frames."""
        rest = (-audio.shape[-1]) % self.cfg.frame_samples
        return F.pad(audio, (0, rest))

    def _spectrum(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, N) -> (acoustic features (B, T, 3F), log-mel (B, T, M))."""
        real, imag = self.stft(audio)
        mag = torch.sqrt(real * real + imag * imag + 1e-9)
        feats = torch.cat([torch.log(mag + 1e-5), real / mag, imag / mag], dim=-1)
        return feats, self.mel(mag)

    def _stride(self, x: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
        """(B, T, D) at 50 Hz -> (B, S, D') at 12.5 Hz: groups of frames, then a projection."""
        b, t, d = x.shape
        return layer(x.reshape(b, t // self.cfg.downsample, self.cfg.downsample * d))

    def _unstride(self, z: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
        b, s, _ = z.shape
        return layer(z).reshape(b, s * self.cfg.downsample, -1)

    def _latents(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, N) padded -> (acoustic (B, S, D), semantic (B, S, D), teacher (B, T, Dt))."""
        feats, mel = self._spectrum(audio)
        acoustic = self._stride(self.encoder(self.inp(feats)), self.down)
        with torch.no_grad():
            target = self.teacher.features(mel)
        sem = self.sem_conv(target.transpose(1, 2)).transpose(1, 2)
        return acoustic, self._stride(sem, self.sem_down), target

    def _synthesize(self, q_acoustic: torch.Tensor, q_semantic: torch.Tensor) -> torch.Tensor:
        """Quantized latents (B, S, D) x 2 -> audio (B, S * frame_samples)."""
        z = self.fuse(torch.cat([q_acoustic, q_semantic], dim=-1))
        x = self.head(self.decoder(self._unstride(z, self.up)))
        f = self.cfg.n_bins
        log_mag, phase = x[..., :f], x[..., f:]
        mag = torch.exp(log_mag.clamp(max=8.0))  # 8: far above any real bin, avoids overflow
        return self.stft.inverse(mag * torch.cos(phase), mag * torch.sin(phase))

    # --- training ------------------------------------------------------------------------

    def forward(self, audio: torch.Tensor, n_levels: int | None = None) -> CodecOutput:
        """Encode, quantize with ``n_levels`` levels per path, decode. (B, N), N a multiple
        of ``cfg.frame_samples``."""
        acoustic, semantic, target = self._latents(audio)
        qa = self.acoustic_rvq(acoustic, n_levels)
        qs = self.semantic_rvq(semantic, n_levels)
        sem = self._unstride(qs.quantized, self.sem_up).transpose(1, 2)
        pred = self.sem_out(sem).transpose(1, 2)
        audio_hat = self._synthesize(qa.quantized, qs.quantized)
        return CodecOutput(audio_hat, pred, target, qa.commit + qs.commit,
                           torch.stack([qa.codes, qs.codes], 1))

    # --- inference (what ONNX export traces) ------------------------------------------------

    @torch.no_grad()
    def encode(self, audio: torch.Tensor, n_levels: int | None = None) -> torch.Tensor:
        """(B, N) mono at ``cfg.sample_rate`` -> codes (B, 2, L, S) int64 (acoustic, semantic);
        N is padded to whole codec frames."""
        acoustic, semantic, _ = self._latents(self.pad(audio))
        return torch.stack([self.acoustic_rvq.encode(acoustic, n_levels),
                            self.semantic_rvq.encode(semantic, n_levels)], 1)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (B, 2, L, S), any L up to n_levels -> audio (B, S * frame_samples)."""
        return self._synthesize(self.acoustic_rvq.decode(codes[:, 0]),
                                self.semantic_rvq.decode(codes[:, 1]))


TRAINING_ONLY = ("ema_sum", "ema_count", ".hits")  # RVQ state only training reads


def inference_state(codec: Codec) -> dict[str, torch.Tensor]:
    """The weights a shipped codec needs (the RVQ's EMA statistics left out: a fifth of it)."""
    return {k: v for k, v in codec.state_dict().items() if not k.endswith(TRAINING_ONLY)}


def load_codec(path: str | Path) -> Codec:
    """A codec from its safetensors file (``engine.nn.serialization``), in eval mode. A
    shipped file without the EMA statistics loads too; training from it restarts them."""
    codec = load_module(path, "codec", lambda cfg: Codec(CodecConfig.from_dict(cfg)),
                        optional=TRAINING_ONLY)
    for rvq in (codec.acoustic_rvq, codec.semantic_rvq):
        for level in rvq.levels:
            if not level.ema_sum.any():  # left out: restart the EMA at the codebook
                level.ema_sum.copy_(level.codebook)
                level.ema_count.fill_(1.0)
    return codec
