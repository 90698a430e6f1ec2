"""The decoder-only token language model of the separator (seeds/001, section 2.4).

LLaMA architecture (RMSNorm, rotary positions, SwiGLU, no biases), causal over the sequence
of ``layout.py``. Each code token carries a frame's 16 RVQ indices and all 16 are predicted at
one step: the input is the sum of per-level code embeddings, the output one classifier per
level. Why not a delay pattern (MusicGen): it would add 15 steps per track to the 2 S steps of
the paper's layout; predicting the levels jointly from one hidden state keeps the sequence the
paper's, at the cost of treating the levels of one frame as independent given the past (the
per-level loss weights [2, 1, ..., 1] make the coarse level count most, where that matters).

Code embeddings are factorised: a ``code_dim``-wide table per (stream, level), summed and
projected to the model width; the classifiers reuse those tables (weight tying) through a
projection of the hidden state to ``code_dim``. That keeps 2 x 16 x 1024 codes cheap.

``parallel=True`` is ablation A3: the four tracks are decoded side by side from the mixture
prefix with track-specific output projections, and no track sees another.

Generation follows gpt-fast: ``setup_cache`` preallocates keys and values for the whole
sequence, ``prefill`` runs the prefix once, ``decode_one_token`` extends it, and the cache is
kept across the four tracks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import RMSNorm, TransformerLayer, init_weights, rope_tables
from .layout import Layout


@dataclass(frozen=True)
class LMConfig:
    dim: int = 2048  # model width
    n_layers: int = 16
    n_heads: int = 16
    hidden: int = 5632  # SwiGLU width (about 8/3 x dim, as in LLaMA)
    dropout: float = 0.1
    n_levels: int = 16  # RVQ indices per token
    codebook_size: int = 1024
    code_dim: int = 128  # width of the factorised code tables
    n_tracks: int = 4
    parallel: bool = False  # ablation A3: independent tracks, track-specific heads
    first_level_weight: float = 2.0  # loss weights [2, 1, ..., 1]
    label_smoothing: float = 0.1

    def to_dict(self) -> dict:
        return asdict(self)


class KVCache:
    """Preallocated keys and values of one layer: (B, H, max_len, Dh) each."""

    def __init__(self, batch: int, n_heads: int, max_len: int, head_dim: int,
                 dtype: torch.dtype, device: torch.device):
        shape = (batch, n_heads, max_len, head_dim)
        self.k = torch.zeros(shape, dtype=dtype, device=device)
        self.v = torch.zeros(shape, dtype=dtype, device=device)

    def update(self, positions: torch.Tensor, k: torch.Tensor,
               v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write k, v (B, H, T, Dh) at ``positions`` (T,); return everything up to the last."""
        self.k[:, :, positions] = k.to(self.k.dtype)
        self.v[:, :, positions] = v.to(self.v.dtype)
        end = int(positions[-1]) + 1
        return self.k[:, :, :end], self.v[:, :, :end]


