"""Stem clips: a compact pack of single-stem training audio, for training the codec on a machine
that cannot render songs (a lent GPU has no FluidSynth or espeak-ng, and takes 64 MiB along).

``pack_clips`` takes from each song of a MUSDB-layout folder the loudest ``seconds`` of every
non-silent stem (mono, 48 kHz), encodes it as Ogg Opus (about 7 kB/s, some 14 times smaller
than 16-bit PCM) or FLAC, and writes one ``.npz`` holding the streams and their stem names.
``ClipBank`` decodes a pack once, onto the training device, and draws random single-stem crops
with the paper's augmentations (gain, polarity, seven-band EQ) done in torch.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from engine.audio_io import decode_bytes, encode_bytes, read

from ..musdb import STEMS, load_tracks
from .augment import augment_batch

SILENT_RMS = 1e-3  # a crop quieter than this (-60 dBFS) teaches the codec nothing


def loudest(audio: np.ndarray, n: int, hop: int) -> np.ndarray:
    """The ``n``-sample stretch of (N,) with the most energy, starts on a ``hop`` grid."""
    if len(audio) <= n:
        return np.pad(audio, (0, n - len(audio)))
    energy = np.cumsum(np.concatenate([[0.0], audio.astype(np.float64) ** 2]))
    starts = np.arange(0, len(audio) - n + 1, hop)
    best = int(starts[np.argmax(energy[starts + n] - energy[starts])])
    return audio[best:best + n]


def pack_clips(songs: str | Path, out: str | Path, seconds: float, limit: int | None = None,
               fmt: str = "opus",
               on_song: Callable[[int, int, str], None] | None = None) -> Path:
    """Write the clip pack ``out`` (.npz) from the songs in ``songs``; returns its path.
    ``fmt``: "opus" to travel, "flac" (lossless, six times larger) to train where it is."""
    tracks = load_tracks(songs)[:limit]
    streams, names = [], []
    for i, track in enumerate(tracks):
        if on_song is not None:
            on_song(i, len(tracks), track.name)
        for stem in STEMS:
            audio, rate = read(track.folder / f"{stem}.wav")
            clip = loudest(audio.mean(axis=0), int(seconds * rate), rate // 2)
            if np.sqrt(np.mean(clip ** 2)) < SILENT_RMS:
                continue  # e.g. a song without vocals
            streams.append(np.frombuffer(encode_bytes(clip[None], rate, fmt), np.uint8))
            names.append(stem)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    offsets = np.cumsum([0] + [len(s) for s in streams])
    tmp = out.with_name(f".{out.stem}.part.npz")
    np.savez(tmp, data=np.concatenate(streams), offsets=offsets, stems=np.array(names))
    tmp.replace(out)
    return out


def read_pack(path: str | Path, sample_rate: int) -> list[tuple[str, np.ndarray]]:
    """(stem, (N,) float32 audio) for every clip of a pack, decoded on several threads
    (libsndfile runs without the GIL)."""
    with np.load(path) as pack:
        data, offsets, stems = pack["data"], pack["offsets"], pack["stems"]

    def decode(k: int) -> np.ndarray:
        audio, rate = decode_bytes(data[offsets[k]:offsets[k + 1]].tobytes())
        if rate != sample_rate:
            raise ValueError(f"{path}: clips are at {rate} Hz, the codec needs {sample_rate}")
        return audio[0]

    with ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool:
        audio = list(pool.map(decode, range(len(stems))))
    return [(str(stem), a) for stem, a in zip(stems, audio, strict=True)]


class ClipBank:
    """A clip pack decoded once into one tensor on the training device; ``batch`` draws
    random augmented single-stem crops (B, N) by indexing, with no worker processes (on a GPU
    the whole data pipeline stays on the GPU)."""

    def __init__(self, pack: str | Path, segment_s: float, sample_rate: int = 48000,
                 device: torch.device | str = "cpu", seed: int = 0, augment: bool = True):
        clips = [(s, a) for s, a in read_pack(pack, sample_rate)
                 if len(a) >= segment_s * sample_rate]
        if not clips:
            raise ValueError(f"{pack}: no clip is {segment_s} s long")
        self.n = int(segment_s * sample_rate)
        self.sample_rate, self.augment = sample_rate, augment
        self.stems = [s for s, _ in clips]
        lengths = torch.tensor([len(a) for _, a in clips])
        self.starts = (torch.cumsum(lengths, 0) - lengths).to(device)
        self.room = (lengths - self.n + 1).to(device)  # valid crop offsets per clip
        self.audio = torch.from_numpy(np.concatenate([a for _, a in clips])).to(device)
        self.generator = torch.Generator(device).manual_seed(seed)
        self.offsets = torch.arange(self.n, device=device)

    def __len__(self) -> int:
        return len(self.stems)

    def _draw(self, count: int) -> tuple[torch.Tensor, list[str]]:
        device = self.audio.device
        pick = torch.randint(len(self.stems), (count,), generator=self.generator, device=device)
        offset = (torch.rand(count, generator=self.generator, device=device)
                  * self.room[pick]).long()
        crops = self.audio[(self.starts[pick] + offset)[:, None] + self.offsets]
        stems = [self.stems[i] for i in pick.tolist()]
        if self.augment:
            crops = augment_batch(crops, stems, self.sample_rate, self.generator)
        return crops, stems

    def batch(self, size: int) -> torch.Tensor:
        """(size, N) crops, none of them silent."""
        out = []
        while sum(len(c) for c in out) < size:
            crops, _ = self._draw(size)
            out.append(crops[crops.pow(2).mean(-1).sqrt() >= SILENT_RMS])
        return torch.cat(out)[:size]
