"""Load on the local server: 50 jobs from 8 concurrent clients, random cancels, one worker
process killed mid-job; how every job ended, that none was lost, that nothing was left on disk,
and how fast status calls answer meanwhile.

    .venv/bin/python bench/bench_server.py [--jobs 50] [--clients 8] [--model classic]

Not a test (it takes minutes); the server's tests are tests/engine/server/.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.client import Client, ServerError, read_discovery, wait_until  # noqa: E402
from tests.conftest import music  # noqa: E402

SR = 22050


def start_server(root: Path) -> tuple[subprocess.Popen, Path]:
    state = root / "state"
    env = {**os.environ, "STEMMA_STATE_DIR": str(state)}
    log = open(root / "server.log", "w")  # noqa: SIM115 - the server's lifetime
    proc = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--port", "0",
                             "--cache-dir", str(root / "cache"), "--cancel-grace", "2"],
                            cwd=ROOT, env=env, stderr=log)
    wait_until(lambda: (read_discovery(state / "server.json") or {}).get("pid") == proc.pid,
               timeout=60)
    return proc, state / "server.json"


def workers(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task").glob("*/children")
    return [int(p) for task in tasks for p in task.read_text().split()]


class Load:
    def __init__(self, client: Client, songs: list[Path], n_jobs: int, model: str, seed: int):
        self.client, self.songs, self.model = client, songs, model
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.left = n_jobs
        self.submitted: list[str] = []
        self.latencies: list[float] = []
        self.done = threading.Event()

    def take(self) -> bool:
        with self.lock:
            self.left -= 1
            return self.left >= 0

    def client_loop(self) -> None:
        while self.take():
            with self.lock:
                song = self.rng.choice(self.songs)
                start = self.rng.choice([0.0, 1.0, 2.0, 3.0])
                length = self.rng.choice([2.0, 4.0, 6.0])
                cancel = self.rng.random() < 0.25
            job = self.client.submit(song, model=self.model, start=start, end=start + length)
            with self.lock:
                self.submitted.append(job["id"])
            if cancel:
                self.client.cancel(job["id"])
            for _ in self.client.events(job["id"]):
                pass

    def poll_loop(self) -> None:
        """Status calls under load, timed."""
        while not self.done.is_set():
            with self.lock:
                ids = list(self.submitted)
            if not ids:
                time.sleep(0.01)
                continue
            t0 = time.perf_counter()
            self.client.status(random.choice(ids))
            with self.lock:
                self.latencies.append(time.perf_counter() - t0)
            time.sleep(0.02)


def kill_one_worker(load: Load, server_pid: int) -> str:
    """Once a few jobs have run, wait for one to be running and kill its worker (SIGKILL)."""
    wait_until(lambda: len(load.submitted) >= 15, timeout=600)

    def running() -> str | None:
        for job_id in list(load.submitted):
            if load.client.status(job_id)["state"] == "running":
                return job_id
        return None

    victim = wait_until(running, timeout=600, step=0.01)
    pids = workers(server_pid)
    os.kill(pids[0], signal.SIGKILL)
    return victim


def leftovers(cache: Path) -> list[Path]:
    """Files that should not be there: a job's work folder, an upload, a partial file."""
    stray = [p for p in (cache / "work").rglob("*")]
    stray += list((cache / "uploads").rglob("*")) if (cache / "uploads").exists() else []
    stray += [p for p in (cache / "entries").rglob("*") if ".part" in p.name]
    return stray


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--model", default="classic")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="stemma-bench-server-"))
    songs = []
    for i in range(6):
        songs.append(root / f"song{i}.wav")
        sf.write(songs[-1], music(10.0, SR, 2, seed=i).T, SR)
    proc, discovery = start_server(root)
    client = Client.discover(discovery)
    load = Load(client, songs, args.jobs, args.model, args.seed)
    started = time.perf_counter()
    threads = [threading.Thread(target=load.client_loop) for _ in range(args.clients)]
    poller = threading.Thread(target=load.poll_loop)
    for t in threads + [poller]:
        t.start()
    victim = kill_one_worker(load, proc.pid)
    for t in threads:
        t.join()
    load.done.set()
    poller.join()
    wall = time.perf_counter() - started

    finals = {job["id"]: job for job in client.jobs()}
    outcomes = Counter()
    reasons = Counter()
    for job_id in load.submitted:
        job = finals.get(job_id)
        state = job["state"] if job else "lost"
        outcomes[state] += 1
        if state == "failed":
            reasons[job["error"]["type"]] += 1
    hits = sum(finals[j]["cache_hit"] for j in load.submitted if j in finals)
    lost = len(load.submitted) - sum(outcomes[s] for s in ("done", "cancelled", "failed"))
    alive = client.health()["status"] == "ok"
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    stray = leftovers(root / "cache")
    lat = sorted(load.latencies)
    p95 = lat[int(0.95 * (len(lat) - 1))] * 1e3

    print("| measure | value |\n|---|---|")
    print(f"| jobs submitted ({args.clients} clients, model {args.model}) | "
          f"{len(load.submitted)} |")
    print(f"| done (of which cache hits) | {outcomes['done']} ({hits}) |")
    print(f"| cancelled | {outcomes['cancelled']} |")
    print(f"| failed (reasons) | {outcomes['failed']} "
          f"({', '.join(f'{k}: {v}' for k, v in reasons.items()) or '-'}) |")
    print(f"| killed worker's job | {victim}: {finals[victim]['state']}"
          f" ({(finals[victim]['error'] or {}).get('message', '-')}) |")
    print(f"| lost | {lost} |")
    print(f"| server answering after the load | {'yes' if alive else 'NO'} |")
    print(f"| leftover files | {len(stray)} |")
    print(f"| status calls timed | {len(lat)} |")
    print(f"| status latency p50 / p95 | {statistics.median(lat) * 1e3:.1f} ms / "
          f"{p95:.1f} ms |")
    print(f"| wall time | {wall:.0f} s |")
    return 0 if lost == 0 and not stray and alive else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ServerError as err:
        sys.exit(f"bench_server: {err}")
