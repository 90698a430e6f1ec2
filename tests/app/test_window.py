"""The main window driven like a user drives it: drop, separate, cancel, play, export, reopen."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from app.exporting import ExportRequest
from app.main import start
from app.mixer import Mixer
from app.state import Loop, Project
from app.window import MainWindow
from tests.app.conftest import ARTIFACTS
from tests.conftest import music

# a bound for a hung job, not a speed target: tokenlm on the song takes minutes on a loaded
# 2-core machine (the waits end as soon as the job does)
SEPARATE_TIMEOUT = 600_000  # ms


def drop(window, paths):
    """A real drag-enter and drop of files onto the window."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    centre = QPointF(window.width() / 2, window.height() / 2)
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(centre.toPoint(), Qt.DropAction.CopyAction, mime, buttons, mods)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted(), "the window refused the drag"
    QApplication.sendEvent(window, QDropEvent(centre, Qt.DropAction.CopyAction, mime, buttons,
                                              mods))


@pytest.fixture
def song(tmp_path):
    path = tmp_path / "My Song.wav"
    sf.write(path, music(8.0, 44100, 2, seed=3).T, 44100, subtype="PCM_24")
    return path


def open_song(qtbot, window, path):
    drop(window, [path])
    qtbot.waitUntil(lambda: window.loaded is not None and window.loaded.track.source == path,
                    timeout=20_000)


def separate(qtbot, window):
    qtbot.mouseClick(window.separate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.loaded.track.status in ("separated", "failed"),
                    timeout=SEPARATE_TIMEOUT)
    assert window.loaded.track.status == "separated", window.job_label.text()


def test_drop_separate_and_see_four_lanes(qtbot, window, song):
    open_song(qtbot, window, song)
    lanes = window.view.lanes
    assert list(lanes) == ["mixture", "vocals", "drums", "bass", "other"]
    assert lanes["mixture"].peaks is not None and lanes["vocals"].peaks is None  # not yet
    ticks = []
    timer = QTimer(interval=10, timeout=lambda: ticks.append(1))
    timer.start()
    separate(qtbot, window)
    timer.stop()
    assert len(ticks) > 20, "the event loop stalled while separating"
    for name in ("vocals", "drums", "bass", "other"):
        x, y = lanes[name].curve.getData()
        assert x is not None and len(x) > 100 and np.abs(y).max() > 0.01, name
    files = window.loaded.track.stem_files
    assert sorted(p.name for p in files.values()) == ["bass.wav", "drums.wav", "other.wav",
                                                       "vocals.wav"]
    assert window.listen.currentText() == "Stems"
    assert window.track_list.item(0).text().endswith("separated")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    window.resize(1400, 900)
    qtbot.wait(200)
    window.view.lanes["drums"].spectrogram_box.setChecked(True)
    qtbot.waitUntil(lambda: window.view.lanes["drums"].image.isVisible(), timeout=20_000)
    qtbot.wait(100)
    assert window.grab().save(str(ARTIFACTS / "main_window.png"))


def test_model_defaults_to_auto_and_loads_once_for_every_song(qtbot, window, song, tmp_path):
    """One job service for the window: the second song reuses the loaded model (tokenlm
    used to reload on every Separate click)."""
    assert window.toolbar.model == "auto" and window.model_box.currentText() == "auto"
    open_song(qtbot, window, song)
    separate(qtbot, window)
    other = tmp_path / "other.wav"
    sf.write(other, music(4.0, 44100, 2, seed=5).T, 44100)
    open_song(qtbot, window, other)
    separate(qtbot, window)
    assert window.runner.models.loads == 1


def test_stems_fill_in_while_separating_and_original_plays_meanwhile(qtbot, window, tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, music(50.0, 44100, 2).T, 44100)
    open_song(qtbot, window, path)
    window.toggle_play()
    assert window.player.playing and window.listen.currentText() == "Original"
    chunks = []
    qtbot.mouseClick(window.separate_button, Qt.MouseButton.LeftButton)
    window.separation.signals.chunk.connect(lambda at, blocks: chunks.append(at))
    qtbot.waitUntil(lambda: len(chunks) >= 1, timeout=SEPARATE_TIMEOUT)
    partial = window.loaded.stems["drums"]
    assert np.any(partial[:, :44100]) and not np.any(partial[:, -44100:])  # still arriving
    assert window.player.playing
    qtbot.waitUntil(lambda: window.loaded.track.status == "separated", timeout=SEPARATE_TIMEOUT)
    window.stop()


