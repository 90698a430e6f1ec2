"""The codec model, its ONNX export (parity with torch, any length, any number of levels), the
runtime that serves it, and the roundtrip command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import soundfile as sf
import torch

from engine.neural_codec import NeuralCodec
from engine.nn.serialization import load_model, save_model
from export_onnx.codec import EncoderGraph, check
from lab.nn.codec import PRESETS, Codec, CodecConfig
from tests.lab.conftest import TINY, tiny_codec


def test_presets_have_the_papers_shape():
    paper = PRESETS["paper"]
    assert (paper.sample_rate, paper.n_fft, paper.hop, paper.frame_rate) == (48000, 1920, 960,
                                                                           12.5)
    assert (paper.n_levels, paper.codebook_size, paper.latent_dim) == (16, 1024, 512)
    small = PRESETS["small"]
    assert small.frame_rate == 12.5 and small.n_levels == 16 and small.codebook_size == 1024


def test_training_forward_shapes_and_quantizer_dropout():
    codec = Codec(TINY).train()
    audio = torch.randn(2, TINY.frame_samples * 6) * 0.1
    out = codec(audio)
    assert out.audio.shape == audio.shape and out.codes.shape == (2, 2, 4, 6)
    assert out.semantic_pred.shape == out.semantic_target.shape == (2, 24, TINY.teacher.dim)
    assert codec(audio, n_levels=2).codes.shape == (2, 2, 2, 6)
    assert not any(p.requires_grad for p in codec.teacher.parameters())


def test_encode_pads_to_whole_frames_and_decode_gives_them_back():
    codec = tiny_codec()
    codes = codec.encode(torch.randn(1, TINY.frame_samples * 3 + 100))
    assert codes.shape == (1, 2, 4, 4)
    assert codec.decode(codes).shape == (1, TINY.frame_samples * 4)
    assert codec.decode(codes[:, :, :1]).shape == (1, TINY.frame_samples * 4)


def test_weights_round_trip_through_safetensors(tmp_path):
    codec = tiny_codec()
    save_model(tmp_path / "c.safetensors", codec.state_dict(), "codec", TINY.to_dict())
    kind, config, state = load_model(tmp_path / "c.safetensors")
    again = Codec(CodecConfig.from_dict(config))
    again.load_state_dict(state)
    x = torch.randn(1, TINY.frame_samples * 2)
    assert kind == "codec" and torch.equal(codec.eval().encode(x), again.eval().encode(x))


def test_onnx_matches_torch(tiny_package):
    codec, folder = tiny_package
    result = check(codec, folder / "encoder.onnx", folder / "decoder.onnx")
    assert result["same_codes"] == 1.0
    assert result["relative_error"] < 1e-3


def test_onnx_takes_any_length_and_any_number_of_levels(tiny_package):
    codec, folder = tiny_package
    enc = ort.InferenceSession(str(folder / "encoder.onnx"))
    dec = ort.InferenceSession(str(folder / "decoder.onnx"))
    audio = (np.random.default_rng(0).standard_normal((1, TINY.frame_samples * 13)) * 0.1
             ).astype(np.float32)
    codes = enc.run(None, {"audio": audio})[0]
    assert codes.shape == (1, 2, 4, 13)
    assert np.array_equal(codes, EncoderGraph(codec)(torch.from_numpy(audio)).numpy())
    for levels in (1, 3):
        wave = dec.run(None, {"codes": codes[:, :, :levels]})[0]
        ref = codec.decode(torch.from_numpy(codes[:, :, :levels])).numpy()
        assert wave.shape == (1, TINY.frame_samples * 13)
        assert np.abs(wave - ref).max() < 1e-3 * np.abs(ref).max()
    batch = np.concatenate([codes, codes[:, :, :, ::-1]])  # two different signals at once
    waves = dec.run(None, {"codes": np.ascontiguousarray(batch)})[0]
    assert waves.shape == (2, TINY.frame_samples * 13)
    assert np.allclose(waves[0], dec.run(None, {"codes": codes})[0][0], atol=1e-6)


def test_runtime_codes_long_audio_in_windows_at_any_rate(tiny_package):
    _, folder = tiny_package
    codec = NeuralCodec(folder, device="cpu")
    assert codec.provider == "CPUExecutionProvider"
    audio = (np.random.default_rng(1).standard_normal((2, 44100 * 25)) * 0.1).astype(
        np.float32)  # 25 s: many 3.2 s windows
    out = codec.roundtrip(audio, 44100, n_levels=2)
    assert out.shape == audio.shape and np.isfinite(out).all() and np.abs(out).max() > 0
    codes = codec.encode(audio[0], 44100)
    assert codes.tokens.shape == (2, 4, -(-codes.n_samples // TINY.frame_samples))


def test_runtime_refuses_a_tampered_graph(tiny_package, tmp_path):
    import shutil

    from engine import ModelIntegrityError
    _, folder = tiny_package
    copy = tmp_path / "tampered"
    shutil.copytree(folder, copy)
    with (copy / "decoder.onnx").open("ab") as f:
        f.write(b"x")
    with pytest.raises(ModelIntegrityError):
        NeuralCodec(copy)


def test_a_codec_without_its_training_weights_still_runs(tiny_package, tmp_path):
    """The installer's bundle leaves out the weights only the lab reads ("runtime": false in
    the manifest); the graphs alone still run, and the lab's full check notices they are gone."""
    import json
    import shutil

    from engine import ModelIntegrityError
    from engine.registry import ModelInfo
    _, folder = tiny_package
    entries = json.loads((folder / "manifest.json").read_text())["files"]
    assert [e["path"] for e in entries if e.get("runtime") is False] == ["codec.safetensors"]
    copy = tmp_path / "bundled"
    shutil.copytree(folder, copy)
    (copy / "codec.safetensors").unlink()
    audio = (np.random.default_rng(2).standard_normal((2, 44100 * 4)) * 0.1).astype(np.float32)
    out = NeuralCodec(copy).roundtrip(audio, 44100, n_levels=2)
    assert out.shape == audio.shape and np.abs(out).max() > 0
    with pytest.raises(ModelIntegrityError, match="missing"):
        ModelInfo.from_folder(copy).verify(training=True)
    (copy / "decoder.onnx").unlink()  # a graph separating runs is never optional
    with pytest.raises(ModelIntegrityError, match="missing"):
        NeuralCodec(copy)


