"""Real-file degradations: MP3/AAC round trips and sample-rate changes keep length, rate and
time alignment, change the audio, and touch only the training mixture."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from engine.audio_io import write
from lab.musdb import STEMS
from lab.training.data import DataConfig, FolderStems
from lab.training.degrade import codec_round_trip, degrade, rate_round_trip


def _music(sr: int, seconds: float) -> np.ndarray:
    """A stereo chord with a bright, noisy attack every half second. (2, N) float32."""
    rng = np.random.default_rng(0)
    t = np.arange(int(sr * seconds)) / sr
    x = sum(0.15 * np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6, 3520.0))
    clicks = rng.standard_normal(len(t)) * np.exp(-(t % 0.5) / 0.01) * 0.2
    return np.stack([x + clicks, x - clicks]).astype(np.float32)


def _error_db(y: np.ndarray, x: np.ndarray) -> float:
    return float(10 * np.log10(np.sum((y - x) ** 2) / np.sum(x ** 2)))


@pytest.mark.parametrize("codec,kbps,sr", [("mp3", 128, 44100), ("mp3", 320, 48000),
                                           ("aac", 192, 44100), ("aac", 128, 22050)])
def test_codec_round_trip_changes_the_audio_but_keeps_length_rate_and_timing(codec, kbps, sr):
    x = _music(sr, 2.0)
    y = codec_round_trip(x, sr, codec, kbps)
    assert y.shape == x.shape and y.dtype == np.float32
    assert not np.array_equal(y, x)
    # aligned: a codec's error is far below the signal (a shift of even one 3.5 kHz period
    # would leave an error near 0 dB); lossy: not a copy
    assert -45.0 < _error_db(y, x) < -10.0


def test_rate_round_trip_removes_the_band_above_the_low_rate():
    sr = 44100
    x = _music(sr, 2.0)
    y = rate_round_trip(x, sr, 16000)
    assert y.shape == x.shape
    f = np.fft.rfftfreq(x.shape[1], 1 / sr)
    high = f > 8500
    assert np.sum(np.abs(np.fft.rfft(y[0])[high]) ** 2) < 1e-3 * np.sum(
        np.abs(np.fft.rfft(x[0])[high]) ** 2)


def test_degrade_is_deterministic_for_a_seed():
    x = _music(44100, 1.0)
    a = degrade(x, 44100, np.random.default_rng(3), 1.0, 1.0)
    b = degrade(x, 44100, np.random.default_rng(3), 1.0, 1.0)
    assert np.array_equal(a, b) and not np.array_equal(a, x)


def test_folder_stream_degrades_the_mixture_only(tmp_path):
    sr = 22050
    stems = {name: _music(sr, 4.0) * gain for name, gain in zip(STEMS, (1.0, 0.5, 0.7, 0.3),
                                                                 strict=True)}
    for name, audio in stems.items():
        write(tmp_path / "song" / f"{name}.wav", audio, sr)
    write(tmp_path / "song" / "mixture.wav", sum(stems.values()), sr)
    cfg = DataConfig(sample_rate=22050, segment_s=2.0, mono=False, codec_probability=1.0)
    clean = DataConfig(**{**cfg.__dict__, "codec_probability": 0.0})
    loader = DataLoader(FolderStems(tmp_path, cfg), batch_size=None)
    item = next(iter(loader))
    ref = next(iter(DataLoader(FolderStems(tmp_path, clean), batch_size=None)))
    assert item["mixture"].shape == (2, 44100)
    assert torch.equal(item["stems"], ref["stems"])  # the targets are the clean stems
    assert not torch.allclose(item["mixture"], item["stems"].sum(0), atol=1e-4)
    coded = item["mixture"].numpy()
    assert _error_db(coded, item["stems"].sum(0).numpy()) < -8.0  # the same music, aligned
    assert len(list(itertools.islice(loader, 2))) == 2
