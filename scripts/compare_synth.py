"""How two sets of synthesized songs differ (e.g. synth v1 against v2): the true vocal stems'
DNSMOS P.835 and NISQA, the energy share above 11 and 16 kHz of the vocal stem and of the
mixture, and the mixture's loudness. Prints one Markdown table of means (and ranges).

    python scripts/compare_synth.py OLD_SET NEW_SET --songs 10 \
        --nisqa-weights /path/to/nisqa.tar

Each set is a folder in the MUSDB18-HQ layout (``stemma-lab synth-songs``); the first
``--songs`` song folders of each, in name order, are measured.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lab.evaluation.metrics import Dnsmos, dnsmos_model_path  # noqa: E402
from lab.training.synth.master import loudness  # noqa: E402


def high_share(x: np.ndarray, sr: int, cutoff: float) -> float:
    """Share (%) of the energy above ``cutoff`` Hz, from the averaged power spectrum of 4096-
    sample Hann frames (a Welch estimate) of the channels' mean."""
    mono = x.mean(axis=0)
    f = np.fft.rfftfreq(4096, 1 / sr)
    frames = np.lib.stride_tricks.sliding_window_view(mono, 4096)[::2048]
    power = (np.abs(np.fft.rfft(frames * np.hanning(4096), axis=-1)) ** 2).sum(axis=0)
    return float(100 * power[f > cutoff].sum() / max(power.sum(), 1e-20))


def measure(song: Path, dnsmos, nisqa) -> dict[str, float]:
    vocals, sr = sf.read(str(song / "vocals.wav"), dtype="float32", always_2d=True)
    mixture, _ = sf.read(str(song / "mixture.wav"), dtype="float32", always_2d=True)
    vocals, mixture = vocals.T, mixture.T
    out = {"vocals % > 11 kHz": high_share(vocals, sr, 11000),
           "vocals % > 16 kHz": high_share(vocals, sr, 16000),
           "mixture % > 11 kHz": high_share(mixture, sr, 11000),
           "mixture % > 16 kHz": high_share(mixture, sr, 16000),
           "mixture LUFS": loudness(mixture, sr),
           "mixture peak dBFS": float(20 * np.log10(np.abs(mixture).max() + 1e-12))}
    if dnsmos is not None:
        for k, v in dnsmos(vocals, sr).items():
            out[f"vocals DNSMOS {k.upper()}"] = v
    if nisqa is not None:
        out["vocals NISQA MOS"] = nisqa(vocals, sr)["mos"]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("sets", type=Path, nargs=2, help="two song folders: old, new")
    p.add_argument("--songs", type=int, default=10)
    p.add_argument("--nisqa-weights", type=Path)
    args = p.parse_args()
    dnsmos = Dnsmos() if dnsmos_model_path() is not None else None
    nisqa = None
    if args.nisqa_weights is not None:
        from lab.evaluation.nisqa import Nisqa

        nisqa = Nisqa(args.nisqa_weights)
    columns = []
    for folder in args.sets:
        songs = sorted(d for d in folder.iterdir() if (d / "vocals.wav").is_file())
        rows = [measure(s, dnsmos, nisqa) for s in songs[: args.songs]]
        columns.append({k: np.array([r[k] for r in rows]) for k in rows[0]})
        print(f"{folder}: {len(rows)} songs", file=sys.stderr)
    names = [str(s) for s in args.sets]
    print(f"| metric (mean, min..max) | {names[0]} | {names[1]} |")
    print("|---|---|---|")
    for key in columns[0]:
        cells = [f"{np.nanmean(c[key]):.3g} ({np.nanmin(c[key]):.3g}..{np.nanmax(c[key]):.3g})"
                 for c in columns]
        print(f"| {key} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
