"""The token separator: the conditional encoder and the token LM, with their presets.

``paper`` has the published sizes (an 8-layer Conformer with 12 heads; a 16-layer LM with 16
heads, width 2048, dropout 0.1); ``small`` keeps the structure at a size a CPU trains (about
0.3 steps/s at batch 8 on one core: see the tokenlm model card).
Windows are 4 s (50 codec frames), the paper's training crops.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

import torch
from torch import nn

from engine.nn.lm import LMConfig, TokenLM
from engine.nn.serialization import load_module

from .conformer import Conditioner, ConformerConfig


@dataclass(frozen=True)
class SeparatorConfig:
    conformer: ConformerConfig = field(default_factory=ConformerConfig)
    lm: LMConfig = field(default_factory=LMConfig)
    window_frames: int = 50  # codec frames per window: 4 s at 12.5 Hz
    frame_samples: int = 3840  # the codec's samples per frame at 48 kHz

    @property
    def window_samples(self) -> int:
        return self.window_frames * self.frame_samples

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> SeparatorConfig:
        return cls(conformer=ConformerConfig(**data["conformer"]), lm=LMConfig(**data["lm"]),
                   window_frames=data["window_frames"], frame_samples=data["frame_samples"])


PRESETS = {
    "paper": SeparatorConfig(),
    # No dropout in small: CPU budgets give it a few thousand steps over hundreds of songs,
    # far from overfitting, and drawing the masks took 12% of a CPU training step.
    "small": SeparatorConfig(
        conformer=ConformerConfig(dim=192, n_layers=4, n_heads=4, dropout=0.0),
        lm=LMConfig(dim=256, n_layers=6, n_heads=4, hidden=704, dropout=0.0, code_dim=64,
                    aligned_prefix=True)),
}


def separator_config(name: str, parallel: bool = False) -> SeparatorConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown separator preset '{name}'; presets: {', '.join(PRESETS)}")
    cfg = PRESETS[name]
    return replace(cfg, lm=replace(cfg.lm, parallel=parallel)) if parallel else cfg


class TokenSeparator(nn.Module):
    def __init__(self, cfg: SeparatorConfig):
        super().__init__()
        self.cfg = cfg
        self.conditioner = Conditioner(cfg.conformer, cfg.lm.dim)
        self.lm = TokenLM(cfg.lm)

    def forward(self, mel: torch.Tensor, tracks: torch.Tensor,
                sampled: float = 0.0) -> dict[str, torch.Tensor]:
        """The training loss: mel (B, 4 S, n_mels) of the mixture windows, tracks
        (B, T, 2S, L) -> losses. (``forward``, so DistributedDataParallel sees the call.)

        ``sampled`` > 0 is parallel scheduled sampling (Duckworth et al., "Parallel Scheduled
        Sampling", arXiv:1906.04331): that fraction of the input tokens, drawn at random, is
        replaced by what the model itself predicts there under teacher forcing, so it learns
        to continue from its own mistakes. Without it a small model's greedy decoding falls
        into the codes of silence after a few frames and never leaves them (issue 10)."""
        prefix = self.conditioner.from_mel(mel)
        inputs = None
        if sampled > 0:
            own = self.lm.predict(prefix.detach(), tracks)
            swap = torch.rand(tracks.shape[:3] + (1,), device=tracks.device) < sampled
            inputs = torch.where(swap, own, tracks)
        return self.lm.loss(prefix, tracks, inputs)

    loss = forward

    @torch.no_grad()
    def generate(self, audio: torch.Tensor, temperature: float = 0.0, top_k: int = 0,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Mixture windows (B, window_samples) at 48 kHz -> track tokens (B, T, 2S, L)."""
        return self.lm.generate(self.conditioner(audio), temperature, top_k, generator)


def load_separator(path) -> TokenSeparator:
    """A separator from its safetensors file, in eval mode."""
    return load_module(path, "separator",
                       lambda cfg: TokenSeparator(SeparatorConfig.from_dict(cfg)))
