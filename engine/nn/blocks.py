"""Building blocks shared by the codec, the teacher, the conformer and the language model.

Tensors in, tensors out; no training code. Shapes use B batch, T time steps, D channels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class RMSNorm(nn.Module):
    """Root-mean-square layer norm (LLaMA): no mean subtraction, no bias."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norm = torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + self.eps)
        return (x.float() * norm).type_as(x) * self.weight


def rope_tables(n_positions: int, head_dim: int, base: float = 10000.0,
                device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(cos, sin) of shape (T, head_dim / 2) for rotary position embeddings."""
    inv = 1.0 / base ** (torch.arange(0, head_dim, 2, device=device).float() / head_dim)
    angles = torch.arange(n_positions, device=device).float()[:, None] * inv[None]
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs of channels of x (B, H, T, Dh) by position-dependent angles."""
    x1, x2 = x[..., 0::2].float(), x[..., 1::2].float()
    out = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)
    return out.flatten(-2).type_as(x)


def _causal_visible(t: int, s: int, device: torch.device) -> torch.Tensor:
    """(t, s) boolean: query i, the (s - t + i)-th of s positions, sees keys up to itself."""
    return torch.ones(t, s, dtype=torch.bool, device=device).tril(s - t)


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False,
           mask: torch.Tensor | None = None, dropout: float = 0.0) -> torch.Tensor:
    """softmax(q k^T / sqrt(Dh)) v for (B, H, T, Dh) queries and (B, H, S, Dh) keys/values.

    On a CPU this is written out as two matrix products: PyTorch's fused CPU kernel
    (``scaled_dot_product_attention``) ran the backward pass of the short sequences these
    models use about twice as slowly (measured in bf16 training of the token LM and the
    band-split model); elsewhere the fused kernel is used. A causal mask lets query i (the
    last T of S positions) see keys up to S - T + i; ``mask`` is boolean (True: may attend)
    or added to the scores."""
    t, s = q.shape[-2], k.shape[-2]
    if q.device.type != "cpu":
        if causal and (mask is not None or t != s):  # the fused kernel aligns top-left
            mask = _causal_visible(t, s, q.device) if mask is None else mask
            causal = False  # a given mask already says what each query sees
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout,
                                              is_causal=causal)
    scores = (q @ k.transpose(-1, -2)) * (q.shape[-1] ** -0.5)
    if causal:
        scores = scores.masked_fill(~_causal_visible(t, s, q.device), float("-inf"))
    if mask is not None:
        scores = (scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool
                  else scores + mask)
    weights = scores.softmax(-1)
    if dropout:
        weights = F.dropout(weights, dropout)
    return weights @ v


class Attention(nn.Module):
    """Multi-head self-attention with rotary positions; optionally causal, with a KV cache."""

    def __init__(self, dim: int, n_heads: int, dropout: float = 0.0):
        super().__init__()
        assert dim % n_heads == 0
        self.n_heads, self.head_dim = n_heads, dim // n_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.out = nn.Linear(dim, dim, bias=False)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                causal: bool = False, mask: torch.Tensor | None = None,
                cache=None, positions: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, T, D); cos/sin (T, Dh/2) for these positions. With ``cache`` (a KVCache),
        keys and values are written at ``positions`` and attention reads the cache."""
        b, t, _ = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if cache is not None:
            k, v = cache.update(positions, k, v)
        drop = self.dropout if self.training else 0.0
        y = attend(q, k, v, causal, mask, drop)
        return self.out(y.transpose(1, 2).reshape(b, t, -1))


class SwiGLU(nn.Module):
    """LLaMA's gated feed-forward: W2(silu(W1 x) * W3 x)."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w3 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(self.drop(F.silu(self.w1(x)) * self.w3(x)))


class TransformerLayer(nn.Module):
    """Pre-norm layer: RMSNorm -> attention -> RMSNorm -> SwiGLU, with residuals."""

    def __init__(self, dim: int, n_heads: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.norm1 = RMSNorm(dim)
        self.attn = Attention(dim, n_heads, dropout)
        self.norm2 = RMSNorm(dim)
        self.ffn = SwiGLU(dim, hidden, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                causal: bool = False, mask: torch.Tensor | None = None, cache=None,
                positions: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.drop(self.attn(self.norm1(x), cos, sin, causal, mask, cache, positions))
        return x + self.drop(self.ffn(self.norm2(x)))


class ConvNeXtBlock(nn.Module):
    """ConvNeXt on sequences (as in Vocos): depthwise conv, norm, pointwise MLP, layer scale.
    (B, D, T) -> (B, D, T)."""

    def __init__(self, dim: int, kernel_size: int = 7, expansion: int = 4,
                 layer_scale: float = 1e-2):
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim)
        self.pw1 = nn.Linear(dim, expansion * dim)
        self.pw2 = nn.Linear(expansion * dim, dim)
        self.gamma = nn.Parameter(layer_scale * torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x).transpose(1, 2)
        y = self.pw2(F.gelu(self.pw1(self.norm(y))))
        return x + (self.gamma * y).transpose(1, 2)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def init_weights(module: nn.Module) -> None:
    """Small normal init for linear layers (GPT-2 style), zero biases."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Conv1d):
            nn.init.kaiming_normal_(m.weight, a=math.sqrt(5))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
