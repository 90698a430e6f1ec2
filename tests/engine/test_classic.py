"""The classic separator: stems that sum back, no seams, and each stem where it belongs."""

from __future__ import annotations

import numpy as np
import pytest

from engine import Separator
from tests.conftest import music, music_parts, residual_db


@pytest.fixture(scope="module")
def classic():
    return Separator("classic", threads=1)


@pytest.mark.parametrize("sr", [8000, 22050, 44100, 96000, 192000])
@pytest.mark.parametrize("channels", [1, 2], ids=["mono", "stereo"])
def test_stems_sum_to_the_mix_at_any_rate(classic, sr, channels):
    mix = music(1.3, sr, channels, seed=sr)
    stems = classic.separate(mix, sr)
    assert all(s.shape == mix.shape for s in stems.values())
    assert residual_db(mix, stems.values()) < -80


@pytest.mark.parametrize("kind", ["noise", "impulses", "full-scale square", "dc"])
def test_stems_sum_to_the_mix_for_odd_signals(classic, kind):
    rng = np.random.default_rng(0)
    n = 44100 * 2
    mix = {
        "noise": rng.standard_normal((2, n)),
        "impulses": np.where(np.arange(n) % 5000 == 0, 1.0, 0.0)[None].repeat(2, 0),
        "full-scale square": np.sign(np.sin(np.arange(n) / 30))[None].repeat(2, 0),
        "dc": np.full((2, n), 0.5),
    }[kind].astype(np.float32)
    assert residual_db(mix, classic.separate(mix, 44100).values()) < -80


def test_silence_and_a_few_samples_are_valid_input(classic):
    silent = classic.separate(np.zeros((2, 44100), np.float32), 44100)
    assert all(not np.any(s) for s in silent.values())
    short = np.random.default_rng(1).standard_normal((1, 37)).astype(np.float32)
    stems = classic.separate(short, 44100)
    assert all(s.shape == (1, 37) for s in stems.values())
    assert residual_db(short, stems.values()) < -80


def test_chunked_equals_whole_file():
    """No seams: 3 s chunks give what one 20 s pass gives (within -60 dB, as the issue asks;
    the context covers every filter, so in practice they agree to float precision)."""
    mix = music(20.0, 44100, 2, seed=5)
    whole = Separator("classic", chunk_seconds=60, threads=1).separate(mix, 44100)
    chunked = Separator("classic", chunk_seconds=3, threads=2).separate(mix, 44100)
    for name in whole:
        assert residual_db(whole[name], [chunked[name]]) < -60, name


def test_each_stem_lands_where_it_belongs(classic):
    """On a mix of clearly drum-, bass-, voice- and chord-like parts, most of each part's
    energy must come out in its own stem."""
    sr = 44100
    parts = music_parts(12.0, sr, seed=2)
    mix = sum(parts.values()).astype(np.float32)
    stems = classic.separate(mix, sr)
    for name, truth in parts.items():
        share = np.sum(stems[name] * truth) / np.sum(truth ** 2)  # projection onto the truth
        assert share > 0.5, f"{name}: only {share:.0%} of it came out in its stem"


def test_fixed_model_rate_resamples_and_keeps_the_input_format(tmp_path):
    """A model that works at 44.1 kHz, fed 48 kHz: output at 48 kHz, same length, sums back."""
    import json
    folder = tmp_path / "classic44k"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({
        "format_version": 1, "name": "classic44k", "backend": "classic",
        "stems": ["vocals", "drums", "bass", "other"], "sample_rate": 44100}))
    mix = music(5.0, 48000, 2, seed=9)[:, :239_999]
    stems = Separator(folder).separate(mix, 48000)
    assert stems.sample_rate == 48000
    assert all(s.shape == mix.shape for s in stems.values())
    assert residual_db(mix, stems.values()) < -80
    # Resampling moved nothing in time: the drums stem still lines up with the mix.
    d = stems["drums"][0]
    lag = np.argmax(np.correlate(d[48000:60000], mix[0, 48500:59500], "valid")) - 500
    assert lag == 0
