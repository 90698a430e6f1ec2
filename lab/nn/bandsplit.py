"""A compact band-split RoFormer: stereo spectrogram in, one complex mask per stem out.

The structure follows BS-RoFormer (Lu et al., "Music Source Separation with Band-Split RoPE
Transformer", arXiv:2309.02612), which builds on band-split RNN (Luo & Yu, "Music Source
Separation with Band-split RNN", arXiv:2209.15174), at a size a CPU trains and runs:

1. band split: the complex STFT of the stereo mixture (real and imaginary parts of both
   channels) is cut into ``n_bands`` bands, narrow at low frequencies and wide at high ones
   (mel-spaced), and each band is normalised (RMSNorm) and projected to ``dim`` features;
2. ``n_layers`` pairs of transformer layers, the first attending along time within each band,
   the second along the bands within each frame, both with rotary positions;
3. mask estimation: per band, an MLP turns the features into a mask for every stem and bin
   of that band, a softmax over the stems, so the masks of a bin sum to one.

Beyond BS-RoFormer, at this size the masks are real (magnitude) and shared by both channels,
and the engine's multichannel Wiener filter then gives each stem its own stereo image from
the mixture (the post-filter Open-Unmix uses): four times fewer outputs than complex
per-channel masks, which need more capacity and training than a CPU budget gives.

The STFT stays outside the network (the engine's own numpy STFT at run time, ``torch.stft``
with the same framing in training), so the exported graph is plain matrix work.
Shapes: B batch, C channels, T frames, F bins, K bands, D features, S stems.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.nn.blocks import RMSNorm, TransformerLayer, rope_tables


def _mel(hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + hz / 700.0)


def band_edges(sample_rate: int, n_fft: int, n_bands: int, min_bins: int) -> tuple[int, ...]:
    """Bin indices where the bands start, and the total bin count last: ``n_bands`` bands
    evenly spaced in mel, none narrower than ``min_bins`` bins."""
    n_bins = n_fft // 2 + 1
    top = _mel(np.array(sample_rate / 2))
    hz = 700.0 * (10 ** (np.linspace(0, top, n_bands + 1) / 2595.0) - 1)
    edges = [0]
    for f in hz[1:-1]:
        edges.append(max(edges[-1] + min_bins, int(round(f / sample_rate * n_fft))))
    if n_bins - edges[-1] < min_bins:
        raise ValueError(f"{n_bands} bands of at least {min_bins} bins do not fit {n_bins} bins")
    return tuple(edges + [n_bins])


@dataclass(frozen=True)
class BandSplitConfig:
    sample_rate: int = 44100  # Hz the model separates at (other rates are resampled)
    n_fft: int = 4096  # STFT window: 93 ms at 44.1 kHz (Open-Unmix's choice for CPU models)
    hop: int = 1024  # 23 ms frames: 43 per second
    n_channels: int = 2  # stereo in, a mask per channel out
    n_stems: int = 4  # vocals, drums, bass, other
    n_bands: int = 32  # mel-spaced bands (BS-RoFormer uses 62 at its size)
    min_band_bins: int = 4  # no band narrower than this (the lowest ones would be 1-2 bins)
    dim: int = 64  # features per band and frame
    n_layers: int = 3  # (time, band) transformer layer pairs
    n_heads: int = 4
    ff_mult: int = 2  # SwiGLU hidden width, in multiples of dim
    mask_mult: int = 2  # mask MLP hidden width, in multiples of dim
    dropout: float = 0.0

    @property
    def edges(self) -> tuple[int, ...]:
        return band_edges(self.sample_rate, self.n_fft, self.n_bands, self.min_band_bins)

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS = {
    # Sized for CPU training: about a step per second of 6 s crops on one core; separating
    # a 3-minute song takes seconds.
    "small": BandSplitConfig(),
    # Half as wide again, with wider mask MLPs: 2.2 times the small model's parameters for
    # about 1.5 times its step time on a CPU; ``grow`` starts it from small weights.
    "medium": BandSplitConfig(dim=96, n_heads=6, mask_mult=3),
    # The published BS-RoFormer scale (for a GPU): 62 bands would need its band table;
    # the width and depth are the paper's.
    "large": BandSplitConfig(n_bands=62, min_band_bins=2, dim=384, n_layers=12, n_heads=8,
                             ff_mult=4, mask_mult=4, dropout=0.1),
}


def bandsplit_config(name: str) -> BandSplitConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown preset '{name}'; presets: {', '.join(PRESETS)}")
    return PRESETS[name]


def grow(model: BandSplitRoFormer, cfg: BandSplitConfig,
         state: dict[str, torch.Tensor]) -> None:
    """Load the weights of a smaller model (``cfg``, ``state``) into ``model`` so that it
    computes the same masks, the extra width and depth ready to train (Net2Net, Chen et al.,
    "Net2Net: Accelerating Learning via Knowledge Transfer", arXiv:1511.05641, here by zeros
    rather than copies): a session can move the shipped weights to a larger preset without
    starting over.

    The features gain zero channels (every weight that writes the residual stream is zero
    there, every weight that reads it keeps its random values, so gradients reach them), new
    heads (``head_dim`` unchanged) and hidden units only feed outputs through zero weights,
    and new layers are identities (zero attention output and feed-forward down-projection).
    The RMSNorms over the features rescale by sqrt(old dim / new dim): zero channels lower the
    root mean square by that factor."""
    new = model.cfg
    same = ("sample_rate", "n_fft", "hop", "n_channels", "n_stems", "n_bands", "min_band_bins")
    if any(getattr(cfg, k) != getattr(new, k) for k in same):
        raise ValueError("grow keeps the framing and the bands: " + ", ".join(
            f"{k} {getattr(cfg, k)} -> {getattr(new, k)}" for k in same
            if getattr(cfg, k) != getattr(new, k)))
    if (new.dim < cfg.dim or new.n_layers < cfg.n_layers or new.ff_mult * new.dim <
            cfg.ff_mult * cfg.dim or new.mask_mult * new.dim < cfg.mask_mult * cfg.dim
            or new.dim // new.n_heads != cfg.dim // cfg.n_heads):
        raise ValueError("grow only widens and deepens, with the same head width")
    scale = (cfg.dim / new.dim) ** 0.5
    grown = {}
    for name, target in model.state_dict().items():
        value = target.clone()
        if name.endswith(("ffn.w2.weight", "attn.out.weight")):
            value.zero_()  # new units and layers write nothing; old rows are copied below
        if name.startswith("split.projs."):
            value[cfg.dim:] = 0  # zero residual channels
        if name not in state:  # a new layer: an identity
            grown[name] = value
            continue
        old = state[name].to(value.dtype)
        if name.endswith("attn.qkv.weight"):
            value = value.view(3, new.dim, new.dim)
            value[:, :cfg.dim, :cfg.dim] = old.view(3, cfg.dim, cfg.dim)
            value = value.view(3 * new.dim, new.dim)
        elif name.startswith("masks.mlps.") and name.endswith(".3.weight"):
            value[:, old.shape[1]:] = 0  # new hidden units feed no mask
            value[:, :old.shape[1]] = old
        else:
            value[tuple(slice(0, n) for n in old.shape)] = old
        if (name.endswith(("norm1.weight", "norm2.weight")) or name == "norm.weight"
                or (name.startswith("masks.mlps.") and name.endswith(".0.weight"))):
            value[:cfg.dim] = old * scale
        grown[name] = value
    model.load_state_dict(grown)


class BandSplit(nn.Module):
    """(B, C, T, F, 2) real/imaginary STFT -> (B, T, K, D) band features."""

    def __init__(self, cfg: BandSplitConfig):
        super().__init__()
        self.edges = cfg.edges
        widths = [hi - lo for lo, hi in zip(self.edges[:-1], self.edges[1:], strict=True)]
        self.norms = nn.ModuleList([RMSNorm(2 * cfg.n_channels * w) for w in widths])
        self.projs = nn.ModuleList([nn.Linear(2 * cfg.n_channels * w, cfg.dim)
                                    for w in widths])

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        b, c, t = spec.shape[:3]
        x = spec.permute(0, 2, 3, 1, 4)  # (B, T, F, C, 2)
        bands = []
        for k, (norm, proj) in enumerate(zip(self.norms, self.projs, strict=True)):
            part = x[:, :, self.edges[k]:self.edges[k + 1]].reshape(b, t, -1)
            bands.append(proj(norm(part)))
        return torch.stack(bands, 2)


class MaskEstimator(nn.Module):
    """(B, T, K, D) -> (B, S, T, F) masks summing to one over the stems, an MLP per band."""

    def __init__(self, cfg: BandSplitConfig):
        super().__init__()
        self.cfg = cfg
        self.edges = cfg.edges
        hidden = cfg.mask_mult * cfg.dim
        self.mlps = nn.ModuleList([
            nn.Sequential(RMSNorm(cfg.dim), nn.Linear(cfg.dim, hidden), nn.Tanh(),
                          nn.Linear(hidden, cfg.n_stems * (hi - lo)))
            for lo, hi in zip(self.edges[:-1], self.edges[1:], strict=True)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t = x.shape[:2]
        logits = [mlp(x[:, :, k]).view(b, t, -1, self.cfg.n_stems)
                  for k, mlp in enumerate(self.mlps)]  # (B, T, w_k, S)
        return torch.cat(logits, 2).softmax(-1).permute(0, 3, 1, 2)  # (B, S, T, F)


class BandSplitRoFormer(nn.Module):
    def __init__(self, cfg: BandSplitConfig):
        super().__init__()
        self.cfg = cfg
        self.split = BandSplit(cfg)
        hidden = cfg.ff_mult * cfg.dim
        self.time_layers = nn.ModuleList([
            TransformerLayer(cfg.dim, cfg.n_heads, hidden, cfg.dropout)
            for _ in range(cfg.n_layers)])
        self.band_layers = nn.ModuleList([
            TransformerLayer(cfg.dim, cfg.n_heads, hidden, cfg.dropout)
            for _ in range(cfg.n_layers)])
        self.norm = RMSNorm(cfg.dim)
        self.masks = MaskEstimator(cfg)

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        """Mixture STFT (B, C, T, F, 2) -> masks (B, S, T, F), summing to one over S."""
        x = self.split(spec)  # (B, T, K, D)
        b, t, k, d = x.shape
        head_dim = self.cfg.dim // self.cfg.n_heads
        cos_t, sin_t = rope_tables(t, head_dim, device=x.device)
        cos_k, sin_k = rope_tables(k, head_dim, device=x.device)
        for time_layer, band_layer in zip(self.time_layers, self.band_layers, strict=True):
            x = x.transpose(1, 2).reshape(b * k, t, d)  # along time, per band
            x = time_layer(x, cos_t, sin_t)
            x = x.view(b, k, t, d).transpose(1, 2).reshape(b * t, k, d)  # along bands
            x = band_layer(x, cos_k, sin_k).view(b, t, k, d)
        return self.masks(self.norm(x))


def apply_masks(masks: torch.Tensor, spec: torch.Tensor) -> torch.Tensor:
    """Masks (B, S, T, F) x mixture STFT (B, C, T, F, 2) -> stems' STFT (B, S, C, T, F, 2)."""
    return masks[:, :, None, ..., None] * spec[:, None]