def test_cancel_leaves_no_files_and_empty_lanes(qtbot, window, tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, music(90.0, 44100, 2).T, 44100)
    open_song(qtbot, window, path)
    qtbot.mouseClick(window.separate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.progress.value() > 0, timeout=SEPARATE_TIMEOUT)
    qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.loaded.track.status == "cancelled", timeout=10_000)
    out = window.runner.stem_cache.folder(path, window.loaded.track.model)
    assert not out.exists() or not any(out.iterdir())
    assert "vocals" not in window.loaded.stems
    assert window.view.lanes["vocals"].peaks is None
    assert window.separate_button.isEnabled() and not window.cancel_button.isEnabled()


def test_a_song_shows_the_waveform_drawn_while_decoding_and_plays_its_samples(qtbot, window,
                                                                              song, tmp_path):
    """Opening draws the waveform in a first pass over the file (shown before the song is in
    memory); the decoded song then takes over that same waveform, with its samples for
    close-up views, and the next song replaces it whole."""
    open_song(qtbot, window, song)
    loaded = window.loaded
    lane = window.view.lanes["mixture"]
    assert lane.peaks is loaded.peaks["mixture"] and lane.peaks.audio is loaded.mixture
    assert window.view.duration == pytest.approx(8.0)
    other = tmp_path / "Other.flac"
    sf.write(other, music(3.0, 48000, 2, seed=4).T, 48000)
    open_song(qtbot, window, other)
    lane = window.view.lanes["mixture"]
    assert lane.peaks.n_frames == 3 * 48000 and lane.peaks.audio is window.loaded.mixture
    assert window.view.duration == pytest.approx(3.0)


def test_reopening_a_separated_song_does_not_separate_again(qtbot, window, settings, song,
                                                           tmp_path):
    open_song(qtbot, window, song)
    separate(qtbot, window)
    window.loaded.track.mixer.stems["drums"].gain_db = -6.0
    window.loaded.track.loop = Loop(44100, 88200)
    project = tmp_path / "session.stemma.json"
    window.project.save(project)
    again = MainWindow(settings)
    qtbot.addWidget(again)
    again.open_project(str(project))
    qtbot.waitUntil(lambda: again.loaded is not None and again.loaded.complete, timeout=20_000)
    assert again.separation is None  # nothing was separated
    assert again.loaded.track.mixer.stems["drums"].gain_db == -6.0
    assert again.loaded.track.loop == Loop(44100, 88200)
    assert np.array_equal(again.loaded.stems["vocals"], window.loaded.stems["vocals"])
    assert Project.load(project).tracks[0].status == "separated"
    again.close()


def test_export_writes_stems_karaoke_and_the_mix_you_hear(qtbot, window, song, tmp_path):
    open_song(qtbot, window, song)
    separate(qtbot, window)
    loaded = window.loaded
    strips = window.mixer_panel.strips
    strips["vocals"].fader.setValue(-60)  # -6.0 dB
    qtbot.mouseClick(strips["drums"].mute, Qt.MouseButton.LeftButton)
    loaded.track.loop = Loop(22050, 66150)
    request = ExportRequest(tmp_path / "export", "My Song", stems=["vocals", "bass"],
                            karaoke=True, remix=True, loop_only=True, fmt="flac",
                            bit_depth="24")
    job = window.start_export(request)
    qtbot.waitUntil(lambda: job.done, timeout=30_000)
    folder = tmp_path / "export"
    assert sorted(p.name for p in folder.iterdir()) == [
        "My Song_bass.flac", "My Song_karaoke.flac", "My Song_remix.flac", "My Song_vocals.flac"]
    stems = loaded.stems
    region = slice(22050, 66150)
    vocals, _ = sf.read(folder / "My Song_vocals.flac", dtype="float32")
    assert np.abs(vocals.T - stems["vocals"][:, region]).max() < 2 ** -22
    karaoke, _ = sf.read(folder / "My Song_karaoke.flac", dtype="float32")
    expected = stems["drums"] + stems["bass"] + stems["other"]
    assert np.abs(karaoke.T - expected[:, region]).max() < 2 ** -22
    remix, _ = sf.read(folder / "My Song_remix.flac", dtype="float32")
    heard = 10 ** (-6 / 20) * stems["vocals"] + stems["bass"] + stems["other"]
    assert np.abs(remix.T - heard[:, region]).max() < 2 ** -21


