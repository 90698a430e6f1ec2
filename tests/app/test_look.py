"""What a new user sees and does first: the drop zone, lane headers that mix, keys, menus,
recent files, the meter and the stems' colours (issue 17; its defects: test_defects.py)."""

from __future__ import annotations

import math

import pytest
from PySide6.QtCore import Qt

from app.meter import HOLD_SECONDS, LevelMeter
from app.theme import STEM_COLOURS, stem_colour
from tests.app.conftest import write_song
from tests.app.test_window import open_song

# --- look and feel ---------------------------------------------------------------------------

def test_an_empty_session_shows_a_drop_zone_with_a_hint(qtbot, window):
    assert window.stack.currentWidget() is window.drop_zone
    assert "Drop songs here" in window.drop_zone.title.text()
    assert window.drop_zone.open_button.isVisible()
    titles = [a.text() for a in window.menuBar().actions()]
    assert titles == ["&File", "&View", "&Server", "&Help"]  # Help last, as apps have it


def test_lane_headers_solo_mute_and_gain_the_stem_and_dim_what_is_not_heard(qtbot, window,
                                                                           tmp_path):
    open_song(qtbot, window, write_song(tmp_path, "song", 4.0))
    lanes, strips = window.view.lanes, window.mixer_panel.strips
    header = lanes["drums"].header
    qtbot.mouseClick(header.mute, Qt.MouseButton.LeftButton)
    assert window.loaded.track.mixer.stems["drums"].mute
    assert strips["drums"].mute.isChecked()  # the mixer strip shows it too
    assert lanes["drums"].dimmed and not lanes["vocals"].dimmed
    qtbot.mouseClick(lanes["bass"].header.solo, Qt.MouseButton.LeftButton)
    assert [n for n, lane in lanes.items() if lane.dimmed] == ["vocals", "drums", "other"]
    header.gain.setValue(-65)  # -6.5 dB
    assert header.gain_label.text() == "-6.5 dB"
    assert window.loaded.track.mixer.stems["drums"].gain_db == -6.5
    assert strips["drums"].db_label.text() == "-6.5 dB"
    strips["vocals"].pan.setValue(-30)
    assert strips["vocals"].pan_label.text() == "L 30"
    window.mixer_panel.reset()
    assert not any(lane.dimmed for lane in lanes.values())
    assert not lanes["drums"].header.mute.isChecked()


def test_keys_select_a_lane_solo_mute_and_zoom(qtbot, window, tmp_path):
    open_song(qtbot, window, write_song(tmp_path, "song", 8.0))
    mixer = window.loaded.track.mixer
    qtbot.keyClick(window, Qt.Key.Key_2)
    assert window.view.selected == "drums"
    qtbot.keyClick(window, Qt.Key.Key_M)
    assert mixer.stems["drums"].mute and window.view.lanes["drums"].dimmed
    qtbot.keyClick(window, Qt.Key.Key_4)
    qtbot.keyClick(window, Qt.Key.Key_S)
    assert mixer.stems["other"].solo and window.mixer_panel.strips["other"].solo.isChecked()
    t0, t1 = window.view.visible_range()
    qtbot.keyClick(window, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    z0, z1 = window.view.visible_range()
    assert z1 - z0 == pytest.approx((t1 - t0) / 1.5, rel=0.01)
    qtbot.keyClick(window, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert window.view.visible_range() == pytest.approx((0.0, 8.0), abs=0.01)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert window.player.playing and window.play_button.text() == "Pause"
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert not window.player.playing


def test_view_menu_turns_every_lane_into_a_spectrogram(qtbot, window, tmp_path):
    open_song(qtbot, window, write_song(tmp_path, "song", 4.0))
    window.menus.actions["spectrograms"].trigger()
    qtbot.waitUntil(lambda: window.view.lanes["mixture"].image.isVisible(), timeout=10_000)
    window.menus.actions["waveforms"].trigger()
    assert window.view.lanes["mixture"].curve.isVisible()
    window.menus.actions["spectrograms"].trigger()
    qtbot.waitUntil(lambda: window.view.lanes["mixture"].image.isVisible(), timeout=10_000)
    other = write_song(tmp_path, "other", 3.0, seed=9)
    open_song(qtbot, window, other)  # the same lanes, emptied for the new song
    mixture = window.view.lanes["mixture"]
    assert not mixture.image.isVisible() and not mixture.spectrogram_box.isChecked()
    assert len(mixture.curve.getData()[0]) > 0 and window.view.lanes["drums"].peaks is None


def test_recent_files_about_and_the_log(qtbot, window, tmp_path):
    a, b = write_song(tmp_path, "a", 2.0), write_song(tmp_path, "b", 2.0, seed=5)
    window.add_files([a, b])
    assert window.menus.recent_files()[:2] == [str(b), str(a)]
    names = [act.text() for act in window.menus.recent.actions()]
    assert names[:2] == ["b.wav", "a.wav"]
    box = window.menus.show_about()
    text = box.text()
    assert "Stemma" in text and "Python" in text and "onnxruntime" in text
    assert "classic" in text and "tokenlm" in text  # the installed models
    box.close()
    import logging

    from app.logs import setup_logging
    setup_logging()
    logging.getLogger("app").warning("a line for the log window")
    dialog = window.menus.show_log()
    assert "a line for the log window" in dialog.view.toPlainText()
    dialog.close()
    shortcuts = window.menus.show_shortcuts()
    assert "Space" in shortcuts.text() and "Mute the selected lane" in shortcuts.text()
    shortcuts.close()


def test_the_meter_holds_its_peak_then_lets_it_fall():
    meter = LevelMeter()
    meter.set_peak(0.5, now=100.0)
    meter.set_peak(0.01, now=100.5)
    assert meter.held_db == pytest.approx(20 * math.log10(0.5))  # held
    assert meter.level_db == pytest.approx(-40.0)
    meter.set_peak(0.01, now=100.0 + HOLD_SECONDS + 0.5)
    assert meter.held_db < 20 * math.log10(0.5) - 5  # falling
    meter.set_peak(0.0, now=200.0)
    assert meter.held_db == -math.inf


def test_stem_colours_are_fixed_for_the_usual_four_and_stable_for_others():
    assert stem_colour("vocals") == STEM_COLOURS["vocals"]
    guitar = stem_colour("guitar")
    assert guitar == stem_colour("guitar") and guitar.startswith("#") and len(guitar) == 7
    assert len({stem_colour(n) for n in ("guitar", "piano", "instrumental", "no_vocals")}) == 4
