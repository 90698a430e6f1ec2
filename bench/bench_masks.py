"""Speed and memory of a mask model (default: the one `auto` picks), with HTDemucs as the
speed reference in the same run.

    python bench/bench_masks.py [--model NAME] [--minutes 3 10 60] [--demucs-minutes 3]

- ``stemma separate --model NAME`` on the demo song looped to each length (44.1 kHz stereo),
  each in a fresh process: wall time, real-time factor (time / audio; the target is 0.2 or
  less on a 3-minute song) and peak resident memory (kernel rusage of that process alone).
- HTDemucs (the ``demucs`` package's architecture with its published hyper-parameters and
  random weights: the same compute as the trained model) separating the same song with its
  own chunking (7.8 s segments, 25% overlap, no shifts), in a fresh process with the same
  threads: wall time and peak memory, and the ratio of the two wall times. Needs the demucs
  extra (``pip install .[demucs]`` or ``pip install demucs``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_separate import OUT, looped_song, run  # noqa: E402

DEMUCS = textwrap.dedent("""
    import sys, time, torch
    from demucs.apply import apply_model
    from demucs.htdemucs import HTDemucs
    from engine import load_audio
    torch.set_num_threads({threads})
    audio, sr = load_audio(sys.argv[1])
    model = HTDemucs(sources=["drums", "bass", "other", "vocals"], samplerate=44100,
                     segment=7.8).eval()
    start = time.perf_counter()
    with torch.no_grad():
        out = apply_model(model, torch.from_numpy(audio)[None], shifts=0, split=True,
                          overlap=0.25, progress=False)
    print(time.perf_counter() - start, tuple(out.shape))
""")


def demucs_run(path: Path, threads: int) -> tuple[float, float]:
    """(separation seconds, peak RSS in MB) of HTDemucs on ``path`` in a fresh process."""
    proc = subprocess.Popen([sys.executable, "-c", DEMUCS.format(threads=threads), str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"HTDemucs failed: {proc.stderr.read().decode()[-2000:]}")
    seconds = float(proc.stdout.read().decode().split()[0])
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="auto")
    parser.add_argument("--minutes", type=float, nargs="+", default=[3, 10, 60])
    parser.add_argument("--demucs-minutes", type=float, nargs="*", default=[3])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"{os.cpu_count()} cores; model {args.model}; HTDemucs with {args.threads} torch "
          "threads\n")
    print("| input (44.1 kHz stereo) | model | wall time | real-time factor | peak RSS |")
    print("|---|---|---|---|---|")
    walls = {}
    for minutes in args.minutes:
        wall, rss = run(looped_song(minutes), None, args.model)
        walls[minutes] = wall
        print(f"| {minutes:g} min | {args.model} | {wall:.1f} s | {wall / (60 * minutes):.3f} | "
              f"{rss:.0f} MB |", flush=True)
    for minutes in args.demucs_minutes:
        seconds, rss = demucs_run(looped_song(minutes), args.threads)
        ratio = f" (x{seconds / walls[minutes]:.1f} {args.model}'s time)" if (
            minutes in walls) else ""
        print(f"| {minutes:g} min | HTDemucs (random weights) | {seconds:.1f} s{ratio} | "
              f"{seconds / (60 * minutes):.3f} | {rss:.0f} MB |", flush=True)


if __name__ == "__main__":
    main()
