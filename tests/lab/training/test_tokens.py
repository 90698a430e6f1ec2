"""The separator's token files: the mel of the mixture as a 44.1 kHz file delivers it, beside
the clean one, and training windows that draw it as asked."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from lab.musdb import STEMS
from lab.nn.conformer import ConformerConfig, mel_filters
from lab.training.tokens import TokenWindows, as_delivered, prepare_tokens, unpack_mel
from tests.conftest import music_parts
from tests.lab.conftest import tiny_codec

SR = 48000


def _song(folder, seconds=3.0):
    parts = music_parts(seconds, SR)
    song = folder / "songs" / "000_test"
    song.mkdir(parents=True)
    for name in STEMS:
        sf.write(song / f"{name}.wav", parts[name].T.astype(np.float32), SR, subtype="FLOAT")
    sf.write(song / "mixture.wav", sum(parts.values()).T.astype(np.float32), SR, subtype="FLOAT")
    return folder / "songs"


def _bands(lo_hz: float, hi_hz: float) -> np.ndarray:
    """The conditioner's mel bands whose centre lies between lo_hz and hi_hz."""
    cfg = ConformerConfig()
    fb = mel_filters(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.sample_rate / 2)
    centres = fb.argmax(axis=1) * cfg.sample_rate / cfg.n_fft
    return np.flatnonzero((centres >= lo_hz) & (centres <= hi_hz))


def test_token_files_carry_the_441_khz_delivery_of_the_mix(tmp_path):
    files = prepare_tokens(_song(tmp_path), tiny_codec(), tmp_path / "tokens", variants=(0,),
                           codec_probability=0.0)
    with np.load(files[0]) as data:
        clean, delivered = unpack_mel(data["mel"]), unpack_mel(data["mel_delivered"])
        n_frames = data["tokens"].shape[-1]
    assert clean.shape == delivered.shape == (4 * n_frames, ConformerConfig().n_mels)
    top, low = _bands(22300, 24000), _bands(100, 10000)
    assert len(top) == 2 and len(low) >= 40
    # the hi-hats' noise reaches 24 kHz in the render; a 44.1 kHz file has nothing above 22.05
    # kHz, and the conditioner's top two bands are centred above it
    assert clean[:, top].mean() - delivered[:, top].mean() > 3.0
    # below 10 kHz the delivery is the same music: at most a quantisation step (0.086) apart
    assert np.abs(clean[:, low] - delivered[:, low]).mean() < 0.09


def test_windows_draw_the_delivered_mel_with_the_asked_probability(tmp_path):
    files = prepare_tokens(_song(tmp_path), tiny_codec(), tmp_path / "tokens", variants=(0,),
                           codec_probability=0.0)
    with np.load(files[0]) as data:
        clean, delivered = unpack_mel(data["mel"]), unpack_mel(data["mel_delivered"])
    top = _bands(22300, 24000)
    # a window is a slice of one of the two mels: their top bands tell which
    threshold = (clean[:, top].mean() + delivered[:, top].mean()) / 2

    def delivered_share(p: float) -> float:
        windows = iter(TokenWindows(tmp_path / "tokens", 8, delivered=p))
        return np.mean([next(windows)["mel"].numpy()[:, top].mean() < threshold
                        for _ in range(200)])

    assert delivered_share(0.0) == 0.0
    assert delivered_share(1.0) == 1.0
    assert 0.3 < delivered_share(0.5) < 0.7


def test_a_coded_delivery_keeps_length_and_music():
    mix = sum(music_parts(2.0, SR).values()).mean(axis=0).astype(np.float32)
    out = as_delivered(mix, SR, np.random.default_rng(0), codec_probability=1.0)
    assert out.shape == mix.shape and out.dtype == np.float32
    err = np.sum((out - mix) ** 2) / np.sum(mix ** 2)
    assert 10 * np.log10(err) < -10  # the same music, time-aligned, after MP3/AAC at 44.1 kHz