def test_export_refuses_to_overwrite_unasked(qtbot, window, song, tmp_path):
    open_song(qtbot, window, song)
    separate(qtbot, window)
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "My Song_vocals.wav").write_bytes(b"keep")
    job = window.start_export(ExportRequest(folder, "My Song", stems=["vocals", "drums"]))
    # job.done turns true on the UI thread after the failure message was shown.
    qtbot.waitUntil(lambda: job.done, timeout=30_000)
    assert "already exists" in window.job_label.text()
    assert (folder / "My Song_vocals.wav").read_bytes() == b"keep"
    assert sorted(p.name for p in folder.iterdir()) == ["My Song_vocals.wav"]


def test_files_refused_at_launch_are_listed_in_a_box_that_stays(qtbot, null_sink, tmp_path):
    """`stemma-app surround.wav missing.mp3`: a message box names both and says why; it stays
    until dismissed (the status bar alone was overwritten at once)."""
    surround = tmp_path / "surround.wav"
    sf.write(surround, np.zeros((4800, 6), np.float32), 48000)
    window = start(["stemma-app", str(surround), str(tmp_path / "missing.mp3")])
    qtbot.addWidget(window)
    box = window.refused_box
    assert box is not None
    qtbot.waitUntil(box.isVisible, timeout=5000)
    text = box.informativeText()
    assert "surround.wav: has 6 channels" in text and "missing.mp3: file not found" in text
    assert window.track_list.count() == 0
    qtbot.wait(300)  # timers and jobs run meanwhile: the box is still there
    assert box.isVisible()
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not box.isVisible(), timeout=5000)
    window.close()


