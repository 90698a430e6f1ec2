"""Model files: safetensors holding the weights, with a format version, the model kind and the
architecture config (``asdict``) in the metadata. Never a pickled class (DAC's ``DACFile`` is
the model; demucs' pickled models the counterexample)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, safe_open, save_file

FORMAT_VERSION = "1"


def save_model(path: str | Path, state: dict[str, torch.Tensor], kind: str, config: dict,
               dtype: torch.dtype | None = None) -> Path:
    """Write ``state`` (optionally cast floating tensors to ``dtype``) atomically."""
    path = Path(path)
    tensors = {}
    for name, tensor in state.items():
        t = tensor.detach().cpu().contiguous()
        if dtype is not None and t.is_floating_point():
            t = t.to(dtype)
        tensors[name] = t
    meta = {"format_version": FORMAT_VERSION, "kind": kind, "config": json.dumps(config)}
    tmp = path.with_name(f".{path.name}.part")
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(path)
    return path


def read_meta(path: str | Path) -> tuple[str, dict]:
    """(kind, config) of a model file; raises ValueError for foreign or newer files."""
    with safe_open(str(path), "pt") as f:
        meta = f.metadata() or {}
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: model file format {meta.get('format_version')!r}, "
                         f"expected {FORMAT_VERSION}")
    return meta["kind"], json.loads(meta["config"])


def load_model(path: str | Path, dtype: torch.dtype = torch.float32
               ) -> tuple[str, dict, dict[str, torch.Tensor]]:
    """(kind, config, state dict with floating tensors in ``dtype``)."""
    kind, config = read_meta(path)
    state = {k: (v.to(dtype) if v.is_floating_point() else v)
             for k, v in load_file(str(path)).items()}
    return kind, config, state


def load_module(path: str | Path, kind: str, build,
                optional: tuple[str, ...] = ()) -> torch.nn.Module:
    """Build a module with ``build(config)`` from a file of ``kind``, load its weights, eval.
    Weights whose names end with one of ``optional`` may be absent (training-only state left
    out of shipped files); they keep the values ``build`` gave them."""
    found, config, state = load_model(path)
    if found != kind:
        raise ValueError(f"{path} holds a {found}, not a {kind}")
    module = build(config)
    missing, unexpected = module.load_state_dict(state, strict=False)
    absent = [k for k in missing if not k.endswith(optional)]
    if absent or unexpected:
        raise ValueError(f"{path} does not match its architecture: missing {absent[:5]}, "
                         f"unexpected {unexpected[:5]}")
    return module.eval()
