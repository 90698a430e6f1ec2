"""Streaming training data: endless random crops of four stems and their mixture.

- ``SynthStems`` renders songs on the fly in each DataLoader worker (one synthesizer per
  worker, soundfonts loaded once), takes several crops from every song and augments them.
- ``FolderStems`` crops songs on disk in the MUSDB18-HQ layout: a cache we rendered with
  ``stemma-lab synth-songs``, or a real MUSDB18-HQ ``train`` folder.

Both yield ``{"mixture": (C, N), "stems": (4, C, N)}`` float32 tensors, stems in the order
vocals, drums, bass, other, and the mixture is the sum of the (augmented) stems, unless the
real-file degradations are on (``codec_probability``, ``rate_probability``): those degrade the
mixture only, so the targets stay clean (see ``degrade``). Seeds:
training songs are drawn below ``testset.TEST_SEED_BASE`` so test songs are never trained on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch
from torch.utils.data import IterableDataset, get_worker_info

from .augment import AugmentConfig, augment_stems
from .degrade import degrade
from .synth import STEMS, Synthesizer
from .testset import TEST_SEED_BASE


@dataclass(frozen=True)
class DataConfig:
    sample_rate: int = 48000  # Hz; the paper trains at 48 kHz
    segment_s: float = 4.0  # crop length; the paper uses random 4 s crops
    mono: bool = True  # the paper's models are mono
    song_seconds: tuple[float, float] = (8.0, 30.0)  # rendered song length range
    crops_per_song: int = 4  # crops taken from each rendered song: amortises rendering
    seed: int = 0  # base of this run's song stream
    augment: bool = True
    skip_silent_vocals: float = 0.5  # chance to re-draw a crop whose vocals are silent
    synth: str = "v2"  # SynthStems' synthesizer version (v1: the older espeak-ng songs)
    codec_probability: float = 0.0  # share of mixtures sent through MP3/AAC at 128-320 kbps
    rate_probability: float = 0.0  # share of mixtures once stored at 16-32 kHz (band-limited)


def _worker() -> tuple[int, int]:
    info = get_worker_info()
    return (info.id, info.num_workers) if info is not None else (0, 1)


def _crop_sample(stems: dict[str, np.ndarray], start: int, n: int, cfg: DataConfig,
                 rng: np.random.Generator) -> dict[str, torch.Tensor]:
    crop = {name: audio[:, start:start + n] for name, audio in stems.items()}
    if cfg.mono:
        crop = {name: audio.mean(axis=0, keepdims=True) for name, audio in crop.items()}
    if cfg.augment:
        crop = augment_stems(crop, cfg.sample_rate, rng, AugmentConfig())
    stacked = np.stack([crop[name] for name in STEMS]).astype(np.float32)
    mixture = stacked.sum(axis=0)
    if cfg.augment and (cfg.codec_probability > 0 or cfg.rate_probability > 0):
        mixture = degrade(mixture, cfg.sample_rate, rng, cfg.codec_probability,
                          cfg.rate_probability)
    return {"mixture": torch.from_numpy(mixture), "stems": torch.from_numpy(stacked)}


def _silent(audio: np.ndarray) -> bool:
    return float(np.sqrt(np.mean(audio ** 2))) < 1e-4


class SynthStems(IterableDataset):
    """An endless, deterministic stream of synthesized training crops."""

    def __init__(self, cfg: DataConfig = DataConfig()):
        super().__init__()
        self.cfg = cfg

    def song_seeds(self):
        """This worker's song seeds: interleaved so workers never render the same song."""
        worker, n_workers = _worker()
        k = 0
        while True:
            yield (self.cfg.seed * 7_919_993 + worker + k * n_workers) % TEST_SEED_BASE
            k += 1

    def __iter__(self):
        cfg = self.cfg
        synth = Synthesizer(cfg.sample_rate, version=cfg.synth)
        n = int(cfg.segment_s * cfg.sample_rate)
        for seed in self.song_seeds():
            rng = np.random.default_rng(seed + 1)
            song = synth.render(seed, duration=float(rng.uniform(*cfg.song_seconds)))
            length = song.stems["vocals"].shape[1]
            for _ in range(cfg.crops_per_song):
                start = int(rng.integers(0, max(1, length - n)))
                if _silent(song.stems["vocals"][:, start:start + n]) and (
                        rng.random() < cfg.skip_silent_vocals):
                    start = int(rng.integers(0, max(1, length - n)))
                yield _crop_sample(song.stems, start, n, cfg, rng)


class FolderStems(IterableDataset):
    """Random crops from songs in the MUSDB18-HQ layout, resampled to ``cfg.sample_rate``.

    With ``remix`` > 0, that share of crops take each stem from a different random song (the
    standard source-separation augmentation: new combinations the mixes never had).
    """

    def __init__(self, folder: str | Path, cfg: DataConfig = DataConfig(), remix: float = 0.0):
        super().__init__()
        from ..musdb import load_track_sets

        self.tracks = load_track_sets(folder)
        self.cfg = cfg
        self.remix = remix

    def _read(self, folder: Path, stem: str, seconds: float,
              rng: np.random.Generator) -> np.ndarray:
        with sf.SoundFile(str(folder / f"{stem}.wav")) as f:
            want = int(np.ceil(seconds * f.samplerate)) + 64
            start = int(rng.integers(0, max(1, f.frames - want)))
            f.seek(start)
            audio = f.read(want, dtype="float32", always_2d=True).T
            rate = f.samplerate
        if audio.shape[0] == 1:
            audio = np.repeat(audio, 2, axis=0)
        if rate != self.cfg.sample_rate:
            audio = soxr.resample(audio.T, rate, self.cfg.sample_rate).T
        n = int(seconds * self.cfg.sample_rate)
        if audio.shape[1] < n:
            audio = np.pad(audio, ((0, 0), (0, n - audio.shape[1])))
        return np.ascontiguousarray(audio[:, :n], dtype=np.float32)

    def __iter__(self):
        cfg = self.cfg
        worker, _ = _worker()
        rng = np.random.default_rng((cfg.seed, worker))
        n = int(cfg.segment_s * cfg.sample_rate)
        while True:
            if rng.random() < self.remix:
                picks = {s: self.tracks[int(rng.integers(len(self.tracks)))] for s in STEMS}
                stems = {s: self._read(picks[s].folder, s, cfg.segment_s, rng) for s in STEMS}
            else:
                track = self.tracks[int(rng.integers(len(self.tracks)))]
                state = rng.bit_generator.state  # one offset for all stems of one song
                stems = {}
                for s in STEMS:
                    rng.bit_generator.state = state
                    stems[s] = self._read(track.folder, s, cfg.segment_s, rng)
            yield _crop_sample(stems, 0, n, cfg, rng)
