"""Speed and peak memory of ``stemma separate`` on long stereo songs (issue 2 targets).

    python bench/bench_separate.py                 # 3, 10 and 60 minutes
    python bench/bench_separate.py --minutes 3 10  # a quicker run

Each input is the bundled demo song looped to length (44.1 kHz stereo 16-bit WAV), written to
bench/out/. Each run is a fresh ``stemma separate`` process; its peak resident memory comes from
the kernel (``wait4`` rusage of that process alone). Targets: at least 10x faster than real
time on a 3-minute song; peak RSS under 1 GB and flat with duration.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import load_audio  # noqa: E402
from engine.audio_io import AudioWriter  # noqa: E402

DEMO = ROOT / "assets" / "demo" / "demo_song.flac"
OUT = ROOT / "bench" / "out"


def looped_song(minutes: float) -> Path:
    """The demo looped to ``minutes``, streamed to disk (never whole in memory)."""
    path = OUT / f"song_{minutes:g}min.wav"
    if path.exists():
        return path
    demo, sr = load_audio(DEMO)
    total = int(minutes * 60 * sr)
    with AudioWriter(path, sr, demo.shape[0], "wav", "16", overwrite=True,
                     expected_frames=total) as writer:
        done = 0
        while done < total:
            block = demo[:, : total - done]
            writer.write(block)
            done += block.shape[1]
        writer.commit()
    return path


def run(path: Path, threads: int | None, model: str = "classic") -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one ``stemma separate`` process."""
    out = OUT / "stems"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "engine", "separate", str(path), "-o", str(out), "-q",
           "--model", model]
    if threads:
        cmd += ["--threads", str(threads)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"stemma failed on {path}: {proc.stderr.read().decode()}")
    shutil.rmtree(out, ignore_errors=True)
    return wall, usage.ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[3, 10, 60])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the generated inputs")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"python {platform.python_version()}; model classic; threads "
          f"{args.threads or 'default'}")
    print("| input | audio | wall time | speed (x real time) | peak RSS |")
    print("|---|---|---|---|---|")
    rows = []
    for minutes in args.minutes:
        path = looped_song(minutes)
        wall, rss = run(path, args.threads)
        rows.append((minutes, wall, rss))
        print(f"| {path.name} (44.1 kHz stereo) | {minutes * 60:.0f} s | {wall:.1f} s | "
              f"{minutes * 60 / wall:.1f}x | {rss:.0f} MB |", flush=True)
        if not args.keep:
            path.unlink()
    rss = np.array([r[2] for r in rows])
    print(f"\npeak RSS spread across durations: {rss.max() - rss.min():.0f} MB "
          f"({rss.min():.0f} to {rss.max():.0f} MB)")


if __name__ == "__main__":
    main()
