"""The song synthesizer: same seed, same song; stems that sum to the mixture."""

from __future__ import annotations

import numpy as np
import pytest

from lab.training.synth import STEMS, Synthesizer
from lab.training.synth.theory import make_plan


@pytest.fixture(scope="module")
def synth():
    return Synthesizer(22050)


def test_same_seed_same_samples_whatever_came_before(synth):
    first = synth.render(11, duration=5.0)
    synth.render(12, duration=3.0)  # a different song in between must not leak into the next
    again = synth.render(11, duration=5.0)
    for name in STEMS:
        assert np.array_equal(first.stems[name], again.stems[name]), name
    other = synth.render(13, duration=5.0)
    assert not np.array_equal(first.mixture, other.mixture)


def test_four_stereo_stems_of_the_asked_length_summing_to_the_mixture(synth):
    song = synth.render(21, duration=6.0)
    assert set(song.stems) == set(STEMS)
    assert all(s.shape == (2, 6 * 22050) and s.dtype == np.float32 for s in song.stems.values())
    assert np.array_equal(song.mixture, sum(song.stems[n] for n in STEMS))
    assert 0.3 < np.abs(song.mixture).max() < 1.0  # v2: the limiter's ceiling, -1 to -0.1 dBFS


def test_sung_sections_have_vocals_and_every_stem_plays(synth):
    song = synth.render(5, duration=12.0, style="pop")
    for name in STEMS:
        assert np.sqrt(np.mean(song.stems[name] ** 2)) > 1e-3, f"{name} is silent"
    plan = song.plan
    sung = [s for s in plan.sections if s.vocals]
    assert sung
    start = int(sung[0].start_bar * plan.bar_s * 22050)
    end = int((sung[0].start_bar + sung[0].n_bars) * plan.bar_s * 22050)
    assert np.sqrt(np.mean(song.stems["vocals"][:, start:end] ** 2)) > 1e-3


@pytest.mark.parametrize("seconds", [4.0, 17.5, 30.0])
def test_plans_cover_the_duration(seconds):
    plan = make_plan(3, seconds)
    assert plan.n_bars * plan.bar_s >= seconds
    assert all(len(s.chords) == 2 * s.n_bars for s in plan.sections)
