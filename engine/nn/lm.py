"""The decoder-only token language model of the separator (Lyu et al., arXiv:2604.09371,
section 2.4).

LLaMA architecture (RMSNorm, rotary positions, SwiGLU, no biases), causal over the sequence
of ``layout.py``. Each code token carries a frame's 16 RVQ indices and all 16 are predicted at
one step: the input is the sum of per-level code embeddings, the output one classifier per
level. Why not a delay pattern (MusicGen): it would add 15 steps per track to the 2 S steps of
the paper's layout; predicting the levels jointly from one hidden state keeps the sequence the
paper's, at the cost of treating the levels of one frame as independent given the past (the
per-level loss weights [2, 1, ..., 1] make the coarse level count most, where that matters).

Code embeddings are factorised: a ``code_dim``-wide table per (stream, level), summed and
projected to the model width; the classifiers reuse those tables (weight tying): the hidden
state is projected to one ``code_dim`` query per level, scored against that level's table.
That keeps 2 x 16 x 1024 codes cheap.

``aligned_prefix`` (beyond the paper, on in the ``small`` preset): every input position also
receives a projection of the mixture frame whose token it predicts. The sequence stays the
paper's; the change spares a small model from learning, by counting positions, which prefix
frame belongs to which output frame (the distance grows by one frame per frame), which the
paper's model learns from 23,000 hours and we cannot.

``parallel=True`` is ablation A3: the four tracks are decoded side by side from the mixture
prefix with track-specific output projections, and no track sees another.

Generation follows gpt-fast: ``setup_cache`` preallocates keys and values for the whole
sequence, ``prefill`` runs the prefix once, ``decode_one_token`` extends it, and the cache is
kept across the four tracks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import RMSNorm, TransformerLayer, init_weights, rope_tables
from .layout import Layout

OnStep = Callable[[], None]  # called before each decode step: progress, or a cancel (raises)


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
    level_decay: float = 1.0  # and, below 1, level l weighted by level_decay**l on top
    #   (the coarse levels carry a stem's spectral envelope, what refinement needs)
    label_smoothing: float = 0.1
    aligned_prefix: bool = False  # add each output frame's mixture frame to its input

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
        self.align = nn.Linear(cfg.dim, cfg.dim, bias=False) if cfg.aligned_prefix else None
        self.layers = nn.ModuleList([TransformerLayer(cfg.dim, cfg.n_heads, cfg.hidden,
                                                      cfg.dropout)
                                     for _ in range(cfg.n_layers)])
        self.norm = RMSNorm(cfg.dim)
        n_heads = cfg.n_tracks if cfg.parallel else 1
        self.code_out = nn.ModuleList([nn.Linear(cfg.dim, levels * cfg.code_dim, bias=False)
                                       for _ in range(n_heads)])
        self.bias = nn.Parameter(torch.zeros(n_heads, 2, levels, k))
        self.end = nn.Parameter(torch.zeros(cfg.dim))  # the end token's logit direction
        self.head_dim = cfg.dim // cfg.n_heads
        weights = cfg.level_decay ** torch.arange(levels, dtype=torch.float32)
        weights[0] = cfg.first_level_weight
        self.register_buffer("level_weights", weights / weights.sum(), persistent=False)
        init_weights(self)

    # --- embedding ----------------------------------------------------------------------

    def embed_codes(self, codes: torch.Tensor, stream: int | torch.Tensor) -> torch.Tensor:
        """Codes (..., L) of one stream, or of streams (...) -> (..., dim): the sum of the
        levels' embeddings."""
        levels = torch.arange(self.cfg.n_levels, device=codes.device)
        if isinstance(stream, int):
            vectors = self.tables[stream][levels, codes]  # (..., L, code_dim)
        else:
            vectors = self.tables[stream[..., None], levels, codes]
        return self.code_in(vectors.sum(-2))

    def embed_prefix(self, prefix: torch.Tensor) -> torch.Tensor:
        """(B, S, dim) mixture frames -> (B, 1 + S, dim) with the <mix> token first."""
        mix = self.mix_token.to(prefix.dtype).expand(prefix.shape[0], 1, -1)
        return torch.cat([mix, prefix], 1)

    def conditioning(self, prefix: torch.Tensor) -> torch.Tensor | None:
        """What ``aligned_prefix`` adds to a track's 2S + 1 inputs: input i (the start token,
        then code i - 1) predicts token i, of frame i // 2, and gets that mixture frame; the
        last input predicts the end token and gets nothing. (B, 2S + 1, dim), or None."""
        if self.align is None:
            return None
        frames = F.pad(self.align(prefix), (0, 0, 0, 1))  # (B, S + 1, D), a zero frame last
        index = torch.arange(2 * prefix.shape[1] + 1, device=prefix.device) // 2
        return frames[:, index]

    def embed_track(self, prefix: torch.Tensor, codes: torch.Tensor,
                    start: torch.Tensor) -> torch.Tensor:
        """One track's inputs: start (D,), codes (B, 2S, L) -> (B, 2S + 1, D)."""
        b, n = codes.shape[:2]
        stream = torch.arange(n, device=codes.device) % 2
        body = torch.cat([start.to(prefix.dtype).expand(b, 1, -1),
                          self.embed_codes(codes, stream.expand(b, n)).to(prefix.dtype)], 1)
        cond = self.conditioning(prefix)
        return body if cond is None else body + cond

    def embed_sequence(self, prefix: torch.Tensor, tracks: torch.Tensor,
                       layout: Layout) -> torch.Tensor:
        """Training input (sequential layout): (B, S, dim), (B, T, 2S, L) -> (B, len, dim)."""
        body = [self.embed_track(prefix, tracks[:, k], self.start_token)
                for k in range(layout.n_tracks)]
        return torch.cat([self.embed_prefix(prefix)] + body, 1)

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

    def level_logits(self, hidden: torch.Tensor, stream: int, head: int = 0) -> torch.Tensor:
        """Hidden (N, dim) at positions whose next token is of ``stream`` -> logits (L, N, K),
        contiguous per level (one batched product against the level's table). ``head`` picks
        the track's output projection in the parallel variant."""
        query = self.code_out[head](hidden).view(len(hidden), self.cfg.n_levels, -1)
        scores = torch.bmm(query.float().transpose(0, 1),
                           self.tables[stream].float().transpose(1, 2))
        return scores + self.bias[head, stream][:, None]

    def logits(self, hidden: torch.Tensor, stream: int, head: int = 0) -> torch.Tensor:
        """(N, dim) -> logits (N, L, K) (a view of ``level_logits``)."""
        return self.level_logits(hidden, stream, head).transpose(0, 1)

    # --- training -------------------------------------------------------------------------

    def hidden_states(self, prefix: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: prefix (B, S, dim), input tracks (B, T, 2S, L) -> the hidden
        states that predict each track's codes and then its end token, (B, T, 2S + 1, D)."""
        t, n = inputs.shape[1], inputs.shape[2]
        layout = Layout(n // 2, t)
        if self.cfg.parallel:
            hs = []
            for k in range(t):  # each track alone after the prefix: no cross-track context
                start = self.start_token + self.track_tokens[k]
                x = torch.cat([self.embed_prefix(prefix),
                               self.embed_track(prefix, inputs[:, k], start)], 1)
                hs.append(self._run(x)[:, layout.prefix:])
            return torch.stack(hs, 1)
        hidden = self._run(self.embed_sequence(prefix, inputs, layout))
        # Track k's predictions sit at its start token and its codes: positions start..start+2S
        return torch.stack([hidden[:, layout.track_start(k):layout.track_start(k) + n + 1]
                            for k in range(t)], 1)

    def loss(self, prefix: torch.Tensor, tracks: torch.Tensor,
             inputs: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Loss of predicting ``tracks`` (B, T, 2S, L) from the prefix (B, S, dim) of the
        conditioner. ``inputs`` are the codes fed in (default ``tracks``: teacher forcing);
        scheduled sampling feeds the model's own predictions at some positions instead.

        Returns the weighted cross-entropy (label smoothing, level weights), and per-level
        accuracy of the codes for logging.
        """
        h = self.hidden_states(prefix, tracks if inputs is None else inputs)
        return self._score(h, tracks)

    @torch.no_grad()
    def predict(self, prefix: torch.Tensor, tracks: torch.Tensor) -> torch.Tensor:
        """The codes greedy decoding would choose at every position given the true history
        (teacher forcing): (B, T, 2S, L). One pass, no cache."""
        h = self.hidden_states(prefix, tracks)
        out = torch.empty_like(tracks)
        b, t, n, _ = tracks.shape
        for k in range(t):
            head = k if self.cfg.parallel else 0
            for stream in (0, 1):
                rows = h[:, k, stream:n:2].reshape(-1, h.shape[-1])
                codes = self.level_logits(rows, stream, head).argmax(-1)  # (L, B * S)
                out[:, k, stream::2] = codes.t().reshape(b, -1, codes.shape[0])
        return out

    def _score(self, h: torch.Tensor, tracks: torch.Tensor) -> dict[str, torch.Tensor]:
        """h (B, T, 2S + 1, D): predictions of codes 0..2S-1 and then the end token."""
        b, t, n, levels = tracks.shape
        ce_sum = torch.zeros(levels, device=h.device)
        hits = torch.zeros(levels, device=h.device)
        end_loss = torch.zeros((), device=h.device)
        for k in range(t):
            head = k if self.cfg.parallel else 0
            for stream in (0, 1):  # even steps predict acoustic codes, odd steps semantic
                logits = self.level_logits(h[:, k, stream:n:2].reshape(-1, h.shape[-1]),
                                            stream, head)  # (L, N, K), classes contiguous
                target = tracks[:, k, stream::2].reshape(-1, levels).t()  # (L, N)
                ce = F.cross_entropy(logits.view(-1, logits.shape[-1]), target.reshape(-1),
                                     reduction="none", label_smoothing=self.cfg.label_smoothing)
                ce_sum = ce_sum + ce.view(levels, -1).sum(1)
                with torch.no_grad():
                    hits = hits + (logits.argmax(-1) == target).float().sum(1)
            # The end token: one logit, against the code logits of level 0, at the last step.
            end_h = h[:, k, n]
            end_logits = torch.cat([self.logits(end_h, 0, head)[:, 0],
                                    (end_h.float() @ self.end.float())[:, None]], 1)
            end_target = torch.full((b,), self.cfg.codebook_size, device=h.device)
            end_loss = end_loss + F.cross_entropy(end_logits, end_target,
                                                  label_smoothing=self.cfg.label_smoothing)
        count = b * t * n
        code_loss = (ce_sum / count * self.level_weights).sum()
        end_loss = end_loss / t
        return {"loss": code_loss + end_loss / (n + 1), "code_loss": code_loss,
                "end_loss": end_loss, "accuracy": hits / count}

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

    def decode_n_tokens(self, x: torch.Tensor, position: int, caches: list[KVCache],
                        n: int, cond: torch.Tensor | None, heads: list[int],
                        temperature: float, top_k: int,
                        generator: torch.Generator | None,
                        on_step: OnStep | None = None) -> torch.Tensor:
        """From input x (B, 1, D) at ``position``, generate ``n`` code tokens of one track per
        row; the last one is written to the cache too. ``heads`` gives each group of B /
        len(heads) consecutive rows its output head. ``on_step()`` runs before every step
        (progress, and a cancel that raises). -> codes (B, n, L)."""
        b = x.shape[0]
        out = torch.zeros(b, n, self.cfg.n_levels, dtype=torch.long, device=x.device)
        for j in range(n):
            if on_step is not None:
                on_step()
            h = self.decode_one_token(x, position + j, caches).view(-1, len(heads), x.shape[-1])
            stream = j % 2
            logits = torch.stack([self.logits(h[:, i], stream, head)
                                  for i, head in enumerate(heads)], 1).flatten(0, 1)
            codes = self.sample(logits, temperature, top_k, generator)
            out[:, j] = codes
            x = self.embed_codes(codes, stream)[:, None].to(x.dtype)
            if cond is not None:
                x = x + cond[:, j + 1:j + 2]
        self.decode_one_token(x, position + n, caches)  # the last code joins the context
        return out

    def n_steps(self, n_frames: int) -> int:
        """Decode steps ``generate`` takes for windows of ``n_frames`` (``on_step`` calls)."""
        return 2 * n_frames * (1 if self.cfg.parallel else self.cfg.n_tracks)

    @torch.no_grad()
    def generate(self, prefix: torch.Tensor, temperature: float = 0.0, top_k: int = 0,
                 generator: torch.Generator | None = None,
                 on_step: OnStep | None = None) -> torch.Tensor:
        """Prefix (B, S, dim) -> track tokens (B, T, 2S, L), all windows in one batch.
        ``on_step()`` is called before each of the ``n_steps(S)`` decode steps."""
        if self.cfg.parallel:
            return self._generate_parallel(prefix, temperature, top_k, generator, on_step)
        b, s, _ = prefix.shape
        layout = Layout(s, self.cfg.n_tracks)
        caches = self.setup_cache(b, layout.length, prefix.dtype, prefix.device)
        self.prefill(self.embed_prefix(prefix), caches)
        cond = self.conditioning(prefix)
        start = self.start_token.to(prefix.dtype).expand(b, 1, -1)
        if cond is not None:
            start = start + cond[:, :1]
        tracks = []
        for k in range(layout.n_tracks):  # one cache, kept across the tracks
            tracks.append(self.decode_n_tokens(start, layout.track_start(k), caches, 2 * s,
                                               cond, [0], temperature, top_k, generator,
                                               on_step))
        return torch.stack(tracks, 1)

    def _generate_parallel(self, prefix: torch.Tensor, temperature: float, top_k: int,
                           generator: torch.Generator | None,
                           on_step: OnStep | None) -> torch.Tensor:
        b, s, _ = prefix.shape
        t = self.cfg.n_tracks
        wide = prefix.repeat_interleave(t, 0)  # (B*T, S, D): row b*T + k is track k
        caches = self.setup_cache(b * t, 1 + s + 1 + 2 * s, prefix.dtype, prefix.device)
        self.prefill(self.embed_prefix(wide), caches)
        cond = self.conditioning(wide)
        x = (self.start_token + self.track_tokens).to(prefix.dtype).repeat(b, 1)[:, None]
        if cond is not None:
            x = x + cond[:, :1]
        out = self.decode_n_tokens(x, 1 + s, caches, 2 * s, cond, list(range(t)),
                                   temperature, top_k, generator, on_step)
        return out.view(b, t, 2 * s, self.cfg.n_levels)
