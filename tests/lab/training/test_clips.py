"""Codec training data that travels: clip packs, the on-device clip bank and its augmentation,
and the run budget that ends a training on the clock."""

from __future__ import annotations

import time

import numpy as np
import pytest
import scipy.signal as ss
import torch

from lab.training.augment import augment_batch, seven_band_response
from lab.training.clips import ClipBank, loudest, pack_clips, read_pack
from lab.training.runs import Budget, learning_rate, use_bf16
from lab.training.synth.mixing import SEVEN_BANDS, biquad
from lab.training.testset import write_training_songs

RATE = 48000


@pytest.fixture(scope="module")
def songs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("songs")
    write_training_songs(folder, 2, seed=11, sample_rate=RATE, min_seconds=5.0,
                         max_seconds=6.0)
    return folder


@pytest.mark.parametrize("fmt", ["opus", "flac"])
def test_pack_holds_the_loudest_stretch_of_every_stem(songs, tmp_path, fmt):
    pack = pack_clips(songs, tmp_path / "clips.npz", seconds=2.0, fmt=fmt)
    clips = read_pack(pack, RATE)
    assert sorted({stem for stem, _ in clips}) == ["bass", "drums", "other", "vocals"]
    assert all(abs(len(audio) - 2 * RATE) < 0.02 * RATE for _, audio in clips)
    # lossless: the vocals of the first song come back as its loudest 2 s, to 16-bit precision
    from engine.audio_io import read

    first = sorted(p for p in songs.iterdir() if p.is_dir())[0]
    vocals = read(first / "vocals.wav")[0].mean(axis=0)
    expected = loudest(vocals, 2 * RATE, RATE // 2)
    got = next(audio for stem, audio in clips if stem == "vocals")
    if fmt == "flac":
        assert np.max(np.abs(got - expected)) < 1e-4
    else:  # Opus is lossy and delays the signal a little: it keeps the level, not samples
        assert np.std(got) == pytest.approx(np.std(expected), rel=0.2)


def test_loudest_finds_the_loud_part():
    x = np.zeros(10 * RATE, np.float32)
    x[6 * RATE:8 * RATE] = 0.5
    clip = loudest(x, 2 * RATE, RATE // 2)
    assert np.all(clip == 0.5)


def test_bank_draws_augmented_crops_that_are_never_silent(songs, tmp_path):
    pack = pack_clips(songs, tmp_path / "clips.npz", seconds=2.0, fmt="flac")
    bank = ClipBank(pack, 1.0, RATE, seed=3)
    batch = bank.batch(16)
    assert batch.shape == (16, RATE) and batch.dtype == torch.float32
    assert (batch.pow(2).mean(-1).sqrt() >= 1e-3).all()
    again = ClipBank(pack, 1.0, RATE, seed=3).batch(16)
    assert torch.equal(batch, again)  # seeded: a resumed run sees the same stream
    plain = ClipBank(pack, 1.0, RATE, seed=3, augment=False).batch(16)
    assert not torch.allclose(batch, plain)


def test_torch_eq_is_the_synthesizers_eq():
    gains = np.array([3.0, -2.0, 4.0, -4.0, 1.0, 2.0, -3.0])
    sos = np.concatenate([biquad("peak", f, RATE, g, 1.0)
                          for f, g in zip(SEVEN_BANDS, gains, strict=True)])
    _, h = ss.sosfreqz(sos, worN=96001, fs=RATE)
    ours = seven_band_response(torch.tensor(gains)[None], RATE, 96001)[0].numpy()
    assert np.max(np.abs(20 * np.log10(np.abs(h)) - 20 * np.log10(ours))) < 0.2  # dB


def test_batch_augmentation_gain_and_polarity():
    x = torch.randn(400, 4800)
    y = augment_batch(x, ["bass"] * 400, RATE, torch.Generator().manual_seed(0))
    gains = (y * x).sum(-1) / (x * x).sum(-1)  # the EQ (up to +-3 dB) averages out
    assert 0.04 < (gains < 0).float().mean() < 0.16  # polarity flipped about 10% of the time
    assert (gains.abs() > 0.4).all() and (gains.abs() < 1.7).all()


def test_budget_ends_on_steps_or_on_the_clock():
    by_steps = Budget(steps=10, minutes=0, warmup=0)
    assert not by_steps.done(9) and by_steps.done(10)
    assert by_steps.progress(5) == pytest.approx(0.5)
    by_clock = Budget(steps=10**9, minutes=0.05 / 60, warmup=0)  # 50 ms
    time.sleep(0.06)
    assert by_clock.done(3) and by_clock.progress(3) == 1.0
    # the decay follows progress: full at the start, the floor at the end
    assert learning_rate(100, 1.0, 10, 0.0, 0.1) == pytest.approx(1.0)
    assert learning_rate(100, 1.0, 10, 1.0, 0.1) == pytest.approx(0.1)
    assert learning_rate(4, 1.0, 10, 0.0, 0.1) == pytest.approx(0.5)  # warming up


def test_bf16_only_where_the_hardware_has_it():
    cpu = torch.device("cpu")
    native = bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    assert use_bf16("auto", cpu) == native
    assert use_bf16("on", cpu) and not use_bf16("off", cpu)


def test_token_files_keep_the_mel_to_within_half_a_step():
    from lab.training.tokens import MEL_STEP, pack_mel, unpack_mel

    mel = np.random.default_rng(0).uniform(-11.5, 2.0, (200, 120)).astype(np.float32)
    assert np.max(np.abs(unpack_mel(pack_mel(mel)) - mel)) <= MEL_STEP / 2 + 1e-6
