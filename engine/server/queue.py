"""The server's jobs: a record per job (state, progress, events for SSE), and one FIFO queue
per device, each served by one worker process (``worker.py``) at a time.

A cancel is cooperative first (the engine's cancel token, inside the worker), and after
``grace`` seconds the worker process is killed. A worker that dies mid-job fails that job
with the reason and the next job gets a fresh worker. A job's files live in its work folder
until it is done (then they move into the content cache whole) or it is not (then they go).
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..jobs import JobState, Request
from .cache import ContentCache
from .worker import WorkerProcess, request_to_json

log = logging.getLogger(__name__)


@dataclass
class ServerJob:
    """One job as the API shows it. ``events`` is what SSE replays: (name, data) pairs."""

    request: Request
    key: str  # content-cache key
    device: str  # the queue it waits in
    id: str = field(default_factory=lambda: secrets.token_hex(8))
    state: JobState = JobState.QUEUED
    progress: dict[str, Any] = field(default_factory=dict)  # stage, fraction, eta, done, total
    outputs: dict[str, Path] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    cache_hit: bool = False
    upload: Path | None = None  # an uploaded input, removed when the job ends
    cancel_requested: bool = False
    created: float = field(default_factory=time.time)
    events: list[tuple[str, dict]] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def status(self) -> dict[str, Any]:
        return {"id": self.id, "state": self.state.value, "cache_hit": self.cache_hit,
                "stage": self.progress.get("stage"), "fraction": self.progress.get("fraction"),
                "eta": self.progress.get("eta"), "model": self.request.model,
                "start": self.request.start, "end": self.request.end,
                "outputs": {name: {"url": f"/v1/jobs/{self.id}/stems/{name}",
                                   "path": str(path)} for name, path in self.outputs.items()},
                "error": self.error}

    def _emit(self, name: str, data: dict) -> None:
        with self.changed:
            self.events.append((name, data))
            self.changed.notify_all()

    def set_progress(self, progress: dict[str, Any]) -> None:
        self.progress = progress
        self._emit("progress", dict(progress))

    def set_state(self, state: JobState, error: dict | None = None,
                  outputs: dict[str, Path] | None = None) -> None:
        self.error, self.outputs = error, outputs or {}
        if state is JobState.DONE:
            self.progress = {**self.progress, "stage": "done", "fraction": 1.0, "eta": 0.0}
        self.state = state
        if state.finished and self.upload is not None:
            self.upload.unlink(missing_ok=True)
        self._emit("state", self.status())

    def next_events(self, since: int, timeout: float) -> list[tuple[str, dict]]:
        """Events after the first ``since``, waiting up to ``timeout`` s for one."""
        with self.changed:
            self.changed.wait_for(lambda: len(self.events) > since, timeout)
            return self.events[since:]


class DeviceQueue:
    """Jobs for one device, run one at a time in FIFO order by one worker process."""

    def __init__(self, device: str, cache: ContentCache, grace: float = 3.0):
        self.device = device
        self.cache = cache
        self.grace = grace  # seconds a cancelled job has to stop before its worker is killed
        self.worker: WorkerProcess | None = None
        self.current: ServerJob | None = None
        self._queue: queue.Queue[ServerJob | None] = queue.Queue()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name=f"stemma-{device}", daemon=True)
        self._thread.start()

    def put(self, job: ServerJob) -> None:
        self._queue.put(job)

    def cancel(self, job: ServerJob) -> None:
        with self._lock:
            job.cancel_requested = True
            if job is not self.current or self.worker is None:
                if not job.state.finished:  # queued: cancelled now, skipped in its turn
                    job.set_state(JobState.CANCELLED)
                return
            worker = self.worker
        worker.send({"op": "cancel", "job": job.id})
        threading.Timer(self.grace, self._kill_if_still, (job, worker)).start()

    def _kill_if_still(self, job: ServerJob, worker: WorkerProcess) -> None:
        if self.current is job and not job.state.finished:
            log.warning("job %s did not stop within %g s; ending its worker", job.id,
                        self.grace)
            worker.kill()

    def _loop(self) -> None:
        while (job := self._queue.get()) is not None:
            try:
                self._run(job)
            except Exception as err:  # a bug here must not stop the queue
                log.exception("job %s", job.id)
                self.cache.discard(job.id)
                job.set_state(JobState.FAILED, {"type": "InternalError", "message": str(err),
                                                "path": None})

    def _run(self, job: ServerJob) -> None:
        with self._lock:
            if job.cancel_requested:  # cancelled while it waited
                return
            if self.worker is None:
                self.worker = WorkerProcess()
            worker, self.current = self.worker, job
            job.set_state(JobState.RUNNING)
        request = request_to_json(job.request)
        request["output"] = str(self.cache.work_folder(job.id))
        end = None
        if worker.send({"op": "run", "job": job.id, "request": request}):
            while (message := worker.read()) is not None:
                if message["kind"] == "progress":
                    job.set_progress({k: message[k] for k in
                                      ("stage", "fraction", "eta", "done", "total")})
                elif message["kind"] == "end":
                    end = message
                    break
        with self._lock:
            self.current = None
            if end is None:  # the worker died: the next job gets a fresh one
                reason = worker.exit_reason()
                worker.close()
                self.worker = None
        self._finish(job, end, None if end is not None else reason)

    def _finish(self, job: ServerJob, end: dict | None, died: str | None) -> None:
        if end is not None and end["state"] == "done":
            outputs = {k: Path(v) for k, v in end["outputs"].items()}
            job.set_state(JobState.DONE, outputs=self.cache.store(job.key, job.id, outputs))
            return
        self.cache.discard(job.id)
        if job.cancel_requested:
            job.set_state(JobState.CANCELLED)
        elif end is None:
            job.set_state(JobState.FAILED, {"type": "WorkerDied", "path": None, "message":
                                            f"the worker process {died} during the job"})
        else:
            job.set_state(JobState.FAILED, end.get("error"))

    def close(self) -> None:
        """Cancel what is queued and running, and end the worker."""
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None and not job.state.finished:
                job.cancel_requested = True
                job.set_state(JobState.CANCELLED)
        self._queue.put(None)
        with self._lock:
            worker, current = self.worker, self.current
            if current is not None:
                current.cancel_requested = True
        if worker is not None:
            worker.close(timeout=self.grace)
        self._thread.join(timeout=self.grace + 5)
