"""``roformer``: a BS-RoFormer or Mel-RoFormer checkpoint with its YAML config, in torch.

The config is the training repository's (Music-Source-Separation-Training): ``model`` (the
network, see ``roformer_net``), ``audio`` (``sample_rate``, ``chunk_size``: the samples the
model was trained on, our window) and ``training`` (``instruments``, ``target_instrument``).
A one-stem model gives its target, and the mixture minus the target as the other stem.
Weights load strictly: every key of the network must be in the checkpoint with its shape.
"""

from __future__ import annotations

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
    run_tiled,
    to_model,
    torch_device,
    torch_placement,
    window_plan,
)
from .options import for_model

STATE_KEYS = ("state", "state_dict", "model_state_dict")  # wrappers some trainers save


def read_config(path: Path) -> dict[str, Any]:
    """The YAML file as a dict; its ``!!python/tuple`` lists become tuples, nothing else
    outside plain YAML is constructed."""
    yaml = require("yaml", "roformer", "a RoFormer config", path)

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("tag:yaml.org,2002:python/tuple",
                           lambda loader, node: tuple(loader.construct_sequence(node)))
    try:
        data = yaml.load(path.read_text(), Loader=Loader)  # noqa: S506 - SafeLoader subclass
    except (OSError, yaml.YAMLError) as err:
        raise ModelConfigError(f"cannot read this YAML config ({err})", path) from err
    if not isinstance(data, dict) or not isinstance(data.get("model"), dict):
        raise ModelConfigError("not a RoFormer config: no 'model' section", path)
    return data


def stems_of(config: dict[str, Any], path: Path) -> tuple[str, ...]:
    """Stem names in the model's output order, plus the complement of a one-stem model."""
    training = config.get("training") or {}
    instruments = [str(i) for i in training.get("instruments") or []]
    target = training.get("target_instrument")
    n_stems = int(config["model"].get("num_stems", 1))
    if target:
        rest = [i for i in instruments if i != target]
        return (str(target), rest[0] if len(rest) == 1 else f"no_{target}")
    if len(instruments) != n_stems:
        raise ModelConfigError(f"the model has {n_stems} stem outputs but training.instruments "
                               f"names {len(instruments)} ({', '.join(instruments)})", path)
    return tuple(instruments) + ((f"no_{instruments[0]}",) if n_stems == 1 else ())


def load_checkpoint(path: Path) -> dict:
    """A state dict from ``.ckpt``/``.pth``/``.pt`` (no pickled code runs) or
    ``.safetensors``, unwrapped from a trainer's ``{"state_dict": ...}``."""
    import torch

    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch and safetensors raise many types for a bad file
        raise ModelError(f"cannot read this checkpoint ({' '.join(str(err).split())[:300]})",
                         path) from err
    for key in STATE_KEYS:
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ModelError("this checkpoint holds no state dict", path)
    if state and all(k.startswith("module.") for k in state):  # saved from DataParallel
        state = {k.removeprefix("module."): v for k, v in state.items()}
    return state


class RoformerBackend(Backend):
    def __init__(self, info: ModelInfo, device: str, options: dict | None = None):
        require("torch", "roformer", "a RoFormer model", info.folder)
        from . import roformer_net

        self.options = for_model(info, options)
        self.config_path = info.file(info.params["config"])
        checkpoint = info.file(info.params["checkpoint"])
        config = read_config(self.config_path)
        try:
            self.cfg = roformer_net.config_from_yaml(config["model"])
        except (TypeError, ValueError) as err:
            raise ModelConfigError(str(err), self.config_path) from err
        if self.cfg.arch == roformer_net.MEL:
            require("librosa", "roformer", "a Mel-RoFormer model", info.folder)
        audio = config.get("audio") or {}
        self.rate = int(audio.get("sample_rate", 44100))
        self.window = int(audio.get("chunk_size", 8 * self.rate))
        self.stems = tuple(info.stems)
        self.torch_device = torch_device(device)
        self.net = roformer_net.Roformer(self.cfg)
        load_state_strict(self.net, load_checkpoint(checkpoint), checkpoint)
        self.net.eval().to(self.torch_device)

    @property
    def device(self) -> str:
        return self.torch_device.type

    @property
    def placement(self) -> str:
        name = "BS-RoFormer" if self.cfg.arch == "bs_roformer" else "Mel-RoFormer"
        return torch_placement(name, self.torch_device)

    @property
    def max_workers(self) -> int:
        return 1  # torch spreads one chunk over the cores

    def working_rate(self, input_rate: int) -> int:
        return self.rate

    def plan(self, sample_rate: int) -> ChunkPlan:
        return window_plan(self.window, sample_rate, self.options.context_s,
                           self.options.crossfade_s)

    def _run(self, x: np.ndarray) -> np.ndarray:
        """(B, M, window) -> (B, N, M, window): the network's stems, then the complement."""
        import torch

        with torch.inference_mode():
            out = self.net(torch.from_numpy(x).to(self.torch_device)).float().cpu().numpy()
        if out.shape[1] < len(self.stems):  # one-stem model: the rest of the mixture
            out = np.concatenate([out, x[:, None] - out], axis=1)
        return out

    def separate_chunk(self, audio: np.ndarray, sample_rate: int, check_cancel: CheckCancel,
                       on_fraction: OnFraction | None = None) -> np.ndarray:
        x = np.ascontiguousarray(to_model(audio, self.cfg.channels))
        margin = self.cfg.stft_n_fft
        out = run_tiled(self._run, x, self.window, margin, check_cancel, on_fraction)
        return from_model(out, audio.shape[0]).astype(np.float32, copy=False)

    def close(self) -> None:
        self.net = None  # type: ignore[assignment]
