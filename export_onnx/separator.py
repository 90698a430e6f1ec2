"""Package a trained token separator as an installable model (``assets/models/NAME``).

    python -m export_onnx.separator SEPARATOR.safetensors OUT_DIR --name tokenlm \\
        --codec hcodec-small [--check]

Writes ``separator.safetensors`` (conditioner and LM in fp16: the LM runs from it in torch,
and it is the reference the ONNX graph is checked against), ``conditioner.onnx`` (exported
from those fp16-rounded weights: mixture windows (B, 192000) at 48 kHz -> LM prefix (B, 50, D),
any batch) and ``manifest.json`` (sha256 of both files, the codec to decode with, windowing
settings). ``--check`` compares the exported conditioner with torch.
"""

from __future__ import annotations

import argparse
import logging
import warnings
from pathlib import Path

import numpy as np
import torch

from engine.nn.layout import TRACKS
from engine.nn.serialization import save_model
from engine.registry import write_manifest
from lab.nn.tokenlm import TokenSeparator, load_separator

OPSET = 18


def export_conditioner(model: TokenSeparator, path: Path) -> Path:
    audio = torch.randn(2, model.cfg.window_samples) * 0.1
    batch = torch.export.Dim("batch", min=1, max=4096)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        program = torch.onnx.export(model.conditioner, (audio,), dynamo=True,
                                    dynamic_shapes={"audio": {0: batch}},
                                    opset_version=OPSET, verbose=False)
        program.save(str(path))
    return path


def check_conditioner(model: TokenSeparator, path: Path) -> float:
    """Largest |onnx - torch| relative to the prefix's scale, on fresh audio."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    audio = (torch.randn(3, model.cfg.window_samples) * 0.1)
    ours = session.run(None, {session.get_inputs()[0].name: audio.numpy()})[0]
    with torch.no_grad():
        ref = model.conditioner(audio).numpy()
    return float(np.abs(ours - ref).max() / (np.abs(ref).max() + 1e-9))


def package(model: TokenSeparator, folder: Path, name: str, codec: str,
            description: str = "", metrics: dict | None = None,
            overlap_frames: int = 10) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    weights = save_model(folder / "separator.safetensors", model.state_dict(), "separator",
                         model.cfg.to_dict(), dtype=torch.float16)
    shipped = load_separator(weights)  # the fp16-rounded weights: what users run
    export_conditioner(shipped, folder / "conditioner.onnx")
    return write_manifest(
        folder, [folder / "conditioner.onnx", weights], name=name,
        backend="tokenlm", stems=list(TRACKS), sample_rate=48000, devices=["cpu", "cuda"],
        description=description,
        params={"kind": "G", "codec": codec, "window_frames": model.cfg.window_frames,
                "overlap_frames": overlap_frames, "refine": True, "temperature": 0.0,
                "top_k": 0, "seed": 0, "chunk_s": 60.0,
                "variant": "parallel (A3)" if model.cfg.lm.parallel else "sequential"},
        metrics=metrics or {})


def main(argv: list[str] | None = None, prog: str | None = None) -> None:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("weights", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--codec", required=True, help="the codec these tokens belong to")
    parser.add_argument("--description", default="")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    model = load_separator(args.weights)
    print(f"wrote {package(model, args.out, args.name, args.codec, args.description)}")
    if args.check:
        shipped = load_separator(args.out / "separator.safetensors")
        error = check_conditioner(shipped, args.out / "conditioner.onnx")
        print(f"conditioner: largest relative difference onnx vs torch {error:.2e}")
        if error > 1e-3:
            raise SystemExit("ONNX and torch disagree")


if __name__ == "__main__":
    main()
