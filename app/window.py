"""The main window: track list, session view, mixer, transport, jobs and menus."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, QStandardPaths, Qt, QThreadPool, QTimer
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QToolBar,
)

from engine import Progress, Separator, load_audio, probe_audio

from .exporting import ExportRequest, export
from .mixer import Mixer
from .peaks import Peaks
from .player import Player
from .spectro import Spectrogram, compute
from .state import Loop, MixerState, Project, TrackState
from .widgets.export_dialog import ExportDialog
from .widgets.lanes import SessionView
from .widgets.mixer_panel import MixerPanel
from .worker import Job

log = logging.getLogger(__name__)
AUDIO_FILTER = ("Audio (*.wav *.flac *.aif *.aiff *.ogg *.opus *.mp3 *.m4a *.aac *.mp4 "
                "*.alac);;All files (*)")


def sessions_root() -> Path:
    return Path(QStandardPaths.writableLocation(
        QStandardPaths.StandardLocation.AppLocalDataLocation)) / "sessions"


def session_dir(source: Path, model: str) -> Path:
    """Where a song's stems are kept: one folder per (file contents as of now, model)."""
    st = source.stat()
    key = f"{source.resolve()}|{st.st_size}|{st.st_mtime_ns}|{model}"
    return sessions_root() / hashlib.sha1(key.encode()).hexdigest()[:16]


@dataclass
class Loaded:
    """A song's audio in memory, with what the view draws."""

    track: TrackState
    sample_rate: int
    mixture: np.ndarray  # (C, N)
    block: np.ndarray | None = None  # (S, C, N): all stems, shared with the mixer
    stems: dict[str, np.ndarray] = field(default_factory=dict)  # views into ``block``
    peaks: dict[str, Peaks] = field(default_factory=dict)
    spectrograms: dict[str, Spectrogram] = field(default_factory=dict)
    complete: bool = False

    @property
    def n_frames(self) -> int:
        return self.mixture.shape[-1]

    def allocate(self, names: list[str]) -> None:
        """Silent stems to be filled in place: the mixer plays whatever has arrived."""
        self.block = np.zeros((len(names),) + self.mixture.shape, np.float32)
        self.stems = {name: self.block[i] for i, name in enumerate(names)}


