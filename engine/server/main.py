"""``stemma serve``: bind a loopback socket, write the discovery file, run the API (uvicorn)
until SIGINT/SIGTERM, then stop the workers and remove the discovery file."""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import secrets
import socket
import sys
from pathlib import Path

from ..client import API_VERSION, discovery_file, read_discovery
from ..errors import EngineError, InvalidArgumentError

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "stemma" / "server"


def loopback_socket(host: str, port: int) -> socket.socket:
    """A listening socket on a loopback address; any other address is a usage error (the
    server must never be reachable from the network)."""
    name = "127.0.0.1" if host == "localhost" else host.strip("[]")
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        address = None
    if address is None or not address.is_loopback:
        raise InvalidArgumentError(f"--host {host} is not a loopback address; the server "
                                   "listens on 127.0.0.1 or ::1 only (it is for this machine)")
    sock = socket.socket(socket.AF_INET6 if address.version == 6 else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((str(address), port))
    except OSError as err:
        sock.close()
        raise EngineError(f"cannot listen on {address} port {port} ({err.strerror})") from None
    sock.listen(128)
    return sock


def write_discovery(path: Path, info: dict) -> None:
    """Write ``info`` to ``path`` readable by this user only (0600), whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(info, out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(part, path)


def _already_running() -> dict | None:
    info = read_discovery()
    if info is None:
        return None
    try:
        os.kill(int(info["pid"]), 0)
    except (OSError, KeyError, ValueError, TypeError):
        return None  # a file left by a server that was killed
    return info


def serve(host: str = "127.0.0.1", port: int = 0, cache_dir: Path | None = None,
          cache_max_gb: float = 10.0, keep_alive: float = 5.0, grace: float = 3.0,
          max_upload_mb: int = 2048) -> int:
    import uvicorn

    from .app import ServerState, create_app
    from .cache import ContentCache
    from .security import LocalOnly

    sock = loopback_socket(host, port)
    running = _already_running()
    if running is not None:
        sock.close()
        raise EngineError(f"a Stemma server already runs (pid {running['pid']}, port "
                          f"{running['port']}); stop it first", discovery_file())
    port = sock.getsockname()[1]
    shown = f"[{sock.getsockname()[0]}]" if sock.family == socket.AF_INET6 else \
        sock.getsockname()[0]
    token = secrets.token_urlsafe(32)
    path = discovery_file()
    info = {"url": f"http://{shown}:{port}", "host": shown, "port": port, "pid": os.getpid(),
            "api": API_VERSION, "token": token}

    def started() -> None:
        write_discovery(path, info)
        print(f"stemma: serving on {info['url']} (discovery file {path})", file=sys.stderr,
              flush=True)

    def stopped() -> None:
        if (read_discovery(path) or {}).get("pid") == os.getpid():
            path.unlink(missing_ok=True)

    cache = ContentCache(cache_dir or default_cache_dir(), int(cache_max_gb * (1 << 30)))
    state = ServerState(token, cache, keep_alive, grace, started, stopped)
    app = LocalOnly(create_app(state), token, port, max_upload_mb << 20)
    config = uvicorn.Config(app, lifespan="on", log_level="warning",
                            timeout_graceful_shutdown=2)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        stopped()
        sock.close()
    return 0
