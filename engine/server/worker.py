"""The worker process: runs the server's jobs, one at a time, through the engine's job service,
so that a cancel can really stop the work (the process is ended if a cooperative cancel is not
enough) and a worker that crashes takes one job with it, never the server.

Protocol: JSON lines. The server writes ``{"op": "run", "job": ID, "request": {...}}`` and
``{"op": "cancel", "job": ID}`` to the worker's stdin; the worker writes
``{"job": ID, "kind": "progress", ...}`` and one ``{"job": ID, "kind": "end", "state": ...}``
per job to its stdout. Closing stdin cancels what runs and ends the worker.

    python -m engine.server.worker
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from typing import Any

from ..api import Progress
from ..errors import Cancelled, EngineError
from ..jobs import Job, JobEvent, JobRunner, Request
from ..outputs import OutputSpec

PROGRESS_EVERY = 0.2  # seconds between progress lines (a stage change is always sent)


# --- both sides: a request as JSON ------------------------------------------------------------


def request_to_json(request: Request) -> dict[str, Any]:
    return {"input": str(request.input), "output": str(request.output),
            "model": request.model, "device": request.device,
            "stems": None if request.stems is None else list(request.stems),
            "fmt": request.spec.fmt, "bit_depth": request.spec.bit_depth,
            "options": dict(request.options), "start": request.start, "end": request.end}


def request_from_json(data: dict[str, Any]) -> Request:
    spec = OutputSpec(data["fmt"], data["bit_depth"], overwrite=True)
    stems = None if data["stems"] is None else tuple(data["stems"])
    return Request(data["input"], data["output"], data["model"], data["device"], stems=stems,
                   spec=spec, options=data["options"], start=data["start"], end=data["end"])


def error_json(err: BaseException) -> dict[str, Any]:
    """An error as the API reports it: the engine's class name, its message, its file."""
    if isinstance(err, EngineError):
        return {"type": type(err).__name__, "message": str(err),
                "path": None if err.path is None else str(err.path)}
    return {"type": "InternalError", "message": f"{type(err).__name__}: {err}", "path": None}


# --- the worker process ---------------------------------------------------------------------------


class _Progress:
    """Progress events as JSON lines, at most one per ``PROGRESS_EVERY`` within a stage."""

    def __init__(self, job_id: str, send):
        self.job_id, self.send = job_id, send
        self._last, self._stage = 0.0, ""

    def __call__(self, event: JobEvent) -> None:
        p: Progress | None = event.progress
        now = time.monotonic()
        if p is None or (p.stage == self._stage and now - self._last < PROGRESS_EVERY):
            return
        self._last, self._stage = now, p.stage
        self.send({"job": self.job_id, "kind": "progress", "stage": p.stage, "done": p.done,
                   "total": p.total, "fraction": p.fraction, "eta": p.eta})


def main() -> int:
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # a stray print goes to stderr, never into the protocol
    lock = threading.Lock()

    def send(message: dict) -> None:
        with lock:
            protocol.write(json.dumps(message) + "\n")

    runner = JobRunner()
    jobs: dict[str, Job] = {}
    todo: queue.Queue[tuple[str, Job] | None] = queue.Queue()

    def read() -> None:
        for line in sys.stdin:
            message = json.loads(line)
            if message["op"] == "run":
                try:
                    job = runner.create(request_from_json(message["request"]))
                except EngineError as err:
                    send({"job": message["job"], "kind": "end", "state": "failed",
                          "error": error_json(err)})
                    continue
                jobs[message["job"]] = job
                todo.put((message["job"], job))
            elif message["op"] == "cancel" and message["job"] in jobs:
                jobs[message["job"]].cancel()
        runner.cancel_all()  # the server closed our stdin: stop
        todo.put(None)

    threading.Thread(target=read, name="stemma-worker-stdin", daemon=True).start()
    while (item := todo.get()) is not None:
        job_id, job = item
        end: dict[str, Any] = {"job": job_id, "kind": "end"}
        try:
            result = runner.run(job, _Progress(job_id, send))
            end |= {"state": "done",
                    "outputs": {name: str(r.path) for name, r in result.outputs.items()}}
        except Cancelled:
            end["state"] = "cancelled"
        except Exception as err:  # EngineError or a bug: the job fails, the worker goes on
            end |= {"state": "failed", "error": error_json(err)}
        jobs.pop(job_id, None)
        send(end)
    runner.close()
    return 0


# --- the server's side ----------------------------------------------------------------------------


def worker_command() -> list[str]:
    """This module as a process: ``python -m``, or the frozen ``stemma`` bundle's hidden
    ``_server-worker`` command (installer/)."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "_server-worker"]
    return [sys.executable, "-m", "engine.server.worker"]


class WorkerProcess:
    """One worker process, seen from the server: send messages, read its lines."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(worker_command(), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def send(self, message: dict) -> bool:
        """False if the worker has gone (its stdin is closed)."""
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps(message) + "\n")
            self.proc.stdin.flush()
            return True
        except (OSError, ValueError):
            return False

    def read(self) -> dict | None:
        """The worker's next message; None when it has ended."""
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        return json.loads(line) if line else None

    def exit_reason(self) -> str:
        code = self.proc.wait()
        return f"killed by signal {-code}" if code < 0 else f"exited with status {code}"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()

    def close(self, timeout: float = 5.0) -> None:
        """Ask the worker to stop (cancelling its job), then make sure it has."""
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(timeout)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            self.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


if __name__ == "__main__":
    sys.exit(main())
