"""Do the stems of ``stemma separate`` sum back to the file, in every block? (issue 11)

    python bench/bench_sum_to_mix.py                    # MP3, M4A, OGG, Opus; 1 and 10 minutes
    python bench/bench_sum_to_mix.py --minutes 1        # a quicker run
    python bench/bench_sum_to_mix.py --engine-root DIR  # separate with another checkout's engine

Inputs: the bundled demo song looped to length (44.1 kHz stereo), encoded by the ffmpeg command
line as users' tools do (MP3 libmp3lame 192 kbit/s, M4A AAC 192 kbit/s, OGG libvorbis q5, Opus
libopus 128 kbit/s at 48 kHz). Each is separated by a fresh ``stemma separate`` process (classic,
32-bit float WAV) and compared with the file decoded whole by ``engine.load_audio``: the error
energy of mix - sum(stems) relative to the mix, over the whole file and in the worst block of
65,536 frames (the streaming reader's block). Target: -120 dB or better everywhere.

A second table does the same for 16-bit, 24-bit and float output of the 1-minute song as a
16-bit WAV and, 0.9 times as loud, as a float WAV (off the integer grids), with the largest
error in steps of that bit depth.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_separate import OUT, looped_song  # noqa: E402
from engine import load_audio  # noqa: E402

BLOCK = 1 << 16  # frames: what the streaming reader reads at a time
STEMS = ("vocals", "drums", "bass", "other")
ENCODERS = {
    "mp3": ("mp3", ["-c:a", "libmp3lame", "-b:a", "192k"]),
    "m4a": ("m4a", ["-c:a", "aac", "-b:a", "192k"]),
    "ogg": ("ogg", ["-c:a", "libvorbis", "-q:a", "5"]),
    "opus": ("opus", ["-c:a", "libopus", "-b:a", "128k"]),
}


def encode(src: Path, kind: str) -> Path:
    ext, args = ENCODERS[kind]
    path = src.with_suffix(f".{ext}")
    if not path.exists():
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(src), *args, str(path)],
                       check=True)
    return path


def separate(path: Path, out: Path, engine_root: Path, bit_depth: str = "32f") -> Path:
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(engine_root)}
    cmd = [sys.executable, "-m", "engine", "separate", str(path), "-o", str(out), "-q",
           "--model", "classic", "--bit-depth", bit_depth]
    run = subprocess.run(cmd, cwd=engine_root, env=env, capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"stemma failed on {path}: {run.stderr}")
    return out / path.stem


def errors(mix: np.ndarray, folder: Path) -> tuple[float, float, float, int]:
    """(whole-file dB, worst-block dB, largest |error|, worst block's first frame)."""
    err = -mix.astype(np.float64)  # becomes sum(stems) - mix
    for name in STEMS:
        stem, _ = load_audio(folder / f"{name}.wav")
        if stem.shape != mix.shape:
            raise SystemExit(f"{folder / name}.wav: {stem.shape} samples, the file {mix.shape}")
        err += stem
    largest = float(np.abs(err).max())
    e_blocks, m_blocks = [], []
    for start in range(0, mix.shape[1], BLOCK):
        e_blocks.append(np.sum(np.square(err[:, start:start + BLOCK])))
        m_blocks.append(np.sum(np.square(mix[:, start:start + BLOCK], dtype=np.float64)))
    e, m = np.array(e_blocks), np.array(m_blocks)
    loud = m > 1e-12 * m.max()  # leave out digital silence
    per_block = 10 * np.log10(np.maximum(e[loud], 1e-300) / m[loud])
    worst = int(np.argmax(per_block))
    whole = 10 * np.log10(max(e.sum(), 1e-300) / m.sum())
    return whole, float(per_block[worst]), largest, int(np.flatnonzero(loud)[worst]) * BLOCK


def db(value: float) -> str:
    return "exact" if value < -290 else f"{value:.1f} dB"


def formats_table(minutes: list[float], engine_root: Path) -> None:
    print("| input (44.1 kHz stereo; Opus 48 kHz) | length | whole file | worst block "
          "(65,536 frames) | largest error |")
    print("|---|---|---|---|---|")
    for m in minutes:
        src = looped_song(m)
        for kind in ENCODERS:
            path = encode(src, kind)
            folder = separate(path, OUT / "sum_stems", engine_root)
            mix, _ = load_audio(path)
            whole, worst, largest, at = errors(mix, folder)
            print(f"| {kind.upper()} | {m:g} min | {db(whole)} | {db(worst)} (at frame {at:,}) "
                  f"| {largest:.1e} |", flush=True)
            del mix


def depths_table(engine_root: Path) -> None:
    import soundfile as sf

    src = looped_song(1)
    as_float = OUT / "song_1min_float.wav"  # 0.9 times the song: off the 16- and 24-bit grids
    if not as_float.exists():
        audio, rate = load_audio(src)
        sf.write(as_float, np.ascontiguousarray(0.9 * audio.T), rate, subtype="FLOAT")
    print("\n| input WAV | output | whole file | worst block | largest error |")
    print("|---|---|---|---|---|")
    for path, label in ((src, "16-bit"), (as_float, "float")):
        mix, _ = load_audio(path)
        for depth, step in (("16", 2.0 ** -15), ("24", 2.0 ** -23), ("32f", None)):
            folder = separate(path, OUT / "sum_stems", engine_root, depth)
            whole, worst, largest, _ = errors(mix, folder)
            size = f"{largest / step:.2f} steps" if step else f"{largest:.1e}"
            print(f"| {label} | {depth} | {db(whole)} | {db(worst)} | {size} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 10])
    parser.add_argument("--engine-root", type=Path, default=ROOT,
                        help="the checkout whose `python -m engine` separates (default: this)")
    parser.add_argument("--only", choices=("formats", "depths"), help="one of the two tables")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"engine: {args.engine_root}; model classic; reference: engine.load_audio of this "
          "checkout\n")
    if args.only != "depths":
        formats_table(args.minutes, args.engine_root.resolve())
    if args.only != "formats":
        depths_table(args.engine_root.resolve())
    shutil.rmtree(OUT / "sum_stems", ignore_errors=True)


if __name__ == "__main__":
    main()
