"""tokenlm's learning curve: held-out uSDR of training snapshots against training time.

    python scripts/tokenlm_curve.py --run work/sep_ss --data work/val48 [--limit 5]
        [--base-minutes 85] [--follow 30]

For the shipped weights (time 0 of this run) and every ``RUN/snapshots/step_N.safetensors``
the token LM and conditioner of the snapshot (in torch) replace the shipped ones inside the
installed ``tokenlm`` backend (same codec, refinement and windowing), every validation song is
separated refined and raw, and the average uSDR over stems and songs is printed with the
snapshot's training minutes (from ``RUN/log.jsonl``, plus ``--base-minutes``: the training
time of the weights the run started from), plus the mix/4 reference. ``--follow M`` scores a
run while it trains: after the snapshots already there, it waits for new ones until none has
appeared for M minutes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
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


def step_of(snapshot: Path) -> int:
    return int(snapshot.stem.split("_")[1])  # step_N.safetensors


def minutes_at(run: Path) -> dict[int, float]:
    """Training minutes at each logged step: from the logged speed (steps/s since start)."""
    out = {}
    log = run / "log.jsonl"
    for line in log.read_text().splitlines() if log.exists() else []:
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
    parser.add_argument("--base-minutes", type=float, default=0.0,
                        help="training time of the weights the run started from")
    parser.add_argument("--follow", type=float, default=0.0, metavar="M",
                        help="wait for new snapshots until none has come for M minutes")
    args = parser.parse_args()
    songs = [t.load() for t in load_tracks(args.data)[:args.limit]]
    quarter = np.mean([sdr(stems[s], mix / len(STEMS)) for mix, stems, _ in songs
                       for s in STEMS])
    refined = Separator(args.model)
    raw = Separator(args.model, options={"refine": False})
    print(f"mix/4 reference: {quarter:.2f} dB\n")
    print("| snapshot | training minutes | uSDR refined | uSDR raw |\n|---|---|---|---|")
    print(f"| shipped | {args.base_minutes:.0f} | {score(refined, songs):.2f} | "
          f"{score(raw, songs):.2f} |", flush=True)
    done: set[Path] = set()
    last_new = time.monotonic()
    while True:
        snapshots = sorted(set((args.run / "snapshots").glob("step_*.safetensors")) - done,
                           key=step_of)
        if not snapshots:
            if time.monotonic() - last_new > args.follow * 60:
                break
            time.sleep(10)
            continue
        path = snapshots[0]
        step = step_of(path)
        for separator in (refined, raw):
            use_snapshot(separator, path)
        minutes = minutes_at(args.run)
        near = min(minutes, key=lambda s: abs(s - step)) if minutes else None
        when = (f"{args.base_minutes + minutes[near] * step / near:.0f}" if near
                else "?")
        print(f"| step {step} | {when} | {score(refined, songs):.2f} | "
              f"{score(raw, songs):.2f} |", flush=True)
        done.add(path)
        last_new = time.monotonic()


if __name__ == "__main__":
    main()
