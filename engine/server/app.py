"""The HTTP API of ``stemma serve`` (FastAPI): a thin adapter from JSON to the job service.

Requests are checked here, before anything is queued, by the engine's own checks (the model
registry, ``audio_io.probe`` for the input file, the backend's strict options, the request's
range and stems), so a bad file or setting is a typed error at once, naming the file. Jobs
then run in worker processes (``queue.py``); finished ones are kept in the content cache.
Routes and their JSON are documented in docs/server.md; the schema is at /v1/openapi.json.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, File, Form, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.requests import Request as HttpRequest
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .. import audio_io, registry
from ..backends import options as backend_options
from ..client import API_VERSION
from ..devices import resolve_device
from ..errors import EngineError, InvalidArgumentError, ModelNotFoundError
from ..jobs import JobState, Request
from ..outputs import OutputSpec
from ..pipeline import output_names
from .cache import ContentCache, content_key
from .queue import DeviceQueue, ServerJob

VERSION = "0.1.0"


class JobParams(BaseModel):
    """What to separate and how; every field but the input is optional."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    model: str = Field("auto", description="an installed model's name, or auto")
    stems: list[str] | None = Field(None, description="stem names or no_<stem>; null: all")
    start: float = Field(0.0, ge=0, allow_inf_nan=False, description="seconds")
    end: float | None = Field(None, gt=0, allow_inf_nan=False, description="seconds")
    format: Literal["wav", "flac"] = "wav"
    bit_depth: Literal["16", "24", "32f"] | None = None
    device: Literal["auto", "cpu", "cuda"] = "auto"
    options: dict[str, bool | int | float | str] = Field(default_factory=dict)


class SubmitBody(JobParams):
    input: str = Field(description="absolute path of a regular, readable audio file")


@dataclass
class ServerState:
    token: str
    cache: ContentCache
    keep_alive: float = 5.0  # seconds between SSE keep-alive comments
    grace: float = 3.0  # seconds a cancelled job has to stop before its worker is killed
    on_start: Any = None  # called when the app is up (writes the discovery file)
    on_stop: Any = None
    jobs: dict[str, ServerJob] = field(default_factory=dict)
    queues: dict[str, DeviceQueue] = field(default_factory=dict)

    def queue(self, device: str) -> DeviceQueue:
        if device not in self.queues:
            self.queues[device] = DeviceQueue(device, self.cache, self.grace)
        return self.queues[device]


class JobNotFound(Exception):
    pass


STATUS = {"AudioNotFoundError": 404, "ModelNotFoundError": 404}


def _error(status: int, type_: str, message: str, path: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"type": type_, "message": message, "path": path}}, status)


def _model(name: str) -> registry.ModelInfo:
    """An installed model by name (or auto). A folder or checkpoint path is refused: the
    server runs what ``stemma models`` lists, never weights a request points at."""
    installed = registry.list_models()
    if name == "auto" and installed:
        return registry.best_model(installed)
    for info in installed:
        if info.name == name:
            return info
    raise ModelNotFoundError(f"no installed model is named '{name}'; GET /v1/models lists "
                             "them (`stemma models add` installs more)")


def _submit(state: ServerState, path: Path, params: JobParams,
            upload: Path | None = None) -> ServerJob:
    if not path.is_absolute():
        raise InvalidArgumentError("the input must be an absolute path", path)
    model = _model(params.model)
    audio_io.probe(path)  # missing, not a regular file, unreadable, corrupt, >2 channels
    if model.backend in backend_options.BY_BACKEND:  # as the backend will read them
        backend_options.for_model(model, params.options)
    output_names(model.stems, params.stems)
    spec = OutputSpec(params.format, params.bit_depth, overwrite=True)
    request = Request(path, state.cache.work_dir, model.name, params.device,
                      stems=None if params.stems is None else tuple(params.stems), spec=spec,
                      options=params.options, start=params.start, end=params.end)
    settings = {"options": params.options, "start": request.start, "end": request.end,
                "stems": request.stems, "format": spec.fmt, "bit_depth": spec.bit_depth}
    key = content_key(registry.file_sha256(path), model, settings)
    job = ServerJob(request, key, resolve_device(params.device, model), upload=upload)
    state.jobs[job.id] = job
    kept = state.cache.lookup(key)
    if kept is not None:
        job.cache_hit = True
        job.set_state(JobState.DONE, outputs=kept)
    else:
        job.set_state(JobState.QUEUED)
        state.queue(job.device).put(job)
    return job


def _job(state: ServerState, job_id: str) -> ServerJob:
    if job_id not in state.jobs:
        raise JobNotFound(job_id)
    return state.jobs[job_id]


