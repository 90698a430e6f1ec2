"""Other projects' weights through the ``stemma`` command, as a user brings them: checkpoints
written in each published format (random weights), ``stemma models add``, then
``stemma separate --model NAME`` on real files; and every way adding can go wrong."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from engine import load_audio, probe_audio
from tests.conftest import music, residual_db
from tests.engine.backends import checkpoints as ck

BLOCK_DEMUCS = ("import sys; sys.modules['demucs'] = None; from engine.cli import main; "
                "sys.exit(main(sys.argv[1:]))")  # the demucs package made unimportable


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A user data folder of the tests' own: the registry never touches a real user's."""
    return tmp_path_factory.mktemp("home")


def stemma(home: Path, *args: object, code: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, XDG_DATA_HOME=str(home), STEMMA_MODELS_DIR="")
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "engine"]
    return subprocess.run([*command, *map(str, args)], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    root = tmp_path_factory.mktemp("weights")
    return {"demucs": ck.write_demucs(root / "demucs"),
            "bag": ck.write_demucs_bag(root / "bag"),
            "mdx": ck.write_mdx(root / "mdx" / "UVR-MDX-NET-tiny.onnx"),
            "bs": ck.write_roformer(root / "bs", "bs"),
            "mel": ck.write_roformer(root / "mel", "mel")}


@pytest.fixture(scope="module")
def songs(tmp_path_factory):
    """48 kHz mono (resampled to the models' 44.1 kHz and back) and 44.1 kHz stereo."""
    folder = tmp_path_factory.mktemp("songs")
    mono = folder / "mono48.wav"
    sf.write(mono, music(3.0, 48000, 1).T, 48000, subtype="PCM_24")
    stereo = folder / "stereo44.flac"
    sf.write(stereo, music(3.5, 44100, 2, seed=1)[:, :154_321].T, 44100, subtype="PCM_24")
    return [mono, stereo]


ADD = {"demucs": [], "bag": [], "bs": [], "mel": [],
       "mdx": ["--stem", "vocals", "--n-fft", "2048", "--compensate", "1.02"]}
STEMS = {"demucs": ck.SOURCES, "bag": ck.SOURCES, "bs": ["vocals", "other"],
         "mel": ["vocals", "other"], "mdx": ["vocals", "instrumental"]}


@pytest.mark.parametrize("kind", list(ADD))
def test_add_then_separate_by_name(home, weights, songs, tmp_path, kind):
    name = f"my-{kind}"
    run = stemma(home, "models", "add", weights[kind], "--name", name, *ADD[kind])
    assert run.returncode == 0, run.stderr
    assert f"added {name}" in run.stdout
    run = stemma(home, "separate", *songs, "--model", name, "-o", tmp_path, "--device", "cpu")
    assert run.returncode == 0, run.stderr
    assert f"model {name} on " in run.stderr and "cpu" in run.stderr.lower()  # placement
    for song in songs:
        mix, rate = load_audio(song)
        out = tmp_path / song.stem
        assert sorted(p.stem for p in out.iterdir()) == sorted(STEMS[kind])
        stems = []
        for stem in STEMS[kind]:
            info = probe_audio(out / f"{stem}.wav")
            assert (info.sample_rate, info.n_channels, info.n_frames) == (
                rate, mix.shape[0], mix.shape[1])
            stems.append(load_audio(out / f"{stem}.wav")[0])
        assert residual_db(mix, stems) < -80  # the stems sum back to the mix
        assert min(float(np.abs(s - mix / len(stems)).max()) for s in stems) > 1e-3, (
            "the stems are an even split of the mix: the model did not run")


def test_models_lists_added_models_with_provenance(home, weights):
    run = stemma(home, "models", "add", weights["bs"], "--name", "listed-bs")
    assert run.returncode == 0, run.stderr
    listing = stemma(home, "models")
    assert listing.returncode == 0, listing.stderr
    line = next(ln for ln in listing.stdout.splitlines() if ln.strip().startswith("listed-bs:"))
    assert "BS-RoFormer" in line and str(weights["bs"]) in line and "referenced" in line
    entry = next(m for m in json.loads(stemma(home, "models", "--json").stdout)
                 if m["name"] == "listed-bs")
    assert entry["provenance"]["source"] == str(weights["bs"])
    assert entry["provenance"]["added"][:4].isdigit() and entry["stems"] == ["vocals", "other"]
    manifest = json.loads((home / "stemma" / "models" / "listed-bs" / "manifest.json")
                          .read_text())
    assert {f["path"] for f in manifest["files"]} == {str(weights["bs"]),
                                                      str(weights["bs"].with_suffix(".yaml"))}
    assert all(len(f["sha256"]) == 64 for f in manifest["files"])
    removed = stemma(home, "models", "remove", "listed-bs")
    assert removed.returncode == 0 and weights["bs"].is_file()  # referenced weights stay
    assert "listed-bs" not in stemma(home, "models").stdout


def test_model_path_runs_without_adding(home, weights, songs, tmp_path):
    run = stemma(home, "separate", songs[1], "--model", weights["demucs"], "-o", tmp_path,
                 "--two-stems", "vocals")
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in (tmp_path / songs[1].stem).iterdir()) == [
        "no_vocals.wav", "vocals.wav"]