def spectrogram(audio: torch.Tensor, cfg: BandSplitConfig) -> torch.Tensor:
    """(B, C, N) -> (B, C, T, F, 2), framed like ``engine.dsp.stft`` (frame t centred on
    sample t * hop, zero padding, periodic Hann): what the engine feeds the exported graph."""
    b, c, n = audio.shape
    window = torch.hann_window(cfg.n_fft, device=audio.device)
    spec = torch.stft(audio.reshape(b * c, n), cfg.n_fft, cfg.hop, window=window,
                      center=True, pad_mode="constant", return_complex=True)
    return torch.view_as_real(spec.transpose(1, 2)).reshape(b, c, -1, cfg.n_bins, 2)


def waveform(spec: torch.Tensor, cfg: BandSplitConfig, length: int) -> torch.Tensor:
    """(..., T, F, 2) -> (..., length): the inverse of ``spectrogram``."""
    lead = spec.shape[:-3]
    flat = torch.view_as_complex(spec.reshape((-1,) + spec.shape[-3:]).contiguous())
    window = torch.hann_window(cfg.n_fft, device=spec.device)
    audio = torch.istft(flat.transpose(1, 2), cfg.n_fft, cfg.hop, window=window, center=True,
                        length=length)
    return audio.view(lead + (length,))


def separation_loss(model: BandSplitRoFormer, mixture: torch.Tensor,
                    stems: torch.Tensor) -> dict[str, torch.Tensor]:
    """Training loss for mixture (B, C, N) and true stems (B, S, C, N): L1 between the masked
    mixture magnitudes and the true stems' magnitudes (Open-Unmix's target, with L1 as in
    BS-RoFormer), per channel. The STFT-sized work here costs more than the network itself
    (which works on bands), so the loss stays on magnitudes: no complex products."""
    spec = spectrogram(mixture, model.cfg)
    masks = model(spec)  # (B, S, T, F)
    magnitude = spec.norm(dim=-1)  # (B, C, T, F)
    estimate = masks[:, :, None] * magnitude[:, None]  # (B, S, C, T, F)
    target = spectrogram(stems.flatten(0, 1), model.cfg).norm(dim=-1).view(estimate.shape)
    loss = F.l1_loss(estimate, target)
    return {"loss": loss}
