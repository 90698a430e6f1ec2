"""The job service the command line, the app and the server share: requests checked once, models
loaded once, kept stems found again, jobs with states, events and cancel."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import soundfile as sf

from engine import (
    Cancelled,
    InvalidArgumentError,
    JobRunner,
    JobState,
    ModelCache,
    OutputExistsError,
    OutputSpec,
    Request,
    StemCache,
    resolve_model,
)
from tests.conftest import music


@pytest.fixture
def song(tmp_path):
    path = tmp_path / "song.wav"
    sf.write(path, music(6.0, 22050, 2).T, 22050)
    return path


@pytest.mark.parametrize("spec, message", [
    (dict(fmt="mp3"), "unknown output format"),
    (dict(fmt="flac", bit_depth="32f"), "32f"),
    (dict(name_template="{stem}_{nope}"), "bad name template"),
    (dict(name_template="same"), "one name"),
], ids=["format", "flac-float", "template-key", "template-clash"])
def test_bad_output_settings_fail_when_the_request_is_made(tmp_path, spec, message):
    with pytest.raises(InvalidArgumentError, match=message):
        Request(tmp_path / "a.wav", tmp_path, spec=OutputSpec(**spec))


def test_bit_depth_defaults_follow_the_format():
    assert OutputSpec("wav").bit_depth == "32f" and OutputSpec("flac").bit_depth == "24"
    assert OutputSpec.for_file("mix.flac").fmt == "flac"
    with pytest.raises(InvalidArgumentError, match=r"\.wav or \.flac"):
        OutputSpec.for_file("mix.mp3")


def test_bad_device_and_empty_stems_are_refused(tmp_path):
    with pytest.raises(InvalidArgumentError, match="unknown device"):
        Request(tmp_path / "a.wav", tmp_path, device="tpu")
    with pytest.raises(InvalidArgumentError, match="no stems"):
        Request(tmp_path / "a.wav", tmp_path, stems=(" ",))


def test_a_model_loads_once_for_many_jobs_and_closes_when_evicted(song, tmp_path):
    cache = ModelCache(capacity=1)
    runner = JobRunner(cache)
    first = runner.run(Request(song, tmp_path / "a", "classic"))
    second = runner.run(Request(song, tmp_path / "b", "classic", stems=("vocals",)))
    assert cache.loads == 1 and len(cache) == 1
    assert sorted(first.outputs) == ["bass", "drums", "other", "vocals"]
    assert list(second.outputs) == ["vocals"]
    loaded = cache.get(Request(song, tmp_path, "classic"))
    closed = []
    loaded.close = lambda: closed.append(True)  # what eviction must call
    cache.get(Request(song, tmp_path, "classic", threads=1))  # another key: evicts the first
    assert closed == [True] and cache.loads == 2
    runner.close()


def test_unknown_stem_fails_before_the_input_is_read(tmp_path):
    runner = JobRunner()
    with pytest.raises(InvalidArgumentError, match="piano"):
        runner.prepare(Request(tmp_path / "not there.wav", tmp_path, "classic",
                               stems=("piano",)))


def test_job_reports_states_progress_and_chunks(song, tmp_path):
    runner = JobRunner()
    events = []
    result = runner.run(Request(song, tmp_path / "out", "classic"), events.append)
    states = [e.state for e in events if e.kind == "state"]
    assert states == [JobState.RUNNING, JobState.DONE]
    assert any(e.kind == "progress" and e.progress.stage == "done" for e in events)
    chunks = [e for e in events if e.kind == "chunk"]
    assert chunks and sum(e.blocks["vocals"].shape[-1] for e in chunks) == result.input.n_frames
    assert len({e.job_id for e in events}) == 1


def test_failed_job_keeps_its_typed_error(song, tmp_path):
    runner = JobRunner()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "vocals.wav").write_bytes(b"keep")
    job = runner.create(Request(song, tmp_path / "out", "classic"))
    with pytest.raises(OutputExistsError):
        runner.run(job)
    assert job.state is JobState.FAILED and isinstance(job.error, OutputExistsError)
    assert (tmp_path / "out" / "vocals.wav").read_bytes() == b"keep"


def test_submitted_job_cancels_and_leaves_nothing(tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, music(120.0, 44100, 2).T, 44100)
    runner = JobRunner()
    started = threading.Event()
    job = runner.submit(Request(path, tmp_path / "out", "classic"),
                        lambda e: e.kind == "progress" and started.set())
    assert started.wait(60)
    runner.cancel(job.id)
    assert job.wait(30)
    assert job.state is JobState.CANCELLED and isinstance(job.error, Cancelled)
    assert not (tmp_path / "out").exists()
    runner.close()


def test_stem_cache_finds_a_kept_separation_until_the_song_changes(song, tmp_path):
    runner = JobRunner(stem_cache=StemCache(tmp_path / "sessions"))
    assert runner.already_separated(song, "classic") is None
    runner.run(runner.cached_request(song, "classic"))
    files = runner.already_separated(song, "classic")
    assert files is not None and sorted(files) == ["bass", "drums", "other", "vocals"]
    cache = runner.stem_cache
    auto = resolve_model("auto").name
    assert cache.folder(song, "auto") == cache.folder(song, auto)  # auto: the model it picks
    audio = sf.read(song, dtype="float32")[0]
    sf.write(song, np.flip(audio, axis=0), 22050)  # the song was edited
    assert runner.already_separated(song, "classic") is None


def test_a_range_separates_that_part_only_and_sums_to_it(song, tmp_path):
    result = JobRunner().run(Request(song, tmp_path / "part", "classic", start=1.5, end=4.0))
    mix = sf.read(song, dtype="float32")[0][int(1.5 * 22050):int(4.0 * 22050)]
    stems = [sf.read(report.path, dtype="float32")[0] for report in result.outputs.values()]
    assert all(s.shape == mix.shape for s in stems)
    assert np.max(np.abs(sum(stems) - mix)) < 1e-5
    with pytest.raises(InvalidArgumentError, match="holds no audio"):
        JobRunner().run(Request(song, tmp_path / "late", "classic", start=30.0))
    with pytest.raises(InvalidArgumentError, match="a range must"):
        Request(song, tmp_path, start=3.0, end=2.0)
