"""Prior gains of a token separator: the fit recovers a known colouring, `stemma-lab
calibrate` writes them into a model folder the engine verifies and loads, and they change
what the refinement gives (still summing to the mix); a damaged gains file is refused."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from safetensors.numpy import save_file

from engine import Separator
from engine.backends.tokenlm import N_FFT, PRIOR_GAINS, RATE, RefineConfig, wiener_refine
from engine.errors import ModelError
from engine.registry import ModelInfo
from lab.cli import main as lab_main
from lab.evaluation.calibrate import GainFit
from lab.training.testset import write_test_set
from tests.conftest import music, residual_db
from tests.lab.nn.test_tokenlm import tiny_model  # noqa: F401  (a fixture)

FREQS = np.arange(N_FFT // 2 + 1) * RATE / N_FFT


def _coloured(x: np.ndarray, gain_below_250: float) -> np.ndarray:
    """``x`` with its power below 250 Hz multiplied by ``gain_below_250``."""
    spectrum = np.fft.rfft(x)
    spectrum[np.fft.rfftfreq(len(x), 1 / RATE) < 250] *= np.sqrt(gain_below_250)
    return np.fft.irfft(spectrum, len(x)).astype(np.float32)


def test_the_fit_undoes_a_known_colouring():
    """Generated bass 6 dB too weak below 250 Hz and drums 3 dB too loud everywhere: the
    gains say +6 dB and -3 dB there and 0 dB elsewhere."""
    rng = np.random.default_rng(0)
    fit = GainFit()
    for _ in range(2):
        true = rng.standard_normal((4, 4 * RATE)).astype(np.float32)
        generated = true.copy()
        generated[2] = _coloured(true[2], 0.25)
        generated[1] *= np.sqrt(0.5)
        fit.add(true, np.stack([generated, generated]))  # two generations, as samples=2
    db = 10 * np.log10(fit.gains())
    low, high = (FREQS > 40) & (FREQS < 200), FREQS > 400
    assert abs(db[2, low].mean() - 6.0) < 0.5 and abs(db[2, high].mean()) < 0.3
    assert np.all(np.abs(db[1, FREQS > 40] - 3.0) < 0.3)
    assert np.all(np.abs(db[[0, 3]][:, FREQS > 40]) < 0.3)
    assert abs(10 * np.log10(fit.gains(strength=0.5)[2, low].mean()) - 3.0) < 0.5


def test_gains_move_the_mixture_towards_a_stem_and_keep_the_sum():
    mix = music(6.0, RATE, 2, seed=3)
    rng = np.random.default_rng(1)
    raw = np.abs(rng.standard_normal((4, mix.shape[1]))).astype(np.float32) * mix[0]
    gains = np.ones((4, N_FFT // 2 + 1), np.float32)
    gains[2] = 100.0
    plain = wiener_refine(mix, raw)
    boosted = wiener_refine(mix, raw, RefineConfig(gains=gains))
    assert np.sum(boosted[2] ** 2) > 2 * np.sum(plain[2] ** 2)
    assert residual_db(mix, boosted) < -80


@pytest.fixture(scope="module")
def calibration_songs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("calibration")
    write_test_set(folder, n_songs=2, set_seed=3, sample_rate=44100, min_seconds=3.0,
                   max_seconds=4.0)
    return folder


def test_calibrate_writes_gains_the_engine_loads_and_uses(tiny_model, calibration_songs,  # noqa: F811
                                                          tmp_path, capsys):
    model = tmp_path / "tokenlm-tiny"
    shutil.copytree(tiny_model, model)
    assert lab_main(["calibrate", str(model), "--data", str(calibration_songs), "-q"]) == 0
    assert "prior gains written" in capsys.readouterr().out
    info = ModelInfo.from_folder(model)
    info.verify()  # the manifest lists the new file with its sha256
    assert [f.path for f in info.files].count(PRIOR_GAINS) == 1
    mix = music(3.0, 44100, 2, seed=9)
    calibrated = Separator(model).separate(mix, 44100)
    plain = Separator(model, options={"calibrated": False}).separate(mix, 44100)
    assert residual_db(mix, calibrated.values()) < -60
    assert any(np.max(np.abs(calibrated[s] - plain[s])) > 1e-4 for s in calibrated)
    # a second calibration replaces the file and its entry
    assert lab_main(["calibrate", str(model), "--data", str(calibration_songs), "--limit", "1",
                     "--strength", "0.5", "-q"]) == 0
    manifest = json.loads((model / "manifest.json").read_text())
    assert [f["path"] for f in manifest["files"]].count(PRIOR_GAINS) == 1
    ModelInfo.from_folder(model).verify()


def test_a_damaged_gains_file_is_refused_with_its_path(tiny_model, tmp_path):  # noqa: F811
    from lab.evaluation.calibrate import write_gains

    model = tmp_path / "tokenlm-tiny"
    shutil.copytree(tiny_model, model)
    write_gains(model, np.ones((4, 100), np.float32), {})  # the wrong number of bins
    with pytest.raises(ModelError, match="prior gains must be 4 x 2049") as err:
        Separator(model).separate(music(1.0, 44100, 2, seed=1), 44100)
    assert PRIOR_GAINS in str(err.value)
    save_file({"gains": np.ones((4, N_FFT // 2 + 1), np.float32)}, str(model / PRIOR_GAINS))
    with pytest.raises(ModelError, match="does not match its manifest"):
        Separator(model).separate(music(1.0, 44100, 2, seed=1), 44100)
