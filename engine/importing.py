"""Bring your own weights: other projects' checkpoints recognised, described and added.

``describe(path)`` turns a checkpoint (a file, or a folder holding one) into a model the
engine runs as it is (``stemma separate --model PATH``); ``add_model(path)`` registers it in
the user's model folder (``registry.user_models_dir()``, ``stemma models add``) with a manifest
that records every file's sha256, the architecture, stems, sample rate and provenance (the
path it came from, when it was added); ``remove_model(name)`` takes it out again.

Formats are told from the files' contents; the suffix only says where to look:

- ``demucs``: a Demucs/HDemucs/HTDemucs model package (``.th``, or ``.safetensors`` with
  Demucs metadata; also a ``.ckpt``/``.pth``/``.pt`` that names demucs classes), or a bag of
  models (``.yaml`` with ``models: [signatures]``, optional ``weights`` and ``segment``; each
  member is ``<sig>.th``, ``<sig>-<checksum>.th`` or ``<sig>.safetensors`` beside the YAML or
  in torch hub's checkpoint folder, where the demucs package downloads them).
- ``mdxnet``: an ONNX graph taking (B, 4, dim_f, dim_t). Its STFT settings come from the
  user (``ImportSettings``), else from UVR's model data (passed, or found where UVR keeps it,
  ``<folder>/model_data/model_data.json``, or python-audio-separator,
  ``<folder>/mdx_model_data.json``), keyed by UVR's hash of the file, else
  (``dim_f``, ``dim_t``) from the graph's input shape.
- ``roformer``: a BS-/Mel-RoFormer state dict (``.ckpt``, ``.pth``, ``.pt``,
  ``.safetensors``) with the YAML config of the Music-Source-Separation-Training layout: passed,
  or beside it with the same name, or named by UVR's model data
  (``model_data/mdx_c_configs/``).

Added weights are referenced where they lie, by absolute path, unless ``copy=True``: weights
run to gigabytes (a BS-RoFormer is ~600 MB, a UVR folder often tens of GB), and a second copy
of each would double that for nothing. The sha256 recorded at adding is checked at every load,
so a file that was moved, replaced or damaged is reported, never silently run; ``copy=True``
is for weights on a removable drive or in a folder another tool cleans up.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import (
    InvalidArgumentError,
    ModelConfigError,
    ModelError,
    ModelIntegrityError,
    ModelNotFoundError,
    UnknownModelFormatError,
)
from .registry import (
    FORMAT_VERSION,
    ModelInfo,
    file_sha256,
    list_models,
    save_manifest,
    user_models_dir,
)

TORCH_SUFFIXES = (".ckpt", ".pth", ".pt")
CONFIG_SUFFIXES = (".yaml", ".yml")
WEIGHT_SUFFIXES = (".th", ".onnx", ".safetensors", *TORCH_SUFFIXES)
UVR_HASH_BYTES = 10000 * 1024  # UVR names a model by the md5 of its last 10 000 KiB
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
DEVICES = ("cpu", "cuda")


@dataclass(frozen=True)
class ImportSettings:
    """What a user may say about a checkpoint where its files do not (all optional)."""

    config: Path | None = None  # RoFormer: its YAML config
    stem: str | None = None  # MDX-Net: the stem it extracts (UVR: primary_stem)
    n_fft: int | None = None  # MDX-Net: STFT size (UVR: mdx_n_fft_scale_set)
    dim_f: int | None = None  # MDX-Net: lowest bins it sees (UVR: mdx_dim_f_set)
    dim_t: int | None = None  # MDX-Net: frames per window (UVR: 2 ** mdx_dim_t_set)
    hop: int | None = None  # MDX-Net: STFT hop in samples (UVR: 1024)
    compensate: float | None = None  # MDX-Net: gain on its output (UVR: compensate)
    model_data: Path | None = None  # UVR's model_data.json


@dataclass(frozen=True)
class Recognised:
    """A checkpoint understood: what a manifest records about it."""

    format: str  # the backend: demucs, mdxnet or roformer
    kind: str  # the architecture in words, e.g. "HTDemucs" or "bag of 4 HTDemucs"
    stems: tuple[str, ...]
    sample_rate: int  # Hz
    files: tuple[Path, ...]  # every file it needs, absolute
    params: dict[str, Any] = field(default_factory=dict)  # backend params; files as paths


def recognise(path: str | Path, settings: ImportSettings | None = None) -> Recognised:
    """What ``path`` (a checkpoint, or a folder holding one) is; errors name the file."""
    settings = settings or ImportSettings()
    path = Path(path).expanduser().absolute()
    if not path.exists():
        raise ModelNotFoundError("no such file or folder", path)
    if path.is_dir():
        path = _pick(path)
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return _mdxnet(path, settings)
    if suffix in CONFIG_SUFFIXES:
        return _from_yaml(path)
    if suffix == ".th" or (suffix == ".safetensors" and _has_demucs_metadata(path)) or (
            suffix in TORCH_SUFFIXES and _names_demucs(path)):
        return _demucs([path], path, None, None)
    if suffix in (".safetensors", *TORCH_SUFFIXES):
        return _roformer(path, settings)
    raise UnknownModelFormatError(
        "not a checkpoint Stemma can read: it runs Demucs (.th, a bag's .yaml, .safetensors), "
        "MDX-Net (.onnx) and BS/Mel-RoFormer (.ckpt, .pth, .pt, .safetensors with a YAML "
        "config) models", path)


def _pick(folder: Path) -> Path:
    """The one checkpoint in a folder (a Demucs bag's YAML wins over its members)."""
    files = sorted(p for p in folder.iterdir() if p.is_file())
    bags = [p for p in files if p.suffix.lower() in CONFIG_SUFFIXES and _is_bag(p)]
    weights = [p for p in files if p.suffix.lower() in WEIGHT_SUFFIXES]
    found = bags if len(bags) == 1 else weights
    if len(found) != 1:
        names = ", ".join(p.name for p in bags + weights) or "none"
        raise UnknownModelFormatError(f"cannot tell which model this folder holds (checkpoints "
                                      f"found: {names}); pass the file itself", folder)
    return found[0]


def _is_bag(path: Path) -> bool:
    return path.stat().st_size < 1 << 20 and re.search(r"^models\s*:", path.read_text(
        errors="replace"), re.M) is not None


# --- Demucs -------------------------------------------------------------------------------


def _has_demucs_metadata(path: Path) -> bool:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            return "klass" in (f.metadata() or {})
    except Exception:  # not a readable safetensors file: the RoFormer reader will say so
        return False


def _names_demucs(path: Path) -> bool:
    """Whether a torch pickle refers to demucs classes (read without running it)."""
    try:
        import torch

        names = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except Exception:  # no torch, or not a torch zip file: not a Demucs package either
        return False
    return any(n.startswith("demucs.") for n in names)


def _from_yaml(path: Path) -> Recognised:
    if not _is_bag(path):
        raise UnknownModelFormatError(
            "a YAML file that is not a Demucs bag (no 'models:' list); for a RoFormer, pass its "
            "checkpoint and this file as its config (--config)", path)
    from .backends.foreign import require

    yaml = require("yaml", "demucs", "a Demucs bag", path)
    try:
        bag = yaml.safe_load(path.read_text())
        members = [_member(str(sig), path) for sig in bag["models"]]
    except (yaml.YAMLError, KeyError, TypeError) as err:
        raise ModelConfigError(f"not a readable Demucs bag ({err})", path) from err
    return _demucs(members, path, bag.get("weights"), bag.get("segment"))


def torch_hub_checkpoints() -> Path:
    """Where torch hub (and so the demucs package) keeps downloaded weights."""
    home = os.environ.get("TORCH_HOME") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "torch"
    return Path(home) / "hub" / "checkpoints"


def _member(sig: str, bag: Path) -> Path:
    """A bag member's file, as demucs' local repository names them."""
    for folder in (bag.parent, torch_hub_checkpoints()):
        for pattern in (f"{sig}.th", f"{sig}-*.th", f"{sig}.safetensors"):
            found = sorted(folder.glob(pattern))
            if found:
                return found[0].absolute()
    raise ModelConfigError(f"the bag names model {sig}, but no {sig}.th, {sig}-<checksum>.th "
                           f"or {sig}.safetensors is beside it or in {torch_hub_checkpoints()}",
                           bag)


def _demucs(members: list[Path], source: Path, weights, segment) -> Recognised:
    from .backends.demucs_ckpt import read_package

    first = read_package(members[0])
    bound = inspect.signature(first["klass"]).bind(*first["args"], **first["kwargs"])
    bound.apply_defaults()
    kind = first["klass"].__name__
    if len(members) > 1:
        kind = f"bag of {len(members)} {kind}"
    params = {"models": [str(m) for m in members], "weights": weights,
              "segment": None if segment is None else float(segment)}
    return Recognised("demucs", kind, tuple(bound.arguments["sources"]),
                      int(bound.arguments["samplerate"]), tuple(dict.fromkeys(members)), params)


# --- MDX-Net -------------------------------------------------------------------------------


def uvr_hash(path: Path) -> str:
    """UVR's name for a model file: the md5 of its last 10 000 KiB (all of a smaller file)."""
    with path.open("rb") as f:
        f.seek(max(0, path.stat().st_size - UVR_HASH_BYTES))
        return hashlib.md5(f.read()).hexdigest()  # noqa: S324 - an identifier, not security


def _uvr_entry(path: Path, model_data: Path | None) -> dict[str, Any]:
    """This file's entry in UVR's model data: ``model_data`` if given (then it must have
    one), else the model data of UVR's folder layout if there is any; ``{}`` otherwise."""
    if model_data is not None:
        if not model_data.is_file():
            raise ModelNotFoundError("no such model data file", model_data)
        entry = _read_entry(model_data, path)
        if entry is None:
            raise ModelConfigError(f"has no entry for {path.name} (UVR hash "
                                   f"{uvr_hash(path)})", model_data)
        return entry
    for candidate in (path.parent / "model_data" / "model_data.json",  # UVR
                      path.parent / "mdx_model_data.json",  # python-audio-separator
                      path.parent / "model_data.json"):
        entry = _read_entry(candidate, path) if candidate.is_file() else None
        if entry is not None:
            return entry
    return {}


def _read_entry(model_data: Path, path: Path) -> dict[str, Any] | None:
    try:
        entry = json.loads(model_data.read_text()).get(uvr_hash(path))
    except (OSError, json.JSONDecodeError, AttributeError) as err:
        raise ModelConfigError(f"unreadable model data ({err})", model_data) from err
    return None if entry is None else dict(entry, _from=str(model_data))


def _mdxnet(path: Path, s: ImportSettings) -> Recognised:
    uvr = _uvr_entry(path, s.model_data)
    dim_t_uvr = 2 ** int(uvr["mdx_dim_t_set"]) if "mdx_dim_t_set" in uvr else None
    shape = _onnx_input_shape(path)
    graph_f, graph_t = (d if isinstance(d, int) else None for d in shape[2:])
    values = {"n_fft": s.n_fft or uvr.get("mdx_n_fft_scale_set"),
              "dim_f": s.dim_f or uvr.get("mdx_dim_f_set") or graph_f,
              "dim_t": s.dim_t or dim_t_uvr or graph_t, "hop": s.hop or 1024,
              "compensate": s.compensate or uvr.get("compensate") or 1.0}
    stem = (s.stem or uvr.get("primary_stem") or "").strip().lower()
    missing = [k for k, v in values.items() if v is None] + ([] if stem else ["stem"])
    if missing:
        raise ModelConfigError(
            f"an MDX-Net model needs {', '.join(missing)}, which neither the graph nor UVR's "
            "model data says: pass --stem, --n-fft, --dim-f, --dim-t (and --compensate), or "
            "--model-data with UVR's model_data.json", path)
    _check_mdx(path, values, graph_f, graph_t)
    partner = {"vocals": "instrumental", "instrumental": "vocals"}.get(stem, f"no_{stem}")
    params = {"onnx": str(path), **values}
    if uvr:
        params["uvr_model_data"] = uvr["_from"]
    return Recognised("mdxnet", "MDX-Net", (stem, partner), 44100, (path,), params)


def _onnx_input_shape(path: Path) -> list:
    from .onnx_runtime import Session

    session = Session(path, "cpu")
    shape = list(session._session.get_inputs()[0].shape)
    if len(session.inputs) != 1 or len(shape) != 4 or shape[1] != 4:
        raise UnknownModelFormatError(
            f"an ONNX graph whose input is {shape}; an MDX-Net model takes (batch, 4, dim_f, "
            "dim_t): the real and imaginary spectrogram of two channels", path)
    return shape


def _check_mdx(path: Path, values: dict, graph_f: int | None, graph_t: int | None) -> None:
    for name, graph in (("dim_f", graph_f), ("dim_t", graph_t)):
        if graph is not None and values[name] != graph:
            raise ModelConfigError(f"{name} is {values[name]}, but the graph takes {graph}",
                                   path)
    if values["hop"] > values["n_fft"]:
        raise ModelConfigError(f"hop {values['hop']} is more than n_fft {values['n_fft']}: the "
                               "STFT would skip samples", path)
    n_bins = values["n_fft"] // 2 + 1
    if values["dim_f"] > n_bins:
        raise ModelConfigError(f"dim_f {values['dim_f']} is more than the {n_bins} bins of an "
                               f"STFT of {values['n_fft']}", path)


# --- RoFormer ------------------------------------------------------------------------------


def _roformer_config(path: Path, s: ImportSettings) -> Path:
    if s.config:
        if not s.config.is_file():
            raise ModelNotFoundError("no such config file", s.config)
        return s.config.absolute()
    for suffix in CONFIG_SUFFIXES:
        if path.with_suffix(suffix).is_file():
            return path.with_suffix(suffix)
    uvr = _uvr_entry(path, s.model_data)
    if uvr.get("config_yaml"):
        config = Path(uvr["_from"]).parent / "mdx_c_configs" / uvr["config_yaml"]
        if config.is_file():
            return config
    raise ModelConfigError(f"a RoFormer checkpoint needs its YAML config: pass --config, or put "
                           f"it beside the checkpoint as {path.stem}.yaml", path)


def _roformer(path: Path, s: ImportSettings) -> Recognised:
    from .backends.foreign import require

    require("torch", "roformer", "a RoFormer model", path)
    from .backends.roformer import read_config, stems_of
    from .backends.roformer_net import BS, config_from_yaml

    config_path = _roformer_config(path, s)
    config = read_config(config_path)
    try:
        cfg = config_from_yaml(config["model"])
    except (TypeError, ValueError) as err:
        raise ModelConfigError(str(err), config_path) from err
    kind = "BS-RoFormer" if cfg.arch == BS else "Mel-RoFormer"
    rate = int((config.get("audio") or {}).get("sample_rate", 44100))
    return Recognised("roformer", kind, stems_of(config, config_path), rate,
                      (path, config_path), {"checkpoint": str(path), "config": str(config_path)})


# --- the registry ----------------------------------------------------------------------------


def describe(path: str | Path, settings: ImportSettings | None = None) -> ModelInfo:
    """A checkpoint as a model to run where it lies (not registered, nothing verified)."""
    found = recognise(path, settings)
    path = Path(path).expanduser().absolute()
    return ModelInfo(name=path.stem, backend=found.format, stems=found.stems,
                     sample_rate=found.sample_rate, devices=DEVICES,
                     description=f"{found.kind} from {path}", folder=path.parent,
                     params=found.params)


def added_models() -> list[ModelInfo]:
    """Models added with ``add_model`` (they carry provenance), in name order."""
    return sorted((m for m in list_models() if m.provenance), key=lambda m: m.name)


def add_model(path: str | Path, name: str | None = None,
              settings: ImportSettings | None = None, copy: bool = False) -> ModelInfo:
    """Recognise ``path``, load it once (strictly, on the CPU), and register it as ``name``."""
    from . import backends

    source = Path(path).expanduser().absolute()
    found = recognise(source, settings)
    name = name or source.stem
    folder = _new_model_folder(name)
    probe = ModelInfo(name, found.format, found.stems, found.sample_rate, DEVICES, "",
                      source.parent, params=found.params)
    backends.create(probe, "cpu").close()  # a model that does not load is never added
    staging = folder.with_name(f".{name}.adding-{os.getpid()}")
    try:
        staging.mkdir(parents=True)
        entries, params = _place_files(found, staging, copy)
        manifest = {"format_version": FORMAT_VERSION, "name": name, "backend": found.format,
                    "description": f"{found.kind}, added from {source.name}",
                    "stems": list(found.stems), "sample_rate": found.sample_rate,
                    "devices": list(DEVICES), "files": entries, "params": params,
                    "metrics": {}, "provenance": {
                        "source": str(source), "format": found.format, "architecture": found.kind,
                        "added": datetime.now(UTC).isoformat(timespec="seconds"),
                        "copied": copy}}
        save_manifest(staging, manifest)
        staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ModelInfo.from_folder(folder)


def _new_model_folder(name: str) -> Path:
    if not NAME.fullmatch(name) or name == "auto":
        raise InvalidArgumentError(f"'{name}' cannot be a model name: use letters, digits and "
                                   ". _ + - (at most 64), e.g. --name my-model")
    taken = {m.name: m.folder for m in list_models()}
    if name in taken:
        raise InvalidArgumentError(f"a model named '{name}' exists already ({taken[name]}); "
                                   "pass another --name, or remove it first")
    folder = user_models_dir() / name
    if folder.exists():
        raise InvalidArgumentError(f"'{name}' is taken by a folder without a valid manifest; "
                                   "move it away or pass another --name", folder)
    return folder


def _place_files(found: Recognised, staging: Path, copy: bool) -> tuple[list[dict], dict]:
    """Manifest entries (sha256, size) and params, for weights copied or referenced."""
    entries, renamed = [], {}
    for path in found.files:
        target = path
        if copy:
            target = staging / path.name
            if target.exists():
                raise ModelConfigError(f"two of its files are named {path.name}; add it "
                                       "without --copy", path)
            shutil.copyfile(path, target)
        digest = file_sha256(target)
        _check_demucs_checksum(path, digest)
        renamed[str(path)] = path.name if copy else str(path)
        entries.append({"path": renamed[str(path)], "sha256": digest,
                        "size": target.stat().st_size})
    return entries, _renamed(found.params, renamed)


def _check_demucs_checksum(path: Path, digest: str) -> None:
    """demucs names its files ``<sig>-<first 8 of sha256>.th``: check that too."""
    match = re.fullmatch(r"[0-9a-f]+-([0-9a-f]{8})\.th", path.name)
    if match and not digest.startswith(match.group(1)):
        raise ModelIntegrityError(f"damaged: its name says its sha256 starts with "
                                  f"{match.group(1)}, but it is {digest[:8]}", path)


def _renamed(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return names.get(value, value)
    if isinstance(value, list):
        return [_renamed(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _renamed(v, names) for k, v in value.items()}
    return value


def remove_model(name: str) -> ModelInfo:
    """Take an added model out of the registry (copied weights go; referenced ones stay)."""
    for info in list_models():
        if info.name != name:
            continue
        if not info.provenance:
            raise ModelError(f"'{name}' was not added with `stemma models add` (it lives in "
                             f"{info.folder}); only added models can be removed")
        shutil.rmtree(info.folder)
        return info
    added = ", ".join(m.name for m in added_models()) or "none"
    raise ModelNotFoundError(f"no added model named '{name}' (added models: {added})")
