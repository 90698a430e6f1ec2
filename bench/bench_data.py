"""How fast the synthesizer feeds training (issue 4): seconds of audio per wall second.

    python bench/bench_data.py [--seconds 60] [--workers 0 1 2]

Two figures per setting: rendered song audio per second (what the synthesizer makes) and crop
audio per second (what training receives: ``crops_per_song`` crops of 4 s from each song, the
paper's 48 kHz mono setting). Worker start-up (soundfont loading) is included. The last row
reads crops from a pre-rendered cache (``stemma-lab synth-songs --training``) instead: the way to
feed a CPU training run, whose cores the synthesizer would otherwise compete for.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from torch.utils.data import DataLoader  # noqa: E402

from lab.training.data import DataConfig, FolderStems, SynthStems  # noqa: E402
from lab.training.testset import write_training_songs  # noqa: E402

CACHE = Path(__file__).resolve().parent / "out" / "cache"


def measure(dataset, workers: int, seconds: float,
            cfg: DataConfig) -> tuple[float, float, int]:
    loader = DataLoader(dataset, batch_size=None, num_workers=workers)
    start = time.perf_counter()
    crops = 0
    for _ in loader:
        crops += 1
        if time.perf_counter() - start > seconds:
            break
    wall = time.perf_counter() - start
    crop_audio = crops * cfg.segment_s
    songs = crops / cfg.crops_per_song
    song_audio = songs * sum(cfg.song_seconds) / 2  # mean song length
    return song_audio / wall, crop_audio / wall, crops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    cfg = DataConfig()
    print(f"{os.cpu_count()} cores; {cfg.sample_rate} Hz, mono={cfg.mono}, {cfg.segment_s:g} s "
          f"crops, {cfg.crops_per_song} crops per song of {cfg.song_seconds[0]:g}-"
          f"{cfg.song_seconds[1]:g} s, augmentation on")
    print("| DataLoader workers | song audio rendered / s | training audio / s | crops |")
    print("|---|---|---|---|")
    for workers in args.workers:
        song_rate, crop_rate, crops = measure(SynthStems(cfg), workers, args.seconds, cfg)
        print(f"| {workers} | {song_rate:.1f} s/s | {crop_rate:.1f} s/s | {crops} |",
              flush=True)
    if not CACHE.is_dir():
        write_training_songs(CACHE, 20, seed=0, sample_rate=cfg.sample_rate)
    _, crop_rate, crops = measure(FolderStems(CACHE, cfg, remix=0.5), 0, args.seconds / 4, cfg)
    print(f"| 0, from a 20-song cache on disk | - | {crop_rate:.1f} s/s | {crops} |")


if __name__ == "__main__":
    main()
