"""A private PulseAudio server with a null sink: a real output device that consumes audio in
real time, for the app tests and the app benchmark."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path


def _running(env: dict) -> bool:
    return subprocess.run(["pactl", "info"], capture_output=True, env=env).returncode == 0


@contextlib.contextmanager
def null_sink_server(folder: Path) -> Iterator[str]:
    """Start the server (socket in ``folder``), point PULSE_SERVER at it, stop it after.

    PortAudio lists devices once, when sounddevice is first imported: enter this first.
    """
    assert shutil.which("pulseaudio"), "pulseaudio is needed: run scripts/install.sh --test"
    socket = folder / "pulse" / "native"
    socket.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PULSE_SERVER": f"unix:{socket}",
           "PULSE_RUNTIME_PATH": str(socket.parent)}
    daemon = subprocess.Popen(
        ["pulseaudio", "--daemonize=no", "-n", "--exit-idle-time=-1", "--disallow-exit",
         "--disable-shm=true",  # containers may restrict /dev/shm; sockets always work
         "--use-pid-file=no", "--load=module-null-sink sink_name=stemma_null",
         f"--load=module-native-protocol-unix auth-anonymous=1 socket={socket}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while not _running(env) and time.monotonic() < deadline:
            assert daemon.poll() is None, daemon.stderr.read().decode()
            time.sleep(0.1)
        assert _running(env), "the PulseAudio null sink did not start"
        os.environ["PULSE_SERVER"] = env["PULSE_SERVER"]
        yield "stemma_null"
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)
