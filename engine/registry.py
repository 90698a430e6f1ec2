"""The model registry: each model is a folder with a ``manifest.json``.

Shipped models live under ``assets/models/<name>/`` (installed as the ``stemma_models``
package data; ``shipped_assets`` has the rule); models you add with ``stemma models add``
(other projects' weights, see ``engine.importing``) live in the user's model folder
(``user_models_dir``); ``STEMMA_MODELS_DIR`` adds folders of your own, searched first. Any folder
path with a manifest can be passed as a model, and so can another project's checkpoint file.
Neural audio codecs live there too (backend ``"codec"``); they are parts of separators, listed
by ``list_codecs`` and never by ``list_models`` or picked as ``auto``.

Manifest (format_version 1)::

    {"format_version": 1, "name": "classic", "backend": "classic",
     "description": "...", "stems": ["vocals", "drums", "bass", "other"],
     "sample_rate": null,             # Hz the model works at; null: any rate
     "devices": ["cpu"],              # where it can run
     "files": [{"path": "codec.onnx", "sha256": "...", "size": 123},
               {"path": "codec.safetensors", "sha256": "...", "size": 456, "runtime": false}],
     "params": {...},                 # backend-specific settings
     "metrics": {"usdr_avg": 3.1, ...,  "measured_on": "how and on what"},
     "provenance": {"source": "/path/it/came/from", "added": "2025-01-31T12:00:00+00:00",
                    "format": "demucs", "copied": false}}   # added models only

A file's ``path`` is relative to the model folder, or absolute for an added model whose weights
are referenced where they lie rather than copied. ``"runtime": false`` marks a file that only the
lab reads (the torch weights a training session continues from, which the ONNX graphs were
exported from): separating never opens it, so the installer's bundle leaves it out and a load
does not check it.

``model="auto"`` picks the model with the best measured average uSDR (``metrics.usdr_avg``);
a model without that figure is never preferred over one with it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ModelError, ModelIntegrityError, ModelNotFoundError

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
RANKING_METRIC = "usdr_avg"  # dB, from `stemma-lab eval` on held-out songs


def shipped_assets(folder: str, package: str) -> Path:
    """Where a shipped asset folder (``assets/FOLDER``: the models, the app's icons) is, by one
    rule: inside the bundle of a frozen build (PyInstaller's ``sys._MEIPASS``, see installer/);
    else ``assets/FOLDER`` beside the ``engine`` package when it is there (a source checkout, an
    editable install); else the installed ``PACKAGE`` package data (a wheel: ``pip install .``
    puts the same folder there, see ``pyproject.toml``)."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "assets" / folder
    checkout = Path(__file__).resolve().parent.parent / "assets" / folder
    if checkout.is_dir():
        return checkout
    spec = importlib.util.find_spec(package)
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return checkout  # neither: the caller finds nothing there and says the install is incomplete


def shipped_models_dir() -> Path:
    """The shipped models (``assets/models``, or the ``stemma_models`` package data)."""
    return shipped_assets("models", "stemma_models")


def user_models_dir() -> Path:
    """Where ``stemma models add`` registers models: the per-user data folder of the platform
    (``$XDG_DATA_HOME/stemma/models``, ``~/Library/Application Support/stemma/models``,
    ``%LOCALAPPDATA%\\stemma\\models``)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "stemma" / "models"


def search_dirs() -> list[Path]:
    dirs = [Path(p) for p in os.environ.get("STEMMA_MODELS_DIR", "").split(os.pathsep) if p]
    return dirs + [user_models_dir(), shipped_models_dir()]


@dataclass(frozen=True)
class ModelFile:
    path: str  # relative to the model folder
    sha256: str
    size: int  # bytes
    runtime: bool = True  # False: read by the lab only (training weights), not by separating


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
    provenance: dict[str, Any] = field(default_factory=dict)  # added models: where from, when

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
                       params=data.get("params", {}), metrics=data.get("metrics", {}),
                       provenance=data.get("provenance", {}))
        except (KeyError, TypeError) as err:
            raise ModelError(f"manifest is missing or misnames a field ({err})", path) from err

    def file(self, relative: str) -> Path:
        return self.folder / relative

    def verify(self, training: bool = False) -> None:
        """Check that every file separating reads (and with ``training``, every listed file)
        exists with the manifest's size and sha256."""
        for entry in self.files:
            if not (entry.runtime or training):
                continue
            path = self.file(entry.path)
            if not path.is_file():
                raise ModelIntegrityError(f"model '{self.name}' is missing this file (moved "
                                          "or deleted?)", path)
            if path.stat().st_size != entry.size or file_sha256(path) != entry.sha256:
                todo = ("remove it and add it again (stemma models remove/add)"
                        if self.provenance else "reinstall the model")
                raise ModelIntegrityError(
                    f"model '{self.name}': file does not match its manifest (damaged or "
                    f"replaced); {todo}", path)


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in 1 MiB blocks, as hex."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: Path, files: list[Path], training_files: list[Path] = (),
                   **fields: Any) -> Path:
    """Write ``folder/manifest.json`` for a packaged model: ``fields`` (name, backend,
    stems, sample_rate, devices, description, params, metrics) plus every file's sha256;
    ``training_files`` are marked ``"runtime": false``."""
    def entry(path: Path, runtime: bool) -> dict:
        return {"path": path.name, "sha256": file_sha256(path), "size": path.stat().st_size,
                **({} if runtime else {"runtime": False})}

    entries = [entry(p, True) for p in files] + [entry(p, False) for p in training_files]
    return save_manifest(folder, {"format_version": FORMAT_VERSION, **fields, "files": entries})


def save_manifest(folder: str | Path, manifest: dict) -> Path:
    """Write ``folder/manifest.json``, whole or not at all (a ``.part`` file renamed over it),
    readable like any file the user writes. -> its path."""
    path = Path(folder) / MANIFEST
    part = path.with_name(f".{MANIFEST}.{os.getpid()}.part")
    try:
        part.write_text(json.dumps(manifest, indent=2) + "\n")
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
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
    """A model by name, folder path, another project's checkpoint (file or folder, see
    ``engine.importing``), or ``"auto"``."""
    text = str(model)
    if text == "auto":
        return best_model(list_models())
    path = Path(model)
    if path.exists() and not (path / MANIFEST).is_file():
        from .importing import describe  # reads other projects' formats; imported on demand

        return describe(path)
    if path.is_dir():
        info = ModelInfo.from_folder(path)
        if info.backend == CODEC_BACKEND:
            raise ModelNotFoundError(f"'{info.name}' is a neural audio codec, not a separator "
                                     "(try `stemma-lab codec roundtrip`)", path)
        return info
    for info in list_models():
        if info.name == text:
            return info
    names = ", ".join(m.name for m in list_models()) or "none"
    raise ModelNotFoundError(f"unknown model '{text}'; installed models: {names} "
                             "(or pass a folder holding a manifest.json, or a checkpoint file)")