def _sse(job: ServerJob, keep_alive: float) -> Iterator[str]:
    seen = 0
    while True:
        events = job.next_events(seen, keep_alive)
        if not events:
            yield ": keep-alive\n\n"
            continue
        seen += len(events)
        for name, data in events:
            yield f"event: {name}\ndata: {json.dumps(data)}\n\n"
            if name == "state" and JobState(data["state"]).finished:
                return


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(EngineError)
    async def engine_error(request: HttpRequest, err: EngineError) -> JSONResponse:
        return _error(STATUS.get(type(err).__name__, 422), type(err).__name__, str(err),
                      None if err.path is None else str(err.path))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: HttpRequest, err: RequestValidationError) -> JSONResponse:
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                          for e in err.errors())
        return _error(422, "InvalidArgumentError", where)

    @app.exception_handler(JobNotFound)
    async def no_job(request: HttpRequest, err: JobNotFound) -> JSONResponse:
        return _error(404, "JobNotFound", f"no job '{err}' (jobs last until the server stops)")


def create_app(state: ServerState) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if state.on_start:
            state.on_start()
        yield
        for q in list(state.queues.values()):
            q.close()
        if state.on_stop:
            state.on_stop()

    app = FastAPI(title="Stemma local server", version=VERSION, lifespan=lifespan,
                  openapi_url="/v1/openapi.json", docs_url=None, redoc_url=None)
    _handlers(app)

    @app.get("/v1/health")
    def health() -> dict:
        return {"status": "ok", "api": API_VERSION, "version": VERSION, "pid": os.getpid()}

    @app.get("/v1/models")
    def models() -> list[dict]:
        found = registry.list_models()
        auto = registry.best_model(found).name if found else None
        return [{"name": m.name, "backend": m.backend, "stems": list(m.stems),
                 "sample_rate": m.sample_rate, "devices": list(m.devices),
                 "description": m.description, "auto": m.name == auto} for m in found]

    @app.get("/v1/jobs")
    def jobs() -> list[dict]:
        return [job.status() for job in list(state.jobs.values())]

    @app.post("/v1/jobs", status_code=202)
    def submit(body: SubmitBody) -> dict:
        params = JobParams(**body.model_dump(exclude={"input"}))
        return _submit(state, Path(body.input), params).status()

    @app.post("/v1/jobs/upload", status_code=202)
    def upload(file: UploadFile = File(...), params: str = Form("{}")) -> dict:  # noqa: B008
        try:
            parsed = JobParams(**json.loads(params))
        except (ValueError, TypeError, ValidationError) as err:
            raise InvalidArgumentError(f"params must be a JSON object of job settings ({err})"
                                       ) from None
        suffix = Path(file.filename or "").suffix.lower()
        uploads = state.cache.root / "uploads"
        uploads.mkdir(exist_ok=True)
        saved = uploads / (os.urandom(8).hex() + (suffix if re.fullmatch(r"\.\w{1,8}", suffix)
                                                  else ""))
        with open(saved, "wb") as out:
            shutil.copyfileobj(file.file, out, 1 << 20)
        try:
            return _submit(state, saved, parsed, upload=saved).status()
        except BaseException:
            saved.unlink(missing_ok=True)
            raise

    @app.get("/v1/jobs/{job_id}")
    def status(job_id: str) -> dict:
        return _job(state, job_id).status()

    @app.post("/v1/jobs/{job_id}/cancel")
    def cancel(job_id: str) -> dict:
        job = _job(state, job_id)
        if not job.state.finished:
            state.queue(job.device).cancel(job)
        return job.status()

    @app.get("/v1/jobs/{job_id}/events")
    def events(job_id: str) -> StreamingResponse:
        job = _job(state, job_id)
        return StreamingResponse(_sse(job, state.keep_alive), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    @app.get("/v1/jobs/{job_id}/stems/{name}", response_model=None)
    def stem(job_id: str, name: str) -> FileResponse | JSONResponse:
        job = _job(state, job_id)
        if job.state is not JobState.DONE or name not in job.outputs:
            return _error(404, "StemNotFound", f"job {job_id} has no finished stem '{name}' "
                          f"(state {job.state.value}; stems: {', '.join(job.outputs)})")
        path = job.outputs[name]
        if not path.is_file():
            return _error(410, "StemEvicted", f"stem '{name}' of job {job_id} was removed "
                          "from the cache (size cap); submit the job again")
        return FileResponse(path, filename=path.name,
                            media_type=f"audio/{path.suffix.lstrip('.')}")

    return app
