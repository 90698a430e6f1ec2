"""The app's icons: SVG files drawn for Stemma and shipped in ``assets/icons`` (nothing is
downloaded). Found by the same rule as the shipped models: inside a frozen bundle, beside the
``app`` package in a checkout, else the installed ``stemma_icons`` package data."""

from __future__ import annotations

import functools
import importlib.util
import sys
from pathlib import Path

from PySide6.QtGui import QIcon


def icons_dir() -> Path:
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "assets" / "icons"
    checkout = Path(__file__).resolve().parent.parent / "assets" / "icons"
    if checkout.is_dir():
        return checkout
    spec = importlib.util.find_spec("stemma_icons")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return checkout


@functools.cache
def icon(name: str) -> QIcon:
    """``assets/icons/NAME.svg`` as an icon (a missing file is a bug: it raises)."""
    path = icons_dir() / f"{name}.svg"
    if not path.is_file():
        raise FileNotFoundError(f"no icon {path}")
    return QIcon(str(path))
