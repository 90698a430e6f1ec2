"""The token sequence of the separator LM (Lyu et al., arXiv:2604.09371, Eqs. 1 to 3), as
pure functions.

For a window of S codec frames and four tracks (vocals, drums, bass, other):

    input : [<mix>, F_0 .. F_{S-1}, S, c1, S, c2, S, c3, S, c4]
    target:                        [c1, E, c2, E, c3, E, c4, E]

where ``F`` is the continuous mixture prefix and each ``c_k`` interleaves the acoustic and
semantic frames of track k in time, ``[a_0, s_0, a_1, s_1, ...]`` (Eq. 1), each element being
one frame's 16 RVQ indices. The prediction made at a track's start token ``S`` is its first
token; the one made at its last token is ``E``.

Shapes: T tracks, L levels, S codec frames; a track's tokens are (2 S, L) (interleaved).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

TRACKS = ("vocals", "drums", "bass", "other")
MIX, START, END = 0, 1, 2  # special token kinds (embedded separately from codes)
CODE = 3  # a code token (acoustic on even steps of a track, semantic on odd)


def interleave(codes: torch.Tensor) -> torch.Tensor:
    """Codes (..., 2, L, S) (acoustic, semantic) -> tokens (..., 2 S, L): a_0, s_0, a_1, ..."""
    stacked = codes.movedim(-3, -1)  # (..., L, S, 2)
    return stacked.flatten(-2).transpose(-1, -2)  # (..., 2S, L)


def deinterleave(tokens: torch.Tensor) -> torch.Tensor:
    """Tokens (..., 2 S, L) -> codes (..., 2, L, S)."""
    t = tokens.transpose(-1, -2)  # (..., L, 2S)
    return t.unflatten(-1, (t.shape[-1] // 2, 2)).movedim(-1, -3)


class Layout(NamedTuple):
    """Where everything sits in the sequence for windows of ``n_frames`` codec frames."""

    n_frames: int  # S
    n_tracks: int

    @property
    def prefix(self) -> int:
        """<mix> plus the S mixture frames."""
        return 1 + self.n_frames

    @property
    def track_len(self) -> int:
        """A track's inputs: its start token and its 2 S code tokens."""
        return 1 + 2 * self.n_frames

    @property
    def length(self) -> int:
        return self.prefix + self.n_tracks * self.track_len

    def track_start(self, k: int) -> int:
        """Position of track k's start token."""
        return self.prefix + k * self.track_len

    def kinds(self) -> torch.Tensor:
        """(length,) token kind at each input position (MIX, START, CODE; the prefix frames
        are CODE-less mixture embeddings, marked MIX)."""
        kinds = torch.full((self.length,), CODE, dtype=torch.long)
        kinds[:self.prefix] = MIX
        for k in range(self.n_tracks):
            kinds[self.track_start(k)] = START
        return kinds

    def stream(self) -> torch.Tensor:
        """(length,) 0 where the input is an acoustic code, 1 a semantic code, -1 otherwise."""
        out = torch.full((self.length,), -1, dtype=torch.long)
        for k in range(self.n_tracks):
            first = self.track_start(k) + 1
            out[first:first + 2 * self.n_frames] = torch.arange(2 * self.n_frames) % 2
        return out

    def target_stream(self) -> torch.Tensor:
        """(length,) what the prediction at each position is: 0 acoustic, 1 semantic,
        2 the end token, -1 nothing (the mixture prefix)."""
        out = torch.full((self.length,), -1, dtype=torch.long)
        for k in range(self.n_tracks):
            start = self.track_start(k)
            out[start:start + 2 * self.n_frames] = torch.arange(2 * self.n_frames) % 2
            out[start + 2 * self.n_frames] = 2
        return out


def build_inputs(tracks: torch.Tensor, layout: Layout) -> torch.Tensor:
    """Track tokens (B, T, 2 S, L) -> code inputs (B, length, L); non-code positions hold 0
    (they are embedded by kind, not by code)."""
    b, t, n, levels = tracks.shape
    out = torch.zeros(b, layout.length, levels, dtype=torch.long, device=tracks.device)
    for k in range(t):
        first = layout.track_start(k) + 1
        out[:, first:first + n] = tracks[:, k]
    return out


def build_targets(tracks: torch.Tensor, layout: Layout) -> torch.Tensor:
    """Track tokens (B, T, 2 S, L) -> targets (B, length, L): the next code at each position,
    -1 where nothing is predicted or where the end token is (level 0 learns E separately)."""
    b, t, n, levels = tracks.shape
    out = torch.full((b, layout.length, levels), -1, dtype=torch.long, device=tracks.device)
    for k in range(t):
        start = layout.track_start(k)
        out[:, start:start + n] = tracks[:, k]
    return out


def split_tracks(inputs: torch.Tensor, layout: Layout) -> torch.Tensor:
    """Code inputs (B, length, L) -> track tokens (B, T, 2 S, L): the inverse of build_inputs."""
    parts = [inputs[:, layout.track_start(k) + 1:layout.track_start(k) + 1 + 2 * layout.n_frames]
             for k in range(layout.n_tracks)]
    return torch.stack(parts, 1)
