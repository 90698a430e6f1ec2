"""The local server as a DAW script uses it: submit a region, follow progress, get stems that
sum to that region, find it cached the second time, cancel, and read typed errors; driven
with the Python client and with curl, against the real server process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess

import numpy as np
import pytest
import soundfile as sf

from engine.client import ServerError, read_events, wait_until

from .conftest import SR

START, END = 2.5, 6.0  # the DAW region, seconds


def region(path, start=START, end=END) -> np.ndarray:
    audio, sr = sf.read(path, dtype="float32", always_2d=True)
    return audio[round(start * sr):round(end * sr)].T


def stem_sum(paths) -> np.ndarray:
    return sum(sf.read(p, dtype="float32", always_2d=True)[0].T for p in paths)


def test_submit_follow_progress_and_stems_sum_to_the_region(server, songs, tmp_path):
    client = server.client()
    job = client.submit(songs["short"], model="classic", start=START, end=END)
    assert job["state"] in ("queued", "running") and not job["cache_hit"]
    events = list(client.events(job["id"]))
    progress = [e.data for e in events if e.name == "progress"]
    assert progress and all(0 <= p["fraction"] <= 1 for p in progress if p["fraction"])
    assert events[-1].name == "state" and events[-1].data["state"] == "done"
    status = client.status(job["id"])
    assert set(status["outputs"]) == {"vocals", "drums", "bass", "other"}
    files = [client.download(job["id"], name, tmp_path / f"{name}.wav")
             for name in status["outputs"]]
    mix = region(songs["short"])
    total = stem_sum(files)
    assert total.shape == mix.shape  # the region, to the sample
    assert np.abs(total - mix).max() < 1e-4
    for out in status["outputs"].values():  # outputs live only under the cache folder
        assert os.path.realpath(out["path"]).startswith(os.path.realpath(server.cache_dir))

    again = client.submit(songs["short"], model="classic", start=START, end=END)
    assert again["cache_hit"] and again["state"] == "done"
    copy = tmp_path / "copy of short.wav"  # the key is the audio, not the file's name
    shutil.copy(songs["short"], copy)
    assert client.submit(copy, model="classic", start=START, end=END)["cache_hit"]
    other = client.submit(songs["short"], model="classic", start=START, end=END,
                          stems=["vocals", "no_vocals"])
    assert not other["cache_hit"]
    client.wait(other["id"])


def test_upload_runs_the_same_job(server, songs, tmp_path):
    client = server.client()
    job = client.upload(songs["short"], model="classic", start=1.0, end=2.0,
                        stems=["no_vocals"], format="flac")
    done = client.wait(job["id"])
    assert done["state"] == "done", done
    out = client.download(job["id"], "no_vocals", tmp_path / "karaoke.flac")
    assert sf.info(out).frames == SR
    assert not list((server.cache_dir / "uploads").iterdir())  # the upload is not kept


def test_cancel_mid_job_leaves_nothing(server, songs):
    client = server.client()
    entries = set((server.cache_dir / "entries").iterdir())
    job = client.submit(songs["long"], model="classic")
    stream = client.events(job["id"])
    first = next(e for e in stream if e.name == "progress")
    assert first.data["stage"] == "separating"
    cancelled = client.cancel(job["id"])
    assert cancelled["state"] in ("running", "cancelled")
    last = [e for e in stream][-1]
    assert last.data["state"] == "cancelled" and last.data["error"] is None
    assert client.status(job["id"])["outputs"] == {}
    assert not (server.cache_dir / "work" / job["id"]).exists()
    assert set((server.cache_dir / "entries").iterdir()) == entries


def test_a_killed_worker_fails_its_job_and_the_next_job_runs(server, songs):
    client = server.client()
    job = client.submit(songs["long"], model="classic", start=1.0)
    stream = client.events(job["id"])
    next(e for e in stream if e.name == "progress")
    (worker,) = server.workers()
    os.kill(worker, signal.SIGKILL)
    last = [e for e in stream][-1].data
    assert last["state"] == "failed"
    assert last["error"]["type"] == "WorkerDied" and "signal 9" in last["error"]["message"]
    assert not (server.cache_dir / "work" / job["id"]).exists()
    nxt = client.wait(client.submit(songs["short"], model="classic", end=1.0)["id"])
    assert nxt["state"] == "done"
    assert server.workers() and server.workers() != [worker]


@pytest.mark.parametrize("name, error", [
    ("missing", "AudioNotFoundError"),
    ("bad", "CorruptAudioError"),
    ("six", "TooManyChannelsError"),
], ids=["missing", "corrupt", "6-channel"])
def test_bad_inputs_are_typed_errors_naming_the_file(server, songs, tmp_path, name, error):
    path = songs.get(name, tmp_path / "missing.wav")
    with pytest.raises(ServerError) as caught:
        server.client().submit(path, model="classic")
    assert caught.value.type == error
    assert caught.value.path == str(path) and str(path) in caught.value.message


def test_bad_settings_are_refused_before_any_work(server, songs):
    client = server.client()
    for params, error in [({"model": "nope"}, "ModelNotFoundError"),
                          ({"stems": ["choir"]}, "InvalidArgumentError"),
                          ({"start": 5.0, "end": 2.0}, "InvalidArgumentError"),
                          ({"options": {"temperature": 2}}, "InvalidArgumentError")]:
        with pytest.raises(ServerError) as caught:
            client.submit(songs["short"], **{"model": "classic", **params})
        assert caught.value.type == error, params


def test_a_models_options_are_read_over_its_manifest_params(server, songs):
    """As the model will read them: samples=2 needs sampling, which the shipped tokenlm's
    manifest turns on (temperature 1), so it is taken; with temperature=0 it is refused."""
    client = server.client()
    with pytest.raises(ServerError) as caught:
        client.submit(songs["short"], model="tokenlm", options={"temperature": 0, "samples": 2})
    assert caught.value.type == "InvalidArgumentError" and "samples=2" in caught.value.message
    job = client.submit(songs["short"], model="tokenlm", options={"samples": 2})
    client.cancel(job["id"])
    assert client.wait(job["id"])["state"] == "cancelled"


def curl(server, *args: str) -> subprocess.CompletedProcess:
    assert shutil.which("curl"), "curl is needed (scripts/install-system-deps.sh test)"
    return subprocess.run(["curl", "-sS", "--fail-with-body", "-H",
                           f"Authorization: Bearer {server.token}", *args],
                          capture_output=True, timeout=120, check=True)


def test_a_curl_session(server, songs, tmp_path):
    """What docs/server.md shows a plugin author, and what the Reaper script does."""
    body = json.dumps({"input": str(songs["short"]), "model": "classic", "start": 4.0,
                       "end": 7.5, "stems": ["vocals", "no_vocals"]})
    job = json.loads(curl(server, "-H", "Content-Type: application/json", "-d", body,
                          f"{server.url}/v1/jobs").stdout)
    sse = curl(server, "-N", f"{server.url}/v1/jobs/{job['id']}/events").stdout
    events = list(read_events(sse.splitlines(keepends=True)))
    assert events[-1].name == "state" and events[-1].data["state"] == "done"
    for name in ("vocals", "no_vocals"):
        curl(server, "-o", str(tmp_path / f"{name}.wav"),
             f"{server.url}/v1/jobs/{job['id']}/stems/{name}")
    total = stem_sum([tmp_path / "vocals.wav", tmp_path / "no_vocals.wav"])
    assert np.abs(total - region(songs["short"], 4.0, 7.5)).max() < 1e-4
    status = json.loads(curl(server, f"{server.url}/v1/jobs/{job['id']}").stdout)
    assert status["state"] == "done" and status["fraction"] == 1.0

    up = json.loads(curl(server, "-F", f"file=@{songs['short']}",
                         "-F", 'params={"model": "classic", "start": 4.0, "end": 7.5, '
                               '"stems": ["vocals", "no_vocals"]}',
                         f"{server.url}/v1/jobs/upload").stdout)
    assert up["cache_hit"]  # the same bytes, region and settings as above


def test_sse_keeps_the_connection_alive_while_a_job_waits(server, songs):
    """A job queued behind a long one streams keep-alive comments until it runs."""
    client = server.client()
    first = client.submit(songs["long"], model="classic", start=3.0)
    second = client.submit(songs["short"], model="classic", start=0.5, end=1.5)
    third = client.submit(songs["short"], model="classic", start=0.5, end=1.25)
    with client._open("GET", f"/v1/jobs/{second['id']}/events") as stream:
        lines = iter(stream)
        wait_until(lambda: next(lines) == b": keep-alive\n", timeout=60, step=0)
    assert client.cancel(third["id"])["state"] == "cancelled"  # a queued job: at once
    client.cancel(first["id"])
    assert client.wait(second["id"])["state"] == "done"
    assert client.status(first["id"])["state"] == "cancelled"
    assert client.status(third["id"])["state"] == "cancelled"