def test_copied_weights_survive_the_original_and_referenced_ones_are_checked(
        home, weights, songs, tmp_path):
    source = tmp_path / "elsewhere"
    original = ck.write_roformer(source, "mel", seed=5)
    assert stemma(home, "models", "add", original, "--name", "ref-mel").returncode == 0
    run = stemma(home, "models", "add", original, "--name", "copy-mel", "--copy")
    assert run.returncode == 0, run.stderr
    state = torch.load(original)
    state["band_split.to_features.0.0.gamma"] += 1.0  # the file changes after adding
    torch.save(state, original)
    referenced = stemma(home, "separate", songs[0], "--model", "ref-mel", "-o", tmp_path / "a")
    assert referenced.returncode == 1
    assert "does not match its manifest" in referenced.stderr and str(original) in (
        referenced.stderr)
    original.unlink()
    copied = stemma(home, "separate", songs[0], "--model", "copy-mel", "-o", tmp_path / "b")
    assert copied.returncode == 0, copied.stderr


def corrupt_key(path: Path, old: str, new: str) -> None:
    state = torch.load(path)
    state[new] = state.pop(old)
    torch.save(state, path)


def test_strict_loading_names_a_corrupted_roformer_key(home, tmp_path):
    path = ck.write_roformer(tmp_path, "bs")
    corrupt_key(path, "layers.0.1.layers.0.0.to_qkv.weight",
                "layers.0.1.layers.0.0.to_qkv.weihgt")
    run = stemma(home, "models", "add", path, "--name", "broken-bs")
    assert run.returncode == 1
    error = run.stderr.strip()
    assert error.count("\n") == 0 and str(path) in error
    assert "missing layers.0.1.layers.0.0.to_qkv.weight" in error
    assert "unexpected layers.0.1.layers.0.0.to_qkv.weihgt" in error
    assert not (home / "stemma" / "models" / "broken-bs").exists()


def test_strict_loading_names_a_corrupted_demucs_key(home, tmp_path):
    from demucs.states import save_with_checksum

    package = torch.load(ck.write_demucs(tmp_path / "good"), weights_only=False)
    package["state"]["decoder.0.conv_tr.weight"] = package["state"].pop(
        "decoder.0.conv_tr.weight")[:, :2]
    save_with_checksum(package, tmp_path / "bad.th")
    bad = next(tmp_path.glob("bad-*.th"))
    run = stemma(home, "models", "add", bad)
    assert run.returncode == 1 and str(bad) in run.stderr
    assert "wrong shape: decoder.0.conv_tr.weight" in run.stderr


def test_a_mismatched_config_is_refused(home, tmp_path):
    path = ck.write_roformer(tmp_path, "bs")
    config = path.with_suffix(".yaml")
    config.write_text(config.read_text().replace("dim: 16", "dim: 24"))
    run = stemma(home, "models", "add", path)
    assert run.returncode == 1 and str(path) in run.stderr
    assert "wrong shape: band_split.to_features.0.1.weight" in run.stderr
    mdx = ck.write_mdx(tmp_path / "m.onnx", dim_f=256, dim_t=32)
    run = stemma(home, "models", "add", mdx, "--stem", "vocals", "--n-fft", "2048",
                 "--dim-t", "64")
    assert run.returncode == 1
    assert f"{mdx}: dim_t is 64, but the graph takes 32" in run.stderr


def test_an_unknown_format_is_refused(home, tmp_path):
    notes = tmp_path / "weights.bin"
    notes.write_bytes(b"\0" * 100)
    run = stemma(home, "models", "add", notes)
    assert run.returncode == 1
    assert f"{notes}: not a checkpoint Stemma can read" in run.stderr
    onnx_path = tmp_path / "other.onnx"
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16])])
    onnx.save(helper.make_model(graph), str(onnx_path))
    run = stemma(home, "models", "add", onnx_path, "--stem", "vocals", "--n-fft", "2048")
    assert run.returncode == 1 and "an MDX-Net model takes (batch, 4, dim_f, dim_t)" in run.stderr


def test_a_missing_extra_says_which_to_install(home, weights, songs, tmp_path):
    run = stemma(home, "models", "add", weights["demucs"], "--name", "no-extra",
                 code=BLOCK_DEMUCS)
    assert run.returncode == 1
    assert str(weights["demucs"]) in run.stderr
    assert "install the demucs extra (pip install 'stemma[demucs]'" in run.stderr
    run = stemma(home, "separate", songs[0], "--model", weights["demucs"], "-o", tmp_path,
                 code=BLOCK_DEMUCS)
    assert run.returncode == 1 and "demucs extra" in run.stderr


def test_cuda_runs_on_cuda_or_says_why_not(home, weights, songs, tmp_path):
    run = stemma(home, "separate", songs[0], "--model", weights["mel"], "-o", tmp_path,
                 "--device", "cuda")
    if torch.cuda.is_available():
        assert run.returncode == 0 and "Mel-RoFormer: torch on cuda" in run.stderr, run.stderr
    else:  # a usage error (exit 2, as the README says), never a silent CPU run
        assert run.returncode == 2 and "CUDA was requested" in run.stderr
        assert not any(tmp_path.iterdir())