class TokenLM(nn.Module):
    def __init__(self, cfg: LMConfig):
        super().__init__()
        self.cfg = cfg
        k, levels = cfg.codebook_size, cfg.n_levels
        # tables[stream, level, code]: stream 0 acoustic, 1 semantic
        self.tables = nn.Parameter(torch.randn(2, levels, k, cfg.code_dim) * 0.02)
        self.code_in = nn.Linear(cfg.code_dim, cfg.dim, bias=False)
        self.mix_token = nn.Parameter(torch.zeros(cfg.dim))
        self.start_token = nn.Parameter(torch.zeros(cfg.dim))
        self.track_tokens = nn.Parameter(torch.zeros(cfg.n_tracks, cfg.dim))  # parallel only
        self.layers = nn.ModuleList([TransformerLayer(cfg.dim, cfg.n_heads, cfg.hidden,
                                                      cfg.dropout)
                                     for _ in range(cfg.n_layers)])
        self.norm = RMSNorm(cfg.dim)
        n_heads = cfg.n_tracks if cfg.parallel else 1
        self.code_out = nn.ModuleList([nn.Linear(cfg.dim, cfg.code_dim, bias=False)
                                       for _ in range(n_heads)])
        self.bias = nn.Parameter(torch.zeros(n_heads, 2, levels, k))
        self.end = nn.Parameter(torch.zeros(cfg.dim))  # the end token's logit direction
        self.head_dim = cfg.dim // cfg.n_heads
        weights = torch.ones(levels)
        weights[0] = cfg.first_level_weight
        self.register_buffer("level_weights", weights / weights.sum(), persistent=False)
        init_weights(self)

    # --- embedding ----------------------------------------------------------------------

    def embed_codes(self, codes: torch.Tensor, stream: torch.Tensor) -> torch.Tensor:
        """Codes (..., L) of streams (...) -> (..., dim): the sum of the levels' embeddings."""
        levels = torch.arange(self.cfg.n_levels, device=codes.device)
        vectors = self.tables[stream[..., None], levels, codes]  # (..., L, code_dim)
        return self.code_in(vectors.sum(-2))

    def embed_prefix(self, prefix: torch.Tensor) -> torch.Tensor:
        """(B, S, dim) mixture frames -> (B, 1 + S, dim) with the <mix> token first."""
        mix = self.mix_token.to(prefix.dtype).expand(prefix.shape[0], 1, -1)
        return torch.cat([mix, prefix], 1)

    def embed_sequence(self, prefix: torch.Tensor, tracks: torch.Tensor,
                       layout: Layout) -> torch.Tensor:
        """Training input (sequential layout): (B, S, dim), (B, T, 2S, L) -> (B, len, dim)."""
        b = tracks.shape[0]
        stream = (torch.arange(2 * layout.n_frames, device=tracks.device) % 2)
        codes = self.embed_codes(tracks, stream.expand(b, layout.n_tracks, -1))  # (B,T,2S,D)
        start = self.start_token.to(codes.dtype).expand(b, layout.n_tracks, 1, -1)
        body = torch.cat([start, codes], 2).flatten(1, 2)  # (B, T * (2S + 1), D)
        return torch.cat([self.embed_prefix(prefix.to(codes.dtype)), body], 1)

    # --- transformer ----------------------------------------------------------------------

    def _run(self, x: torch.Tensor, start: int = 0, caches: list[KVCache] | None = None,
             causal: bool = True) -> torch.Tensor:
        n = x.shape[1]
        cos, sin = rope_tables(start + n, self.head_dim, device=x.device)
        cos, sin = cos[start:], sin[start:]
        positions = torch.arange(start, start + n, device=x.device) if caches else None
        for i, layer in enumerate(self.layers):
            x = layer(x, cos, sin, causal=causal, cache=caches[i] if caches else None,
                      positions=positions)
        return self.norm(x)

    def logits(self, hidden: torch.Tensor, stream: torch.Tensor,
               track: torch.Tensor | None = None) -> torch.Tensor:
        """Hidden (N, dim) at positions whose next token is of ``stream`` (N,) -> logits
        (N, L, K) (``track`` (N,) picks the head of the parallel variant)."""
        if self.cfg.parallel:
            proj = torch.stack([head(hidden) for head in self.code_out], 1)  # (N, T, C)
            proj = proj[torch.arange(len(hidden), device=hidden.device), track]
            head = track
        else:
            proj = self.code_out[0](hidden)
            head = torch.zeros_like(stream)
        out = torch.empty(len(hidden), self.cfg.n_levels, self.cfg.codebook_size,
                          device=hidden.device)
        for s in (0, 1):  # one matmul per stream against its shared tables
            rows = (stream == s).nonzero()[:, 0]
            if len(rows):
                out[rows] = (torch.einsum("nc,lkc->nlk", proj[rows].float(),
                                          self.tables[s].float())
                             + self.bias[head[rows], s])
        return out

    # --- training -------------------------------------------------------------------------

    def loss(self, prefix: torch.Tensor, tracks: torch.Tensor) -> dict[str, torch.Tensor]:
        """Teacher-forced loss. prefix (B, S, dim) from the conditioner, tracks (B, T, 2S, L).

        Returns the weighted cross-entropy (label smoothing 0.1, level weights [2, 1, ...]),
        and per-level accuracy of the codes for logging.
        """
        b, t, n, levels = tracks.shape
        layout = Layout(n // 2, t)
        if self.cfg.parallel:
            return self._parallel_loss(prefix, tracks, layout)
        hidden = self._run(self.embed_sequence(prefix, tracks, layout))
        # Track k's predictions sit at its start token and its codes: positions start..start+2S
        starts = [layout.track_start(k) for k in range(t)]
        index = torch.cat([torch.arange(s, s + n + 1) for s in starts]).to(tracks.device)
        h = hidden[:, index].reshape(b, t, n + 1, -1)
        return self._score(h, tracks, torch.zeros(b, t, dtype=torch.long, device=h.device))

    def _parallel_loss(self, prefix: torch.Tensor, tracks: torch.Tensor,
                       layout: Layout) -> dict[str, torch.Tensor]:
        b, t, n, _ = tracks.shape
        stream = (torch.arange(n, device=tracks.device) % 2).expand(b, n)
        hs = []
        for k in range(t):  # each track alone after the prefix: no cross-track context
            start = (self.start_token + self.track_tokens[k]).expand(b, 1, -1)
            x = torch.cat([self.embed_prefix(prefix), start.to(prefix.dtype),
                           self.embed_codes(tracks[:, k], stream).to(prefix.dtype)], 1)
            hs.append(self._run(x)[:, layout.prefix:])  # (B, 2S + 1, D)
        track = torch.arange(t, device=tracks.device).expand(b, t)
        return self._score(torch.stack(hs, 1), tracks, track)

    def _score(self, h: torch.Tensor, tracks: torch.Tensor,
               track: torch.Tensor) -> dict[str, torch.Tensor]:
        """h (B, T, 2S + 1, D): predictions of codes 0..2S-1 and then the end token."""
        b, t, n, levels = tracks.shape
        code_h = h[:, :, :n].reshape(-1, h.shape[-1])
        stream = (torch.arange(n, device=h.device) % 2).repeat(b * t)
        tk = track[:, :, None].expand(b, t, n).reshape(-1)
        logits = self.logits(code_h, stream, tk)  # (B*T*2S, L, K)
        target = tracks.reshape(-1, levels)
        ce = F.cross_entropy(logits.transpose(1, 2), target, reduction="none",
                             label_smoothing=self.cfg.label_smoothing)  # (N, L)
        code_loss = (ce.mean(0) * self.level_weights).sum()
        # The end token: one logit, against the code logits of level 0, at the last step.
        end_h = h[:, :, n].reshape(-1, h.shape[-1])
        first_stream = torch.zeros(len(end_h), dtype=torch.long, device=h.device)
        end_logits = torch.cat([self.logits(end_h, first_stream, track.reshape(-1))[:, 0],
                                (end_h.float() @ self.end.float())[:, None]], 1)
        end_target = torch.full((len(end_h),), self.cfg.codebook_size, device=h.device)
        end_loss = F.cross_entropy(end_logits, end_target,
                                   label_smoothing=self.cfg.label_smoothing)
        accuracy = (logits.argmax(-1) == target).float().mean(0)
        return {"loss": code_loss + end_loss / (2 * n), "code_loss": code_loss,
                "end_loss": end_loss, "accuracy": accuracy}

    # --- generation ---------------------------------------------------------------------

    def setup_cache(self, batch: int, max_len: int, dtype: torch.dtype,
                    device: torch.device) -> list[KVCache]:
        return [KVCache(batch, self.cfg.n_heads, max_len, self.head_dim, dtype, device)
                for _ in self.layers]

    def prefill(self, x: torch.Tensor, caches: list[KVCache]) -> torch.Tensor:
        return self._run(x, 0, caches, causal=True)

    def decode_one_token(self, x: torch.Tensor, position: int,
                         caches: list[KVCache]) -> torch.Tensor:
        """x (B, 1, D) at ``position`` -> hidden (B, D)."""
        return self._run(x, position, caches, causal=False)[:, 0]

    def sample(self, logits: torch.Tensor, temperature: float, top_k: int,
               generator: torch.Generator | None) -> torch.Tensor:
        """(B, L, K) -> codes (B, L): greedy when temperature is 0."""
        if temperature <= 0:
            return logits.argmax(-1)
        logits = logits / temperature
        if top_k:
            kth = logits.topk(top_k, dim=-1).values[..., -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        probs = logits.softmax(-1).reshape(-1, logits.shape[-1])
        return torch.multinomial(probs, 1, generator=generator).view(logits.shape[:-1])

    @torch.no_grad()
    def generate(self, prefix: torch.Tensor, temperature: float = 0.0, top_k: int = 0,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Prefix (B, S, dim) -> track tokens (B, T, 2S, L), all windows in one batch."""
        if self.cfg.parallel:
            return self._generate_parallel(prefix, temperature, top_k, generator)
        b, s, _ = prefix.shape
        t, levels = self.cfg.n_tracks, self.cfg.n_levels
        layout = Layout(s, t)
        caches = self.setup_cache(b, layout.length, prefix.dtype, prefix.device)
        self.prefill(self.embed_prefix(prefix), caches)
        out = torch.zeros(b, t, 2 * s, levels, dtype=torch.long, device=prefix.device)
        position = layout.prefix
        start = self.start_token.to(prefix.dtype).expand(b, 1, -1)
        zero = torch.zeros(b, dtype=torch.long, device=prefix.device)
        for k in range(t):
            x = start
            for j in range(2 * s):
                h = self.decode_one_token(x, position, caches)
                position += 1
                stream = zero + j % 2
                codes = self.sample(self.logits(h, stream, zero), temperature, top_k, generator)
                out[:, k, j] = codes
                x = self.embed_codes(codes, stream)[:, None].to(prefix.dtype)
            if k < t - 1:  # the last code goes into the cache before the next start token
                self.decode_one_token(x, position, caches)
                position += 1
        return out

    def _generate_parallel(self, prefix: torch.Tensor, temperature: float, top_k: int,
                           generator: torch.Generator | None) -> torch.Tensor:
        b, s, _ = prefix.shape
        t, levels = self.cfg.n_tracks, self.cfg.n_levels
        wide = prefix.repeat_interleave(t, 0)  # (B*T, S, D): row b*T + k is track k
        track = torch.arange(t, device=prefix.device).repeat(b)
        caches = self.setup_cache(b * t, 1 + s + 1 + 2 * s, prefix.dtype, prefix.device)
        self.prefill(self.embed_prefix(wide), caches)
        x = (self.start_token + self.track_tokens[track])[:, None].to(prefix.dtype)
        out = torch.zeros(b * t, 2 * s, levels, dtype=torch.long, device=prefix.device)
        position = 1 + s
        for j in range(2 * s):
            h = self.decode_one_token(x, position, caches)
            position += 1
            stream = torch.full_like(track, j % 2)
            codes = self.sample(self.logits(h, stream, track), temperature, top_k, generator)
            out[:, j] = codes
            x = self.embed_codes(codes, stream)[:, None].to(prefix.dtype)
        return out.view(b, t, 2 * s, levels)
