"""Measure the codec on held-out stems (issue 5): reconstruction, codebook usage, speed.

    python bench/eval_codec.py --weights runs/codec/codec.safetensors --data test48 \\
        [--onnx assets/models/hcodec-small] [--seconds 10]

``--data`` is a held-out set in the MUSDB layout at 48 kHz (``stemma-lab synth-songs test48
--rate 48000``: test seeds, never trained on). For every song and stem type, a ``--seconds``
excerpt (mono, where the stem is loudest) is coded and decoded with 1, 4, 8 and 16 levels per
path and compared with the original: ViSQOL (audio mode, 48 kHz) and the multi-resolution
log-mel distance (L1, the training loss's mel term). Codebook usage is counted over all coded
frames. Speed: encode and decode of a 30 s excerpt, as a multiple of real time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lab.evaluation.metrics import Visqol  # noqa: E402
from lab.musdb import STEMS, load_tracks  # noqa: E402
from lab.nn.codec import load_codec  # noqa: E402
from lab.training.losses import MultiResolutionLoss  # noqa: E402

LEVELS = (1, 4, 8, 16)


def loudest(audio: np.ndarray, n: int) -> np.ndarray:
    """The ``n``-sample excerpt of (N,) with the most energy (hop 1 s)."""
    if len(audio) <= n:
        return np.pad(audio, (0, n - len(audio)))
    starts = range(0, len(audio) - n + 1, 48000)
    return audio[max(starts, key=lambda s: float(np.sum(audio[s:s + n] ** 2))):][:n]


def usage(codes: np.ndarray, size: int) -> list[tuple[float, float]]:
    """(perplexity, fraction used) per level of codes (L, N)."""
    out = []
    for level in codes:
        counts = np.bincount(level, minlength=size).astype(np.float64)
        p = counts[counts > 0] / counts.sum()
        out.append((float(np.exp(-(p * np.log(p)).sum())), float((counts > 0).mean())))
    return out


def speed(run, seconds: float, repeats: int = 2) -> float:
    best = min(_timed(run) for _ in range(repeats))
    return seconds / best


def _timed(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--onnx", type=Path, help="a packaged codec folder, for ORT speed")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--songs", type=int, default=10)
    args = parser.parse_args()
    codec = load_codec(args.weights)
    cfg = codec.cfg
    visqol = Visqol()
    mel = MultiResolutionLoss(cfg.sample_rate)
    n = int(args.seconds * cfg.sample_rate) // cfg.frame_samples * cfg.frame_samples
    scores = {(s, lv): [] for s in STEMS for lv in LEVELS}
    mels = {(s, lv): [] for s in STEMS for lv in LEVELS}
    all_codes = []
    for track in load_tracks(args.data)[:args.songs]:
        _, stems, sr = track.load()
        assert sr == cfg.sample_rate, f"{track.name}: render the test set at 48 kHz"
        for stem in STEMS:
            excerpt = loudest(stems[stem].mean(axis=0), n)
            if np.sqrt(np.mean(excerpt ** 2)) < 1e-3:
                continue  # a silent stem (some songs have no vocals here): nothing to code
            x = torch.from_numpy(excerpt)[None]
            codes = codec.encode(x)
            all_codes.append(codes[0].numpy())
            for lv in LEVELS:
                y = codec.decode(codes[:, :, :lv])[0].numpy()[:n]
                scores[stem, lv].append(visqol(excerpt[None], y[None], sr))
                mels[stem, lv].append(float(mel(torch.from_numpy(y)[None], x)["mel"]))
    print(f"codec {args.weights} on {args.data} ({args.seconds:g} s excerpts)\n")
    print("| stem | " + " | ".join(f"ViSQOL {lv} lv" for lv in LEVELS) + " | "
          + " | ".join(f"mel dist {lv} lv" for lv in LEVELS) + " |")
    print("|---|" + "---|" * (2 * len(LEVELS)))
    for stem in list(STEMS) + ["avg"]:
        keys = STEMS if stem == "avg" else (stem,)
        v = [np.mean([np.mean(scores[k, lv]) for k in keys]) for lv in LEVELS]
        m = [np.mean([np.mean(mels[k, lv]) for k in keys]) for lv in LEVELS]
        print(f"| {stem} | " + " | ".join(f"{a:.2f}" for a in v) + " | "
              + " | ".join(f"{a:.3f}" for a in m) + " |")
    codes = np.concatenate(all_codes, axis=-1)  # (2, L, frames)
    print(f"\ncodebook usage over {codes.shape[-1]} held-out frames "
          f"({cfg.codebook_size} codes per level)\n")
    print("| level | acoustic perplexity | acoustic used | semantic perplexity | semantic used |")
    print("|---|---|---|---|---|")
    for level, (a, s) in enumerate(zip(usage(codes[0], cfg.codebook_size),
                                       usage(codes[1], cfg.codebook_size), strict=True)):
        print(f"| {level + 1} | {a[0]:.0f} | {a[1]:.0%} | {s[0]:.0f} | {s[1]:.0%} |")
    seconds = 30.0
    n30 = int(seconds * cfg.sample_rate) // cfg.frame_samples * cfg.frame_samples
    x = torch.randn(1, n30) * 0.1
    with torch.no_grad():
        codes30 = codec.encode(x)
        rows = [("torch encode", speed(lambda: codec.encode(x), seconds)),
                ("torch decode", speed(lambda: codec.decode(codes30), seconds))]
    if args.onnx:
        from engine.neural_codec import NeuralCodec

        runtime = NeuralCodec(args.onnx, device="cpu")
        c = runtime.encode(x[0].numpy(), cfg.sample_rate)
        rows += [("onnxruntime encode", speed(lambda: runtime.encode(x[0].numpy(),
                                                                        cfg.sample_rate), seconds)),
                 ("onnxruntime decode", speed(lambda: runtime.decode(c), seconds))]
    print(f"\nspeed on {os.cpu_count()} cores, 30 s of audio ({torch.get_num_threads()} torch "
          "threads)\n\n| | x real time |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value:.1f}x |")


if __name__ == "__main__":
    main()
