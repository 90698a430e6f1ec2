"""The job runner: separation jobs with ids, states, events and cancel, and no UI.

The command line runs jobs one after another in its own thread (:meth:`JobRunner.run`); the
desktop app runs each on a worker thread and turns events into Qt signals; a server can
:meth:`JobRunner.submit` them to the runner's own worker thread and poll or stream events.
Errors keep their engine types (``EngineError`` subclasses) and are recorded on the job.
"""

from __future__ import annotations

import enum
import itertools
import logging
import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..api import CancelToken, FileResult, Progress, Separator
from ..errors import Cancelled, EngineError
from ..outputs import OutputSpec
from ..pipeline import output_names
from .models import ModelCache
from .request import Request
from .stem_cache import StemCache

log = logging.getLogger(__name__)


class JobState(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


@dataclass(frozen=True)
class JobEvent:
    """What a job reports: a state change, progress, or a finished piece of stems."""

    job_id: int
    kind: str  # "state", "progress" or "chunk"
    state: JobState
    progress: Progress | None = None
    first_sample: int = 0  # chunk: where the piece starts, in input samples
    blocks: Mapping[str, np.ndarray] | None = None  # chunk: output name -> (C, n)


OnEvent = Callable[[JobEvent], None]


@dataclass
class Job:
    """One request's life: ``state`` moves queued -> running -> done, failed or cancelled."""

    id: int
    request: Request
    state: JobState = JobState.QUEUED
    progress: Progress | None = None
    result: FileResult | None = None
    error: EngineError | None = None
    token: CancelToken = field(default_factory=CancelToken)
    _ended: threading.Event = field(default_factory=threading.Event, repr=False)

    def cancel(self) -> None:
        self.token.cancel()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished; False on timeout."""
        return self._ended.wait(timeout)


class JobRunner:
    """Runs separation requests with one shared model cache and an optional stem cache.

    ``stem_cache``: where separations are kept (the app's session folder, passed in): with
    it, :meth:`cached_request` makes a request that writes there, and
    :meth:`already_separated` says whether a song needs separating at all.
    """

    def __init__(self, models: ModelCache | None = None, stem_cache: StemCache | None = None):
        self.models = models if models is not None else ModelCache()
        self.stem_cache = stem_cache
        self._ids = itertools.count(1)
        self._jobs: dict[int, Job] = {}
        self._queue: queue.Queue[tuple[Job, OnEvent | None] | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()
        self._running = threading.RLock()  # held while a job runs or a model loads
        self._stopped = False  # cancel_all: no new job runs

    # --- preparing ------------------------------------------------------------------------

    def prepare(self, request: Request) -> Separator:
        """Load (or reuse) the request's model and check its outputs against the model's
        stems, before any input is read."""
        with self._running:  # never evict a model while a job uses it
            separator = self.models.get(request)
        output_names(separator.stems, request.outputs(separator.stems))
        return separator

    def already_separated(self, source, model: str) -> dict[str, Path] | None:
        """The kept stem files of ``source`` with ``model``, if a separation kept them."""
        if self.stem_cache is None:
            return None
        return self.stem_cache.lookup(source, model)

    def cached_request(self, source, model: str = "auto", device: str = "auto",
                       **kwargs) -> Request:
        """A request writing every stem of ``model`` to the stem cache (float WAV, replacing
        what a cancelled or older run left)."""
        if self.stem_cache is None:
            raise ValueError("this runner has no stem cache")
        return Request(source, self.stem_cache.folder(source, model), model, device,
                       spec=OutputSpec("wav", "32f", overwrite=True), **kwargs)

    # --- running --------------------------------------------------------------------------

    def create(self, request: Request, token: CancelToken | None = None) -> Job:
        """A queued job for ``request`` (cancelled through ``token`` if one is given)."""
        job = Job(next(self._ids), request, token=token or CancelToken())
        with self._lock:
            self._jobs[job.id] = job
        return job

    def job(self, job_id: int) -> Job:
        return self._jobs[job_id]

    def cancel(self, job_id: int) -> None:
        self._jobs[job_id].cancel()

    def cancel_all(self) -> bool:
        """Cancel every unfinished job and refuse new ones (a signal, a closing window);
        False if that had been done already."""
        with self._lock:
            first, self._stopped = not self._stopped, True
            jobs = [job for job in self._jobs.values() if not job.state.finished]
        for job in jobs:
            job.cancel()
        return first

    def run(self, request: Request | Job, on_event: OnEvent | None = None) -> FileResult:
        """Run a request (or a job made by :meth:`create`) here and now; returns its result
        or raises its ``EngineError`` (``Cancelled`` on a cancel)."""
        job = request if isinstance(request, Job) else self.create(request)
        emit = on_event or (lambda event: None)

        def state(new: JobState) -> None:
            job.state = new
            emit(JobEvent(job.id, "state", new))

        def progress(p: Progress) -> None:
            job.progress = p
            emit(JobEvent(job.id, "progress", job.state, progress=p))

        def chunk(first: int, blocks: Mapping[str, np.ndarray]) -> None:
            emit(JobEvent(job.id, "chunk", job.state, first_sample=first, blocks=blocks))

        try:
            with self._running:  # one job at a time: loaded models are shared
                state(JobState.RUNNING)
                if self._stopped:
                    job.cancel()
                job.token.check()
                req = job.request
                separator = self.prepare(req)
                job.result = separator.separate_file(
                    req.input, req.output, stems=req.stems, output=req.spec, span=req.span,
                    on_progress=progress, cancel=job.token,
                    on_chunk=chunk if on_event is not None else None)
        except Cancelled as err:
            job.error = err
            state(JobState.CANCELLED)
            raise
        except EngineError as err:
            job.error = err
            state(JobState.FAILED)
            raise
        except BaseException:
            state(JobState.FAILED)
            raise
        else:
            state(JobState.DONE)
            return job.result
        finally:
            job._ended.set()

    def submit(self, request: Request, on_event: OnEvent | None = None) -> Job:
        """Queue a request for the runner's worker thread; returns the job at once."""
        job = self.create(request)
        with self._lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, name="stemma-jobs",
                                                daemon=True)
                self._worker.start()
        self._queue.put((job, on_event))
        return job

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            job, on_event = item
            try:
                self.run(job, on_event)
            except EngineError as err:
                log.info("job %d: %s", job.id, err)
            except Exception:  # a bug: keep serving the other jobs, with the details logged
                log.exception("job %d failed", job.id)

    def close(self) -> None:
        """Cancel queued and running jobs, stop the worker and close the loaded models."""
        self.cancel_all()
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join()
        with self._running:  # a job run on another thread ends (cancelled) before its model
            self.models.close()
