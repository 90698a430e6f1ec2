"""The main toolbar: the transport (to start, play/pause, stop, position / duration), what
plays, the model and device, and the job buttons, with the app's own icons."""

from __future__ import annotations

from PySide6.QtCore import QSettings, QSize, Qt
from PySide6.QtWidgets import QComboBox, QLabel, QPushButton, QToolBar, QToolButton, QWidget

from engine import Separator

from ..icons import icon

AUTO = "auto"  # the model the engine ranks best among those installed


def _transport(name: str, text: str, tip: str) -> QToolButton:
    button = QToolButton()
    button.setObjectName("transport")
    button.setIcon(icon(name))
    button.setText(text)
    button.setToolTip(tip)
    button.setIconSize(QSize(20, 20))
    button.setFixedSize(34, 34)
    return button


def _caption(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("hint")
    return label


class Toolbar(QToolBar):
    """Buttons and boxes only; the window connects them. The model and device chosen are
    remembered in ``settings``; the model defaults to ``auto``, like everywhere else."""

    def __init__(self, settings: QSettings, parent: QWidget | None = None):
        super().__init__("Main", parent)
        self.setObjectName("main")
        self.settings = settings
        self.setIconSize(QSize(20, 20))
        self.rewind_button = _transport("rewind", "Start", "To the start (Home)")
        self.play_button = _transport("play", "Play", "Play (Space)")
        self.stop_button = _transport("stop", "Stop",
                                      "Stop: back to the start (or the loop's start)")
        self.position_label = QLabel("0:00.0 / 0:00.0")
        self.position_label.setObjectName("clock")
        self.position_label.setToolTip("Position / duration")
        self.listen = QComboBox()
        self.listen.addItems(["Original", "Stems"])
        self.listen.setToolTip("What plays: the original mix, or the stems through the mixer")
        self.model_box = self._models()
        self.device_box = self._devices()
        self.separate_button = QPushButton(icon("separate"), "Separate")
        self.separate_button.setObjectName("primary")
        self.separate_button.setToolTip("Split the song into its stems with the chosen model")
        self.cancel_button = QPushButton(icon("cancel"), "Cancel")
        self.cancel_button.setEnabled(False)
        self.export_button = QPushButton(icon("export"), "Export…")
        for w in (self.rewind_button, self.play_button, self.stop_button, self.position_label,
                  None, _caption("Listen"), self.listen, _caption("Model"), self.model_box,
                  _caption("on"), self.device_box, None, self.separate_button,
                  self.cancel_button, self.export_button):
            if w is None:
                self.addSeparator()
                continue
            if isinstance(w, QPushButton | QToolButton):
                w.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # space plays, never clicks
            self.addWidget(w)

    def show_playing(self, playing: bool) -> None:
        """The play button offers what a click does next: pause while playing."""
        self.play_button.setIcon(icon("pause" if playing else "play"))
        self.play_button.setText("Pause" if playing else "Play")
        self.play_button.setToolTip(("Pause" if playing else "Play") + " (Space)")

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
