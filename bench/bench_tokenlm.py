"""Speed, memory and cancel latency of the token-LM separator.

    python bench/bench_tokenlm.py [--model tokenlm] [--minutes 3 10]

- LM decode steps per second (one step = one token of every window in the batch) at batch 1
  and at the batch one chunk of the song needs (all its windows at once).
- ``stemma separate --model M`` on the demo song looped to each of ``--minutes`` (44.1 kHz
  stereo), each in a fresh process: wall time, real-time factor and peak resident memory
  (kernel rusage of that process alone).
- Cancel: ``stemma separate`` on the first song, interrupted (SIGINT, what Ctrl-C sends) at
  several moments while it generates; the time from the signal to the process's exit, and
  whether it left any file behind.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_separate import OUT, looped_song  # noqa: E402
from engine import Separator  # noqa: E402
from tests.conftest import default_stop_signals  # noqa: E402  (Ctrl-C at its default in the child)


def lm_steps_per_second(model: str, batch: int, steps: int = 60) -> float:
    """Decode steps per second of the installed model's LM at ``batch`` windows: one step is
    one token of every window (logits of 16 levels, greedy choice, embedding of the codes)."""
    backend = Separator(model)._backend
    lm = backend.lm
    s = backend.window_frames
    prefix = torch.randn(batch, s, lm.cfg.dim)
    caches = lm.setup_cache(batch, 1 + s + 4 * (1 + 2 * s), prefix.dtype, prefix.device)
    cond = lm.conditioning(prefix)
    with torch.no_grad():
        lm.prefill(lm.embed_prefix(prefix), caches)
        x = lm.start_token.expand(batch, 1, -1)
        start = time.perf_counter()
        lm.decode_n_tokens(x, 1 + s, caches, steps, cond, [0], 0.0, 0, None)
    return (steps + 1) / (time.perf_counter() - start)


def _command(model: str, path: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "engine", "separate", str(path), "-o", str(out), "-q",
            "--model", model]


def separate(model: str, path: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one ``stemma separate`` process."""
    out = OUT / "tokenlm_stems"
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    proc = subprocess.Popen(_command(model, path, out), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(proc.stderr.read().decode())
    shutil.rmtree(out, ignore_errors=True)
    return wall, usage.ru_maxrss / 1024


def cancel_latency(model: str, path: Path, after: float) -> tuple[float, int, int]:
    """SIGINT ``after`` seconds into a separation: (seconds to exit, exit code, files left)."""
    out = OUT / "tokenlm_cancel"
    shutil.rmtree(out, ignore_errors=True)
    proc = subprocess.Popen(_command(model, path, out), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, preexec_fn=default_stop_signals)
    time.sleep(after)
    sent = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    code = proc.wait()
    latency = time.perf_counter() - sent
    left = sum(1 for p in out.rglob("*") if p.is_file()) if out.exists() else 0
    shutil.rmtree(out, ignore_errors=True)
    return latency, code, left


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tokenlm")
    parser.add_argument("--minutes", type=float, nargs="+", default=[3.0, 10.0])
    parser.add_argument("--cancel-after", type=float, nargs="+", default=[8.0, 15.0, 25.0],
                        help="seconds into the first song at which to interrupt it")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    backend = Separator(args.model)._backend
    chunk_windows = len(backend._windows(int(backend.chunk_s * 48000) + 4 * 48000))
    print(f"{os.cpu_count()} cores, {torch.get_num_threads()} torch threads, model "
          f"{args.model}\n")
    print("| measure | value |\n|---|---|")
    for batch in (1, chunk_windows):
        print(f"| LM decode steps/s at batch {batch} | "
              f"{lm_steps_per_second(args.model, batch):.1f} |", flush=True)
    for minutes in args.minutes:
        seconds = minutes * 60
        wall, rss = separate(args.model, looped_song(minutes))
        print(f"| {minutes:g}-minute song: wall time, real-time factor | {wall:.1f} s, "
              f"{wall / seconds:.2f} ({seconds / wall:.2f}x real time) |")
        print(f"| {minutes:g}-minute song: peak RSS | {rss:.0f} MB |", flush=True)
    for after in args.cancel_after:
        latency, code, left = cancel_latency(args.model, looped_song(args.minutes[0]), after)
        print(f"| Ctrl-C {after:g} s in: to exit, exit code, files left | {latency:.2f} s, "
              f"{code}, {left} |", flush=True)


if __name__ == "__main__":
    main()
