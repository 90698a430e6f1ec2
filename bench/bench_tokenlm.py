"""Speed and memory of the token-LM separator (issue 6).

    python bench/bench_tokenlm.py [--model tokenlm] [--minutes 3]

- LM decode steps per second (one step = one token of every window in the batch) at batch 1
  and at the batch a whole song needs, on the installed model's LM.
- ``stemma separate --model M`` on the demo song looped to ``--minutes`` (44.1 kHz stereo), in
  a fresh process: real-time factor and peak resident memory (kernel rusage of that process).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_separate import OUT, looped_song  # noqa: E402
from engine import Separator  # noqa: E402


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


def separate(model: str, path: Path) -> tuple[float, float]:
    out = OUT / "tokenlm_stems"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "engine", "separate", str(path), "-o", str(out), "-q",
           "--model", model]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(proc.stderr.read().decode())
    shutil.rmtree(out, ignore_errors=True)
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tokenlm")
    parser.add_argument("--minutes", type=float, default=3.0)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    seconds = args.minutes * 60
    windows = int(seconds // 3.2) + 1  # 4 s windows every 3.2 s
    print(f"{os.cpu_count()} cores, {torch.get_num_threads()} torch threads, model "
          f"{args.model}\n")
    print("| measure | value |\n|---|---|")
    for batch in (1, windows):
        print(f"| LM decode steps/s at batch {batch} | "
              f"{lm_steps_per_second(args.model, batch):.1f} |", flush=True)
    wall, rss = separate(args.model, looped_song(args.minutes))
    print(f"| {args.minutes:g}-minute song: wall time | {wall:.1f} s |")
    print(f"| real-time factor (time / audio) | {wall / seconds:.2f} "
          f"({seconds / wall:.2f}x real time) |")
    print(f"| peak RSS | {rss:.0f} MB |")


if __name__ == "__main__":
    main()
