"""Screenshots of the desktop app in the states a new user meets, driven offscreen like a user
drives it (real window, real job service, real audio stream on a PulseAudio null sink):

    python scripts/screenshots.py docs/screenshots/after

empty.png (nothing open), opened.png (a song dropped in), separating.png (a third of the way
through), separated.png (stems in, drums muted, a loop, the playhead mid-song),
spectrogram.png (every lane as a spectrogram), export.png (the export dialog over the window).

It uses only what the window has offered since the first app (``add_files``, ``loaded``,
``separate_button``, ``separation``, the lanes' ``spectrogram_box``, the mixer's strips and
``ExportDialog``), so with ``PYTHONPATH`` pointing at an older checkout it shots that one:
that is how docs/screenshots/before/ was made.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
HOME = Path(tempfile.mkdtemp(prefix="stemma-shots-"))
for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
    os.environ[var] = str(HOME / var.lower())
os.environ["STEMMA_LOG_DIR"] = str(HOME / "logs")
ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT))  # appended: a PYTHONPATH checkout comes first

SIZE = (1280, 800)
SEPARATING_AT = 0.35  # fraction of the song done when the "separating" shot is taken
# A long folder, as export folders often are: the dialog must show it whole or elided.
EXPORT_FOLDER = Path.home() / "Music" / "Stemma exports" / "2026 rehearsals" / "Band practice"


def wait(app, condition, timeout: float = 120.0) -> None:
    """Spin the event loop until ``condition()``."""
    start = time.monotonic()
    while not condition():
        app.processEvents()
        if time.monotonic() - start > timeout:
            raise TimeoutError("the app did not reach the state")
        time.sleep(0.005)


def settle(app, seconds: float = 0.3) -> None:
    """Let timers (playhead, redraws, meter) run for a moment before a shot."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.005)


def make_song(seconds: float) -> Path:
    """The demo song repeated to ``seconds``: long enough for several progress steps."""
    import numpy as np
    import soundfile as sf

    audio, sr = sf.read(ROOT / "assets" / "demo" / "demo_song.flac", dtype="float32")
    n = int(seconds * sr)
    reps = -(-n // len(audio))
    path = HOME / "Demo Song.wav"
    sf.write(path, np.tile(audio, (reps, 1))[:n], sr, subtype="PCM_16")
    return path


def save(pixmap, path: Path) -> None:
    """PNG at full colour, most compressed (a spectrogram's noise still takes ~0.5 MB)."""
    assert pixmap.save(str(path), "PNG", 0), path
    print(path)


def shoot(app, window, out: Path, name: str) -> None:
    settle(app)
    save(window.grab(), out / f"{name}.png")


def shoot_dialog(app, window, dialog, out: Path, name: str) -> None:
    """The window with the dialog drawn over its centre (offscreen, each is its own image)."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QColor, QPainter

    settle(app)
    image = window.grab()
    over = dialog.grab()
    painter = QPainter(image)
    painter.fillRect(image.rect(), QColor(0, 0, 0, 110))  # the window behind a modal dialog
    x = (image.width() - over.width()) // 2
    y = (image.height() - over.height()) // 3
    painter.drawPixmap(x, y, over)
    title = 28  # px: the title bar a window manager would draw
    painter.fillRect(x, y - title, over.width(), title, QColor("#2a2e37"))
    painter.setPen(QColor("#e6e8ee"))
    painter.drawText(x + 12, y - title, over.width() - 24, title,
                     Qt.AlignmentFlag.AlignVCenter, dialog.windowTitle())
    painter.setPen(QColor("#888888"))
    painter.drawRect(x - 1, y - title - 1, over.width() + 1, over.height() + title + 1)
    painter.end()
    save(image, out / f"{name}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the PNG files")
    parser.add_argument("--seconds", type=float, default=96.0, help="length of the song")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from tests.app.pulse import null_sink_server

    with null_sink_server(HOME):
        run(args.out, make_song(args.seconds))


def run(out: Path, song: Path) -> None:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from app.widgets.export_dialog import ExportDialog
    from app.window import MainWindow

    app = QApplication.instance() or QApplication([])
    app.setOrganizationName("Stemma")
    app.setApplicationName("Stemma")
    settings = QSettings(str(HOME / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("model", "classic")
    window = MainWindow(settings)
    window.resize(*SIZE)
    window.show()
    settle(app, 1.0)
    shoot(app, window, out, "empty")

    window.add_files([song])
    wait(app, lambda: window.loaded is not None and "mixture" in window.view.lanes)
    shoot(app, window, out, "opened")

    shots = []

    def on_progress(p) -> None:  # after the window's own slot: its labels are up to date
        if not shots and (p.fraction or 0) >= SEPARATING_AT:
            window._redraw_dirty()
            shots.append(window.grab())

    window.separate_button.click()
    wait(app, lambda: window.separation is not None)
    window.separation.signals.progress.connect(on_progress)
    wait(app, lambda: window.loaded.track.status != "separating", timeout=600)
    if shots:
        save(shots[0], out / "separating.png")

    loaded = window.loaded
    window.mixer_panel.strips["drums"].mute.click()
    window.view.set_loop((20.0, 28.0))
    window._set_loop((20.0, 28.0))
    window._seek_seconds(22.0)
    window.toggle_play()  # the meter moves, the playhead runs
    wait(app, lambda: window.player.position > 23.5 * loaded.sample_rate, timeout=10)
    shoot(app, window, out, "separated")
    window.stop()

    for _name, lane in window.view.lanes.items():
        lane.spectrogram_box.setChecked(True)
    wait(app, lambda: all(lane.image.isVisible() for lane in window.view.lanes.values()))
    shoot(app, window, out, "spectrogram")
    for lane in window.view.lanes.values():
        lane.spectrogram_box.setChecked(False)

    dialog = ExportDialog(window, loaded.track.name, list(loaded.stems), EXPORT_FOLDER, "wav",
                          loaded.track.loop is not None)
    dialog.show()
    shoot_dialog(app, window, dialog, out, "export")
    dialog.close()
    window.close()


if __name__ == "__main__":
    main()
