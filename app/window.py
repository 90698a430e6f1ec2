"""The main window: track list, session view, mixer, transport, jobs and menus."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths, Qt, QThreadPool, QTimer
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QStackedWidget,
)

from engine import (
    JobRunner,
    ModelCache,
    Progress,
    Request,
    StemCache,
    resolve_model,
)

from . import theme
from .files import ExportMixin
from .icons import icon
from .lanes import LanesMixin
from .menus import Menus
from .opening import OpeningMixin
from .playback import PlaybackMixin
from .player import Player
from .server_control import ServerControl
from .session import Loaded
from .state import MixerState, Project
from .widgets.drop_zone import DropZone, TrackList
from .widgets.lanes import SessionView
from .widgets.mixer_panel import MixerPanel
from .widgets.toolbar import Toolbar
from .worker import Task, separation_job


def sessions_root() -> Path:
    """Where separations are kept between runs: the stem cache's root."""
    return Path(QStandardPaths.writableLocation(
        QStandardPaths.StandardLocation.AppLocalDataLocation)) / "sessions"


class MainWindow(OpeningMixin, PlaybackMixin, LanesMixin, ExportMixin, QMainWindow):
    def __init__(self, settings: QSettings | None = None, player: Player | None = None,
                 runner: JobRunner | None = None):
        super().__init__()
        theme.apply(QApplication.instance())
        self.setWindowTitle("Stemma")
        self.setWindowIcon(icon("stemma"))
        self.resize(1280, 820)
        self.setAcceptDrops(True)
        self.settings = settings or QSettings("Stemma", "Stemma")
        self.player = player or Player()
        self.project = Project()
        self.loaded: Loaded | None = None
        self.jobs: list[Task] = []
        self.separation: Task | None = None
        self.refused_box: QMessageBox | None = None  # says which files could not be opened
        self._dirty: set[str] = set()
        self._source = "mixture"  # what plays: the original mix or the stems
        self._build()
        self._timer = QTimer(self, interval=33, timeout=self._tick)
        self._timer.start()
        self._redraw_timer = QTimer(self, interval=100, timeout=self._redraw_dirty)
        self._redraw_timer.start()
        self._show_playback_state()
        # The chosen model's lanes, built now while the drop zone shows: the first song
        # dropped only fills them in (building them took ~0.3 s of the drop-to-waveform time).
        self.view.set_lanes(["mixture"] + self.stems_of(self.toolbar.model))
        # One job service for the window's life: a model loads once and serves every song.
        self.runner = runner or JobRunner(ModelCache(), StemCache(sessions_root()))
        # Loading a model runs Python under the GIL (~70 ms for a backend's imports, seconds
        # for weights): do it now, off the UI thread, not as a stall at the first Separate.
        self._run(Task("warm up", lambda job: self.runner.prepare(self._request_for(None))))

    # --- layout ----------------------------------------------------------------------

    def _build(self) -> None:
        self.track_list = TrackList()
        self.track_list.currentRowChanged.connect(self._select_row)
        dock = QDockWidget("Tracks", self)
        dock.setWidget(self.track_list)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        self.track_list.setMinimumWidth(220)
        self.drop_zone = DropZone()
        self.drop_zone.open_requested.connect(self.open_files)
        self.view = SessionView()
        self.view.seek_requested.connect(self._seek_seconds)
        self.view.loop_changed.connect(self._set_loop)
        self.view.spectrogram_toggled.connect(self._toggle_spectrogram)
        self.view.mix_changed.connect(self._lanes_changed)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.drop_zone)
        self.stack.addWidget(self.view)
        self.setCentralWidget(self.stack)
        self.mixer_panel = MixerPanel()
        self.mixer_panel.changed.connect(self._mix_edited)
        mixer_dock = QDockWidget("Mixer", self)
        mixer_dock.setWidget(self.mixer_panel)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, mixer_dock)
        self._build_toolbar()
        self.menus = Menus(self)  # File, View, Help; more via self.menus.menu(title)
        # The bar carries no text: the percentage is a label beside it, never on the fill.
        self.progress = QProgressBar(textVisible=False)
        self.progress.setRange(0, 1000)
        self.progress.setFixedWidth(220)
        self.progress_label = QLabel()
        self.progress_label.setMinimumWidth(44)
        for w in (self.progress, self.progress_label):
            w.setVisible(False)
        self.job_label = QLabel()
        self.playback_label = QLabel()
        self.statusBar().addWidget(self.job_label, 1)
        for w in (self.progress, self.progress_label, self.playback_label):
            self.statusBar().addPermanentWidget(w)
        self.server = ServerControl(self)  # Server › Local server, and its status

    def _build_toolbar(self) -> None:
        bar = self.toolbar = Toolbar(self.settings, self)
        self.addToolBar(bar)
        for name in ("play_button", "stop_button", "position_label", "listen", "model_box",
                     "device_box", "separate_button", "cancel_button", "export_button"):
            setattr(self, name, getattr(bar, name))
        bar.play_button.clicked.connect(self.toggle_play)
        bar.rewind_button.clicked.connect(self.rewind)
        bar.stop_button.clicked.connect(self.stop)
        bar.listen.currentTextChanged.connect(self._choose_source)
        bar.separate_button.clicked.connect(self.separate_current)
        bar.cancel_button.clicked.connect(self.cancel_separation)
        bar.export_button.clicked.connect(self.open_export)

    # --- tracks ----------------------------------------------------------------------

    def _label(self, row: int, status: str | None = None) -> None:
        track = self.project.tracks[row]
        item = self.track_list.item(row)
        item.setText(f"{track.name}\n{status or track.status}")
        item.setToolTip(str(track.source))

    # --- separation -------------------------------------------------------------------

    def _request_for(self, source: Path | None) -> Request:
        """What Separate asks the job service for: every stem of the chosen model, kept in
        the stem cache (for the warm-up, with no song yet, only the model matters)."""
        if source is None:
            return Request(Path("."), Path("."), self.toolbar.model, self.toolbar.device)
        return self.runner.cached_request(source, self.toolbar.model, self.toolbar.device)

    def separate_current(self) -> None:
        loaded = self.loaded
        if loaded is None or self.separation is not None:
            return
        track = loaded.track
        track.model = self.toolbar.model
        self._match_lanes(loaded)
        loaded.allocate(list(track.mixer.stems))
        for name in loaded.stems:  # empty lanes that fill as chunks arrive
            self.view.set_audio(name, loaded.peaks[name])
        if self._source == "stems":
            self._choose_source("Stems")  # the new, still silent block
        job = separation_job(f"separate {track.name}", self.runner,
                             self._request_for(track.source), loaded.store)
        job.signals.progress.connect(self._job_progress)
        job.signals.progress.connect(lambda p, t=track: self._label(
            self.project.tracks.index(t), f"separating {int(100 * (p.fraction or 0))}%"))
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
        self._job_progress(None)
        self._run(job)

    def stems_of(self, model: str) -> list[str]:
        """The stems a model gives, as its manifest declares them."""
        return list(resolve_model(model).stems)

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
        self.view.bind_mix(loaded.track.mixer)

    def cancel_separation(self) -> None:
        if self.separation is not None:
            self.job_label.setText("Cancelling…")
            self.separation.cancel()

    def _job_progress(self, p: Progress | None) -> None:
        """The engine's progress: the bar, the percentage beside it, the stage and time left
        in the status line (None: the job is starting)."""
        fraction = (p.fraction or 0.0) if p is not None else 0.0
        self.progress.setValue(int(1000 * fraction))
        self.progress_label.setText(f"{int(100 * fraction)}%")
        for w in (self.progress, self.progress_label):
            w.setVisible(True)
        if p is None:
            self.job_label.setText("Starting…")
            return
        eta = f", about {p.eta:.0f} s left" if p.eta is not None and p.eta > 0 else ""
        self.job_label.setText(f"{p.stage.capitalize()} {int(100 * fraction)}%{eta}")

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
            for name in loaded.discard_stems():  # nothing was kept: empty the lanes again
                if loaded is self.loaded:
                    self.view.set_audio(name, None)
            if loaded is self.loaded:
                self._choose_source("Original")
        self._label(self.project.tracks.index(track))
        self.separation = None
        self.separate_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        for w in (self.progress, self.progress_label):
            w.setVisible(False)
        self.job_label.setText(message)

    def _run(self, job: Task) -> None:
        self.jobs = [j for j in self.jobs if not j.done] + [job]
        job.start()

    def closeEvent(self, event) -> None:  # noqa: N802
        """Stop what runs: cancel jobs and wait for them (a few seconds at most), close audio."""
        for job in self.jobs:
            job.cancel()
        QThreadPool.globalInstance().waitForDone(10_000)
        self.runner.close()
        self.jobs.clear()
        self.separation = None
        self._timer.stop()
        self._redraw_timer.stop()
        self.player.close()
        super().closeEvent(event)
