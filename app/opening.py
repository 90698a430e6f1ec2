"""Opening songs: drag and drop or the file dialog queue them as rows (unreadable files refused
with a reason), and choosing a row opens its song in two passes, the waveform first
(``session.preview``) and then the decoded audio (``session.load``). A mixin of ``MainWindow``;
it uses the window's ``project``, ``track_list``, ``view``, ``player``, ``toolbar``, ``menus``,
``runner``, ``mixer_panel``, ``job_label``, ``loaded`` and ``_run``."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QListWidgetItem, QMessageBox

from engine import probe_audio

from .peaks import Peaks
from .session import Loaded, load, preview
from .state import MixerState, TrackState
from .worker import Task

log = logging.getLogger(__name__)
AUDIO_FILTER = ("Audio (*.wav *.flac *.aif *.aiff *.ogg *.opus *.mp3 *.m4a *.aac *.mp4 "
                "*.alac);;All files (*)")


class OpeningMixin:
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
            self.drop_zone.set_highlight(True)

    def dragLeaveEvent(self, event) -> None:  # noqa: N802
        self.drop_zone.set_highlight(False)

    def dropEvent(self, event) -> None:  # noqa: N802
        self.drop_zone.set_highlight(False)
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.add_files(paths)

    def open_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open songs", "", AUDIO_FILTER)
        self.add_files([Path(p) for p in paths])

    def add_files(self, paths: list[Path]) -> None:
        """Queue songs as rows; the first new one is shown. Unreadable files are refused, and
        a message box that stays until dismissed says which and why."""
        first = None
        refused = []
        for path in paths:
            try:
                probe_audio(path)
            except Exception as err:  # EngineError: a clear one-line reason
                refused.append(str(err))
                log.warning("refused %s: %s", path, err)
                continue
            track = TrackState(path, self.toolbar.model)
            files = self.runner.already_separated(path, track.model)
            if files:
                track.stem_files, track.status = files, "separated"
            self.project.tracks.append(track)
            self.menus.remember(path)
            item = QListWidgetItem()
            self.track_list.addItem(item)
            self._label(len(self.project.tracks) - 1)
            first = len(self.project.tracks) - 1 if first is None else first
        if first is not None:
            self.track_list.setCurrentRow(first)
        if refused:
            self._show_refused(refused)

    def _show_refused(self, reasons: list[str]) -> None:
        """A window-modal box (not blocking the event loop) listing each refused file."""
        self.job_label.setText(reasons[-1])
        text = "\n\n".join(reasons)
        if self.refused_box is not None and self.refused_box.isVisible():
            text = f"{self.refused_box.informativeText()}\n\n{text}"
            self.refused_box.close()
        box = QMessageBox(QMessageBox.Icon.Warning, "Cannot open",
                          "Stemma cannot open these files:", QMessageBox.StandardButton.Ok, self)
        box.setInformativeText(text)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.open()
        self.refused_box = box

    def _select_row(self, row: int) -> None:
        if 0 <= row < len(self.project.tracks):
            self.load_track(self.project.tracks[row])

    def load_track(self, track: TrackState) -> None:
        """Open a song: its waveform shows as soon as a first pass over the file has drawn
        it (``preview``), then the song plays once it is decoded into memory (``load``)."""
        self.job_label.setText(f"Opening {track.source.name}…")
        started = time.perf_counter()

        def open_song(job: Task) -> Loaded:
            peaks = preview(track)
            job.signals.preview.emit(peaks)
            return load(track, peaks)

        job = Task(f"open {track.name}", open_song)
        job.signals.preview.connect(lambda peaks: self._show_preview(track, peaks, started))
        job.signals.finished.connect(lambda loaded: self._show(loaded, started))
        job.signals.failed.connect(self.job_label.setText)
        self._run(job)

    def _current(self, track: TrackState) -> bool:
        row = self.track_list.currentRow()
        return 0 <= row < len(self.project.tracks) and self.project.tracks[row] is track

    def _show_preview(self, track: TrackState, peaks: Peaks, started: float) -> None:
        """A newly chosen song's waveform, before its audio is in memory: the last song stops
        and is let go (nothing plays until this one is decoded)."""
        if not self._current(track) or (self.loaded is not None and self.loaded.track is track):
            return
        self.loaded = None
        self.player.load(None, peaks.sample_rate)
        self._start_fresh()
        self.view.set_lanes(["mixture"] + (list(track.mixer.stems)
                                           or self.stems_of(track.model)))
        self.view.set_duration(peaks.n_frames / peaks.sample_rate)
        self.view.set_audio("mixture", peaks)
        self.stack.setCurrentWidget(self.view)
        self.job_label.setText(f"{track.source.name}: waveform in "
                               f"{time.perf_counter() - started:.2f} s; decoding…")

    def _start_fresh(self) -> None:
        """Another song: paused, its playhead at 0 (not where the last one was), and its
        lanes showing waveforms."""
        self.player.pause()
        self.player.seek(0)
        self.toolbar.show_playing(False)
        self.view.set_position(0.0)
        self.menus.actions["waveforms"].setChecked(True)

    def _show(self, loaded: Loaded, started: float) -> None:
        if not self._current(loaded.track):
            return  # the user moved on meanwhile
        fresh = self.loaded is None or self.loaded.track is not loaded.track
        self.loaded = loaded
        track = loaded.track
        if fresh:
            self._start_fresh()
        if not track.mixer.stems:
            track.mixer = MixerState.for_stems(self.stems_of(track.model))
        self.view.set_lanes(["mixture"] + list(track.mixer.stems))
        self.view.set_duration(loaded.n_frames / loaded.sample_rate)
        for name, peaks in loaded.peaks.items():
            self.view.set_audio(name, peaks)
        self.stack.setCurrentWidget(self.view)
        self.mixer_panel.bind(track.mixer)
        self.view.bind_mix(track.mixer)
        self.view.set_loop(self._loop_seconds(track.loop))
        self._choose_source("Stems" if loaded.complete else "Original")
        self.player.set_loop(self._loop_frames(track.loop))
        self.job_label.setText(f"{track.source.name}: ready to play in "
                               f"{time.perf_counter() - started:.2f} s")

