"""What the backends that run other projects' weights share (``demucs``, ``mdxnet``,
``roformer``; see ``engine.importing`` for how such weights are recognised and added).

- ``require``: import an optional package, or say which extra installs it.
- ``window_plan`` and ``run_tiled``: a model that sees a fixed window of samples, run on the
  engine's chunks (normally one window each; any length works).
- ``to_model`` and ``from_model``: mono input through a stereo model, stereo through a mono one.
- ``torch_device``, ``torch_placement``, ``load_state_strict``: torch placement that never
  falls back silently, and weight loading where every key must match.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DeviceError, MissingExtraError, ModelConfigError
from .base import CheckCancel, ChunkPlan, OnFraction


def require(module: str, extra: str, what: str, where: Path | None = None) -> Any:
    """``import module``, or a ``MissingExtraError`` naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        package = module.split(".")[0]
        raise MissingExtraError(
            f"{what} needs the '{package}' package, which is not installed: install the {extra} "
            f"extra (pip install 'stemma[{extra}]', or scripts/install.sh --{extra})",
            where) from err


# --- fixed-window models ---------------------------------------------------------------


def window_plan(window: int, rate: int, context_s: float, crossfade_s: float) -> ChunkPlan:
    """Chunking whose windows (core plus context and half a crossfade on each side, as the
    engine cuts them) are exactly ``window`` samples: one model call per chunk."""
    context = min(int(context_s * rate), window // 8)
    crossfade = min(int(crossfade_s * rate), window // 8)
    lead = context + crossfade // 2  # the engine's lead with align 1
    return ChunkPlan(chunk=window - 2 * lead, context=context, align=1, crossfade=crossfade)


Run = Callable[[np.ndarray], np.ndarray]  # (B, M, window) -> (B, S, M, window)


def run_tiled(run: Run, x: np.ndarray, window: int, margin: int, check_cancel: CheckCancel,
              on_fraction: OnFraction | None) -> np.ndarray:
    """(B, M, N) through a model of ``window`` samples -> (B, S, M, N).

    N up to ``window`` is zero-padded to it (the end of a file). Longer input is cut into
    windows overlapping by ``2 * margin``, keeping each window's middle, so no kept sample was
    near a window's edge.
    """
    n = x.shape[-1]
    if n <= window:
        out = run(_pad_to(x, window))[..., :n]
        if on_fraction is not None:
            on_fraction(1.0)
        return out
    step = window - 2 * margin
    padded = np.pad(x, ((0, 0), (0, 0), (margin, margin)))
    starts = range(0, n, step)
    parts = []
    for i, start in enumerate(starts):
        check_cancel()
        parts.append(run(_pad_to(padded[..., start:start + window], window))[
            ..., margin:margin + step])
        if on_fraction is not None:
            on_fraction((i + 1) / len(starts))
    return np.concatenate(parts, axis=-1)[..., :n]


def _pad_to(x: np.ndarray, n: int) -> np.ndarray:
    return x if x.shape[-1] == n else np.pad(x, ((0, 0), (0, 0), (0, n - x.shape[-1])))


def to_model(audio: np.ndarray, n_model: int) -> np.ndarray:
    """(C, N) -> (B, M, N) for a model of M channels: mono is given to a stereo model as two
    equal channels; a mono model separates each channel of a stereo input as its own item."""
    if audio.shape[0] == n_model:
        return audio[None]
    if n_model == 2:
        return np.repeat(audio, 2, axis=0)[None]
    return audio[:, None]


def from_model(out: np.ndarray, n_channels: int) -> np.ndarray:
    """(B, S, M, N) from ``to_model``'s batch -> (S, C, N)."""
    if out.shape[0] == 1 and out.shape[2] == n_channels:
        return out[0]
    if out.shape[0] == 1:  # a stereo model's output for mono input
        return out[0].mean(axis=1, keepdims=True)
    return out[:, :, 0].transpose(1, 0, 2)  # channels were the batch


# --- torch ---------------------------------------------------------------------------------


def torch_device(device: str):
    """The torch device for the engine's ``device``; CUDA that torch cannot use is an error
    (``devices.cuda_available`` is also true for an onnxruntime that has CUDA)."""
    import torch

    if device != "cuda":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise DeviceError(f"CUDA was requested but torch {torch.__version__} sees no CUDA GPU "
                          "(a CPU build of torch, or no NVIDIA driver); use --device cpu")
    return torch.device("cuda")


def torch_placement(what: str, device) -> str:
    import torch

    if device.type == "cuda":
        return f"{what}: torch on cuda ({torch.cuda.get_device_name(device)})"
    return f"{what}: torch on cpu"


def load_state_strict(module, state: dict, where: Path) -> None:
    """Load ``state`` into ``module`` when every key and shape matches; otherwise one line
    naming the keys that are missing, unexpected or of the wrong shape."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k} is {tuple(state[k].shape)}, the model needs {tuple(v.shape)}"
             for k, v in expected.items()
             if k in state and tuple(getattr(state[k], "shape", ())) != tuple(v.shape)]
    problems = [_listed("missing", missing), _listed("unexpected", unexpected),
                _listed("wrong shape:", wrong)]
    problems = [p for p in problems if p]
    if problems:
        raise ModelConfigError("the weights do not fit the model its config describes: "
                               + "; ".join(problems), where)
    module.load_state_dict(state, strict=True)


def _listed(label: str, items: list[str], limit: int = 3) -> str:
    if not items:
        return ""
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return f"{label} {', '.join(items[:limit])}{more}"
