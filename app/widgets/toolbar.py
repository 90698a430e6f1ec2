"""The main toolbar: transport, what plays, the model and device, and the job buttons."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QComboBox, QLabel, QPushButton, QToolBar, QWidget

from engine import Separator

AUTO = "auto"  # the model the engine ranks best among those installed


class Toolbar(QToolBar):
    """Buttons and boxes only; the window connects them. The model and device chosen are
    remembered in ``settings``; the model defaults to ``auto``, like everywhere else."""

    def __init__(self, settings: QSettings, parent: QWidget | None = None):
        super().__init__("Main", parent)
        self.setObjectName("main")
        self.settings = settings
        self.play_button = QPushButton("Play")
        self.stop_button = QPushButton("Stop")
        self.position_label = QLabel("0:00.0 / 0:00.0")
        self.position_label.setMinimumWidth(130)
        self.listen = QComboBox()
        self.listen.addItems(["Original", "Stems"])
        self.listen.setToolTip("What plays: the original mix, or the stems through the mixer")
        self.model_box = self._models()
        self.device_box = self._devices()
        self.separate_button = QPushButton("Separate")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.export_button = QPushButton("Export…")
        for w in (self.play_button, self.stop_button, self.position_label, QLabel(" Listen:"),
                  self.listen, QLabel("  Model:"), self.model_box, QLabel(" on "),
                  self.device_box, self.separate_button, self.cancel_button,
                  self.export_button):
            if isinstance(w, QPushButton):
                w.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # space plays, never clicks
            self.addWidget(w)

    def _models(self) -> QComboBox:
        box = QComboBox()
        installed = Separator.models()
        box.addItem(AUTO, AUTO)
        box.setItemData(0, "the best measured model installed", Qt.ItemDataRole.ToolTipRole)
        for info in installed:
            box.addItem(info.name, info.name)
            box.setItemData(box.count() - 1, info.description, Qt.ItemDataRole.ToolTipRole)
        box.setCurrentIndex(max(0, box.findData(self.settings.value("model", AUTO))))
        box.currentIndexChanged.connect(lambda: self.settings.setValue("model", self.model))
        return box

    def _devices(self) -> QComboBox:
        box = QComboBox()
        for device in Separator.available_devices():
            box.addItem(device.upper(), device)
        box.setCurrentIndex(max(0, box.findData(self.settings.value("device", "cpu"))))
        box.currentIndexChanged.connect(lambda: self.settings.setValue("device", self.device))
        return box

    @property
    def model(self) -> str:
        return self.model_box.currentData() or AUTO

    @property
    def device(self) -> str:
        return self.device_box.currentData() or "cpu"
