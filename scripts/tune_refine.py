"""Tune tokenlm's Wiener refinement on validation songs (never the test set).

    python scripts/tune_refine.py --model tokenlm --data work/val48 [--limit N]
        [--priors codec-oracle] [--grid prior_bins=1,5 --grid samples=4,8 ...]

Generates each song's stems once (as many sampled generations per window as the grid's
largest ``samples``), then refines them with every setting of a grid (generations averaged,
prior smoothing over time and frequency, prior power, the spatial covariances' reach) through
the engine's own ``wiener_refine``, with the model's prior gains where it ships them, and
prints a table sorted by average uSDR, the best setting first, with the mix/4 reference row.
Write the winner into the model's manifest params. ``--grid NAME=V1,V2`` replaces one
dimension of the default grid. ``--priors codec-oracle`` refines the true stems through the
model's codec instead of its LM's output (no gains, one "generation"): the best the
refinement could do for a perfect LM (the eval's ``codec-refined`` row).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.backends import create  # noqa: E402
from engine.backends.tokenlm import RefineConfig, wiener_refine  # noqa: E402
from engine.registry import resolve  # noqa: E402
from lab.evaluation.metrics import sdr  # noqa: E402
from lab.evaluation.run import coded_stems  # noqa: E402
from lab.musdb import STEMS, load_tracks  # noqa: E402

GRID = {"samples": (4, 8), "prior_frames": (1, 3), "prior_bins": (1, 5),
        "prior_power": (0.5, 0.75, 1.0), "spatial_frames": (87, 347),
        "mean_exponent": (2.0, 1.0, 0.5)}
CASTS = {"samples": int, "prior_frames": int, "prior_bins": int, "prior_power": float,
         "spatial_frames": int, "mean_exponent": float}


def parse_grid(items: list[str]) -> dict[str, tuple]:
    grid = dict(GRID)
    for item in items:
        name, _, values = item.partition("=")
        if name not in grid or not values:
            raise SystemExit(f"--grid {item}: give NAME=V1,V2 with NAME one of {', '.join(grid)}")
        grid[name] = tuple(CASTS[name](v) for v in values.split(","))
    return grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tokenlm")
    parser.add_argument("--data", type=Path, required=True, help="validation songs, 48 kHz")
    parser.add_argument("--priors", choices=("lm", "codec-oracle"), default="lm",
                        help="the LM's generations, or the true stems through the codec")
    parser.add_argument("--limit", type=int, help="only the first N songs")
    parser.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2",
                        help="replace one dimension of the grid (repeatable)")
    parser.add_argument("--cache", type=Path, help="keep each song's generations here "
                        "(model name, count, seed and song in the file name) and reuse them")
    args = parser.parse_args()
    grid = parse_grid(args.grid)
    oracle = args.priors == "codec-oracle"
    if oracle:
        grid["samples"] = (1,)
    count = max(grid["samples"])
    info = resolve(args.model)
    backend, backend_name = create(info, "cpu", {"samples": count}), info.name
    gains = None if oracle else backend.refine_cfg.gains
    songs = []
    for track in load_tracks(args.data)[:args.limit]:
        mixture, stems, sr = track.load()
        if sr != 48000:
            raise SystemExit(f"{track.name}: {sr} Hz; render validation songs at 48 kHz")
        cached = (args.cache / f"{backend_name}_{args.priors}_{count}x_seed{backend.seed}_"
                  f"{track.name}.npy") if args.cache else None
        if cached is not None and cached.exists():
            raw = np.load(cached)
        elif oracle:
            raw = coded_stems(backend, stems, sr, mixture.shape[1])[None]
        else:
            raw = backend.generations(mixture.mean(axis=0), lambda: None)  # (K, 4, N)
        if cached is not None and not cached.exists():
            args.cache.mkdir(parents=True, exist_ok=True)
            np.save(cached, raw)
        songs.append((mixture, stems, raw))
        print(f"generated {track.name}", flush=True)
    results = []
    for values in itertools.product(*grid.values()):
        setting = dict(zip(grid, values, strict=True))
        k = setting.pop("samples")
        cfg = RefineConfig(**setting, gains=gains)
        scores = np.zeros(len(STEMS))
        for mixture, stems, raw in songs:
            refined = wiener_refine(mixture, raw[:k], cfg)
            scores += [sdr(stems[s], refined[i]) for i, s in enumerate(STEMS)]
        results.append((scores / len(songs), k, cfg))
        print(f"  {k} {setting}: {scores.mean() / len(songs):.3f}", flush=True)
    results.sort(key=lambda r: -r[0].mean())
    reference = np.mean([[sdr(stems[s], mixture / len(STEMS)) for s in STEMS]
                         for mixture, stems, _ in songs], axis=0)
    print("\n| samples | prior_frames | prior_bins | prior_power | spatial_frames | "
          "mean_exponent | " + " | ".join(STEMS) + " | avg uSDR |\n"
          + "|---" * (6 + len(STEMS) + 1) + "|")
    print("| mix/4 | | | | | | " + " | ".join(f"{v:.2f}" for v in reference)
          + f" | {reference.mean():.2f} |")
    for scores, k, cfg in results:
        print(f"| {k} | {cfg.prior_frames} | {cfg.prior_bins} | {cfg.prior_power} | "
              f"{cfg.spatial_frames} | {cfg.mean_exponent} | "
              + " | ".join(f"{v:.2f}" for v in scores) + f" | {scores.mean():.2f} |")


if __name__ == "__main__":
    main()
