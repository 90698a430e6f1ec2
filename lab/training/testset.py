"""A fixed, held-out test set rendered by our synthesizer, in the MUSDB18-HQ layout.

Test songs use seeds from ``TEST_SEED_BASE`` up; training draws seeds below it, so no test song
is ever trained on. Stems are written as 32-bit float WAV and the mixture is their float32 sum,
so reading them back, the stems sum exactly to the mixture.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.audio_io import write

from .synth import STEMS, Synthesizer

TEST_SEED_BASE = 1_000_000_000  # training seeds stay below this
SET_STRIDE = 100_000  # seeds per test set: set k uses TEST_SEED_BASE + k * SET_STRIDE + i


def test_seed(set_seed: int, index: int) -> int:
    return TEST_SEED_BASE + set_seed * SET_STRIDE + index


def write_songs(folder: str | Path, seeds: list[int], sample_rate: int = 44100,
                min_seconds: float = 15.0, max_seconds: float = 30.0, overwrite: bool = False,
                on_song: Callable[[int, int, str], None] | None = None,
                version: str = "v2", shard: tuple[int, int] = (0, 1)) -> list[Path]:
    """Render one song per seed into ``folder/<NNN_style>/{mixture,vocals,drums,bass,other}.wav``
    plus ``songs.json`` (seed, synthesizer version, style, tempo, key, sections, instruments and
    the master's loudness target of each song). ``shard`` (k, n) renders only songs i with
    i % n == k, under the same names, and writes ``songs.k-of-n.json``: n processes render one
    set in parallel."""
    folder = Path(folder)
    synth = Synthesizer(sample_rate, version=version)
    meta, paths = [], []
    k, n_shards = shard
    for i, seed in enumerate(seeds):
        if i % n_shards != k:
            continue
        duration = float(np.random.default_rng(seed).uniform(min_seconds, max_seconds))
        song = synth.render(seed, duration=duration)
        name = f"{i:03d}_{song.plan.style}"
        if on_song is not None:
            on_song(i, len(seeds), name)
        song_dir = folder / name
        write(song_dir / "mixture.wav", song.mixture, sample_rate, overwrite=overwrite)
        for stem in STEMS:
            write(song_dir / f"{stem}.wav", song.stems[stem], sample_rate, overwrite=overwrite)
        plan = song.plan
        meta.append({"name": name, "seed": seed, "synth": version, "seconds": duration,
                     "style": plan.style, "lufs": song.loudness,
                     "tempo": round(plan.tempo, 1), "key": plan.key, "mode": plan.mode,
                     "sections": [s.name for s in plan.sections],
                     "instruments": song.instruments})
        paths.append(song_dir)
    name = "songs.json" if n_shards == 1 else f"songs.{k}-of-{n_shards}.json"
    (folder / name).write_text(json.dumps(meta, indent=1))
    return paths


def write_test_set(folder: str | Path, n_songs: int = 10, set_seed: int = 0,
                   **kwargs) -> list[Path]:
    """The held-out test set number ``set_seed``: seeds no training run draws."""
    return write_songs(folder, [test_seed(set_seed, i) for i in range(n_songs)], **kwargs)


def write_training_songs(folder: str | Path, n_songs: int, seed: int = 0,
                         **kwargs) -> list[Path]:
    """A training cache: seeds below TEST_SEED_BASE."""
    rng = np.random.default_rng(seed)
    seeds = [int(s) for s in rng.choice(TEST_SEED_BASE, size=n_songs, replace=False)]
    return write_songs(folder, seeds, **kwargs)
