"""The frozen rule of the model registry, without building a bundle: a PyInstaller build
(``sys._MEIPASS`` set) takes its shipped models from inside the bundle."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from engine import registry as models

ROOT = Path(__file__).resolve().parents[2]


def test_a_frozen_build_finds_the_models_inside_its_bundle(tmp_path, monkeypatch):
    bundle = tmp_path / "_internal"
    shutil.copytree(ROOT / "assets" / "models" / "classic",
                    bundle / "assets" / "models" / "classic")
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    monkeypatch.delenv("STEMMA_MODELS_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "user-data"))  # no added models
    assert models.shipped_models_dir() == bundle / "assets" / "models"
    assert models.resolve("classic").folder == bundle / "assets" / "models" / "classic"
    assert [m.name for m in models.list_models()] == ["classic"]


def test_a_source_checkout_uses_its_assets_folder():
    assert not hasattr(sys, "_MEIPASS")
    assert models.shipped_models_dir() == ROOT / "assets" / "models"
