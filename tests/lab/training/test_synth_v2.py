"""Synth v2: sung vocals on the melody with full-band air, a release master that keeps the stems
summing to the mixture, and v1's songs unchanged (the older held-out sets stay reproducible)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from lab.training.synth import STEMS, Synthesizer
from lab.training.synth import master as mst
from lab.training.synth import singer as sg

# Synth v1 before v2 existed (commit 7f9d15a): per stem RMS and peak of two songs at 22.05 kHz.
V1_SONGS = {
    (21, 6.0): {"vocals": (0.0495965123, 0.368201464), "drums": (0.0378642273, 0.625274599),
                "bass": (0.0433557751, 0.236907631), "other": (0.0262094596, 0.17801173)},
    (1_000_000_003, 5.0): {"vocals": (0.0550543869, 0.479305178),
                           "drums": (0.0562853922, 0.752912402),
                           "bass": (0.0426567936, 0.170829743),
                           "other": (0.0407882654, 0.225249365)},
}


def _high_share(x: np.ndarray, sr: int, cutoff: float = 11000.0) -> float:
    """Share of the energy above ``cutoff`` Hz."""
    power = np.abs(np.fft.rfft(np.atleast_2d(x).mean(axis=0))) ** 2
    f = np.fft.rfftfreq(np.atleast_2d(x).shape[-1], 1 / sr)
    return float(power[f > cutoff].sum() / power.sum())


@pytest.fixture(scope="module")
def synths():
    """v1 and v2 at 22.05 kHz sharing one FluidSynth (its soundfonts take seconds to load)."""
    v1 = Synthesizer(22050, version="v1")
    v2 = copy.copy(v1)
    v2.version = "v2"
    return {"v1": v1, "v2": v2}


@pytest.mark.parametrize("seed,seconds", list(V1_SONGS), ids=["train-seed", "test-seed"])
def test_v1_renders_the_songs_it_always_rendered(synths, seed, seconds):
    song = synths["v1"].render(seed, duration=seconds)
    for name in STEMS:
        x = song.stems[name].astype(np.float64)
        rms, peak = V1_SONGS[(seed, seconds)][name]
        assert np.sqrt(np.mean(x ** 2)) == pytest.approx(rms, rel=1e-5), name
        assert np.abs(x).max() == pytest.approx(peak, rel=1e-5), name


@pytest.fixture(scope="module")
def sung():
    """Three notes sung by the female HTS voice: (audio at 44.1 kHz, notes)."""
    notes = [sg.SungNote(0.2, 0.6, (64.0,), 100, "love"),
             sg.SungNote(0.9, 0.6, (67.0,), 100, "you"),
             sg.SungNote(1.6, 0.7, (60.0,), 100, "home")]
    singer = sg.Singer("cmu_us_slt_arctic_hts", 1.0, 0.2, -5.0)
    audio = sg.sing_line(np.random.default_rng(0), singer, notes, int(2.5 * 44100), 44100)
    return audio, notes


def test_sung_vocals_follow_the_melody(sung):
    import pyworld

    audio, notes = sung
    x = audio.astype(np.float64)
    f0, t = pyworld.dio(x, 44100, f0_floor=80, f0_ceil=800, frame_period=5.0)
    f0 = pyworld.stonemask(x, f0, t, 44100)
    for note in notes:  # the middle half of each note: past the scoop, vowel sustained
        mid = (t > note.start + 0.25 * note.duration) & (t < note.start + 0.75 * note.duration)
        voiced = f0[mid][f0[mid] > 0]
        assert len(voiced) > 0.6 * mid.sum(), f"note {note.word} is not voiced"
        cents = 1200 * np.log2(np.median(voiced) / (440 * 2 ** ((note.pitches[0] - 69) / 12)))
        assert abs(cents) < 60, (note.word, cents)  # vibrato averages out in the median


def test_sung_vocals_have_air_above_11_khz(sung):
    audio, _ = sung
    share = _high_share(audio, 44100)
    assert share > 5e-5, share  # espeak-ng speaks at 22.05 kHz: v1's raw voice has none
    assert share < 0.2, share  # air, not noise: most energy stays in the voice's band


def _music(sr: int, seconds: float, seed: int) -> dict[str, np.ndarray]:
    """Four stems with a real crest factor: decaying hits, a bass tone, a pad, a vibrato voice."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    hits = np.zeros_like(t)
    for at in np.arange(0, seconds, 0.25):
        i = int(at * sr)
        n = min(len(t) - i, sr // 5)
        hits[i:i + n] += rng.uniform(0.3, 1.0) * rng.standard_normal(n) * np.exp(
            -np.arange(n) / (0.02 * sr))
    voice = np.sin(2 * np.pi * 220 * t + 3 * np.sin(2 * np.pi * 5.5 * t)) * (
        0.5 + 0.5 * np.sin(2 * np.pi * 0.5 * t) ** 2)
    mono = {"vocals": 0.2 * voice, "drums": 0.5 * hits,
            "bass": 0.3 * np.sin(2 * np.pi * 55 * t), "other": 0.05 * rng.standard_normal(len(t))}
    return {k: np.stack([v, 0.9 * v]).astype(np.float32) for k, v in mono.items()}


@pytest.mark.parametrize("lufs", [-14.0, -10.5, -7.0])
def test_master_hits_the_loudness_and_the_stems_still_sum_to_the_mix(lufs):
    sr = 44100
    stems = _music(sr, 8.0, seed=int(-lufs))
    settings = mst.MasterSettings(lufs=lufs, bus_threshold_db=0.0, bus_ratio=2.0,
                                  bus_attack_s=0.02, bus_release_s=0.2, ceiling_db=-0.3,
                                  limiter_release_s=0.05)
    gain = mst.master_gain(stems, sr, settings)
    out = mst.master(stems, sr, settings)
    mix = sum(out[name] for name in STEMS)
    assert np.allclose(mix, sum(stems.values()) * gain, atol=1e-5)  # the bus' mix
    assert mst.loudness(mix, sr) == pytest.approx(lufs, abs=0.3)
    assert np.abs(mix).max() <= 10 ** (-0.3 / 20) + 1e-4


def test_loudness_of_a_full_scale_sine():
    sr = 48000
    tone = np.sin(2 * np.pi * 997 * np.arange(5 * sr) / sr)[None]
    assert mst.loudness(tone, sr) == pytest.approx(-3.01, abs=0.1)  # BS.1770's calibration


def test_a_v2_song_is_mastered_within_the_drawn_loudness(synths):
    sr = 22050
    song = synths["v2"].render(31, duration=6.0)
    assert -14.0 <= song.loudness <= -7.0
    mix = song.mixture
    assert np.array_equal(mix, sum(song.stems[n] for n in STEMS))
    # a limiter alone (no clipper) reaches about -7.5 LUFS on the densest mixes
    assert song.loudness - 1.0 <= mst.loudness(mix, sr) <= song.loudness + 0.3
    assert np.abs(mix).max() < 1.0
    for name in STEMS:
        assert np.sqrt(np.mean(song.stems[name] ** 2)) > 1e-3, f"{name} is silent"
