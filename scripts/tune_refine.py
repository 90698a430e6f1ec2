"""Tune tokenlm's Wiener refinement on validation songs (never the test set).

    python scripts/tune_refine.py --model tokenlm --data work/val48 [--priors codec-oracle]

Generates each song's raw stems once, then refines them with every setting of a small grid
(prior smoothing over time and frequency, prior power) and prints a table sorted by average
uSDR, the best setting first. Write the winner into the model's manifest params.
``--priors codec-oracle`` refines the true stems through the model's codec instead of its LM's
output: the best the refinement could do for a perfect LM (the eval's ``codec-refined`` row).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import Separator  # noqa: E402
from engine.backends.tokenlm import RefineConfig, wiener_refine  # noqa: E402
from lab.evaluation.metrics import sdr  # noqa: E402
from lab.evaluation.run import coded_stems  # noqa: E402
from lab.musdb import STEMS, load_tracks  # noqa: E402

GRID = {"prior_frames": (1, 3, 7), "prior_bins": (1, 3, 7),
        "prior_power": (0.25, 0.5, 0.75, 1.0, 1.5)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tokenlm")
    parser.add_argument("--data", type=Path, required=True, help="validation songs, 48 kHz")
    parser.add_argument("--priors", choices=("lm", "codec-oracle"), default="lm",
                        help="the LM's raw stems, or the true stems through the codec")
    parser.add_argument("--limit", type=int, help="only the first N songs")
    args = parser.parse_args()
    raw_separator = Separator(args.model, options={"refine": False})
    songs = []
    for track in load_tracks(args.data)[:args.limit]:
        mixture, stems, sr = track.load()
        if sr != 48000:
            raise SystemExit(f"{track.name}: {sr} Hz; render validation songs at 48 kHz")
        if args.priors == "lm":
            raw = raw_separator.separate(mixture, sr, stems=list(STEMS))
            raw = np.stack([raw[s][0] for s in STEMS])
        else:
            raw = coded_stems(raw_separator._backend, stems, sr, mixture.shape[1])
        songs.append((mixture, stems, raw))
        print(f"generated {track.name}", flush=True)
    results = []
    for values in itertools.product(*GRID.values()):
        cfg = RefineConfig(**dict(zip(GRID, values, strict=True)))
        scores = np.zeros(len(STEMS))
        for mixture, stems, raw in songs:
            refined = wiener_refine(mixture, raw, cfg)
            scores += [sdr(stems[s], refined[k]) for k, s in enumerate(STEMS)]
        results.append((scores / len(songs), cfg))
    results.sort(key=lambda r: -r[0].mean())
    print("\n| prior_frames | prior_bins | prior_power | " + " | ".join(STEMS)
          + " | avg uSDR |\n|---|---|---|" + "---|" * (len(STEMS) + 1))
    for scores, cfg in results:
        print(f"| {cfg.prior_frames} | {cfg.prior_bins} | {cfg.prior_power} | "
              + " | ".join(f"{v:.2f}" for v in scores) + f" | {scores.mean():.2f} |")


if __name__ == "__main__":
    main()
