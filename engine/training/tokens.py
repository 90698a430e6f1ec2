"""The separator's training data: codec tokens of every stem and the mixture's log-mel,
precomputed once per song and augmentation variant, so training needs no audio work at all.

For each song of a MUSDB-layout folder and each variant ``v`` (``v = 0`` unaugmented, others
with the paper's per-stem gain, polarity and seven-band EQ drawn from ``(seed, song, v)``):
the stems are made mono, the mixture is their sum, and ``<out>/<song>_<v>.npz`` holds
``mel`` (4 S, n_mels) float16 and ``tokens`` (4 tracks, 2 paths, L, S) int16.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..audio_io import read
from ..evaluation.tracks import STEMS, load_tracks
from ..nn.codec import Codec
from ..nn.conformer import ConformerConfig, MelFrontend
from .augment import augment_stems

log = logging.getLogger(__name__)


def encode_long(codec: Codec, audio: np.ndarray, window_frames: int = 250) -> np.ndarray:
    """(N,) mono 48 kHz -> codes (2, L, S), coded in windows (attention is quadratic)."""
    fs = codec.cfg.frame_samples
    n_frames = len(audio) // fs
    x = torch.from_numpy(np.ascontiguousarray(audio[:n_frames * fs]))[None]
    parts = [codec.encode(x[:, f * fs:min(n_frames, f + window_frames) * fs])[0]
             for f in range(0, n_frames, window_frames)]
    return torch.cat(parts, -1).numpy()


def prepare_tokens(songs: str | Path, codec: Codec, out: str | Path, variants: int = 3,
                   seed: int = 0, conformer: ConformerConfig | None = None,
                   on_song: Callable[[int, int, str], None] | None = None) -> list[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    frontend = MelFrontend(conformer or ConformerConfig())
    tracks = load_tracks(songs)
    written = []
    codec.eval()
    for i, track in enumerate(tracks):
        if on_song is not None:
            on_song(i, len(tracks), track.name)
        stems = {}
        for name in STEMS:
            audio, sr = read(track.folder / f"{name}.wav")
            if sr != codec.cfg.sample_rate:
                raise ValueError(f"{track.folder}: {sr} Hz; render the songs at "
                                 f"{codec.cfg.sample_rate} Hz")
            stems[name] = np.ascontiguousarray(audio.mean(axis=0, keepdims=True))
        for v in range(variants):
            path = out / f"{track.name}_{v}.npz"
            if path.exists():
                written.append(path)
                continue
            rng = np.random.default_rng((seed, i, v))
            varied = stems if v == 0 else augment_stems(stems, sr, rng)
            mixture = sum(varied[name] for name in STEMS)[0]
            tokens = np.stack([encode_long(codec, varied[name][0]) for name in STEMS])
            n = tokens.shape[-1]
            with torch.no_grad():
                mel = frontend(torch.from_numpy(mixture[:n * codec.cfg.frame_samples])[None])
            tmp = path.with_name(f".{path.stem}.part.npz")
            np.savez(tmp, mel=mel[0].numpy().astype(np.float16),
                     tokens=tokens.astype(np.int16))
            tmp.replace(path)
            written.append(path)
    return written


class TokenWindows(torch.utils.data.IterableDataset):
    """Endless random windows: {"mel": (4 S, n_mels), "tracks": (4, 2 S, L)} tensors."""

    def __init__(self, folder: str | Path, window_frames: int, seed: int = 0):
        super().__init__()
        self.files = sorted(Path(folder).glob("*.npz"))
        if not self.files:
            raise FileNotFoundError(f"no token files in {folder}; run "
                                    "`stemma train separator --prepare` first")
        self.window = window_frames
        self.seed = seed
        self._cache: dict[Path, tuple[np.ndarray, np.ndarray]] = {}

    def _load(self, path: Path) -> tuple[np.ndarray, np.ndarray]:
        if path not in self._cache:  # a few tens of MB in all: keep everything in memory
            with np.load(path) as data:
                self._cache[path] = (data["mel"], data["tokens"])
        return self._cache[path]

    def __iter__(self):
        from ..nn.layout import interleave

        info = torch.utils.data.get_worker_info()
        worker = info.id if info is not None else 0
        rng = np.random.default_rng((self.seed, worker))
        while True:
            mel, tokens = self._load(self.files[int(rng.integers(len(self.files)))])
            s = tokens.shape[-1]
            if s < self.window:
                continue
            f0 = int(rng.integers(0, s - self.window + 1))
            codes = torch.from_numpy(tokens[..., f0:f0 + self.window].astype(np.int64))
            yield {"mel": torch.from_numpy(mel[4 * f0:4 * (f0 + self.window)].astype(np.float32)),
                   "tracks": interleave(codes)}
