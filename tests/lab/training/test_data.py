"""Training data: deterministic streams whose mixtures are the sum of their stems."""

from __future__ import annotations

import itertools

import numpy as np
import torch
from torch.utils.data import DataLoader

from lab.training.augment import AugmentConfig, augment_stems
from lab.training.data import DataConfig, FolderStems, SynthStems
from lab.training.synth.mixing import SEVEN_BANDS, seven_band_eq
from lab.training.testset import write_training_songs

CFG = DataConfig(sample_rate=16000, segment_s=2.0, song_seconds=(4.0, 6.0), crops_per_song=2)


def _take(dataset, n, workers=0):
    loader = DataLoader(dataset, batch_size=None, num_workers=workers)
    return list(itertools.islice(loader, n))


def test_synth_stream_is_deterministic_and_consistent():
    first = _take(SynthStems(CFG), 3)
    again = _take(SynthStems(CFG), 3)
    other = _take(SynthStems(DataConfig(**{**CFG.__dict__, "seed": 5})), 1)
    for a, b in zip(first, again, strict=True):
        assert torch.equal(a["mixture"], b["mixture"]) and torch.equal(a["stems"], b["stems"])
    assert not torch.equal(first[0]["mixture"], other[0]["mixture"])
    for item in first:
        assert item["stems"].shape == (4, 1, 32000) and item["mixture"].shape == (1, 32000)
        assert torch.allclose(item["stems"].sum(0), item["mixture"], atol=1e-6)


def test_workers_render_different_songs():
    items = _take(SynthStems(CFG), 4, workers=2)
    mixes = [i["mixture"] for i in items]
    assert not any(torch.equal(a, b) for a, b in itertools.combinations(mixes, 2))


def test_augmentation_gain_and_polarity():
    rng = np.random.default_rng(0)
    x = {"bass": np.random.default_rng(1).standard_normal((1, 16000)).astype(np.float32)}
    gains = np.array([np.dot(augment_stems(x, 16000, rng, AugmentConfig(eq_probability=0.0))
                             ["bass"][0], x["bass"][0]) / np.dot(x["bass"][0], x["bass"][0])
                      for _ in range(400)])
    assert 0.05 < np.mean(gains < 0) < 0.15  # polarity flipped about 10% of the time
    assert np.all((np.abs(gains) >= 0.5) & (np.abs(gains) <= 1.5))


def test_seven_band_eq_boosts_its_band():
    sr = 48000
    t = np.arange(sr) / sr
    for band, centre in enumerate(SEVEN_BANDS):
        tone = np.sin(2 * np.pi * centre * t)[None].astype(np.float32)
        gains = np.zeros(7)
        gains[band] = 6.0
        out = seven_band_eq(tone, sr, gains)[:, sr // 2:]
        rise = 20 * np.log10(np.std(out) / np.std(tone[:, sr // 2:]))
        assert 5.0 < rise < 7.5, (centre, rise)  # +6 dB, neighbours overlap a little
    flat = seven_band_eq(tone, sr, np.zeros(7))
    assert np.allclose(flat, tone, atol=1e-5)


def test_folder_stream_reads_a_rendered_cache(tmp_path):
    write_training_songs(tmp_path, 2, seed=3, sample_rate=22050, min_seconds=4.0,
                         max_seconds=5.0)
    items = _take(FolderStems(tmp_path, CFG, remix=0.5), 4)
    for item in items:
        assert item["stems"].shape == (4, 1, 32000)
        assert torch.allclose(item["stems"].sum(0), item["mixture"], atol=1e-6)


def test_folder_stream_takes_the_songs_of_every_folder_given(tmp_path):
    """``--data a,b`` trains on both sets (e.g. songs of both synthesizer versions)."""
    for part, seed in (("v1", 3), ("v2", 4)):
        write_training_songs(tmp_path / part, 1, seed=seed, sample_rate=22050, min_seconds=4.0,
                             max_seconds=5.0)
    data = FolderStems(f"{tmp_path / 'v1'},{tmp_path / 'v2'}", CFG)
    assert [t.folder.parent.name for t in data.tracks] == ["v1", "v2"]
    assert _take(data, 1)[0]["stems"].shape == (4, 1, 32000)
