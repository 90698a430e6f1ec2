"""Export: which stems, the karaoke track, the current mix, format, bit depth, file names, and
whether to write the whole song or the loop region only."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
)

from engine import VOCALS

from ..exporting import ExportRequest

DEPTHS = {"wav": ["32f", "24", "16"], "flac": ["24", "16"]}
MIN_FOLDER_WIDTH = 280  # px
MAX_FOLDER_WIDTH = 760  # px: wider paths show their end; the tooltip has them whole


class ExportDialog(QDialog):
    def __init__(self, parent, track: str, stems: list[str], folder: Path, fmt: str,
                 has_loop: bool):
        super().__init__(parent)
        self.setWindowTitle(f"Export {track}")
        self.track = track
        self.stem_boxes = {name: QCheckBox(name.capitalize(), checked=True) for name in stems}
        self.karaoke = QCheckBox("Karaoke (everything but the vocals)",
                                 checked=False, enabled=VOCALS in stems)
        self.remix = QCheckBox("Current mix (the mixer as you hear it)", checked=False)
        self.loop_only = QCheckBox("Loop region only", checked=False, enabled=has_loop)
        self.format = QComboBox()
        self.format.addItems(list(DEPTHS))
        self.depth = QComboBox()
        self.format.currentTextChanged.connect(self._depths)
        self.format.setCurrentText(fmt if fmt in DEPTHS else "wav")
        self._depths(self.format.currentText())
        self.template = QLineEdit("{track}_{stem}")
        self.template.setToolTip("File names: {track} is the song, {stem} the stem")
        self.folder = QLineEdit(str(folder))
        self.folder.textChanged.connect(self._fit_folder)
        self._fit_folder(self.folder.text())
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        stems_box = QGroupBox("Stems")
        stems_row = QHBoxLayout(stems_box)
        for box in self.stem_boxes.values():
            stems_row.addWidget(box)
        form = QFormLayout()
        form.addRow("Format", self.format)
        form.addRow("Bit depth", self.depth)
        form.addRow("File names", self.template)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder)
        folder_row.addWidget(browse)
        form.addRow("Folder", folder_row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        export = buttons.button(QDialogButtonBox.StandardButton.Ok)
        export.setText("Export")
        export.setObjectName("primary")
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        col = QVBoxLayout(self)
        for w in (stems_box, self.karaoke, self.remix, self.loop_only):
            col.addWidget(w)
        col.addLayout(form)
        self.preview = QLabel()
        col.addWidget(self.preview)
        col.addWidget(buttons)
        self.request: ExportRequest | None = None

    def _fit_folder(self, text: str) -> None:
        """The folder field as wide as its path, so the path is seen whole, not cut."""
        self.folder.ensurePolished()  # the style sheet's font, not the default one
        width = self.folder.fontMetrics().horizontalAdvance(text) + 32
        self.folder.setMinimumWidth(min(MAX_FOLDER_WIDTH, max(MIN_FOLDER_WIDTH, width)))
        self.folder.setToolTip(text)

    def _depths(self, fmt: str) -> None:
        self.depth.clear()
        self.depth.addItems(DEPTHS[fmt])

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to", self.folder.text())
        if folder:
            self.folder.setText(folder)

    def build(self) -> ExportRequest:
        return ExportRequest(
            folder=Path(self.folder.text()).expanduser(), track=self.track,
            stems=[n for n, box in self.stem_boxes.items() if box.isChecked()],
            karaoke=self.karaoke.isChecked(), remix=self.remix.isChecked(),
            loop_only=self.loop_only.isChecked() and self.loop_only.isEnabled(),
            fmt=self.format.currentText(), bit_depth=self.depth.currentText(),
            template=self.template.text() or "{track}_{stem}")

    def _accept(self) -> None:
        request = self.build()
        try:
            targets = request.targets()
        except (KeyError, IndexError, ValueError):
            QMessageBox.warning(self, "Export", "File names may use {track} and {stem} only.")
            return
        if not targets:
            QMessageBox.warning(self, "Export", "Choose at least one thing to export.")
            return
        if len(set(targets.values())) < len(targets):
            QMessageBox.warning(self, "Export", "The file name template gives two files one "
                                "name; include {stem}.")
            return
        existing = request.existing()
        if existing:
            names = "\n".join(p.name for p in existing[:8])
            answer = QMessageBox.question(self, "Replace files?",
                                          f"These files exist already:\n{names}\n\nReplace them?")
            if answer != QMessageBox.StandardButton.Yes:
                return
            request.overwrite = True
        self.request = request
        self.accept()
