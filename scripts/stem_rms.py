"""Per-second RMS (dBFS) of a mixture and the stems separated from it: a stem stuck at a
floor while the mix plays is a separator that stopped separating.

    python scripts/stem_rms.py MIX.wav STEM_FOLDER [--every N]

STEM_FOLDER holds vocals.wav, drums.wav, bass.wav, other.wav (what `stemma separate` wrote).
Prints a Markdown table, one row per second (or every Nth second), and the count of seconds in
which the mix plays (above -50 dBFS) but the stems together are more than 30 dB below it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import load_audio  # noqa: E402

STEMS = ("vocals", "drums", "bass", "other")


def db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))) + 1e-12))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mix", type=Path)
    parser.add_argument("stems", type=Path)
    parser.add_argument("--every", type=int, default=1)
    args = parser.parse_args()
    mix, sr = load_audio(args.mix)
    stems = {name: load_audio(args.stems / f"{name}.wav")[0] for name in STEMS}
    print("| second | mix | " + " | ".join(STEMS) + " |")
    print("|---" * (len(STEMS) + 2) + "|")
    silent = 0
    for s in range(mix.shape[1] // sr):
        cut = slice(s * sr, (s + 1) * sr)
        level = db(mix[:, cut])
        together = 10 * np.log10(sum(10 ** (db(stems[n][:, cut]) / 10) for n in STEMS))
        if level > -50 and together < level - 30:
            silent += 1
        if s % args.every == 0:
            print(f"| {s} | {level:.1f} | " + " | ".join(f"{db(stems[n][:, cut]):.1f}"
                                                       for n in STEMS) + " |")
    print(f"\nseconds where the mix plays but the stems are silent: {silent} "
          f"of {mix.shape[1] // sr}")


if __name__ == "__main__":
    main()
