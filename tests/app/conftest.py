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


def write_song(folder: Path, name: str, seconds: float, seed: int = 3) -> Path:
    """A synthetic song (``tests.conftest.music``) as 16-bit WAV ``folder/name.wav``."""
    import soundfile as sf

    from tests.conftest import music

    path = folder / f"{name}.wav"
    sf.write(path, music(seconds, 44100, 2, seed=seed).T, 44100, subtype="PCM_16")
    return path


@pytest.fixture
def window(qtbot, settings, null_sink):
    """The main window at the size the screenshots use, shown."""
    from app.window import MainWindow

    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    yield w
    w.close()


@pytest.fixture
def settings(tmp_path):
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
