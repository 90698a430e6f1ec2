"""The one worker type: a job is done only once the UI has heard how it ended."""

from __future__ import annotations

import threading

from app.worker import Task
from engine import OutputExistsError


def _fail(job):
    raise OutputExistsError("already exists; choose to replace it", "song_vocals.wav")


def test_a_job_is_done_only_after_its_outcome_reached_the_ui_thread(qtbot):
    """Under load the worker thread used to mark the job done before the queued failure
    reached the UI, and a test read the old status text (issue 11)."""
    heard = []
    job = Task("export", _fail)
    job.signals.failed.connect(heard.append)
    worker = threading.Thread(target=job.run)
    worker.start()
    worker.join()
    assert not job.done and heard == []  # the failure is still queued for the UI thread
    qtbot.waitUntil(lambda: job.done, timeout=5000)
    assert len(heard) == 1 and "already exists" in heard[0]


def test_a_finished_job_delivers_its_result_before_it_is_done(qtbot):
    results = []
    job = Task("sum", lambda job: 1 + 2)
    job.signals.finished.connect(results.append)
    job.start()
    qtbot.waitUntil(lambda: job.done, timeout=5000)
    assert results == [3]
