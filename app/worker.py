"""One worker type for engine jobs: runs a function on Qt's thread pool and reports through
signals (progress, chunk, finished, failed, cancelled). Workers never touch widgets: signals
cross to the UI thread as queued events, so the event loop keeps running while they work.
Separations are the engine's job service (``engine.JobRunner``) behind a worker:
``separation_job`` is the whole adapter."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from engine import Cancelled, CancelToken, EngineError, JobEvent, JobRunner, Request

log = logging.getLogger(__name__)


class TaskSignals(QObject):
    progress = Signal(object)  # engine.Progress, or (done, total, text) for exports
    chunk = Signal(int, object)  # first sample, names of the stems that grew
    preview = Signal(object)  # something to show before the result (a song's waveform)
    finished = Signal(object)  # the function's result
    failed = Signal(str)  # a one-line message; details are in the log
    cancelled = Signal()
    ended = Signal()  # after whichever of the three above, once its receivers have run


class Task(QRunnable):
    """``fn(task)`` in the pool; ``task.token`` is its cancel token, ``task.signals`` its voice
    (a Qt task: separations inside are the engine's jobs, see ``separation_job``).

    ``done`` turns true on the UI thread once the outcome (finished, failed or cancelled) has
    been delivered there, so whoever waits on it sees what the outcome changed. (Set on the
    worker thread, it raced the queued signal: a test read the status text before the failure
    message arrived.)
    """

    def __init__(self, name: str, fn: Callable[[Task], Any]):
        super().__init__()
        self.setAutoDelete(False)  # the window keeps the job until it reports back
        self.name = name
        self.fn = fn
        self.token = CancelToken()
        self.signals = TaskSignals()
        self.done = False
        self.signals.ended.connect(self._mark_done)

    def run(self) -> None:
        try:
            result = self.fn(self)
        except Cancelled:
            log.info("%s: cancelled", self.name)
            self._report(self.signals.cancelled)
        except EngineError as err:
            log.warning("%s: %s", self.name, err)
            self._report(self.signals.failed, str(err))
        except Exception as err:  # a bug: keep the app alive, say where the details are
            log.exception("%s failed", self.name)
            self._report(self.signals.failed, f"{type(err).__name__}: {err}")
        else:
            self._report(self.signals.finished, result)

    def _report(self, signal, *args) -> None:
        try:
            signal.emit(*args)
            self.signals.ended.emit()  # queued behind the outcome, so delivered after it
        except RuntimeError:  # the window that asked has been closed: nobody to tell
            log.info("%s finished after its window closed", self.name)
            self.done = True

    def _mark_done(self) -> None:
        self.done = True

    def cancel(self) -> None:
        self.token.cancel()

    def start(self, pool: QThreadPool | None = None) -> Task:
        (pool or QThreadPool.globalInstance()).start(self)
        return self


def separation_job(name: str, runner: JobRunner, request: Request,
                   store: Callable[[int, dict], None]) -> Task:
    """A separation by the engine's job service, as a Qt job: its progress events become
    the ``progress`` signal; each finished piece is handed to ``store(first_sample, blocks)``
    on the worker thread, then announced by ``chunk`` with the names of the stems that grew.
    Cancelling the Qt job cancels the service's job (they share the token)."""

    def run(job: Task):
        def on_event(event: JobEvent) -> None:
            if event.progress is not None:
                job.signals.progress.emit(event.progress)
            elif event.blocks is not None:
                store(event.first_sample, dict(event.blocks))
                job.signals.chunk.emit(event.first_sample, list(event.blocks))

        return runner.run(runner.create(request, job.token), on_event)

    return Task(name, run)