def _load(track: TrackState) -> Loaded:
    """Decode the song (and its stems if separated before) and build the waveforms."""
    mixture, sr = load_audio(track.source)
    loaded = Loaded(track, sr, mixture)
    loaded.peaks["mixture"] = Peaks(mixture, sr)
    if track.stem_files and all(p.is_file() for p in track.stem_files.values()):
        loaded.allocate(list(track.stem_files))
        for name, path in track.stem_files.items():
            audio, _ = load_audio(path)
            loaded.stems[name][:] = audio[:, :loaded.n_frames]
            loaded.peaks[name] = Peaks(loaded.stems[name], sr)
        loaded.complete = True
    return loaded


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None, player: Player | None = None):
        super().__init__()
        self.setWindowTitle("Stemma")
        self.resize(1280, 820)
        self.setAcceptDrops(True)
        self.settings = settings or QSettings("Stemma", "Stemma")
        self.player = player or Player()
        self.project = Project()
        self.loaded: Loaded | None = None
        self.jobs: list[Job] = []
        self.separation: Job | None = None
        self.refused_box: QMessageBox | None = None  # says which files could not be opened
        self._dirty: set[str] = set()
        self._source = "mixture"  # what plays: the original mix or the stems
        self._build()
        self._timer = QTimer(self, interval=33, timeout=self._tick)
        self._timer.start()
        self._redraw_timer = QTimer(self, interval=100, timeout=self._redraw_dirty)
        self._redraw_timer.start()
        self._show_playback_state()
        # Importing a backend runs Python under the GIL for ~70 ms: do it now, off the UI
        # thread, rather than as a stall when the first song is separated.
        self._run(Job("warm up", lambda job: Separator(self.model_box.currentData()
                                                       or "classic").close()))

    # --- layout ----------------------------------------------------------------------

    def _build(self) -> None:
        self.track_list = QListWidget()
        self.track_list.currentRowChanged.connect(self._select_row)
        dock = QDockWidget("Tracks", self)
        dock.setWidget(self.track_list)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        self.drop_label = QLabel("Drop songs here\n(or File › Open)")
        self.drop_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.drop_label.setStyleSheet("font-size: 20px; color: #888; border: 2px dashed #666;"
                                      " margin: 40px")
        self.view = SessionView()
        self.view.seek_requested.connect(self._seek_seconds)
        self.view.loop_changed.connect(self._set_loop)
        self.view.spectrogram_toggled.connect(self._toggle_spectrogram)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.drop_label)
        self.stack.addWidget(self.view)
        self.setCentralWidget(self.stack)
        self.mixer_panel = MixerPanel()
        self.mixer_panel.changed.connect(self._mixer_changed)
        mixer_dock = QDockWidget("Mixer", self)
        mixer_dock.setWidget(self.mixer_panel)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, mixer_dock)
        self._build_toolbar()
        self._build_menus()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setFixedWidth(260)
        self.progress.setVisible(False)
        self.job_label = QLabel()
        self.playback_label = QLabel()
        self.statusBar().addWidget(self.job_label, 1)
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.playback_label)
        QShortcut(QKeySequence(Qt.Key.Key_Space), self, activated=self.toggle_play)

    def _build_toolbar(self) -> None:
        bar = QToolBar("Main")
        bar.setObjectName("main")
        self.addToolBar(bar)
        self.play_button = QPushButton("Play")
        self.play_button.clicked.connect(self.toggle_play)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.position_label = QLabel("0:00.0 / 0:00.0")
        self.position_label.setMinimumWidth(130)
        self.listen = QComboBox()
        self.listen.addItems(["Original", "Stems"])
        self.listen.setToolTip("What plays: the original mix, or the stems through the mixer")
        self.listen.currentTextChanged.connect(self._choose_source)
        self.model_box = QComboBox()
        self.model_stems = {}  # model name -> its stems: an added model may give other stems
        for info in Separator.models():
            self.model_box.addItem(f"{info.name}", info.name)
            self.model_box.setItemData(self.model_box.count() - 1, info.description,
                                       Qt.ItemDataRole.ToolTipRole)
            self.model_stems[info.name] = list(info.stems)
        self.model_box.setCurrentIndex(max(0, self.model_box.findData(
            self.settings.value("model", "classic"))))
        self.model_box.currentIndexChanged.connect(
            lambda: self.settings.setValue("model", self.model_box.currentData()))
        self.device_box = QComboBox()
        for device in Separator.available_devices():
            self.device_box.addItem(device.upper(), device)
        self.device_box.setCurrentIndex(max(0, self.device_box.findData(
            self.settings.value("device", "cpu"))))
        self.device_box.currentIndexChanged.connect(
            lambda: self.settings.setValue("device", self.device_box.currentData()))
        self.separate_button = QPushButton("Separate")
        self.separate_button.clicked.connect(self.separate_current)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_separation)
        self.export_button = QPushButton("Export…")
        self.export_button.clicked.connect(self.open_export)
        for w in (self.play_button, self.stop_button, self.position_label, QLabel(" Listen:"),
                  self.listen, QLabel("  Model:"), self.model_box, QLabel(" on "),
                  self.device_box, self.separate_button, self.cancel_button,
                  self.export_button):
            if isinstance(w, QPushButton):
                w.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # space plays, never clicks
            bar.addWidget(w)

    def _build_menus(self) -> None:
        menu = self.menuBar().addMenu("&File")
        for text, slot, keys in (("&Open…", self.open_files, QKeySequence.StandardKey.Open),
                                 ("Open &Project…", self.open_project, None),
                                 ("&Save Project…", self.save_project,
                                  QKeySequence.StandardKey.Save),
                                 ("&Export…", self.open_export, None),
                                 ("&Quit", self.close, QKeySequence.StandardKey.Quit)):
            action = QAction(text, self)
            action.triggered.connect(slot)
            if keys is not None:
                action.setShortcut(keys)
            menu.addAction(action)

    # --- tracks ----------------------------------------------------------------------

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
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
            model = self.model_box.currentData() or "classic"
            track = TrackState(path, model)
            cached = session_dir(path, model)
            files = {s: cached / f"{s}.wav" for s in self.stems_of(model)}
            if all(p.is_file() for p in files.values()):
                track.stem_files, track.status = files, "separated"
            self.project.tracks.append(track)
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

    def _label(self, row: int) -> None:
        track = self.project.tracks[row]
        self.track_list.item(row).setText(f"{track.name}  ·  {track.status}")

    def _select_row(self, row: int) -> None:
        if 0 <= row < len(self.project.tracks):
            self.load_track(self.project.tracks[row])

    def load_track(self, track: TrackState) -> None:
        self.job_label.setText(f"Opening {track.source.name}…")
        started = time.perf_counter()
        job = Job(f"open {track.name}", lambda job: _load(track))
        job.signals.finished.connect(lambda loaded: self._show(loaded, started))
        job.signals.failed.connect(self.job_label.setText)
        self._run(job)

    def _show(self, loaded: Loaded, started: float) -> None:
        if self.track_list.currentRow() < 0 or (
                self.project.tracks[self.track_list.currentRow()] is not loaded.track):
            return  # the user moved on meanwhile
        self.loaded = loaded
        track = loaded.track
        if not track.mixer.stems:
            track.mixer = MixerState.for_stems(self.stems_of(track.model))
        self.view.set_lanes(["mixture"] + list(track.mixer.stems))
        self.view.set_duration(loaded.n_frames / loaded.sample_rate)
        for name, peaks in loaded.peaks.items():
            self.view.set_audio(name, peaks)
        self.stack.setCurrentWidget(self.view)
        self.mixer_panel.bind(track.mixer)
        self.view.set_loop(self._loop_seconds(track.loop))
        self._choose_source("Stems" if loaded.complete else "Original")
        self.player.set_loop(self._loop_frames(track.loop))
        self.job_label.setText(f"{track.source.name}: shown in "
                               f"{time.perf_counter() - started:.2f} s")

    # --- separation -------------------------------------------------------------------

    def separate_current(self) -> None:
        loaded = self.loaded
        if loaded is None or self.separation is not None:
            return
        track = loaded.track
        track.model = self.model_box.currentData() or "classic"
        self._match_lanes(loaded)
        device = self.device_box.currentData() or "cpu"
        out = session_dir(track.source, track.model)
        names = list(track.mixer.stems)
        loaded.allocate(names)
        for name in names:  # empty lanes that fill as chunks arrive
            loaded.peaks[name] = Peaks(loaded.stems[name], loaded.sample_rate, filled=False)
            self.view.set_audio(name, loaded.peaks[name])
        loaded.complete = False
        if self._source == "stems":
            self._choose_source("Stems")  # the new, still silent block

        def store(job: Job, at: int, blocks: dict) -> None:
            """In the worker: copy the piece in and update its waveform, then tell the UI."""
            for name, block in blocks.items():
                loaded.stems[name][:, at:at + block.shape[-1]] = block
                loaded.peaks[name].update(at, at + block.shape[-1])
            job.signals.chunk.emit(at, list(blocks))

        def run(job: Job):
            separator = Separator(track.model, device=device)
            return separator.separate_file(
                track.source, out, stems=names, overwrite=True, cancel=job.token,
                on_progress=job.signals.progress.emit,
                on_chunk=lambda at, blocks: store(job, at, blocks))

        job = Job(f"separate {track.name}", run)
        job.signals.progress.connect(self._job_progress)
        job.signals.chunk.connect(lambda at, names: self._dirty.update(names))
        job.signals.finished.connect(lambda result, lo=loaded: self._separated(lo, result))
        job.signals.failed.connect(lambda msg, lo=loaded: self._separation_ended(lo, "failed",
                                                                                 msg))
        job.signals.cancelled.connect(lambda lo=loaded: self._separation_ended(
            lo, "cancelled", "Separation cancelled; nothing was written."))
        self.separation = job
        track.status = "separating"
        self._label(self.project.tracks.index(track))
        self.separate_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self._run(job)

    def stems_of(self, model: str) -> list[str]:
        return self.model_stems.get(model) or ["vocals", "drums", "bass", "other"]

    def _match_lanes(self, loaded: Loaded) -> None:
        """A model with other stems than the lanes show (e.g. an added two-stem model):
        lanes and mixer for its stems."""
        stems = self.stems_of(loaded.track.model)
        if list(loaded.track.mixer.stems) == stems:
            return
        loaded.track.mixer = MixerState.for_stems(stems)
        loaded.peaks = {"mixture": loaded.peaks["mixture"]}
        self.view.set_lanes(["mixture"] + stems)
        self.view.set_audio("mixture", loaded.peaks["mixture"])
        self.mixer_panel.bind(loaded.track.mixer)

    def cancel_separation(self) -> None:
        if self.separation is not None:
            self.job_label.setText("Cancelling…")
            self.separation.cancel()

    def _job_progress(self, p: Progress) -> None:
        self.progress.setValue(int(1000 * (p.fraction or 0)))
        eta = f", about {p.eta:.0f} s left" if p.eta is not None else ""
        self.job_label.setText(f"{p.stage.capitalize()} {int(100 * (p.fraction or 0))}%{eta}")

    def _separated(self, loaded: Loaded, result) -> None:
        track = loaded.track
        track.stem_files = {name: report.path for name, report in result.outputs.items()}
        loaded.complete = True
        if loaded is self.loaded:
            self._redraw_dirty()  # the last pieces, without waiting for the redraw timer
        self._separation_ended(loaded, "separated",
                               f"Separated {track.source.name} in {result.seconds:.1f} s "
                               f"({result.speed:.1f}x real time)")
        if loaded is self.loaded:
            self.listen.setCurrentText("Stems")

    def _separation_ended(self, loaded: Loaded, status: str, message: str) -> None:
        track = loaded.track
        track.status = status
        if status != "separated":
            for name in list(loaded.stems):  # nothing was kept: empty the lanes again
                loaded.peaks.pop(name, None)
                if loaded is self.loaded:
                    self.view.set_audio(name, None)
            loaded.stems, loaded.block = {}, None
            if loaded is self.loaded:
                self._choose_source("Original")
        self._label(self.project.tracks.index(track))
        self.separation = None
        self.separate_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setVisible(False)
        self.job_label.setText(message)

    def _run(self, job: Job) -> None:
        self.jobs = [j for j in self.jobs if not j.done] + [job]
        job.start()

    # --- playback ---------------------------------------------------------------------

    def _show_playback_state(self) -> None:
        ok = self.player.available
        for w in (self.play_button, self.stop_button):
            w.setEnabled(ok)
            w.setToolTip("" if ok else f"Playback is off: {self.player.reason}")
        self.playback_label.setText("" if ok else f"Playback off: {self.player.reason}")

    def _choose_source(self, text: str) -> None:
        """Original: the mix as it was. Stems: the stems through the mixer."""
        loaded = self.loaded
        if loaded is None:
            return
        self._source = "stems" if text == "Stems" and loaded.block is not None else "mixture"
        self.listen.blockSignals(True)
        self.listen.setCurrentText("Stems" if self._source == "stems" else "Original")
        self.listen.blockSignals(False)
        mixer = self._make_mixer(loaded)
        self.player.load(mixer, loaded.sample_rate)
        self._show_playback_state()

    def _make_mixer(self, loaded: Loaded) -> Mixer:
        if self._source == "stems" and loaded.block is not None:
            return Mixer(loaded.block, loaded.track.mixer.gains(loaded.block.shape[1]))
        mixture = loaded.mixture[None]
        gains = np.ones((1, 2), np.float32) if mixture.shape[1] == 2 else np.full(
            (1, 2), np.sqrt(0.5), np.float32)  # mono: equal power to both sides
        return Mixer(mixture, gains)

    def _mixer_changed(self) -> None:
        loaded = self.loaded
        mixer = self.player.mixer
        if loaded is None or mixer is None or self._source != "stems":
            return
        mixer.set_gains(loaded.track.mixer.gains(mixer.n_channels))

    def toggle_play(self) -> None:
        self.player.toggle()
        self.play_button.setText("Pause" if self.player.playing else "Play")

    def stop(self) -> None:
        self.player.stop()
        self.play_button.setText("Play")

    def _seek_seconds(self, seconds: float) -> None:
        if self.loaded is not None:
            self.player.seek(int(seconds * self.loaded.sample_rate))

    def _loop_frames(self, loop: Loop | None) -> tuple[int, int] | None:
        return (loop.start, loop.end) if loop is not None else None

    def _loop_seconds(self, loop: Loop | None) -> tuple[float, float] | None:
        if loop is None or self.loaded is None:
            return None
        return loop.start / self.loaded.sample_rate, loop.end / self.loaded.sample_rate

    def _set_loop(self, seconds: tuple[float, float] | None) -> None:
        loaded = self.loaded
        if loaded is None:
            return
        sr = loaded.sample_rate
        loop = None if seconds is None else Loop(int(seconds[0] * sr), int(seconds[1] * sr))
        loaded.track.loop = loop.clamp(loaded.n_frames) if loop else None
        self.player.set_loop(self._loop_frames(loaded.track.loop))

    def _tick(self) -> None:
        loaded = self.loaded
        if loaded is None:
            return
        sr = loaded.sample_rate
        pos = self.player.position
        self.view.set_position(pos / sr)
        self.position_label.setText(f"{pos // sr // 60}:{pos / sr % 60:04.1f} / "
                                    f"{loaded.n_frames // sr // 60}:"
                                    f"{loaded.n_frames / sr % 60:04.1f}")
        self.mixer_panel.meter.set_peak(self.player.peak if self.player.playing else 0.0)
        if not self.player.playing and self.play_button.text() == "Pause":
            self.play_button.setText("Play")

    def _redraw_dirty(self) -> None:
        for name in self._dirty:
            if name in self.view.lanes:
                self.view.redraw(name)
        self._dirty.clear()

    # --- spectrograms -----------------------------------------------------------------

    def _toggle_spectrogram(self, name: str, on: bool) -> None:
        loaded = self.loaded
        lane = self.view.lanes[name]
        if not on or loaded is None:
            lane.show_spectrogram(None)
            return
        if name in loaded.spectrograms:
            lane.show_spectrogram(loaded.spectrograms[name])
            return
        audio = loaded.mixture if name == "mixture" else loaded.stems.get(name)
        if audio is None:
            lane.spectrogram_box.setChecked(False)
            return
        job = Job(f"spectrogram {name}", lambda job: compute(audio, loaded.sample_rate))

        def done(spec: Spectrogram) -> None:
            loaded.spectrograms[name] = spec
            if loaded is self.loaded and name in self.view.lanes:
                self.view.lanes[name].show_spectrogram(spec)

        job.signals.finished.connect(done)
        self._run(job)

    # --- export and projects ------------------------------------------------------------

    def open_export(self) -> None:
        loaded = self.loaded
        if loaded is None or not loaded.complete:
            self.job_label.setText("Separate the song first, then export its stems.")
            return
        folder = Path(self.settings.value("export_folder", str(Path.home())))
        dialog = ExportDialog(self, loaded.track.name, list(loaded.stems), folder,
                              str(self.settings.value("format", "wav")),
                              loaded.track.loop is not None)
        if dialog.exec() and dialog.request is not None:
            self.start_export(dialog.request)

    def start_export(self, request: ExportRequest) -> Job:
        loaded = self.loaded
        assert loaded is not None
        self.settings.setValue("export_folder", str(request.folder))
        self.settings.setValue("format", request.fmt)
        state = loaded.track.mixer

        def run(job: Job):
            return export(request, loaded.stems, loaded.sample_rate, state, loaded.track.loop,
                          job.token.check,
                          lambda i, n, p: job.signals.progress.emit((i, n, p.name)))

        job = Job("export", run)
        job.signals.progress.connect(lambda t: self.job_label.setText(
            f"Exporting {t[2]} ({t[0] + 1}/{t[1]})"))
        job.signals.finished.connect(lambda paths: self.job_label.setText(
            f"Exported {len(paths)} file(s) to {request.folder}"))
        job.signals.failed.connect(lambda msg: self.job_label.setText(f"Export failed: {msg}"))
        self._run(job)
        return job

    def save_project(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save project", "", "Stemma project "
                                              "(*.stemma.json)")
        if path:
            self.project.save(path)
            self.job_label.setText(f"Saved {path}")

    def open_project(self, path: str | None = None) -> None:
        if not path:
            path, _ = QFileDialog.getOpenFileName(self, "Open project", "", "Stemma project "
                                                  "(*.stemma.json)")
        if not path:
            return
        try:
            project = Project.load(path)
        except (OSError, ValueError, KeyError) as err:
            QMessageBox.warning(self, "Open project", f"Cannot open {path}: {err}")
            return
        self.project = project
        self.track_list.clear()
        for row in range(len(project.tracks)):
            self.track_list.addItem(QListWidgetItem())
            self._label(row)
        if project.tracks:
            self.track_list.setCurrentRow(0)

    def closeEvent(self, event) -> None:  # noqa: N802
        """Stop what runs: cancel jobs and wait for them (a few seconds at most), close audio."""
        for job in self.jobs:
            job.cancel()
        QThreadPool.globalInstance().waitForDone(10_000)
        self.jobs.clear()
        self.separation = None
        self._timer.stop()
        self._redraw_timer.stop()
        self.player.close()
        super().closeEvent(event)