def test_mixer_strips_change_what_the_mixer_renders(qtbot, window, song):
    open_song(qtbot, window, song)
    separate(qtbot, window)
    stems = window.loaded.stems
    strips = window.mixer_panel.strips
    qtbot.mouseClick(strips["drums"].solo, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(strips["bass"].solo, Qt.MouseButton.LeftButton)
    strips["bass"].fader.setValue(-120)  # -12 dB
    mixer: Mixer = window.player.mixer
    out = np.zeros((4096, 2), np.float32)
    mixer.render(10_000, out, ramp=False)
    expected = stems["drums"][:, 10_000:14_096] + 10 ** (-12 / 20) * stems["bass"][:, 10_000:
                                                                                   14_096]
    assert np.allclose(out.T, expected, atol=1e-6)
    qtbot.mouseClick(strips["drums"].solo, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(strips["bass"].solo, Qt.MouseButton.LeftButton)
    window.mixer_panel.karaoke()  # the preset: everything but the vocals
    mixer.render(10_000, out, ramp=False)
    expected = (stems["drums"] + 10 ** (-12 / 20) * stems["bass"] + stems["other"])[
        :, 10_000:14_096]
    assert np.allclose(out.T, expected, atol=1e-6)
    assert strips["vocals"].mute.isChecked()


def test_playback_runs_on_a_real_stream_and_the_position_advances(qtbot, window, song):
    open_song(qtbot, window, song)
    assert window.player.available, window.player.reason
    assert window.play_button.isEnabled()
    qtbot.mouseClick(window.play_button, Qt.MouseButton.LeftButton)
    start = window.player.callbacks
    # PulseAudio takes up to a second to reach real-time pace after a stream opens.
    qtbot.waitUntil(lambda: window.player.position > 44100 * 0.5, timeout=5000)
    assert window.player.callbacks > start + 10  # the audio thread is pulling blocks
    qtbot.wait(100)
    label = window.position_label.text()
    assert not label.startswith("0:00.0")
    qtbot.mouseClick(window.play_button, Qt.MouseButton.LeftButton)  # pause
    paused_at = window.player.position
    qtbot.wait(300)
    assert window.player.position == paused_at
    window._seek_seconds(2.0)
    assert window.player.position == 88200


def test_without_any_audio_device_the_app_runs_and_says_why(tmp_path):
    """A separate process whose ALSA knows no sound card (its default is a card that does not
    exist) and no PulseAudio server: PortAudio finds no device at all."""
    empty = tmp_path / "asound.conf"
    empty.write_text("pcm.!default { type hw card 99 }\n")
    script = (
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from app.window import MainWindow\n"
        "w = MainWindow()\n"
        "w.show(); app.processEvents()\n"
        "print('PLAY', w.play_button.isEnabled())\n"
        "print('STATUS', w.playback_label.text())\n"
        "w.close()\n")
    env = {**os.environ, "ALSA_CONFIG_PATH": str(empty), "PULSE_SERVER": "/nonexistent",
           "QT_QPA_PLATFORM": "offscreen"}
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=env, timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert run.returncode == 0, run.stderr
    assert "PLAY False" in run.stdout
    status = next(line for line in run.stdout.splitlines() if line.startswith("STATUS"))
    assert "Playback off:" in status and "device" in status


def test_separation_runs_off_the_ui_thread(qtbot, window, song):
    open_song(qtbot, window, song)
    threads = []
    original = window.runner.run

    def spy(job, on_event=None):  # the job service, as the window's worker calls it
        threads.append(threading.current_thread())
        return original(job, on_event)

    window.runner.run = spy  # before the click: the worker may start at once
    qtbot.mouseClick(window.separate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.loaded.track.status == "separated",
                    timeout=SEPARATE_TIMEOUT)
    assert threads and threads[0] is not threading.main_thread()


def test_the_token_separator_is_offered_and_used(qtbot, window, song):
    """tokenlm is in the model list; picking it is what the next separation runs, and its
    progress is shown as it goes (it sat at "Finishing 0%" until the end, issue 17)."""
    index = window.model_box.findData("tokenlm")
    assert index >= 0, [window.model_box.itemData(i) for i in range(window.model_box.count())]
    window.model_box.setCurrentIndex(index)
    open_song(qtbot, window, song)
    shown = []  # the status line each time the UI timer fired while separating
    timer = QTimer(interval=50, timeout=lambda: shown.append(
        (window.loaded.track.status, window.job_label.text())))
    timer.start()
    separate(qtbot, window)
    timer.stop()
    percents = [int(m.group(1)) for status, text in shown if status == "separating"
                for m in [re.search(r"Separating (\d+)%", text)] if m]
    assert any(0 < p < 100 for p in percents), sorted(set(t for _, t in shown))
    loaded = window.loaded
    assert loaded.track.model == "tokenlm" and loaded.complete
    names = ("vocals", "drums", "bass", "other")
    assert all(loaded.stems[s].shape == loaded.mixture.shape for s in names)
    residual = loaded.mixture - sum(loaded.stems[s] for s in names)
    assert np.max(np.abs(residual)) < 1e-3  # refined: the stems add up to the song


def test_an_added_model_is_in_the_menu_and_separates_into_its_own_lanes(
        qtbot, settings, null_sink, song, tmp_path, monkeypatch):
    """`stemma models add` (a two-stem MDX-Net ONNX model), then the app: the model is in the
    menu, and separating with it shows its stems' lanes, not the four of our models."""
    from tests.engine.backends.checkpoints import write_mdx

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    onnx = write_mdx(tmp_path / "UVR-MDX-NET-tiny.onnx", dim_f=256, dim_t=32)
    run = subprocess.run([sys.executable, "-m", "engine", "models", "add", onnx, "--name",
                          "my-mdx", "--stem", "vocals", "--n-fft", "2048"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    window = MainWindow(settings)
    qtbot.addWidget(window)
    window.show()
    index = window.model_box.findData("my-mdx")
    assert index >= 0, [window.model_box.itemData(i) for i in range(window.model_box.count())]
    assert "MDX-Net" in window.model_box.itemData(index, Qt.ItemDataRole.ToolTipRole)
    window.model_box.setCurrentIndex(index)
    open_song(qtbot, window, song)
    separate(qtbot, window)
    assert list(window.view.lanes) == ["mixture", "vocals", "instrumental"]
    loaded = window.loaded
    residual = loaded.mixture - loaded.stems["vocals"] - loaded.stems["instrumental"]
    assert np.max(np.abs(residual)) < 1e-5
    assert sorted(p.name for p in loaded.track.stem_files.values()) == [
        "instrumental.wav", "vocals.wav"]
    window.close()
