"""The model registry: each model is a folder with a ``manifest.json``.

Shipped models live under ``assets/models/<name>/``; ``STEMMA_MODELS_DIR`` adds a folder of
your own (searched first), and any folder path with a manifest can be passed as a model.
Neural audio codecs live there too (backend ``"codec"``); they are parts of separators, listed
by ``list_codecs`` and never by ``list_models`` or picked as ``auto``.

Manifest (format_version 1)::

    {"format_version": 1, "name": "classic", "backend": "classic",
     "description": "...", "stems": ["vocals", "drums", "bass", "other"],
     "sample_rate": null,             # Hz the model works at; null: any rate
     "devices": ["cpu"],              # where it can run
     "files": [{"path": "codec.onnx", "sha256": "...", "size": 123}],
     "params": {...},                 # backend-specific settings
     "metrics": {"usdr_avg": 3.1, ...,  "measured_on": "how and on what"}}

``model="auto"`` picks the model with the best measured average uSDR (``metrics.usdr_avg``);
a model without that figure is never preferred over one with it.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ModelError, ModelIntegrityError, ModelNotFoundError

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
RANKING_METRIC = "usdr_avg"  # dB, from `stemma eval` on held-out songs


def shipped_models_dir() -> Path:
    """``assets/models`` beside the ``engine`` package (source checkout, editable or frozen)."""
    return Path(__file__).resolve().parent.parent / "assets" / "models"


def search_dirs() -> list[Path]:
    dirs = [Path(p) for p in os.environ.get("STEMMA_MODELS_DIR", "").split(os.pathsep) if p]
    return dirs + [shipped_models_dir()]


@dataclass(frozen=True)
class ModelFile:
    path: str  # relative to the model folder
    sha256: str
    size: int  # bytes


@dataclass(frozen=True)
class ModelInfo:
    """What a manifest says about a model, and where it is."""

    name: str
    backend: str
    stems: tuple[str, ...]
    sample_rate: int | None  # Hz; None: works at the input's rate
    devices: tuple[str, ...]
    description: str
    folder: Path
    files: tuple[ModelFile, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_folder(cls, folder: str | Path) -> ModelInfo:
        folder = Path(folder)
        path = folder / MANIFEST
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ModelNotFoundError(f"no {MANIFEST} in this folder", folder) from None
        except (OSError, json.JSONDecodeError) as err:
            raise ModelError(f"unreadable manifest ({err})", path) from err
        if data.get("format_version") != FORMAT_VERSION:
            raise ModelError(f"manifest format_version {data.get('format_version')!r} is not "
                             f"{FORMAT_VERSION}; update Stemma to use this model", path)
        try:
            return cls(name=data["name"], backend=data["backend"], stems=tuple(data["stems"]),
                       sample_rate=data.get("sample_rate"),
                       devices=tuple(data.get("devices", ["cpu"])),
                       description=data.get("description", ""), folder=folder,
                       files=tuple(ModelFile(**f) for f in data.get("files", [])),
                       params=data.get("params", {}), metrics=data.get("metrics", {}))
        except (KeyError, TypeError) as err:
            raise ModelError(f"manifest is missing or misnames a field ({err})", path) from err

    def file(self, relative: str) -> Path:
        return self.folder / relative

    def verify(self) -> None:
        """Check every listed file exists with the manifest's size and sha256."""
        for entry in self.files:
            path = self.file(entry.path)
            if not path.is_file():
                raise ModelIntegrityError(f"model '{self.name}' is missing this file", path)
            if path.stat().st_size != entry.size or _sha256(path) != entry.sha256:
                raise ModelIntegrityError(
                    f"model '{self.name}': file does not match its manifest (damaged or "
                    "replaced); reinstall the model", path)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: Path, files: list[Path], **fields: Any) -> Path:
    """Write ``folder/manifest.json`` for a packaged model: ``fields`` (name, backend,
    stems, sample_rate, devices, description, params, metrics) plus every file's sha256."""
    entries = [{"path": p.name, "sha256": _sha256(p), "size": p.stat().st_size}
               for p in files]
    manifest = {"format_version": FORMAT_VERSION, **fields, "files": entries}
    path = Path(folder) / MANIFEST
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return path


CODEC_BACKEND = "codec"  # a neural audio codec: a part separators use, not a separator


def _all_models() -> list[ModelInfo]:
    found: dict[str, ModelInfo] = {}
    for root in search_dirs():
        if not root.is_dir():
            continue
        for folder in sorted(p for p in root.iterdir() if (p / MANIFEST).is_file()):
            info = ModelInfo.from_folder(folder)
            found.setdefault(info.name, info)
    return list(found.values())


def list_models() -> list[ModelInfo]:
    """Every separator found in the search folders, first occurrence of each name winning."""
    return [m for m in _all_models() if m.backend != CODEC_BACKEND]


def list_codecs() -> list[ModelInfo]:
    """Every neural audio codec in the search folders (their manifests say backend "codec")."""
    return [m for m in _all_models() if m.backend == CODEC_BACKEND]


def best_model(models: list[ModelInfo]) -> ModelInfo:
    """The model ``auto`` means: highest measured ``usdr_avg``; ``classic`` when none has one."""
    scored = [m for m in models if isinstance(m.metrics.get(RANKING_METRIC), int | float)]
    if scored:
        return max(scored, key=lambda m: m.metrics[RANKING_METRIC])
    for m in models:
        if m.name == "classic":
            return m
    raise ModelNotFoundError("no models installed; the classic model ships with Stemma, so "
                             "the installation is incomplete")


def resolve(model: str | Path) -> ModelInfo:
    """A model by name, folder path, or ``"auto"``."""
    text = str(model)
    if text == "auto":
        return best_model(list_models())
    path = Path(model)
    if path.is_dir():
        info = ModelInfo.from_folder(path)
        if info.backend == CODEC_BACKEND:
            raise ModelNotFoundError(f"'{info.name}' is a neural audio codec, not a separator "
                                     "(try `stemma codec roundtrip`)", path)
        return info
    for info in list_models():
        if info.name == text:
            return info
    names = ", ".join(m.name for m in list_models()) or "none"
    raise ModelNotFoundError(f"unknown model '{text}'; installed models: {names} "
                             "(or pass a folder holding a manifest.json)")
