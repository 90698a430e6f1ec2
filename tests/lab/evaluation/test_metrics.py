"""Each metric on cases whose answer is known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine.dsp.mel import mel_filters
from lab.evaluation import metrics
from lab.evaluation.nisqa import Nisqa, NisqaDim, melspec_db, segments
from tests.conftest import music

ROOT = Path(__file__).resolve().parents[3]


def _weights() -> Path | None:
    import os
    for candidate in (os.environ.get("STEMMA_NISQA_WEIGHTS"),
                      ROOT.parent / "shared" / "eval" / "nisqa" / "nisqa.tar"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


@pytest.fixture(scope="module")
def reference():
    return music(6.0, 44100, 2, seed=4).astype(np.float64)


def _noisy(x, snr_db, seed=0):
    noise = np.random.default_rng(seed).standard_normal(x.shape)
    noise *= np.sqrt(np.sum(x ** 2) / np.sum(noise ** 2) / 10 ** (snr_db / 10))
    return x + noise


def test_sdr_of_known_snr(reference):
    assert metrics.sdr(reference, _noisy(reference, 12.0)) == pytest.approx(12.0, abs=1e-6)
    assert metrics.sdr(reference, np.zeros_like(reference)) == pytest.approx(0.0, abs=1e-6)
    assert metrics.sdr(reference, reference) > 100


def test_csdr_is_the_median_of_frames_and_skips_silence(reference):
    sr = 44100
    est = reference.copy()
    # Frame 0 at 20 dB, frame 1 at 0 dB (estimate zero), frame 2 silent in the reference.
    ref = reference[:, :3 * sr].copy()
    ref[:, 2 * sr:] = 0.0
    est = ref.copy()
    est[:, :sr] = _noisy(ref[:, :sr], 20.0)
    est[:, sr:2 * sr] = 0.0
    est[:, 2 * sr:] = 1.0  # ignored: nothing to compare with
    frames = metrics.framewise_sdr(ref, est, sr)
    assert frames[0] == pytest.approx(20.0, abs=1e-6) and frames[1] == pytest.approx(0.0, abs=1e-6)
    assert np.isnan(frames[2])
    assert metrics.csdr(ref, est, sr) == pytest.approx(10.0, abs=1e-6)
    assert np.isnan(metrics.csdr(np.zeros((1, sr)), np.ones((1, sr)), sr))


def test_si_sdr_ignores_scale_but_sdr_does_not(reference):
    noisy = _noisy(reference, 15.0)
    assert metrics.si_sdr(reference, 0.25 * noisy) == pytest.approx(
        metrics.si_sdr(reference, noisy), abs=1e-6)
    assert metrics.si_sdr(reference, noisy) == pytest.approx(15.0, abs=0.1)
    assert metrics.sdr(reference, 0.25 * noisy) < 3.0


def test_visqol_identity_is_the_maximum_and_noise_lowers_it(reference):
    visqol = metrics.Visqol()
    best = visqol(reference, reference, 44100)
    assert best == pytest.approx(4.73, abs=0.02)  # ViSQOL v3 audio mode's ceiling
    assert visqol(reference, _noisy(reference, 10.0), 44100) < best - 1.0
    assert np.isnan(visqol(np.zeros((1, 44100)), np.ones((1, 44100)), 44100))


def test_dnsmos_hears_noise():
    from lab.training.synth import voice
    rng = np.random.default_rng(0)
    notes = [(0.2 + 0.5 * i, 0.45, 60 + [0, 2, 4, 5, 7][i % 5], 100) for i in range(18)]
    sung = voice.sing_line(rng, "en-us+f3", notes, 16000 * 10, 16000)[None]
    dnsmos = metrics.Dnsmos()
    clean = dnsmos(sung, 16000)
    noisy = dnsmos(_noisy(sung, 0.0), 16000)
    assert set(clean) == {"sig", "bak", "ovrl"}
    assert clean["bak"] > noisy["bak"] + 0.5
    assert all(1.0 <= v <= 5.0 for v in clean.values())


def test_mel_filters_are_area_normalised_triangles():
    sr, n_fft = 48000, 4096
    fb = mel_filters(sr, n_fft, 48, 20000.0)
    assert fb.shape == (48, n_fft // 2 + 1) and np.all(fb >= 0)
    bin_hz = sr / n_fft
    area = fb.sum(axis=1) * bin_hz  # Slaney normalisation: every triangle has unit area
    assert np.allclose(area[2:], 1.0, rtol=0.05)
    assert np.all(fb[:, np.fft.rfftfreq(n_fft, 1 / sr) > 20500] == 0)


def test_nisqa_features_and_checkpoint_format(tmp_path):
    """A random NISQA-DIM saved the way the authors' checkpoint is loads into our scorer and
    gives the model's own output: the loading path and the segment layout are right."""
    mel = melspec_db(np.random.default_rng(0).standard_normal(48000 * 2) * 0.1, 48000)
    assert mel.shape == (48, 201) and mel.max() - mel.min() <= 80.0 + 1e-4
    segs = segments(mel)
    assert segs.shape == (-(-(201 - 14) // 4), 1, 48, 15)
    assert torch.equal(segs[1, 0], torch.from_numpy(mel[:, 4:19]))
    model = NisqaDim().eval()
    torch.save({"args": {}, "model_state_dict": model.state_dict()}, tmp_path / "w.tar")
    scorer = Nisqa(tmp_path / "w.tar")
    audio = np.random.default_rng(1).standard_normal(48000 * 2) * 0.1
    with torch.no_grad():
        expected = model(segments(melspec_db(audio, 48000))).numpy()
    got = scorer(audio, 48000)
    assert np.allclose([got[k] for k in ("mos", "noi", "dis", "col", "loud")], expected,
                       atol=1e-5)


def test_nisqa_with_the_authors_weights_hears_noise():
    weights = _weights()
    if weights is None:
        pytest.skip("NISQA weights are not shipped; set STEMMA_NISQA_WEIGHTS to run this")
    from lab.training.synth import voice
    rng = np.random.default_rng(0)
    notes = [(0.2 + 0.5 * i, 0.45, 60 + [0, 2, 4, 5, 7][i % 5], 100) for i in range(16)]
    sung = voice.sing_line(rng, "en-us+f3", notes, 48000 * 9, 48000)
    nisqa = Nisqa(weights)
    clean, noisy = nisqa(sung, 48000), nisqa(_noisy(sung[None], 0.0), 48000)
    assert clean["noi"] > noisy["noi"] + 0.5  # noisiness dimension: higher is cleaner
