"""``demucs``: Demucs / HDemucs / HTDemucs checkpoints and bags of them, run by the demucs
package (the ``demucs`` extra) on the engine's chunks.

Demucs ("Hybrid Transformers for Music Source Separation", arXiv:2211.08553, and its
predecessors) saves a model as a package ``{klass, args, kwargs, state}``: ``torch.save`` to a
``.th`` file (``demucs.states.serialize_model`` + ``save_with_checksum``), or a
``.safetensors`` file with ``klass``, ``args`` and ``kwargs`` as JSON metadata (the layout its
Hugging Face repositories use). A bag averages several models, each stem weighted per model.

Loading runs no pickled code: ``torch.load(weights_only=True)`` with only the demucs model
classes and ``fractions.Fraction`` allowed, and the state loads strictly. Each chunk window is
the model's training segment, normalised by its own mean and standard deviation as
``demucs.separate`` normalises a whole track, through ``demucs.apply.apply_model`` (no
random shifts, so output is deterministic). Mono input goes in as two equal channels.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelConfigError, ModelError
from ..registry import ModelInfo
from .base import Backend, CheckCancel, ChunkPlan, OnFraction
from .foreign import (
    from_model,
    load_state_strict,
    require,
    to_model,
    torch_device,
    torch_placement,
    window_plan,
)
from .options import for_model


def model_classes(where: Path | None = None) -> dict[str, type]:
    """The classes a Demucs checkpoint may name, by their import path."""
    require("demucs", "demucs", "a Demucs model", where)
    from demucs.demucs import Demucs
    from demucs.hdemucs import HDemucs
    from demucs.htdemucs import HTDemucs

    return {f"{c.__module__}.{c.__name__}": c for c in (Demucs, HDemucs, HTDemucs)}


def read_package(path: Path) -> dict[str, Any]:
    """``{klass, args, kwargs, state}`` from a ``.th`` or ``.safetensors`` file."""
    classes = model_classes(path)
    if path.suffix.lower() == ".safetensors":
        return _read_safetensors(path, classes)
    import torch

    try:
        with torch.serialization.safe_globals([*classes.values(), Fraction]):
            package = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # UnpicklingError for a foreign class, RuntimeError, EOFError...
        text = " ".join(str(err).split())
        if "Unsupported global" in text:
            name = text.split("GLOBAL", 1)[-1].split()[0] if "GLOBAL" in text else "a class"
            raise ModelError(f"this checkpoint names {name}, which is not a Demucs model "
                             "class; Stemma runs no code from checkpoints", path) from err
        raise ModelError(f"cannot read this Demucs checkpoint ({text[:300]})", path) from err
    if not isinstance(package, dict) or not {"klass", "args", "kwargs", "state"} <= set(package):
        raise ModelError("not a Demucs model package (klass, args, kwargs, state)", path)
    klass = package["klass"]
    if klass not in classes.values():
        name = f"{getattr(klass, '__module__', '?')}.{getattr(klass, '__qualname__', klass)}"
        raise ModelError(f"this checkpoint names {name}, which is not a Demucs model class; "
                         "Stemma runs no code from checkpoints", path)
    return package


def _read_safetensors(path: Path, classes: dict[str, type]) -> dict[str, Any]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - not a dict
    if "klass" not in meta:
        raise ModelError("this safetensors file has no Demucs metadata (klass)", path)
    if "structure" in meta:
        raise ModelError("a quantized (DiffQ) Demucs checkpoint; Stemma runs the "
                         "unquantized ones", path)
    klass = classes.get(meta["klass"])
    if klass is None:
        raise ModelError(f"this checkpoint names {meta['klass']}, which is not a Demucs model "
                         "class", path)
    return {"klass": klass, "args": _decode(json.loads(meta.get("args", "[]"))),
            "kwargs": _decode(json.loads(meta.get("kwargs", "{}"))), "state": state}


def _decode(value: Any) -> Any:
    """JSON of the init arguments back to Python: ``{"_type": "fraction", ...}`` is a Fraction."""
    if isinstance(value, dict):
        if value.get("_type") == "fraction":
            return Fraction(value["numerator"], value["denominator"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def build(path: Path):
    """The model a package file describes, with its weights (strictly)."""
    package = read_package(path)
    klass = package["klass"]
    try:
        model = klass(*package["args"], **package["kwargs"])
    except (TypeError, ValueError, AssertionError) as err:
        raise ModelConfigError(f"its arguments do not fit {klass.__name__} of the installed "
                               f"demucs package ({err})", path) from err
    state = package["state"]
    if state.get("__quantized"):
        raise ModelError("a quantized (DiffQ) Demucs checkpoint; Stemma runs the "
                         "unquantized ones", path)
    load_state_strict(model, state, path)
    return model


class DemucsBackend(Backend):
    def __init__(self, info: ModelInfo, device: str, options: dict | None = None):
        self.options = for_model(info, options)
        require("demucs", "demucs", "a Demucs model", info.folder)
        from demucs.apply import BagOfModels

        paths = [info.file(p) for p in info.params["models"]]
        members = [build(p) for p in paths]
        try:
            self.model = BagOfModels(members, info.params.get("weights"),
                                     info.params.get("segment"))
        except AssertionError as err:
            raise ModelConfigError("the bag's models differ in stems, rate or channels, or its "
                                   "weights do not match them", info.folder) from err
        self.stems = tuple(info.stems)
        if tuple(self.model.sources) != self.stems:
            raise ModelConfigError(f"the checkpoint gives {', '.join(self.model.sources)}, not "
                                   f"the manifest's {', '.join(self.stems)}", info.folder)
        self.kind = "+".join(dict.fromkeys(type(m).__name__ for m in members))
        self.torch_device = torch_device(device)
        self.model.to(self.torch_device).eval()

    @property
    def device(self) -> str:
        return self.torch_device.type

    @property
    def placement(self) -> str:
        n = len(self.model.models)
        return torch_placement(f"demucs {self.kind}" + (f" (bag of {n})" if n > 1 else ""),
                               self.torch_device)

    @property
    def max_workers(self) -> int:
        return 1  # torch spreads one chunk over the cores

    @property
    def segment(self) -> float:
        """Seconds the models see at once: the shortest of their training segments."""
        return min(float(m.segment) for m in self.model.models)

    def working_rate(self, input_rate: int) -> int:
        return int(self.model.samplerate)

    def plan(self, sample_rate: int) -> ChunkPlan:
        return window_plan(int(self.segment * sample_rate), sample_rate, self.options.context_s,
                           self.options.crossfade_s)

    def separate_chunk(self, audio: np.ndarray, sample_rate: int, check_cancel: CheckCancel,
                       on_fraction: OnFraction | None = None) -> np.ndarray:
        import torch
        from demucs.apply import apply_model

        x = torch.from_numpy(np.ascontiguousarray(to_model(audio, self.model.audio_channels)))
        ref = x.mean(dim=1)  # as demucs.separate normalises a track: by its mono mix
        mean, std = ref.mean(), ref.std() + 1e-8
        n_models, length = len(self.model.models), x.shape[-1]

        def progress(state: dict) -> None:  # apply_model's callback, at each segment's ends
            check_cancel()
            if on_fraction is not None and state.get("state") == "end":
                done = state["model_idx_in_bag"] + min(1.0, (
                    state["segment_offset"] + self.segment * sample_rate) / length)
                on_fraction(done / n_models)

        # One window is one model call; apply_model's own splitting (with overlap) only for
        # windows longer than the segment (a chunk length set by the caller).
        split = length > int(self.segment * sample_rate)
        out = apply_model(self.model, (x - mean) / std, shifts=0, split=split, overlap=0.25,
                          device=self.torch_device, callback=progress)
        stems = (out * std + mean).float().cpu().numpy()  # (B, S, M, N)
        return from_model(stems, audio.shape[0])

    def close(self) -> None:
        self.model = None  # type: ignore[assignment]
