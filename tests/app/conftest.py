"""App tests run offscreen with real widgets, real signals, a real audio stream on a PulseAudio
null sink, and their own settings and data folders."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tests.app.pulse import null_sink_server

# Before Qt starts: offscreen rendering, and user folders of our own (QStandardPaths and
# QSettings follow the XDG variables on Linux), so tests never touch a real user's files.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_HOME = Path(tempfile.mkdtemp(prefix="stemma-app-tests-"))
for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
    os.environ[var] = str(_HOME / var.lower())
os.environ["STEMMA_LOG_DIR"] = str(_HOME / "logs")

ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts"


@pytest.fixture(scope="session")
def null_sink():
    """Our own PulseAudio server whose only sink is a null sink: a real, timed device."""
    with null_sink_server(_HOME) as sink:
        yield sink


@pytest.fixture
def settings(tmp_path):
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
