"""The one writer of output files: all or nothing, and never losing a file it replaced."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from engine import Cancelled, OutputError, OutputExistsError, OutputSpec, write_arrays
from engine.outputs import OutputSet


def _arrays(n: int = 48000) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"a": 0.1 * rng.standard_normal((2, n)).astype(np.float32),
            "b": 0.1 * rng.standard_normal((1, n)).astype(np.float32)}


def _paths(folder):
    return {"a": folder / "a.wav", "b": folder / "b.wav"}


def test_writes_every_file_with_its_own_channels(tmp_path):
    arrays = _arrays()
    write_arrays(arrays, _paths(tmp_path), 48000, OutputSpec())
    for name, audio in arrays.items():
        back, rate = sf.read(tmp_path / f"{name}.wav", dtype="float32", always_2d=True)
        assert rate == 48000 and np.array_equal(back.T, audio)


def test_cancel_with_overwrite_keeps_the_originals(tmp_path):
    """The app's export used to delete files that had replaced originals on a cancel."""
    for path in _paths(tmp_path).values():
        path.write_bytes(b"original")
    calls = []

    def cancel_on_second_file() -> None:
        calls.append(1)
        if len(calls) > 2:
            raise Cancelled()

    with pytest.raises(Cancelled):
        write_arrays(_arrays(), _paths(tmp_path), 48000, OutputSpec(overwrite=True),
                     check_cancel=cancel_on_second_file)
    assert [p.read_bytes() for p in _paths(tmp_path).values()] == [b"original", b"original"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "b.wav"]  # no temp files


def test_existing_target_refused_before_any_work(tmp_path):
    (tmp_path / "b.wav").write_bytes(b"keep")
    with pytest.raises(OutputExistsError):
        write_arrays(_arrays(), _paths(tmp_path), 48000, OutputSpec())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.wav"]


def test_failed_commit_takes_back_new_files_but_never_a_replaced_one(tmp_path, monkeypatch):
    (tmp_path / "a.wav").write_bytes(b"original")  # replaced by the set, then b fails
    with OutputSet({**_paths(tmp_path), "c": tmp_path / "c.wav"}, 48000, 1,
                   OutputSpec(overwrite=True)) as out:
        for writer in out.writers.values():
            writer.write(np.zeros((1, 100), np.float32))

        def broken() -> None:
            raise OutputError("the disk is full", tmp_path / "c.wav")

        monkeypatch.setattr(out.writers["c"], "commit", broken)
        with pytest.raises(OutputError):
            out.commit()
    assert (tmp_path / "a.wav").exists(), "the file that replaced an original was deleted"
    assert not (tmp_path / "b.wav").exists(), "a new file of a failed set was kept"


def test_a_cancelled_set_removes_the_folders_it_made(tmp_path):
    target = tmp_path / "new" / "deeper"
    with pytest.raises(Cancelled), OutputSet(_paths(target), 48000, 1, OutputSpec()):
        raise Cancelled()
    assert not (tmp_path / "new").exists()
