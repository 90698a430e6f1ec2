"""``stemma-lab``: the lab's own command, each trainer with only its own options."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from engine.nn.serialization import load_model, save_model


def lab(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab", *map(str, args)], capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("trainer, foreign", [
    ("tokenlm", "--teacher-steps"), ("bandsplit", "--sampled"), ("codec", "--remix")],
    ids=["tokenlm", "bandsplit", "codec"])
def test_an_option_of_another_trainer_is_a_usage_error(trainer, foreign):
    run = lab("train", trainer, foreign, "3", "--steps", "1")
    assert run.returncode == 2
    assert f"unrecognized arguments: {foreign}" in run.stderr


def test_each_trainer_lists_its_own_options_with_their_meaning():
    run = lab("train", "codec", "--help")
    assert run.returncode == 0
    assert "--teacher-steps" in run.stdout and "BEST-RQ steps" in run.stdout
    assert "--parallel" not in run.stdout


def test_lab_commands_are_no_longer_in_stemma():
    for command in ("train", "eval", "synth-songs", "pack-clips", "codec"):
        run = subprocess.run([sys.executable, "-m", "engine", command], capture_output=True,
                             text=True, timeout=60)
        assert run.returncode == 2 and "invalid choice" in run.stderr, command


@pytest.mark.parametrize("kind, option", [("codec", "--check"), ("tokenlm", "--codec"),
                                           ("bandsplit", "--name")])
def test_export_hands_its_arguments_to_the_exporter(kind, option):
    run = lab("export", kind, "--help")
    assert run.returncode == 0 and f"stemma-lab export {kind}" in run.stdout
    assert option in run.stdout


@pytest.mark.parametrize("shard", ["2/2", "x", "1/0"])
def test_synth_songs_rejects_a_shard_that_names_no_songs(tmp_path, shard):
    run = lab("synth-songs", tmp_path / "set", "--songs", "2", "--shard", shard)
    assert run.returncode != 0 and "--shard" in run.stderr
    assert not (tmp_path / "set").exists()


def test_synth_songs_offers_both_synthesizer_versions():
    run = lab("synth-songs", "--help")
    assert run.returncode == 0 and "--synth {v1,v2}" in run.stdout


def test_average_writes_the_soup_and_never_overwrites_unasked(tmp_path):
    paths = [save_model(tmp_path / f"{v}.safetensors", {"w": torch.full((4,), float(v))},
                        "masks", {"features": 4}) for v in (1, 3)]
    out = tmp_path / "soup.safetensors"
    run = lab("average", out, *paths, "--shares", "1,3")
    assert run.returncode == 0, run.stderr
    kind, config, state = load_model(out)
    assert kind == "masks" and config == {"features": 4}
    assert torch.allclose(state["w"], torch.full((4,), 2.5))
    run = lab("average", out, paths[0])
    assert run.returncode != 0 and "--overwrite" in run.stderr
    assert torch.allclose(load_model(out)[2]["w"], torch.full((4,), 2.5))


def test_average_refuses_models_of_another_architecture(tmp_path):
    a = save_model(tmp_path / "a.safetensors", {"w": torch.ones(4)}, "masks", {"features": 4})
    b = save_model(tmp_path / "b.safetensors", {"w": torch.ones(4)}, "masks", {"features": 5})
    run = lab("average", tmp_path / "soup.safetensors", a, b)
    assert run.returncode != 0 and "another architecture" in run.stderr
    assert not (tmp_path / "soup.safetensors").exists()


def test_average_names_a_missing_or_foreign_model_file(tmp_path):
    good = save_model(tmp_path / "a.safetensors", {"w": torch.ones(4)}, "masks", {"f": 4})
    foreign = tmp_path / "notes.safetensors"
    foreign.write_text("not weights")
    for bad, problem in ((tmp_path / "gone.safetensors", "no such model file"),
                         (foreign, "not a model file of ours")):
        run = lab("average", tmp_path / "soup.safetensors", good, bad)
        assert run.returncode == 1 and f"{bad}: {problem}" in run.stderr
        assert "Traceback" not in run.stderr
    assert not (tmp_path / "soup.safetensors").exists()
