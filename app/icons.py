"""The app's icons: SVG files drawn for Stemma and shipped in ``assets/icons`` (nothing is
downloaded). Found by the same rule as the shipped models: inside a frozen bundle, beside the
``app`` package in a checkout, else the installed ``stemma_icons`` package data."""

from __future__ import annotations

import functools
from pathlib import Path

from PySide6.QtGui import QIcon

from engine import shipped_assets


def icons_dir() -> Path:
    return shipped_assets("icons", "stemma_icons")


@functools.cache
def icon(name: str) -> QIcon:
    """``assets/icons/NAME.svg`` as an icon (a missing file is a bug: it raises)."""
    path = icons_dir() / f"{name}.svg"
    if not path.is_file():
        raise FileNotFoundError(f"no icon {path}")
    return QIcon(str(path))
