"""BS-RoFormer and Mel-RoFormer networks whose weights are those of published checkpoints.

Band-Split RoPE Transformer ("Music Source Separation with Band-Split RoPE Transformer",
arXiv:2309.02612) and its mel-band variant ("Mel-Band RoFormer for Music Source Separation",
arXiv:2310.01809). Most public checkpoints were trained with the Music-Source-Separation-Training
repository (ZFTurbo), whose modules derive from lucidrains' ``BS-RoFormer`` package; the
package has since changed its layout (hyper-connections wrap every block, so the keys gained
``branch.``), so its current release cannot load those checkpoints. This is our own
implementation with that repository's module tree, so a state dict loads key for key:

    band_split.to_features.{band}.{0: RMSNorm, 1: Linear}
    layers.{depth}.{[linear,] time, freq}.layers.{i}.{0: attention, 1: feed-forward}
        attention: norm.gamma, to_qkv, to_gates, to_out.0, rotary_embed.freqs
        linear attention: norm.gamma, to_qkv.0, temperature, to_out.1
        feed-forward: net.{0: RMSNorm, 1: Linear, 4: Linear}
    layers.{depth}.{j}.norm.gamma                  (Mel-RoFormer: each transformer's output norm)
    final_norm.gamma                               (BS-RoFormer)
    mask_estimators.{stem}.to_freqs.{band}.0.{MLP: Linear, Tanh, ...}

Inference only: dropout and the training losses are left out. Shapes in comments: B batch,
S audio channels, N stems, F frequency bins (times S where channels are folded in), T frames,
K bands, D features, H heads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

BS, MEL = "bs_roformer", "mel_band_roformer"
# Keys of the YAML model section that only matter for training or for the attention kernel:
# accepted, and without effect here.
TRAINING_KEYS = frozenset({
    "attn_dropout", "ff_dropout", "flash_attn", "sage_attention", "use_torch_checkpoint",
    "multi_stft_resolution_loss_weight", "multi_stft_resolutions_window_sizes",
    "multi_stft_hop_size", "multi_stft_normalized", "match_input_audio_length"})


@dataclass(frozen=True)
class RoformerConfig:
    """The YAML ``model`` section (names as the training repository spells them)."""

    arch: str  # BS or MEL: told by freqs_per_bands (BS) or num_bands (MEL) in the config
    dim: int  # features per band token
    depth: int  # (time, freq) transformer pairs
    stereo: bool = False  # 2 input channels folded into the frequency axis
    num_stems: int = 1  # mask estimators
    time_transformer_depth: int = 2
    freq_transformer_depth: int = 2
    linear_transformer_depth: int = 0  # linear-attention layers before each pair
    freqs_per_bands: tuple[int, ...] = ()  # BS: STFT bins per band, low to high
    num_bands: int = 60  # MEL: mel bands (overlapping)
    sample_rate: int = 44100  # MEL: Hz, for the mel filter bank
    dim_head: int = 64
    heads: int = 8
    dim_freqs_in: int = 1025  # STFT bins (a check)
    stft_n_fft: int = 2048
    stft_hop_length: int = 512
    stft_win_length: int = 2048
    stft_normalized: bool = False
    zero_dc: bool = True  # the DC bin of the masked STFT is zeroed
    mask_estimator_depth: int = 2
    mlp_expansion_factor: int = 4  # mask estimator hidden size / dim
    skip_connection: bool = False  # each block adds all earlier blocks' outputs
    use_pope: bool = False  # PoPE positions instead of rotary ones: not supported here

    @property
    def channels(self) -> int:
        return 2 if self.stereo else 1


def rms_norm(dim: int) -> nn.Module:
    return _RMSNorm(dim)


class _RMSNorm(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.scale = dim ** 0.5
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=-1) * self.scale * self.gamma


class Rotary(nn.Module):
    """Rotary positions on interleaved feature pairs; ``freqs`` is a (frozen) parameter, so
    checkpoints carry it."""

    def __init__(self, dim_head: int, theta: float = 10000.0):
        super().__init__()
        freqs = 1.0 / theta ** (torch.arange(0, dim_head, 2)[:dim_head // 2].float() / dim_head)
        self.freqs = nn.Parameter(freqs, requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, H, T, D)
        angles = torch.arange(x.shape[-2], device=x.device, dtype=self.freqs.dtype)[:, None] \
            * self.freqs  # (T, D/2)
        angles = angles.repeat_interleave(2, dim=-1)
        pairs = x.float().unflatten(-1, (-1, 2))
        rotated = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
        return (x.float() * angles.cos() + rotated * angles.sin()).type(x.dtype)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int, rotary: Rotary | None):
        super().__init__()
        self.heads = heads
        self.norm = rms_norm(dim)
        self.to_qkv = nn.Linear(dim, 3 * heads * dim_head, bias=False)
        self.to_gates = nn.Linear(dim, heads)
        self.to_out = nn.Sequential(nn.Linear(heads * dim_head, dim, bias=False))
        self.rotary_embed = rotary

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, D)
        x = self.norm(x)
        q, k, v = self.to_qkv(x).unflatten(-1, (3, self.heads, -1)).permute(2, 0, 3, 1, 4)
        if self.rotary_embed is not None:
            q, k = self.rotary_embed(q), self.rotary_embed(k)
        out = F.scaled_dot_product_attention(q, k, v)  # (B, H, T, Dh)
        out = out * self.to_gates(x).transpose(1, 2)[..., None].sigmoid()
        return self.to_out(out.transpose(1, 2).flatten(-2))


class LinearAttention(nn.Module):
    """Cross-covariance attention (over features, not tokens; arXiv:2106.09681)."""

    def __init__(self, dim: int, heads: int, dim_head: int, scale: float = 8.0):
        super().__init__()
        self.heads, self.scale = heads, scale
        self.norm = rms_norm(dim)
        self.to_qkv = nn.Sequential(nn.Linear(dim, 3 * heads * dim_head, bias=False))
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.to_out = nn.Sequential(nn.Identity(), nn.Linear(heads * dim_head, dim, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, D)
        x = self.norm(x)
        q, k, v = self.to_qkv(x).unflatten(-1, (3, self.heads, -1)).permute(2, 0, 3, 4, 1)
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)  # (B, H, Dh, T)
        out = F.scaled_dot_product_attention(q * self.temperature.exp(), k, v, scale=self.scale)
        return self.to_out(out.permute(0, 3, 1, 2).flatten(-2))


class FeedForward(nn.Module):
    def __init__(self, dim: int, mult: int = 4):
        super().__init__()
        self.net = nn.Sequential(rms_norm(dim), nn.Linear(dim, dim * mult), nn.GELU(),
                                 nn.Identity(), nn.Linear(dim * mult, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Transformer(nn.Module):
    def __init__(self, cfg: RoformerConfig, depth: int, rotary: Rotary | None = None,
                 linear: bool = False):
        super().__init__()
        attention = (lambda: LinearAttention(cfg.dim, cfg.heads, cfg.dim_head)) if linear else (
            lambda: Attention(cfg.dim, cfg.heads, cfg.dim_head, rotary))
        self.layers = nn.ModuleList(nn.ModuleList([attention(), FeedForward(cfg.dim)])
                                    for _ in range(depth))
        self.norm = rms_norm(cfg.dim) if cfg.arch == MEL else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for attend, feed_forward in self.layers:
            x = attend(x) + x
            x = feed_forward(x) + x
        return self.norm(x)


class BandSplit(nn.Module):
    def __init__(self, dim: int, sizes: tuple[int, ...]):
        super().__init__()
        self.sizes = sizes
        self.to_features = nn.ModuleList(nn.Sequential(rms_norm(n), nn.Linear(n, dim))
                                         for n in sizes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, sum sizes) -> (B, T, K, D)
        return torch.stack([f(part) for f, part in zip(self.to_features,
                                                         x.split(self.sizes, dim=-1),
                                                         strict=True)], dim=-2)


def mask_mlp(dim: int, dim_out: int, hidden: int, n_hidden: int) -> nn.Sequential:
    """Linear layers with tanh between them, then a GLU halving ``2 * dim_out`` features."""
    dims = (dim, *(hidden,) * n_hidden, 2 * dim_out)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
        layers += [nn.Linear(a, b)] + ([nn.Tanh()] if i < len(dims) - 2 else [])
    return nn.Sequential(nn.Sequential(*layers), nn.GLU(dim=-1))


class MaskEstimator(nn.Module):
    def __init__(self, cfg: RoformerConfig, sizes: tuple[int, ...]):
        super().__init__()
        # The training repository's BS-RoFormer has depth - 1 hidden layers, its Mel-RoFormer
        # depth hidden layers, for the same mask_estimator_depth.
        n_hidden = cfg.mask_estimator_depth - (1 if cfg.arch == BS else 0)
        hidden = cfg.dim * cfg.mlp_expansion_factor
        self.to_freqs = nn.ModuleList(mask_mlp(cfg.dim, n, hidden, n_hidden) for n in sizes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, K, D) -> (B, T, sum sizes)
        return torch.cat([f(band) for f, band in zip(self.to_freqs, x.unbind(dim=-2),
                                                     strict=True)], dim=-1)


def mel_bands(cfg: RoformerConfig) -> torch.Tensor:
    """(K, F) bool: which STFT bins each mel band covers, as the training repository makes
    them (librosa's Slaney mel filters, the first and last bin forced in)."""
    from librosa import filters

    bank = torch.from_numpy(filters.mel(sr=cfg.sample_rate, n_fft=cfg.stft_n_fft,
                                        n_mels=cfg.num_bands))
    bank[0, 0] = 1.0
    bank[-1, -1] = 1.0
    return bank > 0


class Roformer(nn.Module):
    """Mixture (B, S, L) -> stems (B, N, S, L), by complex masks on the mixture's STFT."""

    def __init__(self, cfg: RoformerConfig):
        super().__init__()
        self.cfg = cfg
        n_bins = cfg.stft_n_fft // 2 + 1
        if cfg.arch == BS:
            per_band = cfg.freqs_per_bands
            self.freq_indices = None
        else:
            bands = mel_bands(cfg)  # (K, F)
            per_band = tuple(bands.sum(dim=1).tolist())
            index = torch.arange(n_bins).expand_as(bands)[bands]
            if cfg.stereo:  # bins are folded as (F S): bin f of channel s is 2f + s
                index = (index[:, None] * 2 + torch.arange(2)).flatten()
            self.register_buffer("freq_indices", index, persistent=False)
            self.register_buffer("bands_per_freq", bands.sum(dim=0), persistent=False)
        sizes = tuple(2 * n * cfg.channels for n in per_band)
        self.band_split = BandSplit(cfg.dim, sizes)
        time_rotary, freq_rotary = Rotary(cfg.dim_head), Rotary(cfg.dim_head)
        self.layers = nn.ModuleList()
        for _ in range(cfg.depth):
            block = [Transformer(cfg, cfg.linear_transformer_depth, linear=True)] if (
                cfg.linear_transformer_depth > 0) else []
            block += [Transformer(cfg, cfg.time_transformer_depth, time_rotary),
                      Transformer(cfg, cfg.freq_transformer_depth, freq_rotary)]
            self.layers.append(nn.ModuleList(block))
        if cfg.arch == BS:
            self.final_norm = rms_norm(cfg.dim)
        self.mask_estimators = nn.ModuleList(MaskEstimator(cfg, sizes)
                                             for _ in range(cfg.num_stems))
        self.register_buffer("window", torch.hann_window(cfg.stft_win_length), persistent=False)

    def _stft(self, audio: torch.Tensor) -> torch.Tensor:  # (B, S, L) -> (B, F*S, T) complex
        cfg = self.cfg
        spec = torch.stft(audio.flatten(0, 1), cfg.stft_n_fft, cfg.stft_hop_length,
                          cfg.stft_win_length, self.window, normalized=cfg.stft_normalized,
                          return_complex=True)
        spec = spec.unflatten(0, audio.shape[:2])  # (B, S, F, T)
        return spec.transpose(1, 2).flatten(1, 2)

    def _istft(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        cfg = self.cfg  # (B, N, F*S, T) -> (B, N, S, L)
        b, n = spec.shape[:2]
        spec = spec.unflatten(2, (-1, cfg.channels)).transpose(2, 3).flatten(0, 2)
        if cfg.zero_dc:
            spec = spec.index_fill(1, torch.tensor(0, device=spec.device), 0.0)
        audio = torch.istft(spec, cfg.stft_n_fft, cfg.stft_hop_length, cfg.stft_win_length,
                            self.window, normalized=cfg.stft_normalized, length=length)
        return audio.unflatten(0, (b, n, cfg.channels))

    def _blocks(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, K, D)
        done: list[torch.Tensor] = []
        for block in self.layers:
            *linear, time, freq = block
            if linear:
                x = linear[0](x.flatten(1, 2)).unflatten(1, x.shape[1:3])
            if self.cfg.skip_connection:
                for earlier in done:
                    x = x + earlier
            x = time(x.transpose(1, 2).flatten(0, 1)).unflatten(0, (x.shape[0], -1))
            x = freq(x.transpose(1, 2).flatten(0, 1)).unflatten(0, (x.shape[0], -1))
            done.append(x)
        return x

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        spec = self._stft(audio)  # (B, F*S, T)
        picked = spec if self.freq_indices is None else spec[:, self.freq_indices]
        x = torch.view_as_real(picked).permute(0, 2, 1, 3).flatten(2)  # (B, T, F'*2)
        x = self._blocks(self.band_split(x))
        if self.cfg.arch == BS:
            x = self.final_norm(x)
        masks = torch.stack([m(x) for m in self.mask_estimators], dim=1)  # (B, N, T, F'*2)
        masks = torch.view_as_complex(masks.unflatten(-1, (-1, 2)).transpose(2, 3).contiguous())
        if self.freq_indices is not None:
            masks = self._average_overlaps(masks, spec.shape[1])
        return self._istft(spec[:, None] * masks, audio.shape[-1])

    def _average_overlaps(self, masks: torch.Tensor, n_freqs: int) -> torch.Tensor:
        """Mel bands overlap: a bin's mask is the mean over the bands that cover it."""
        b, n, _, t = masks.shape
        index = self.freq_indices[None, None, :, None].expand(b, n, -1, t)
        summed = masks.new_zeros(b, n, n_freqs, t).scatter_add_(2, index, masks)
        count = self.bands_per_freq.repeat_interleave(self.cfg.channels)
        return summed / count.clamp(min=1e-8)[:, None]


def config_from_yaml(model: dict[str, Any]) -> RoformerConfig:
    """The YAML ``model`` section -> config; raises ValueError naming what does not fit."""
    if "freqs_per_bands" in model:
        arch = BS
    elif "num_bands" in model:
        arch = MEL
    else:
        raise ValueError("the config's model section has neither freqs_per_bands "
                         "(BS-RoFormer) nor num_bands (Mel-RoFormer)")
    known = set(RoformerConfig.__dataclass_fields__) - {"arch"}
    unknown = sorted(set(model) - known - TRAINING_KEYS)
    if unknown:
        raise ValueError(f"the config's model section has {', '.join(unknown)}, which this "
                         "RoFormer implementation does not know")
    values = {k: v for k, v in model.items() if k in known}
    if "freqs_per_bands" in values:
        values["freqs_per_bands"] = tuple(int(f) for f in values["freqs_per_bands"])
    if arch == MEL and "mask_estimator_depth" not in values:
        values["mask_estimator_depth"] = 1  # the training repository's Mel-RoFormer default
    cfg = RoformerConfig(arch=arch, **values)
    _check(cfg)
    return cfg


def _check(cfg: RoformerConfig) -> None:
    n_bins = cfg.stft_n_fft // 2 + 1
    if cfg.use_pope:
        raise ValueError("use_pope (PoPE positions) is not supported; only rotary positions")
    if cfg.dim_freqs_in != n_bins:
        raise ValueError(f"dim_freqs_in {cfg.dim_freqs_in} is not stft_n_fft // 2 + 1 = "
                         f"{n_bins}")
    if cfg.arch == BS and sum(cfg.freqs_per_bands) != n_bins:
        raise ValueError(f"freqs_per_bands add up to {sum(cfg.freqs_per_bands)}, but an STFT "
                         f"of {cfg.stft_n_fft} has {n_bins} bins")
