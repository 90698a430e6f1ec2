"""The real server as a subprocess (``python -m engine serve --port 0``) with its own state and
cache folders, found through its discovery file as every client finds it; and songs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.client import Client, read_discovery, wait_until
from tests.conftest import music

ROOT = Path(__file__).resolve().parents[3]
SR = 22050


@dataclass
class Server:
    proc: subprocess.Popen
    state_dir: Path
    cache_dir: Path
    log: Path

    @property
    def discovery(self) -> Path:
        return self.state_dir / "server.json"

    @property
    def info(self) -> dict:
        return json.loads(self.discovery.read_text())

    @property
    def url(self) -> str:
        return self.info["url"]

    @property
    def token(self) -> str:
        return self.info["token"]

    def client(self) -> Client:
        return Client.discover(self.discovery)

    def workers(self) -> list[int]:
        """The pids of the server's worker processes."""
        tasks = Path(f"/proc/{self.proc.pid}/task").glob("*/children")  # any thread's
        return sorted(int(p) for task in tasks for p in task.read_text().split())

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)


def start_server(root: Path, *args: str) -> Server:
    state, cache = root / "state", root / "cache"
    state.mkdir(parents=True, exist_ok=True)
    log = root / "server.log"
    env = {**os.environ, "STEMMA_STATE_DIR": str(state)}
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--port", "0",
                                 "--cache-dir", str(cache), "--keep-alive", "0.5",
                                 "--cancel-grace", "2", *args],
                                cwd=ROOT, env=env, stderr=err, stdin=subprocess.DEVNULL)
    server = Server(proc, state, cache, log)

    def up() -> bool:
        assert proc.poll() is None, f"the server exited: {log.read_text()}"
        info = read_discovery(server.discovery)
        return info is not None and info["pid"] == proc.pid

    wait_until(up, timeout=60)
    return server


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    running = start_server(tmp_path_factory.mktemp("server"))
    yield running
    # uvicorn ends on SIGTERM by raising it again once shut down, as the CLI's 143
    assert running.stop() in (0, -signal.SIGTERM), running.log.read_text()
    assert not running.discovery.exists()  # a clean exit removes the discovery file


@pytest.fixture(scope="session")
def songs(tmp_path_factory) -> dict[str, Path]:
    """short: 10 s stereo; long: 60 s (time to cancel); bad: a WAV name on junk bytes;
    six: a 6-channel WAV."""
    folder = tmp_path_factory.mktemp("songs")
    paths = {name: folder / f"{name}.wav" for name in ("short", "long", "bad", "six")}
    sf.write(paths["short"], music(10.0, SR, 2).T, SR, subtype="FLOAT")
    sf.write(paths["long"], music(60.0, 44100, 2).T, 44100, subtype="PCM_16")
    paths["bad"].write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + bytes(range(256)) * 8)
    six = np.concatenate([music(2.0, SR, 2)] * 3)
    sf.write(paths["six"], six.T, SR)
    return paths

