"""The window's files: export (through the engine's one writer, ``exporting.export``) and
projects (save and open). A mixin of ``MainWindow``; it uses the window's ``loaded``,
``settings``, ``project``, ``track_list``, ``job_label`` and ``_run``."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QListWidgetItem, QMessageBox

from .exporting import ExportRequest, export
from .state import Project
from .widgets.export_dialog import ExportDialog
from .worker import Task


class ExportMixin:
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

    def start_export(self, request: ExportRequest) -> Task:
        loaded = self.loaded
        assert loaded is not None
        self.settings.setValue("export_folder", str(request.folder))
        self.settings.setValue("format", request.fmt)
        state = loaded.track.mixer

        def run(job: Task):
            return export(request, loaded.stems, loaded.sample_rate, state, loaded.track.loop,
                          job.token.check,
                          lambda i, n, p: job.signals.progress.emit((i, n, p.name)))

        job = Task("export", run)
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
