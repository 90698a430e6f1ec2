"""Residual vector quantization with EMA codebooks (SoundStream / EnCodec style).

Each level quantizes what the levels before it left over. Codebooks are not trained by
gradients but follow exponential moving averages of the vectors assigned to them; they start
from k-means on the first ``INIT_FACTOR * size`` vectors seen in training (until then a level
outputs zeros, and the levels after it wait, so each level's k-means sees the real residuals
of the levels before it), and a code that falls out of use (its EMA count below
``dead_threshold``) is restarted on a random vector of the current batch, so codebooks do not
collapse. Gradients reach the encoder through the straight-through estimator (van den Oord et
al. 2017) plus a commitment loss. ``usage()`` reports per-level perplexity and the fraction of
codes used, so collapse is visible in the training log.

Vectors are projected to a small code dimension first (``code_dim``), which keeps 16 x 1024
codebooks small and their search cheap.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

INIT_FACTOR = 8  # vectors per code for the k-means start: with 2, most clusters hold 2 points


def _all_reduce(x: torch.Tensor) -> torch.Tensor:
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(x)
    return x


def kmeans(x: torch.Tensor, k: int, iters: int = 10) -> torch.Tensor:
    """(N, D) -> (k, D) centroids; empty clusters are reseeded from random points."""
    n = x.shape[0]
    centroids = x[torch.randint(0, n, (k,), device=x.device)].clone()
    for _ in range(iters):
        assign = torch.cdist(x, centroids).argmin(1)
        sums = torch.zeros_like(centroids).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=k).float()
        empty = counts == 0
        centroids = torch.where(empty[:, None], x[torch.randint(0, n, (k,), device=x.device)],
                                sums / counts.clamp(min=1)[:, None])
    return centroids


class VectorQuantizer(nn.Module):
    """One EMA codebook: (N, D) vectors -> nearest codes."""

    def __init__(self, size: int, dim: int, decay: float = 0.99, dead_threshold: float = 0.5):
        super().__init__()
        self.size, self.decay, self.dead_threshold = size, decay, dead_threshold
        self.register_buffer("codebook", torch.zeros(size, dim))
        self.register_buffer("ema_count", torch.ones(size))
        self.register_buffer("ema_sum", torch.zeros(size, dim))
        self.register_buffer("initialized", torch.tensor(False))
        self.register_buffer("hits", torch.zeros(size))  # since the last usage() call
        self._seen: list[torch.Tensor] = []  # vectors collected for the k-means start
        self._ready = False

    def nearest(self, x: torch.Tensor) -> torch.Tensor:
        dist2 = (x.pow(2).sum(1, keepdim=True) - 2 * x @ self.codebook.t()
                 + self.codebook.pow(2).sum(1)[None])
        return dist2.argmin(1)

    @torch.no_grad()
    def _init(self, x: torch.Tensor) -> None:
        centroids = kmeans(x, self.size)
        if dist.is_available() and dist.is_initialized():
            dist.broadcast(centroids, 0)
        self.codebook.copy_(centroids)
        self.ema_sum.copy_(centroids)
        self.ema_count.fill_(1.0)
        self.initialized.fill_(True)

    @torch.no_grad()
    def _update(self, x: torch.Tensor, idx: torch.Tensor) -> None:
        counts = _all_reduce(torch.bincount(idx, minlength=self.size).float())
        sums = _all_reduce(torch.zeros_like(self.ema_sum).index_add_(0, idx, x))
        self.ema_count.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.ema_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        total = self.ema_count.sum()
        smoothed = (self.ema_count + 1e-5) / (total + self.size * 1e-5) * total  # Laplace
        self.codebook.copy_(self.ema_sum / smoothed[:, None])
        # Restart dead codes on random current vectors, written with where() rather than an
        # `if dead.any()`, which would stall a GPU once per level and step.
        dead = (self.ema_count < self.dead_threshold)[:, None]
        fresh = x[torch.randint(0, x.shape[0], (self.size,), device=x.device)]
        if dist.is_available() and dist.is_initialized():
            fresh = fresh.contiguous()
            dist.broadcast(fresh, 0)
        self.codebook.copy_(torch.where(dead, fresh, self.codebook))
        self.ema_sum.copy_(torch.where(dead, fresh, self.ema_sum))
        self.ema_count.copy_(torch.where(dead[:, 0], 1.0, self.ema_count))

    def ready(self) -> bool:
        """Whether the codebook has had its k-means start (asked of the buffer only until it
        has: reading a GPU tensor's value waits for the GPU)."""
        if not self._ready:
            self._ready = bool(self.initialized)
        return self._ready

    def forward(self, x: torch.Tensor, collect: bool = True
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(N, D) -> (straight-through quantized (N, D), codes (N,), commitment loss).

        Before its k-means start (training only) a level returns zeros; it collects ``x`` for
        that start when ``collect`` is set."""
        x32 = x.float()
        if self.training and not self.ready():
            if collect:
                self._seen.append(x32.detach())
            if sum(v.shape[0] for v in self._seen) < INIT_FACTOR * self.size:
                zero = torch.zeros((), device=x.device)
                return (torch.zeros_like(x32),
                        torch.zeros(x.shape[0], dtype=torch.long, device=x.device), zero)
            self._init(torch.cat(self._seen))
            self._seen = []
        idx = self.nearest(x32.detach())
        quantized = self.codebook[idx]
        if self.training:
            self._update(x32.detach(), idx)
            self.hits += torch.bincount(idx, minlength=self.size).float()
        commit = F.mse_loss(x32, quantized.detach())
        return x32 + (quantized - x32).detach(), idx, commit

    def usage(self) -> tuple[float, float]:
        """(perplexity, fraction of codes used) since the last call; then resets."""
        total = self.hits.sum()
        if total == 0:
            return 0.0, 0.0
        p = self.hits / total
        entropy = -(p[p > 0] * p[p > 0].log()).sum()
        used = float((self.hits > 0).float().mean())
        self.hits.zero_()
        return float(entropy.exp()), used


class RVQOutput(NamedTuple):
    quantized: torch.Tensor  # (B, T, D)
    codes: torch.Tensor  # (B, L, T) int64
    commit: torch.Tensor  # scalar, mean over the levels used


class ResidualVQ(nn.Module):
    def __init__(self, dim: int, n_levels: int, codebook_size: int, code_dim: int,
                 decay: float = 0.99):
        super().__init__()
        self.n_levels = n_levels
        self.proj_in = nn.Linear(dim, code_dim)
        self.proj_out = nn.Linear(code_dim, dim)
        self.levels = nn.ModuleList([VectorQuantizer(codebook_size, code_dim, decay)
                                     for _ in range(n_levels)])

    def forward(self, z: torch.Tensor, n_levels: int | None = None) -> RVQOutput:
        """Quantize (B, T, D) with the first ``n_levels`` levels (all by default)."""
        n_levels = n_levels or self.n_levels
        b, t, _ = z.shape
        residual = self.proj_in(z).reshape(b * t, -1).float()
        total = torch.zeros_like(residual)
        codes, commits = [], []
        ready = True  # every level so far has its codebook
        for level in self.levels[:n_levels]:
            q, idx, commit = level(residual, collect=ready)
            ready = ready and level.ready()
            residual = residual - q.detach()
            total = total + q
            codes.append(idx.view(b, t))
            commits.append(commit)
        quantized = self.proj_out(total.view(b, t, -1).type_as(z))
        return RVQOutput(quantized, torch.stack(codes, 1), torch.stack(commits).mean())

    @torch.no_grad()
    def encode(self, z: torch.Tensor, n_levels: int | None = None) -> torch.Tensor:
        """(B, T, D) -> codes (B, L, T)."""
        n_levels = n_levels or self.n_levels
        b, t, _ = z.shape
        residual = self.proj_in(z).reshape(b * t, -1).float()
        codes = []
        for level in self.levels[:n_levels]:
            idx = level.nearest(residual)
            residual = residual - level.codebook[idx]
            codes.append(idx.view(b, t))
        return torch.stack(codes, 1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (B, L, T) (any L <= n_levels) -> (B, T, D). One gather from the stacked
        codebooks, so an exported graph takes any number of levels."""
        books = torch.stack([level.codebook for level in self.levels])  # (L_max, K, D)
        n_levels = codes.shape[1]
        level_index = torch.arange(n_levels, device=codes.device).view(1, n_levels, 1)
        vectors = books[level_index, codes]  # (B, L, T, D)
        return self.proj_out(vectors.sum(1))

    def usage(self) -> list[tuple[float, float]]:
        return [level.usage() for level in self.levels]
