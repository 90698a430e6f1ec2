"""The evaluation command on a held-out set rendered by our writer."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from engine.registry import resolve
from lab.evaluation.run import oracle_irm
from lab.musdb import STEMS, load_tracks
from lab.training.testset import TEST_SEED_BASE, write_test_set


@pytest.fixture(scope="module")
def test_set(tmp_path_factory):
    folder = tmp_path_factory.mktemp("testset")
    write_test_set(folder, n_songs=2, set_seed=7, sample_rate=22050, min_seconds=6.0,
                   max_seconds=8.0)
    return folder


def test_writer_layout_and_exact_stem_sum(test_set):
    tracks = load_tracks(test_set)
    assert [t.name for t in tracks] == sorted(t.name for t in tracks) and len(tracks) == 2
    meta = json.loads((test_set / "songs.json").read_text())
    assert all(m["seed"] >= TEST_SEED_BASE for m in meta)  # never a training seed
    for track in tracks:
        mixture, stems, sr = track.load()
        assert sr == 22050 and 6.0 <= mixture.shape[1] / sr <= 8.0
        total = np.zeros_like(mixture)
        for name in STEMS:
            total += stems[name]
        assert np.array_equal(total, mixture)  # float32 files: exact


def test_loader_reads_a_musdb_root_and_rejects_other_folders(tmp_path):
    song = tmp_path / "musdb" / "test" / "Artist - Title"
    song.mkdir(parents=True)
    for name in ("mixture",) + STEMS:
        sf.write(song / f"{name}.wav", np.zeros((100, 2)), 44100)
    assert [t.name for t in load_tracks(tmp_path / "musdb")] == ["Artist - Title"]
    (song / "bass.wav").unlink()
    with pytest.raises(ValueError, match="MUSDB18-HQ layout"):
        load_tracks(tmp_path / "musdb")


def test_oracle_irm_sums_to_the_mixture():
    rng = np.random.default_rng(0)
    stems = {s: rng.standard_normal((2, 30000)).astype(np.float32) for s in STEMS}
    mix = sum(stems.values())
    est = oracle_irm(mix, stems)
    assert np.allclose(sum(est.values()), mix, atol=1e-3)


def test_stemma_lab_eval_prints_tables_and_ranks_oracle_classic_mixture(test_set, tmp_path,
                                                                         monkeypatch):
    run = subprocess.run([sys.executable, "-m", "lab", "eval", "--model", "classic",
                          "--model", "truth", "--data", str(test_set), "--out",
                          str(tmp_path / "report"), "--no-visqol", "-q"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "uSDR" in run.stdout and "| classic | DSP |" in run.stdout
    assert "**visqol**: turned off" in run.stdout  # a skipped metric says so, and why
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    usdr = {name: row["aggregates"]["usdr"]["avg"] for name, row in report["models"].items()}
    assert usdr["oracle-irm"] > usdr["classic"] > usdr["mix/4"] > usdr["mixture"]
    assert usdr["truth"] > 90  # the identity case reaches the metric's ceiling
    assert (tmp_path / "report" / "usdr.png").stat().st_size > 1000

    # a report registers a model's scores in its manifest, and auto then picks the best one
    mine = tmp_path / "models" / "mine"
    shutil.copytree(resolve("classic").folder, mine)
    manifest = json.loads((mine / "manifest.json").read_text())
    (mine / "manifest.json").write_text(json.dumps(manifest | {"name": "mine", "metrics": {}}))
    monkeypatch.setenv("STEMMA_MODELS_DIR", str(tmp_path / "models"))
    assert resolve("auto").name != "mine"  # "mine" has no scores yet
    wrong = subprocess.run([sys.executable, "-m", "lab", "register", str(tmp_path / "report" /
                            "report.json"), str(mine), "--row", "nope", "--measured-on", "x"],
                           capture_output=True, text=True, timeout=120)
    assert wrong.returncode != 0 and "truth" in wrong.stderr  # says which rows there are
    assert json.loads((mine / "manifest.json").read_text())["metrics"] == {}
    run = subprocess.run([sys.executable, "-m", "lab", "register", str(tmp_path / "report" /
                          "report.json"), str(mine), "--row", "truth", "--measured-on",
                          "two songs"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    metrics = json.loads((mine / "manifest.json").read_text())["metrics"]
    assert metrics["usdr_avg"] == round(usdr["truth"], 2) and set(metrics["usdr"]) == set(STEMS)
    assert metrics["measured_on"] == "two songs"
    probe = tmp_path / "probe.json"
    probe.write_text("{}")  # the manifest stays as readable as any file the user writes
    assert (mine / "manifest.json").stat().st_mode == probe.stat().st_mode
    assert resolve("auto").name == "mine"


def test_codec_oracle_row_codes_the_true_stems(test_set, tiny_package):
    """``--model codec:FOLDER``: the true stems through the codec, at their rate, channels and
    length; a random codec is far from the truth, but never worse than silence by much."""
    from lab.evaluation.run import evaluate

    _, folder = tiny_package
    report = evaluate([f"codec:{folder}"], test_set, use_visqol=False, limit=1)
    row = next(r for r in report.rows if r.name.startswith("codec-oracle"))
    assert row.name == "codec-oracle (tiny)" and row.kind == "reference"
    scores = row.scores[report.songs[0]]
    assert set(scores) == set(STEMS) and all(np.isfinite(s["usdr"]) for s in scores.values())


def test_codec_refined_row_is_the_refined_ceiling_and_sums_to_the_mix(test_set):
    """``--model codec-refined``: the true stems through the shipped token separator's codec,
    refined on the mixture as its generated stems are. A perfect LM's output: it sums back to
    the mixture like the separator's, and beats a quarter of the mix (a ceiling under the
    trivial row would mean the coding or the refinement lost the stems' alignment)."""
    from lab.evaluation.run import _estimators, evaluate

    track = load_tracks(test_set)[0]
    mixture, stems, sr = track.load()
    name, kind, run = _estimators(["codec-refined"])[-1]
    assert name.startswith("codec-oracle refined (hcodec-small") and kind == "reference"
    out = run(mixture, stems, sr)
    assert all(out[s].shape == mixture.shape for s in STEMS)
    assert np.allclose(sum(out.values()), mixture, atol=1e-4)
    report = evaluate(["codec-refined"], test_set, use_visqol=False, limit=1)
    usdr = {row.name: np.mean([v["usdr"] for v in row.scores[report.songs[0]].values()])
            for row in report.rows}
    assert usdr[name] > usdr["mix/4"], usdr


def test_two_rows_of_one_model_name_stay_apart_in_the_report(test_set):
    """The shipped model and a new export of it (same manifest name) scored side by side, as a
    session does before shipping: report.json keeps both rows, the second named by its spec,
    so `stemma-lab register --row` takes the one meant."""
    from lab.evaluation.report import to_json
    from lab.evaluation.run import evaluate

    folder = str(resolve("classic").folder)
    report = evaluate(["classic", folder], test_set, use_visqol=False, limit=1)
    names = [row.name for row in report.rows]
    assert names[-2:] == ["classic", f"classic ({folder})"], names
    assert set(names[-2:]) <= set(to_json(report)["models"]), to_json(report)["models"].keys()
