"""Defects a new user met (issue 17), each with the test that failed before its fix: the
playhead carried over to the next song, "queued" for a song nobody queued, the export folder
cut, the spectrogram's colour bar hiding the song's end and cutting "20k", and the progress
percentage drawn over the bar's fill."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QFontMetrics, QPainter, QPixmap
from PySide6.QtWidgets import QApplication

from app.spectro import compute
from app.widgets.export_dialog import ExportDialog
from app.widgets.lanes import SessionView
from tests.app.conftest import write_song
from tests.app.test_window import SEPARATE_TIMEOUT, open_song
from tests.conftest import music


def test_a_fresh_song_starts_with_the_playhead_at_zero(qtbot, window, tmp_path):
    first, second = write_song(tmp_path, "first", 8.0), write_song(tmp_path, "second", 6.0, seed=4)
    open_song(qtbot, window, first)
    window.toggle_play()
    qtbot.waitUntil(lambda: window.player.position > 44100 * 0.5, timeout=5000)
    window._seek_seconds(5.0)
    open_song(qtbot, window, second)
    qtbot.wait(100)  # the position timer ran
    assert window.player.position == 0
    assert window.position_label.text().startswith("0:00.0 /")
    assert window.view.ruler_head.value() == 0.0
    assert not window.player.playing and window.play_button.text() == "Play"


def test_an_unseparated_song_is_not_called_queued(qtbot, window, tmp_path):
    path = write_song(tmp_path, "Fresh", 3.0)
    open_song(qtbot, window, path)
    text = window.track_list.item(0).text()
    assert "queued" not in text and "not separated" in text
    project = tmp_path / "p.stemma.json"
    window.project.save(project)
    window.open_project(str(project))
    assert "queued" not in window.track_list.item(0).text()


def test_the_export_dialog_shows_the_whole_folder(qtbot):
    folder = Path("/home/sam/Music/Stemma exports/2026 rehearsals/Band practice")
    dialog = ExportDialog(None, "Song", ["vocals", "drums", "bass", "other"], folder, "wav",
                          False)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    field = dialog.folder
    needed = QFontMetrics(field.font()).horizontalAdvance(str(folder))
    assert field.width() >= needed + 8, (field.width(), needed)  # seen whole, not scrolled
    assert field.toolTip() == str(folder)


def test_the_spectrogram_colour_bar_hides_no_seconds_and_20k_is_whole(qtbot):
    view = SessionView()
    qtbot.addWidget(view)
    view.resize(1200, 500)
    view.set_lanes(["mixture", "vocals"])
    view.set_duration(96.0)
    view.show()
    qtbot.waitExposed(view)
    audio = music(96.0, 44100, 2, seed=1)
    lane = view.lanes["vocals"]
    lane.show_spectrogram(compute(audio, 44100))
    qtbot.wait(200)  # layouts settle
    t0, t1 = lane.plot.getViewBox().viewRange()[0]
    assert t0 == pytest.approx(0.0, abs=0.05) and t1 == pytest.approx(96.0, abs=0.05)
    ruler_width = view.ruler_box.sceneBoundingRect().width()
    assert lane.plot.getViewBox().sceneBoundingRect().width() == pytest.approx(ruler_width, 1)
    axis = lane.plot.getPlotItem().getAxis("left")
    pixmap = QPixmap(10, 10)
    painter = QPainter(pixmap)
    texts = {text: rect for rect, _, text in axis.generateDrawSpecs(painter)[2]}
    painter.end()
    assert "20k" in texts, sorted(texts)
    # The label's glyphs, centred on its tick, must start inside the plot widget.
    centre = axis.mapRectToScene(texts["20k"]).center().y()
    top = centre - QFontMetrics(QApplication.font()).height() / 2
    assert top >= 0, f"20k is cut at the top: its glyphs start at y={top:.1f}"


def test_progress_is_shown_as_a_percentage_beside_the_bar_before_the_end(qtbot, window,
                                                                        tmp_path):
    """The engine's progress events reach the window during the job (tokenlm sat at
    "Finishing 0%"), and the percentage is a label beside the bar, not text over its fill."""
    path = write_song(tmp_path, "long", 90.0)
    open_song(qtbot, window, path)
    seen = []
    window.separate_button.click()
    qtbot.waitUntil(lambda: window.separation is not None, timeout=5000)
    window.separation.signals.progress.connect(lambda p: seen.append(
        (window.loaded.track.status, window.progress_label.text(), window.job_label.text())))
    qtbot.waitUntil(lambda: window.loaded.track.status == "separated",
                    timeout=SEPARATE_TIMEOUT)
    assert not window.progress.isTextVisible()
    midway = [s for s in seen if s[0] == "separating" and 0 < int(s[1].rstrip("%")) < 100]
    assert midway, seen
    status, percent, line = midway[0]
    assert f"Separating {percent}" in line
