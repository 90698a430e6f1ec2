"""Package a trained band-split mask model as an installable model (``assets/models/NAME``).

    python -m export_onnx.bandsplit MASKS.safetensors OUT_DIR --name bandsplit [--check]
        [--option shifts=2 ...]

Writes ``masks.safetensors`` (the weights in fp16, the reference the graph is checked
against), ``model.onnx`` (exported from those fp16-rounded weights: mixture STFT
(B, C, T, F, 2) -> masks (B, S, T, F), any batch and length) and ``manifest.json`` (sha256 of
both files, the weights marked ``"runtime": false`` since only the lab reads them; the STFT and
chunking settings, and the run-time options given with ``--option``, which the engine uses
unless a user overrides them). ``--check`` compares the graph with torch.
"""

from __future__ import annotations

import argparse
import logging
import warnings
from pathlib import Path

import numpy as np
import torch

from engine.nn.serialization import load_module, save_model
from engine.registry import write_manifest
from lab.musdb import STEMS
from lab.nn.bandsplit import BandSplitConfig, BandSplitRoFormer

OPSET = 18


def load_masks(path: Path) -> BandSplitRoFormer:
    return load_module(path, "masks", lambda cfg: BandSplitRoFormer(BandSplitConfig(**cfg)))


def _spec(cfg: BandSplitConfig, batch: int, frames: int) -> torch.Tensor:
    return torch.randn(batch, cfg.n_channels, frames, cfg.n_bins, 2) * 0.1


def export_graph(model: BandSplitRoFormer, path: Path) -> Path:
    batch = torch.export.Dim("batch", min=1, max=64)
    frames = torch.export.Dim("frames", min=8, max=8192)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        program = torch.onnx.export(model, (_spec(model.cfg, 2, 64),), dynamo=True,
                                    dynamic_shapes={"spec": {0: batch, 2: frames}},
                                    opset_version=OPSET, verbose=False)
        program.save(str(path))
    return path


def check(model: BandSplitRoFormer, path: Path, frames: int = 130) -> float:
    """Largest |onnx - torch| of the masks on a fresh input of another length."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    spec = _spec(model.cfg, 1, frames)
    ours = session.run(None, {session.get_inputs()[0].name: spec.numpy()})[0]
    with torch.no_grad():
        ref = model(spec).numpy()
    return float(np.abs(ours - ref).max())


def package(model: BandSplitRoFormer, folder: Path, name: str, description: str = "",
            metrics: dict | None = None, params: dict | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    cfg = model.cfg
    weights = save_model(folder / "masks.safetensors", model.state_dict(), "masks",
                         cfg.to_dict(), dtype=torch.float16)
    shipped = load_masks(weights)  # the fp16-rounded weights: what users run
    export_graph(shipped, folder / "model.onnx")
    return write_manifest(
        folder, [folder / "model.onnx"], [weights], name=name, backend="bandsplit",
        stems=list(STEMS), sample_rate=cfg.sample_rate, devices=["cpu", "cuda"],
        description=description,
        params={"n_fft": cfg.n_fft, "hop": cfg.hop, **(params or {})},
        metrics=metrics or {})


def default_options(pairs: list[str], parser: argparse.ArgumentParser) -> dict:
    """``KEY=VALUE`` strings -> {key: value}, cast and checked by the engine's own option
    parser (the one users' ``--option`` goes through), so a typo fails here, not at a user's
    first run."""
    from engine.backends.options import BandSplitOptions, parse
    from engine.errors import InvalidArgumentError

    raw = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            parser.error(f"--option {pair!r}: give KEY=VALUE")
        raw[key] = value
    try:
        options = parse(BandSplitOptions, raw, "bandsplit")
    except InvalidArgumentError as err:
        parser.error(str(err))
    return {key: getattr(options, key) for key in raw}


def main(argv: list[str] | None = None, prog: str | None = None) -> None:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("weights", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--description", default="")
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="a run-time option the model runs with by default (written to "
                             "the manifest's params; users' --option overrides it), e.g. "
                             "shifts=2")
    args = parser.parse_args(argv)
    params = default_options(args.option, parser)
    model = load_masks(args.weights)
    print(f"wrote {package(model, args.out, args.name, args.description, params=params)}")
    if args.check:
        error = check(load_masks(args.out / "masks.safetensors"), args.out / "model.onnx")
        print(f"masks: largest difference onnx vs torch {error:.2e}")
        if error > 1e-3:
            raise SystemExit("ONNX and torch disagree")


if __name__ == "__main__":
    main()
