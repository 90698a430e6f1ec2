"""A client of the local job server (``stemma serve``), in the standard library only, so a
script or a plugin's helper can copy it alone.

    client = Client.discover()                     # reads the server's discovery file
    job = client.submit("song.wav", model="classic", start=12.0, end=20.0)
    for event in client.events(job["id"]):        # Server-Sent Events until the job ends
        print(event.name, event.data)
    client.download(job["id"], "vocals", "vocals.wav")

The protocol is in docs/server.md.
"""

from __future__ import annotations

import json
import mimetypes
import os
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

API_VERSION = 1
DISCOVERY_NAME = "server.json"
TIMEOUT = 30.0  # seconds for one request (an SSE stream has keep-alives well inside it)


def state_dir() -> Path:
    """Where the server leaves its discovery file: ``STEMMA_STATE_DIR`` if set (tests, several
    users' servers), else ``$XDG_STATE_HOME/stemma``, else ``~/.local/state/stemma``."""
    if os.environ.get("STEMMA_STATE_DIR"):
        return Path(os.environ["STEMMA_STATE_DIR"])
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "stemma"


def discovery_file() -> Path:
    return state_dir() / DISCOVERY_NAME


def read_discovery(path: Path | None = None) -> dict | None:
    """The running server's port, pid, API version and token, or None when none runs."""
    try:
        return json.loads((path or discovery_file()).read_text())
    except (OSError, ValueError):
        return None


class ServerError(Exception):
    """An answer other than 2xx: ``status``, the engine's error ``type`` (for example
    ``AudioNotFoundError``), its message and the file it names."""

    def __init__(self, status: int, type_: str, message: str, path: str | None = None):
        self.status, self.type, self.message, self.path = status, type_, message, path
        super().__init__(f"{type_} ({status}): {message}")


class ServerUnavailable(Exception):
    """No server answers (none started, or it has stopped)."""


@dataclass(frozen=True)
class Event:
    """One Server-Sent Event: ``name`` is ``progress`` or ``state``; ``data`` its JSON."""

    name: str
    data: dict


class Client:
    """Calls one server at ``url`` with its bearer ``token``."""

    def __init__(self, url: str, token: str, timeout: float = TIMEOUT):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    @classmethod
    def discover(cls, path: Path | None = None) -> Client:
        info = read_discovery(path)
        if info is None:
            raise ServerUnavailable(f"no server is running (no {path or discovery_file()}); "
                                    "start one with `stemma serve`")
        return cls(info["url"], info["token"])

    # --- transport --------------------------------------------------------------------------

    def _open(self, method: str, route: str, body: bytes | None = None,
              content_type: str | None = None, timeout: float | None = None):
        headers = {"Authorization": f"Bearer {self.token}"}
        if content_type:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(self.url + route, data=body, method=method,
                                     headers=headers)
        try:
            return urllib.request.urlopen(req, timeout=timeout or self.timeout)
        except urllib.error.HTTPError as err:
            raise _server_error(err) from None
        except (urllib.error.URLError, ConnectionError) as err:
            raise ServerUnavailable(f"the server at {self.url} does not answer ({err})") from None

    def _json(self, method: str, route: str, payload: Any = None) -> Any:
        body = None if payload is None else json.dumps(payload).encode()
        ctype = "application/json" if method == "POST" else None
        with self._open(method, route, body if body is not None else b"" if ctype else None,
                        ctype) as answer:
            return json.loads(answer.read())

    # --- the API ----------------------------------------------------------------------------

    def health(self) -> dict:
        return self._json("GET", "/v1/health")

    def models(self) -> list[dict]:
        return self._json("GET", "/v1/models")

    def submit(self, path: str | Path, **params: Any) -> dict:
        """A job for a file the server can read. ``params``: model, stems (a list), start,
        end (seconds), format (wav/flac), bit_depth, options. Returns the job's status."""
        return self._json("POST", "/v1/jobs", {"input": str(Path(path).resolve()), **params})

    def upload(self, path: str | Path, **params: Any) -> dict:
        """A job for a file sent in the request (a server that cannot read the client's
        files); the same ``params`` as :meth:`submit`."""
        boundary = secrets.token_hex(16)
        body = _multipart(boundary, Path(path), {"params": json.dumps(params)})
        with self._open("POST", "/v1/jobs/upload", body,
                        f"multipart/form-data; boundary={boundary}") as answer:
            return json.loads(answer.read())

    def status(self, job_id: str) -> dict:
        return self._json("GET", f"/v1/jobs/{job_id}")

    def jobs(self) -> list[dict]:
        return self._json("GET", "/v1/jobs")

    def cancel(self, job_id: str) -> dict:
        return self._json("POST", f"/v1/jobs/{job_id}/cancel", {})

    def events(self, job_id: str) -> Iterator[Event]:
        """The job's events as they come, ending with its final ``state`` event."""
        with self._open("GET", f"/v1/jobs/{job_id}/events") as stream:
            yield from read_events(stream)

    def download(self, job_id: str, stem: str, dest: str | Path) -> Path:
        """Write one stem of a finished job to ``dest`` (replaced whole, never half)."""
        dest = Path(dest)
        part = dest.with_name(f".{dest.name}.part")
        with self._open("GET", f"/v1/jobs/{job_id}/stems/{stem}") as answer, \
                open(part, "wb") as out:
            while block := answer.read(1 << 20):
                out.write(block)
        os.replace(part, dest)
        return dest

    def wait(self, job_id: str, on_event: Callable[[Event], None] | None = None) -> dict:
        """Follow the job's events until it ends; returns its final status."""
        for event in self.events(job_id):
            if on_event is not None:
                on_event(event)
        return self.status(job_id)


def read_events(stream) -> Iterator[Event]:
    """Parse a Server-Sent Events byte stream (``event:``/``data:`` lines, a blank line ends
    one; ``:`` lines are keep-alive comments and are skipped)."""
    name, data = "message", []
    for raw in stream:
        line = raw.decode().rstrip("\r\n")
        if not line:
            if data:
                yield Event(name, json.loads("\n".join(data)))
            name, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)


def _server_error(err: urllib.error.HTTPError) -> ServerError:
    try:
        detail = json.loads(err.read())["error"]
        return ServerError(err.code, detail["type"], detail["message"], detail.get("path"))
    except (ValueError, KeyError, TypeError):
        return ServerError(err.code, "HTTPError", str(err.reason))


def _multipart(boundary: str, path: Path, fields: dict[str, str]) -> bytes:
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     f"{value}\r\n".encode())
    ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                 f'filename="{path.name}"\r\nContent-Type: {ctype}\r\n\r\n'.encode()
                 + path.read_bytes() + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts)


def wait_until(condition: Callable[[], Any], timeout: float, step: float = 0.05) -> Any:
    """Poll ``condition`` until it returns something true (returned), or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"not true within {timeout:g} s")
        time.sleep(step)
    return value