def test_cuda_without_a_gpu_provider_is_an_error(tiny_package):
    from engine import DeviceError
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this machine has CUDA: the error case cannot happen here")
    with pytest.raises(DeviceError, match="CUDA"):
        NeuralCodec(tiny_package[1], device="cuda")


def test_roundtrip_command(tiny_package, tmp_path):
    _, folder = tiny_package
    src = tmp_path / "in.wav"
    sf.write(src, (np.random.default_rng(2).standard_normal((22050, 2)) * 0.1), 22050)
    run = subprocess.run([sys.executable, "-m", "lab", "codec", "roundtrip", str(src),
                          str(tmp_path / "out.wav"), "--codec", str(folder), "--levels", "2"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    info = sf.info(tmp_path / "out.wav")
    assert (info.samplerate, info.channels, info.frames) == (22050, 2, 22050)
    assert "CPUExecutionProvider" in run.stdout


def test_windows_cover_every_frame_once_within_the_trained_length():
    from engine.neural_codec import coding_windows

    for n in (1, 39, 40, 41, 333):
        spans = coding_windows(n)
        kept = [f for _, _, k0, k1 in spans for f in range(k0, k1)]
        assert kept == list(range(n))
        assert all(r0 <= k0 < k1 <= r1 and r1 - r0 <= 50 for r0, r1, k0, k1 in spans)


def test_codecs_are_not_separators(tiny_package):
    from engine import ModelNotFoundError, Separator
    from engine.neural_codec import resolve_codec

    _, folder = tiny_package
    assert resolve_codec(folder).name == "tiny"
    with pytest.raises(ModelNotFoundError, match="codec, not a separator"):
        Separator(folder)
    with pytest.raises(ModelNotFoundError, match="separator, not a codec"):
        resolve_codec(Path(__file__).parents[3] / "assets" / "models" / "classic")
