"""Export the codec's encoder (audio -> codes) and decoder (codes -> audio) to ONNX.

    python -m export_onnx.codec WEIGHTS.safetensors OUT_DIR [--check] [--name NAME]

With ``--name`` the folder becomes an installable codec (``assets/models/NAME``): the fp16
weights, the graphs exported from them, and a manifest with their sha256 and what the runtime
needs to know. Both graphs take any batch and length: the encoder audio of (B, 3840 * S)
samples (the runtime pads to whole codec frames), the decoder codes of (B, 2, L, S) with L
levels (1 to 16). ``--check`` compares onnxruntime with torch on a fresh signal and fails
loudly if they disagree.
"""

from __future__ import annotations

import argparse
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from engine.nn.serialization import save_model
from engine.registry import write_manifest
from lab.nn.codec import Codec, inference_state, load_codec

OPSET = 18


class EncoderGraph(nn.Module):
    def __init__(self, codec: Codec):
        super().__init__()
        self.codec = codec

    def forward(self, audio: torch.Tensor) -> torch.Tensor:  # (B, N) -> (B, 2, L, S)
        acoustic, semantic, _ = self.codec._latents(audio)
        return torch.stack([self.codec.acoustic_rvq.encode(acoustic),
                            self.codec.semantic_rvq.encode(semantic)], 1)


class DecoderGraph(nn.Module):
    def __init__(self, codec: Codec):
        super().__init__()
        self.codec = codec

    def forward(self, codes: torch.Tensor) -> torch.Tensor:  # (B, 2, L, S) -> (B, N)
        return self.codec.decode(codes)


def export(codec: Codec, out_dir: Path) -> tuple[Path, Path]:
    """Write encoder.onnx and decoder.onnx with dynamic lengths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    frames = torch.export.Dim("frames", min=1, max=100_000)
    batch = torch.export.Dim("batch", min=1, max=4096)
    fs = codec.cfg.frame_samples
    audio = torch.randn(2, 8 * fs) * 0.1
    codes = torch.zeros(2, 2, codec.cfg.n_levels, 8, dtype=torch.long)
    levels = torch.export.Dim("levels", min=1, max=codec.cfg.n_levels)
    paths = (out_dir / "encoder.onnx", out_dir / "decoder.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        for graph, args, dims, path in (
                (EncoderGraph(codec), (audio,), {"audio": {0: batch, 1: fs * frames}},
                 paths[0]),
                (DecoderGraph(codec), (codes,), {"codes": {0: batch, 2: levels, 3: frames}},
                 paths[1])):
            program = torch.onnx.export(graph, args, dynamo=True, dynamic_shapes=dims,
                                        opset_version=OPSET, verbose=False)
            program.save(str(path))
    return paths


def check(codec: Codec, encoder: Path, decoder: Path, seconds: float = 3.2) -> dict:
    """onnxruntime vs torch on a fresh signal.

    ``same_codes``: share of equal codes. A trained codebook has near-equidistant neighbours, so
    float rounding flips some codes (a flip at one level changes every residual below it); what
    matters is ``code_gap``: how far apart the two code sequences decode, as a share of the
    codec's own reconstruction error. ``relative_error``: the decoder on identical codes."""
    import onnxruntime as ort

    fs = codec.cfg.frame_samples
    n = int(seconds * codec.cfg.sample_rate) // fs * fs
    t = torch.arange(n) / codec.cfg.sample_rate
    audio = (0.3 * torch.sin(2 * np.pi * 220 * t) + 0.05 * torch.randn(n))[None]
    enc = ort.InferenceSession(str(encoder), providers=["CPUExecutionProvider"])
    dec = ort.InferenceSession(str(decoder), providers=["CPUExecutionProvider"])
    codes_ort = enc.run(None, {enc.get_inputs()[0].name: audio.numpy()})[0]
    codes_torch = EncoderGraph(codec)(audio).numpy()
    same = float((codes_ort == codes_torch).mean())
    wave_ort = dec.run(None, {dec.get_inputs()[0].name: codes_torch})[0]
    wave_torch = codec.decode(torch.from_numpy(codes_torch)).numpy()
    err = float(np.abs(wave_ort - wave_torch).max())
    scale = float(np.abs(wave_torch).max()) + 1e-9
    with torch.no_grad():
        from_ort = codec.decode(torch.from_numpy(codes_ort)).numpy()
    own_error = float(np.abs(wave_torch - audio.numpy()).mean()) + 1e-9
    gap = float(np.abs(from_ort - wave_torch).mean()) / own_error
    return {"same_codes": same, "code_gap": gap, "max_abs_error": err,
            "relative_error": err / scale}


def package(codec: Codec, folder: Path, name: str, description: str = "",
            metrics: dict | None = None) -> Path:
    """Write ``codec.safetensors`` (fp16, inference weights: what the tokenizer and the parity
    check load; marked ``"runtime": false``, separating reads only the graphs), the two graphs
    exported from those fp16-rounded weights, and manifest.json; returns the manifest path."""
    cfg = codec.cfg
    folder.mkdir(parents=True, exist_ok=True)
    weights = save_model(folder / "codec.safetensors", inference_state(codec), "codec",
                         cfg.to_dict(), dtype=torch.float16)
    shipped = load_codec(weights)
    return write_manifest(
        folder, list(export(shipped, folder)), [weights], name=name, backend="codec", stems=[],
        sample_rate=cfg.sample_rate, devices=["cpu", "cuda"], description=description,
        params={"frame_samples": cfg.frame_samples, "frame_rate": cfg.frame_rate,
                "n_levels": cfg.n_levels, "codebook_size": cfg.codebook_size,
                "config": cfg.to_dict()},
        metrics=metrics or {})


def main(argv: list[str] | None = None, prog: str | None = None) -> None:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("weights", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--name", help="also write manifest.json: an installable codec")
    parser.add_argument("--description", default="")
    args = parser.parse_args(argv)
    codec = load_codec(args.weights)
    if args.name:
        print(f"wrote {package(codec, args.out, args.name, args.description)}")
        codec = load_codec(args.out / "codec.safetensors")  # what the graphs came from
    else:
        export(codec, args.out)
    encoder, decoder = args.out / "encoder.onnx", args.out / "decoder.onnx"
    print(f"wrote {encoder} and {decoder}")
    if args.check:
        result = check(codec, encoder, decoder)
        print(result)
        if result["code_gap"] > 0.05 or result["relative_error"] > 1e-3:
            raise SystemExit("ONNX and torch disagree")


if __name__ == "__main__":
    main()
