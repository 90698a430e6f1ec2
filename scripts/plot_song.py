"""Plot the stem spectrograms of one synthesized song (docs/synth_song_stems.png).

    python scripts/plot_song.py [--seed SEED] [--out PATH]

The default seed is song 0 of held-out test set 0 (what `stemma-lab synth-songs OUT` writes first).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from engine.dsp.stft import stft  # noqa: E402
from lab.training.synth import STEMS, Synthesizer  # noqa: E402
from lab.training.testset import test_seed  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "docs" / "synth_song_stems.png"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=test_seed(0, 0))
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    sr = 44100
    song = Synthesizer(sr).render(args.seed, duration=args.seconds)
    tracks = {"mixture": song.mixture, **song.stems}
    fig, axes = plt.subplots(len(tracks), 1, figsize=(12, 13), sharex=True)
    hop = 512
    for ax, (name, audio) in zip(axes, tracks.items(), strict=True):
        spec = np.abs(stft(audio.mean(axis=0), 2048, hop)).T  # (F, T)
        db = 20 * np.log10(spec + 1e-6)
        freqs = np.fft.rfftfreq(2048, 1 / sr)
        times = np.arange(spec.shape[1]) * hop / sr
        mesh = ax.pcolormesh(times, freqs[1:], db[1:], shading="auto", cmap="magma",
                             vmin=db.max() - 90, vmax=db.max())
        ax.set_yscale("log")
        ax.set_ylim(40, sr / 2)
        ax.set_ylabel("Hz")
        label = ", ".join(song.instruments.get(name, [])) if name in STEMS else (
            f"{song.plan.style}, {song.plan.tempo:.0f} BPM, "
            f"{[s.name for s in song.plan.sections]}")
        ax.set_title(f"{name}: {label}", fontsize=10, loc="left")
        fig.colorbar(mesh, ax=ax, pad=0.01, label="dB")
    axes[-1].set_xlabel("seconds")
    fig.suptitle(f"Synthesized song, seed {args.seed}")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=70)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
