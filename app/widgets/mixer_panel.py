"""The mixer: a strip per stem (solo, mute, gain fader in dB, pan), a master strip with a level
meter, and presets (karaoke, all but one stem). It edits a plain ``MixerState`` and says
``changed``; the window turns that into gains for the audio callback."""

from __future__ import annotations

import math

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QDial,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine import VOCALS

from ..state import MAX_DB, MIN_DB, MixerState
from .lanes import COLOURS

STEPS_PER_DB = 10  # fader resolution: 0.1 dB


class LevelMeter(QWidget):
    """A vertical peak meter from -60 to 0 dBFS, red above -1 dB."""

    def __init__(self) -> None:
        super().__init__()
        self.setFixedWidth(16)
        self.setMinimumHeight(100)
        self.level_db = -math.inf

    def set_peak(self, peak: float) -> None:
        self.level_db = 20 * math.log10(peak) if peak > 1e-6 else -math.inf
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#202020"))
        frac = 0.0 if self.level_db == -math.inf else min(1.0, max(0.0, 1 + self.level_db / 60))
        h = self.height() * frac
        colour = QColor("#e03131") if self.level_db > -1 else QColor("#40c057")
        p.fillRect(QRectF(2, self.height() - h, self.width() - 4, h), colour)
        p.end()


class Strip(QWidget):
    changed = Signal()

    def __init__(self, name: str, state: MixerState):
        super().__init__()
        self.name, self.state = name, state
        mix = state.stems[name]
        label = QLabel(name.capitalize())
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setStyleSheet(f"color: {COLOURS.get(name, '#ddd')}; font-weight: bold")
        self.solo = QPushButton("S", checkable=True)
        self.solo.setToolTip(f"Solo {name}")
        self.mute = QPushButton("M", checkable=True)
        self.mute.setToolTip(f"Mute {name}")
        for button in (self.solo, self.mute):
            button.setFixedWidth(28)
        self.fader = QSlider(Qt.Orientation.Vertical)
        self.fader.setRange(int(MIN_DB * STEPS_PER_DB), int(MAX_DB * STEPS_PER_DB))
        self.fader.setToolTip(f"{name} gain (dB); double-click the value to reset")
        self.db_label = QLabel()
        self.db_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.pan = QDial()
        self.pan.setRange(-100, 100)
        self.pan.setFixedSize(40, 40)
        self.pan.setToolTip(f"{name} pan")
        self.solo.setChecked(mix.solo)
        self.mute.setChecked(mix.mute)
        self.fader.setValue(round(mix.gain_db * STEPS_PER_DB))
        self.pan.setValue(round(mix.pan * 100))
        self._show_db()
        buttons = QHBoxLayout()
        buttons.addWidget(self.solo)
        buttons.addWidget(self.mute)
        col = QVBoxLayout(self)
        col.setContentsMargins(2, 2, 2, 2)
        col.addWidget(label)
        col.addLayout(buttons)
        col.addWidget(self.pan, alignment=Qt.AlignmentFlag.AlignCenter)
        col.addWidget(self.fader, stretch=1, alignment=Qt.AlignmentFlag.AlignHCenter)
        col.addWidget(self.db_label)
        self.solo.toggled.connect(self._edit)
        self.mute.toggled.connect(self._edit)
        self.fader.valueChanged.connect(self._edit)
        self.pan.valueChanged.connect(self._edit)

    def _show_db(self) -> None:
        db = self.fader.value() / STEPS_PER_DB
        self.db_label.setText("-inf dB" if db <= MIN_DB else f"{db:+.1f} dB")

    def _edit(self) -> None:
        mix = self.state.stems[self.name]
        mix.solo, mix.mute = self.solo.isChecked(), self.mute.isChecked()
        mix.gain_db = self.fader.value() / STEPS_PER_DB
        mix.pan = self.pan.value() / 100
        self._show_db()
        self.changed.emit()

    def sync(self) -> None:
        """Show the state after a preset changed it, without echoing edits back."""
        mix = self.state.stems[self.name]
        for widget, value in ((self.solo, mix.solo), (self.mute, mix.mute)):
            widget.blockSignals(True)
            widget.setChecked(value)
            widget.blockSignals(False)
        for widget, value in ((self.fader, round(mix.gain_db * STEPS_PER_DB)),
                              (self.pan, round(mix.pan * 100))):
            widget.blockSignals(True)
            widget.setValue(value)
            widget.blockSignals(False)
        self._show_db()


class MixerPanel(QWidget):
    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.state: MixerState | None = None
        self.strips: dict[str, Strip] = {}
        self.meter = LevelMeter()
        self.master = QSlider(Qt.Orientation.Vertical)
        self.master.setRange(int(MIN_DB * STEPS_PER_DB), int(MAX_DB * STEPS_PER_DB))
        self.master.setToolTip("Master gain (dB)")
        self.master.valueChanged.connect(self._edit_master)
        self.karaoke_button = QPushButton("Karaoke")
        self.karaoke_button.setToolTip("Mute the vocals")
        self.karaoke_button.clicked.connect(self.karaoke)
        self.all_but_button = QToolButton()
        self.all_but_button.setText("All but…")
        self.all_but_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.all_but_menu = QMenu(self)
        self.all_but_button.setMenu(self.all_but_menu)
        self.reset_button = QPushButton("Reset")
        self.reset_button.clicked.connect(self.reset)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(4, 4, 4, 4)
        presets = QVBoxLayout()
        for w in (self.karaoke_button, self.all_but_button, self.reset_button):
            presets.addWidget(w)
        presets.addStretch()
        master = QVBoxLayout()
        master.addWidget(QLabel("Master"))
        meter_row = QHBoxLayout()
        meter_row.addWidget(self.master)
        meter_row.addWidget(self.meter)
        master.addLayout(meter_row, stretch=1)
        self._master_box = QWidget()
        self._master_box.setLayout(master)
        self._presets_box = QWidget()
        self._presets_box.setLayout(presets)
        self.setEnabled(False)

    def bind(self, state: MixerState | None) -> None:
        """Show strips for ``state``'s stems (None: an empty, disabled panel)."""
        for strip in self.strips.values():
            strip.setParent(None)
            strip.deleteLater()
        self.strips = {}
        self.state = state
        self.all_but_menu.clear()
        if state is None:
            self.setEnabled(False)
            return
        for i, name in enumerate(state.stems):
            strip = Strip(name, state)
            strip.changed.connect(self.changed)
            self._grid.addWidget(strip, 0, i)
            self.strips[name] = strip
            self.all_but_menu.addAction(f"All but {name}", lambda n=name: self.all_but(n))
        self._grid.addWidget(self._master_box, 0, len(self.strips))
        self._grid.addWidget(self._presets_box, 0, len(self.strips) + 1)
        self.master.blockSignals(True)
        self.master.setValue(round(state.master_db * STEPS_PER_DB))
        self.master.blockSignals(False)
        self.setEnabled(True)

    def _edit_master(self, value: int) -> None:
        if self.state is not None:
            self.state.master_db = value / STEPS_PER_DB
            self.changed.emit()

    def _apply(self) -> None:
        for strip in self.strips.values():
            strip.sync()
        self.changed.emit()

    def karaoke(self) -> None:
        if self.state is not None and VOCALS in self.state.stems:
            self.state.karaoke()
            self._apply()

    def all_but(self, name: str) -> None:
        if self.state is not None:
            self.state.all_but(name)
            self._apply()

    def reset(self) -> None:
        if self.state is not None:
            self.state.reset()
            self._apply()
