"""tokenlm's learning curve: held-out uSDR of training snapshots against training time.

    python scripts/tokenlm_curve.py --run work/sep_ss --data work/val48 [--limit 5]

For the shipped weights (time 0 of this run) and every ``RUN/snapshots/step_N.safetensors``
the token LM and conditioner of the snapshot (in torch) replace the shipped ones inside the
installed ``tokenlm`` backend (same codec, refinement and windowing), every validation song is
separated refined and raw, and the average uSDR over stems and songs is printed with the
snapshot's training minutes (from ``RUN/log.jsonl``), plus the mix/4 reference.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import Separator  # noqa: E402
from lab.evaluation.metrics import sdr  # noqa: E402
from lab.musdb import STEMS, load_tracks  # noqa: E402
from lab.nn.tokenlm import load_separator  # noqa: E402


def use_snapshot(separator: Separator, path: Path) -> None:
    """Swap the snapshot's conditioner (torch, not ONNX) and LM into a loaded backend."""
    model = load_separator(path)
    backend = separator._backend
    backend.lm = model.lm.eval()

    def condition(batch: np.ndarray) -> list[np.ndarray]:
        with torch.no_grad():
            return [model.conditioner(torch.from_numpy(batch)).numpy()]

    backend.conditioner = condition


def score(separator: Separator, songs: list) -> float:
    values = []
    for mixture, stems, sr in songs:
        out = separator.separate(mixture, sr, stems=list(STEMS))
        values += [sdr(stems[s], out[s]) for s in STEMS]
    return float(np.mean(values))


def minutes_at(run: Path) -> dict[int, float]:
    """Training minutes at each logged step: from the logged speed (steps/s since start)."""
    out = {}
    for line in (run / "log.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "steps_per_s" in record:
            out[record["step"]] = record["step"] / record["steps_per_s"] / 60
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--model", default="tokenlm")
    args = parser.parse_args()
    songs = [t.load() for t in load_tracks(args.data)[:args.limit]]
    quarter = np.mean([sdr(stems[s], mix / len(STEMS)) for mix, stems, _ in songs
                       for s in STEMS])
    refined = Separator(args.model)
    raw = Separator(args.model, options={"refine": False})
    minutes = minutes_at(args.run)
    print(f"mix/4 reference: {quarter:.2f} dB\n")
    print("| snapshot | training minutes | uSDR refined | uSDR raw |\n|---|---|---|---|")
    print(f"| shipped | 0 | {score(refined, songs):.2f} | {score(raw, songs):.2f} |", flush=True)
    snapshots = sorted((args.run / "snapshots").glob("step_*.safetensors"),
                       key=lambda p: int(p.stem.split("_")[1]))
    for path in snapshots:
        step = int(path.stem.split("_")[1])
        for separator in (refined, raw):
            use_snapshot(separator, path)
        near = min(minutes, key=lambda s: abs(s - step)) if minutes else None
        when = f"{minutes[near] * step / near:.0f}" if near else "?"
        print(f"| step {step} | {when} | {score(refined, songs):.2f} | "
              f"{score(raw, songs):.2f} |", flush=True)


if __name__ == "__main__":
    main()
