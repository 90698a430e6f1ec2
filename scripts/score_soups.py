"""Validation uSDR of mask-model weights and of equal-share means of them (model soups), scored
as the trainer scores its checkpoints (`lab.training.train_masks.validate`: 3 fixed crops of
3 s per song), to choose which mean `stemma-lab average` should write.

    .venv/bin/python scripts/score_soups.py --val-data work/val48,work/v2val20 \\
        A.safetensors A.safetensors+B.safetensors A.safetensors+B.safetensors+C.safetensors

Each argument is one candidate: a model file, or several joined by "+" (their mean).
"""

from __future__ import annotations

import argparse

import torch

from lab.musdb import STEMS
from lab.nn.bandsplit import BandSplitConfig, BandSplitRoFormer
from lab.training.runs import average_models
from lab.training.train_masks import MaskTrainConfig, held_out_crops, validate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--val-data", required=True, help="comma-separated song folders")
    parser.add_argument("candidates", nargs="+", help="FILE or FILE+FILE+...")
    args = parser.parse_args()
    defaults = MaskTrainConfig()
    model = crops = None
    print("| weights | avg | " + " | ".join(STEMS) + " |")
    for candidate in args.candidates:
        kind, config, state = average_models(candidate.split("+"))
        if kind != "masks":
            raise SystemExit(f"{candidate}: a {kind}, not a mask model")
        if model is None:
            model = BandSplitRoFormer(BandSplitConfig(**config))
            crops = held_out_crops(args.val_data, model.cfg.sample_rate, defaults.val_crops,
                                   defaults.val_segment_s)
        model.load_state_dict(state)
        with torch.no_grad():
            scores = validate(model, crops)
        print(f"| {candidate} | {scores['val_usdr']:.3f} | "
              + " | ".join(f"{scores[f'val_usdr_{s}']:.2f}" for s in STEMS) + " |", flush=True)


if __name__ == "__main__":
    main()
