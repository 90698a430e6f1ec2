"""Render the bundled demo song (assets/demo/demo_song.flac) with our own synthesizer.

    python scripts/make_demo.py [--stems DIR]

Deterministic: the same seed and soundfonts give the same file. Needs fluidsynth, the GM
soundfonts and espeak-ng (scripts/install-system-deps.sh).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine import save_audio
from lab.training.synth import STEMS, Synthesizer

SEED, STYLE, SECONDS, RATE = 6, "pop", 24.0, 44100
OUT = Path(__file__).resolve().parent.parent / "assets" / "demo" / "demo_song.flac"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--stems", type=Path, help="also write the true stems here")
    args = parser.parse_args()
    song = Synthesizer(RATE).render(SEED, duration=SECONDS, style=STYLE, from_start=True)
    report = save_audio(args.out, song.mixture, RATE, bit_depth="16", overwrite=True)
    print(f"wrote {report.path} ({SECONDS:.0f} s, peak {report.peak:.2f}); "
          f"sections: {[s.name for s in song.plan.sections]}; instruments: {song.instruments}")
    if args.stems:
        for name in STEMS:
            save_audio(args.stems / f"{name}.wav", song.stems[name], RATE, overwrite=True)


if __name__ == "__main__":
    main()
