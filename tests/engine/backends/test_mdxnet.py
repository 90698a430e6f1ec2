"""MDX-Net ONNX models: the spectrogram UVR feeds them, the stem back in place, sample for
sample, through the engine's chunking; settings from UVR's model data."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engine import InvalidArgumentError, ModelConfigError, Separator
from engine.backends.mdxnet import istft, stft
from engine.importing import ImportSettings, add_model, recognise, uvr_hash
from tests.conftest import music, sdr_db
from tests.engine.backends import checkpoints as ck


@pytest.fixture(autouse=True)
def user_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("STEMMA_MODELS_DIR", "")


@pytest.mark.parametrize("n_fft", [2048, 7680])  # 7680: UVR's Inst models, hop does not divide
def test_stft_is_torchs(n_fft):
    x = np.random.default_rng(0).standard_normal((2, 30_000)).astype(np.float32)
    window = torch.hann_window(n_fft)
    ref = torch.stft(torch.from_numpy(x), n_fft, 1024, window=window, return_complex=True)
    ours = stft(x, n_fft, 1024)
    assert np.abs(ours - ref.numpy()).max() < 1e-6 * np.abs(ref.numpy()).max()
    back = torch.istft(ref, n_fft, 1024, window=window, length=30_000).numpy()
    assert np.abs(istft(ours, n_fft, 1024, 30_000) - back).max() < 1e-5


def test_an_identity_graph_gives_back_the_mixture_above_the_lowest_bins(tmp_path):
    """The graph returns the spectrogram it is fed: the stem must be the mixture without the
    three lowest bins UVR zeroes, at the same samples, across the engine's chunk joins."""
    path = ck.write_mdx(tmp_path / "identity.onnx", dim_f=3073, dim_t=64, scale=0.0)
    add_model(path, "identity", ImportSettings(stem="vocals", n_fft=6144))
    mix = music(4.0, 44100, 2)
    stems = Separator("identity", device="cpu").separate(mix, 44100)
    spec = stft(mix, 6144, 1024)
    spec[:, :3] = 0
    expected = istft(spec, 6144, 1024, mix.shape[1])
    inner = slice(6144, -6144)  # the file's own ends are padded differently (zeros vs reflect)
    assert sdr_db(expected[:, inner], stems["vocals"][:, inner]) > 60
    assert sdr_db((mix - expected)[:, inner], stems["instrumental"][:, inner]) > 40


def test_settings_come_from_uvrs_model_data(tmp_path):
    path = ck.write_mdx(tmp_path / "UVR-MDX-NET-Inst_tiny.onnx", dim_f=256, dim_t=32)
    data = tmp_path / "model_data" / "model_data.json"
    data.parent.mkdir()
    data.write_text(json.dumps({ck.uvr_hash(path): {
        "compensate": 1.035, "mdx_dim_f_set": 256, "mdx_dim_t_set": 5,
        "mdx_n_fft_scale_set": 2048, "primary_stem": "Instrumental"}}))
    assert uvr_hash(path) == ck.uvr_hash(path)
    found = recognise(path)
    assert found.stems == ("instrumental", "vocals")
    assert {k: found.params[k] for k in ("n_fft", "dim_f", "dim_t", "compensate")} == {
        "n_fft": 2048, "dim_f": 256, "dim_t": 32, "compensate": 1.035}


def test_model_data_that_contradicts_the_graph_is_refused(tmp_path):
    path = ck.write_mdx(tmp_path / "m.onnx", dim_f=256, dim_t=32)
    data = tmp_path / "uvr.json"
    data.write_text(json.dumps({ck.uvr_hash(path): {
        "compensate": 1.0, "mdx_dim_f_set": 3072, "mdx_dim_t_set": 5,
        "mdx_n_fft_scale_set": 6144, "primary_stem": "Vocals"}}))
    with pytest.raises(ModelConfigError, match="dim_f is 3072, but the graph takes 256"):
        recognise(path, ImportSettings(model_data=data))


def test_options_are_strict_and_denoise_runs_twice(tmp_path):
    path = ck.write_mdx(tmp_path / "m.onnx", dim_f=256, dim_t=32)
    add_model(path, "tiny-mdx", ImportSettings(stem="vocals", n_fft=2048))
    with pytest.raises(InvalidArgumentError, match="overlap does not apply to a mdxnet"):
        Separator("tiny-mdx", device="cpu", options={"overlap": 0.5})
    mix = music(2.0, 44100, 2)
    plain = Separator("tiny-mdx", device="cpu").separate(mix, 44100)["vocals"]
    denoised = Separator("tiny-mdx", device="cpu", options={"denoise": "true"}).separate(
        mix, 44100)["vocals"]
    # The graph is linear, so -f(-x) = f(x) and denoising must leave the stem as it is; a sign
    # slip (f(x) + f(-x)) would give silence.
    assert np.abs(plain - denoised).max() < 1e-5
