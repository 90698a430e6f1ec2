"""The public API: what the CLI, the app and the plugin backend build on."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import types
from pathlib import Path

import numpy as np
import pytest

import engine
from engine import (
    Cancelled,
    CancelToken,
    DeviceError,
    InvalidArgumentError,
    ModelIntegrityError,
    ModelNotFoundError,
    OutputExistsError,
    OutputSpec,
    Separator,
    Stems,
    TooManyChannelsError,
)
from tests.conftest import music, residual_db


@pytest.fixture(scope="module")
def sep():
    return Separator("classic")


def test_public_api_is_exactly_all():
    for name in engine.__all__:
        assert hasattr(engine, name), name
    public = {n for n in dir(engine) if not n.startswith("_")
              and not isinstance(getattr(engine, n), types.ModuleType)}  # submodules aside
    assert public == set(engine.__all__)


def test_separate_file_streams_to_exact_files(sep, make_wav, tmp_path):
    path, audio = make_wav("song.wav", seconds=6.0, sr=48000, channels=2, subtype="PCM_24")
    seen = []
    result = sep.separate_file(path, tmp_path / "out", on_progress=seen.append)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "bass.wav", "drums.wav", "other.wav", "vocals.wav"]
    stems = Stems.load(tmp_path / "out")
    assert stems.sample_rate == 48000 and stems.n_frames == audio.shape[1]
    assert residual_db(engine.load_audio(path)[0], stems.values()) < -80
    assert seen[0].stage == "separating" and seen[-1].stage == "done"
    assert seen[-1].fraction == pytest.approx(1.0)
    assert result.speed > 0 and result.input.n_frames == audio.shape[1]


def test_in_memory_and_streaming_agree(sep, make_wav, tmp_path):
    path, _ = make_wav("song.wav", seconds=3.0, subtype="FLOAT")
    in_memory = sep.separate(path)
    sep.separate_file(path, tmp_path / "o")
    on_disk = Stems.load(tmp_path / "o")
    for name in in_memory:
        assert np.array_equal(in_memory[name], on_disk[name])


def test_two_stems_and_subsets(sep):
    mix = music(2.0, 44100)
    pair = sep.separate(mix, 44100, stems=["vocals", "no_vocals"])
    assert list(pair) == ["vocals", "no_vocals"]
    assert residual_db(mix, pair.values()) < -80
    assert list(sep.separate(mix, 44100, stems=["drums"])) == ["drums"]


def test_unknown_stem_is_refused_before_any_work(sep, tmp_path):
    with pytest.raises(InvalidArgumentError, match="'guitar'"):
        sep.separate_file(tmp_path / "does-not-even-exist.wav", tmp_path, stems=["guitar"])


def test_samples_by_channels_array_gets_a_hint(sep):
    with pytest.raises(TooManyChannelsError, match=r"audio\.T"):
        sep.separate(np.zeros((44100, 2), np.float32), 44100)


def test_cancel_leaves_no_files(make_wav, tmp_path):
    path, _ = make_wav("long.wav", seconds=40.0)
    token = CancelToken()
    out = tmp_path / "out"

    def progress(p):
        if p.done > 0:  # cancel as soon as the first chunk is out
            token.cancel()

    separator = Separator("classic", chunk_seconds=5)
    with pytest.raises(Cancelled):
        separator.separate_file(path, out, cancel=token, on_progress=progress)
    assert not out.exists()


def test_cancel_from_another_thread_stops_quickly(make_wav, tmp_path):
    path, _ = make_wav("long.wav", seconds=60.0)
    token = CancelToken()
    timer = threading.Timer(0.5, token.cancel)
    timer.start()
    import time
    start = time.perf_counter()
    with pytest.raises(Cancelled):
        Separator("classic").separate_file(path, tmp_path / "o", cancel=token)
    assert time.perf_counter() - start < 3.0
    assert not (tmp_path / "o").exists()  # not even the folder it had created


def test_existing_outputs_are_kept_unless_overwrite(sep, make_wav, tmp_path):
    path, _ = make_wav("song.wav", seconds=1.0)
    out = tmp_path / "out"
    out.mkdir()
    (out / "drums.wav").write_bytes(b"mine")
    with pytest.raises(OutputExistsError, match="drums.wav"):
        sep.separate_file(path, out)
    assert (out / "drums.wav").read_bytes() == b"mine"
    assert sorted(p.name for p in out.iterdir()) == ["drums.wav"]  # nothing else written
    sep.separate_file(path, out, output=OutputSpec(overwrite=True))
    assert engine.probe_audio(out / "drums.wav").n_frames == 44100


def test_name_template(sep, make_wav, tmp_path):
    path, _ = make_wav("My Song.wav", seconds=1.0)
    sep.separate_file(path, tmp_path, stems=["vocals"],
                      output=OutputSpec("flac", "16", name_template="{track}_{stem}"))
    assert (tmp_path / "My Song_vocals.flac").is_file()


def test_stems_remix_and_instrumental(sep):
    mix = music(2.0, 44100)
    stems = sep.separate(mix, 44100)
    assert np.allclose(stems.remix(), mix, atol=1e-5)
    assert np.allclose(stems.instrumental(), mix - stems["vocals"], atol=1e-5)
    half = stems.remix({"drums": 0.5, "vocals": 0.0})
    expected = 0.5 * stems["drums"] + stems["bass"] + stems["other"]
    assert np.allclose(half, expected, atol=1e-6)
    with pytest.raises(InvalidArgumentError):
        stems.remix({"kazoo": 1.0})
    for gain in (float("nan"), float("inf")):
        with pytest.raises(InvalidArgumentError, match="finite"):
            stems.remix({"vocals": gain})


def test_stems_save_is_all_or_nothing(sep, tmp_path):
    stems = sep.separate(music(1.0, 44100), 44100)
    (tmp_path / "other.wav").write_bytes(b"keep me")
    with pytest.raises(OutputExistsError):
        stems.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.wav"]


# --- models and devices --------------------------------------------------------------------


def test_registry_lists_the_models_and_auto_is_the_best_measured():
    models = {m.name: m for m in Separator.models()}
    assert {"classic", "bandsplit", "tokenlm"} <= set(models)
    best = max(models.values(), key=lambda m: m.metrics["usdr_avg"])
    assert best.name == "bandsplit"  # it beats classic on the held-out songs (its model card)
    assert Separator("auto").model.name == best.name


def test_unknown_model_names_the_installed_ones():
    with pytest.raises(ModelNotFoundError, match="classic"):
        Separator("demucs-9000")


def _model_folder(tmp_path, payload: bytes, sha: str):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "weights.bin").write_bytes(payload)
    (folder / "manifest.json").write_text(json.dumps({
        "format_version": 1, "name": "checked", "backend": "classic",
        "stems": ["vocals", "drums", "bass", "other"],
        "files": [{"path": "weights.bin", "sha256": sha, "size": len(payload)}]}))
    return folder


def test_model_files_are_verified(tmp_path):
    import hashlib
    good = hashlib.sha256(b"weights").hexdigest()
    assert Separator(_model_folder(tmp_path, b"weights", good)).model.name == "checked"
    bad = tmp_path / "bad"
    bad.mkdir()
    folder = _model_folder(bad, b"tampered", good)
    with pytest.raises(ModelIntegrityError, match="does not match"):
        Separator(folder)


def test_cuda_for_a_cpu_only_model_is_an_error_not_a_silent_fallback():
    with pytest.raises(DeviceError, match="CPU only"):
        Separator("classic", device="cuda")


def test_chunks_arrive_in_order_and_make_up_the_result(make_wav):
    path, _ = make_wav("song.wav", seconds=12.0)
    pieces = []
    stems = Separator("classic", chunk_seconds=3, threads=1).separate(
        path, stems=["vocals", "no_vocals"], on_chunk=lambda at, b: pieces.append((at, b)))
    assert len(pieces) > 2 and pieces[0][0] == 0
    for (at, block), (nxt, _) in zip(pieces, pieces[1:], strict=False):
        assert at + block["vocals"].shape[-1] == nxt
    joined = np.concatenate([b["no_vocals"] for _, b in pieces], axis=-1)
    assert np.array_equal(joined, stems["no_vocals"])


def test_available_devices_lists_the_cpu():
    assert Separator.available_devices()[0] == "cpu"


def test_an_onnxruntime_model_loads_without_importing_torch():
    """Whether torch sees a GPU costs seconds of start-up to learn; a bandsplit model runs in
    onnxruntime alone, so its provider list decides and `stemma separate` starts sooner."""
    code = ("import sys; from engine import Separator; Separator('bandsplit'); "
            "print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2], check=True)
    assert done.stdout.strip() == "False", done.stderr


@pytest.mark.parametrize("model, options, message", [
    ("classic", {"refine": "false"}, "does not apply to a classic model (it takes no options)"),
    ("tokenlm", {"refnie": "false"}, "refnie does not apply to a tokenlm model"),
    ("tokenlm", {"top_k": "many"}, "invalid option value"),
], ids=["classic-takes-none", "tokenlm-typo", "tokenlm-bad-value"])
def test_model_options_are_strict(model, options, message):
    """`stemma-lab eval --model classic:refine=false` used to run classic as if nothing was
    asked; a misspelt tokenlm option was dropped."""
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        Separator(model, options=options)
