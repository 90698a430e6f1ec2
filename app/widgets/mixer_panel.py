"""The mixer: a strip per stem (solo, mute, gain fader in dB, pan), a master strip with a level
meter, and presets (karaoke, all but one stem). It edits a plain ``MixerState`` and says
``changed``; the window turns that into gains for the audio callback."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
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

from .. import theme
from ..meter import LevelMeter
from ..state import MAX_DB, MIN_DB, MixerState
from .lane_header import STEPS_PER_DB, db_text, small_button

FADER_HEIGHT = 96  # px: long enough to set a gain to a tenth of a dB with the mouse


def pan_text(pan: float) -> str:
    """-1..1 as the knob's readout: C in the middle, else the side and how far (L 30, R 100)."""
    amount = round(abs(pan) * 100)
    return "C" if amount == 0 else f"{'L' if pan < 0 else 'R'} {amount}"


def _mark(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("value")
    return label


class Strip(QWidget):
    changed = Signal()

    def __init__(self, name: str, state: MixerState):
        super().__init__()
        self.name, self.state = name, state
        self.setObjectName("strip")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        mix = state.stems[name]
        label = QLabel(name.capitalize())
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        colour = theme.stem_colour(name)
        label.setStyleSheet(f"color: {colour}; font-weight: bold; border-bottom: 2px solid "
                            f"{colour}; padding-bottom: 2px")
        self.solo = small_button("S", "solo", f"Solo {name}")
        self.mute = small_button("M", "mute", f"Mute {name}")
        self.fader = QSlider(Qt.Orientation.Vertical)
        self.fader.setMinimumHeight(FADER_HEIGHT)
        self.fader.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.fader.setRange(int(MIN_DB * STEPS_PER_DB), int(MAX_DB * STEPS_PER_DB))
        self.fader.setToolTip(f"{name} gain (dB); double-click the value to reset")
        self.db_label = QLabel()
        self.db_label.setObjectName("value")
        self.db_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.pan = QDial()
        self.pan.setRange(-100, 100)
        self.pan.setNotchesVisible(True)
        self.pan.setFixedSize(36, 36)
        self.pan.setToolTip(f"{name} pan (L to R)")
        self.pan.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.pan_label = QLabel()
        self.pan_label.setObjectName("value")
        self.pan_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.solo.setChecked(mix.solo)
        self.mute.setChecked(mix.mute)
        self.fader.setValue(round(mix.gain_db * STEPS_PER_DB))
        self.pan.setValue(round(mix.pan * 100))
        self._show_db()
        buttons = QHBoxLayout()
        buttons.addWidget(self.solo)
        buttons.addWidget(self.mute)
        knob = QHBoxLayout()
        knob.setSpacing(2)
        for w in (_mark("L"), self.pan, _mark("R")):
            knob.addWidget(w)
        col = QVBoxLayout(self)
        col.setContentsMargins(6, 6, 6, 6)
        col.addWidget(label)
        col.addLayout(buttons)
        col.addLayout(knob)
        col.addWidget(self.pan_label)
        col.addWidget(self.fader, stretch=1, alignment=Qt.AlignmentFlag.AlignHCenter)
        col.addWidget(self.db_label)
        self.solo.toggled.connect(self._edit)
        self.mute.toggled.connect(self._edit)
        self.fader.valueChanged.connect(self._edit)
        self.pan.valueChanged.connect(self._edit)

    def _show_db(self) -> None:
        self.db_label.setText(db_text(self.fader.value() / STEPS_PER_DB))
        self.pan_label.setText(pan_text(self.pan.value() / 100))

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
        self.master.setMinimumHeight(FADER_HEIGHT)
        self.master.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.master.valueChanged.connect(self._edit_master)
        self.master_label = QLabel(db_text(0.0))
        self.master_label.setObjectName("value")
        self.master_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
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
        title = QLabel("Master")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title.setStyleSheet(f"font-weight: bold; border-bottom: 2px solid {theme.TEXT}; "
                            "padding-bottom: 2px")
        master.addWidget(title)
        meter_row = QHBoxLayout()
        meter_row.addWidget(self.master)
        meter_row.addWidget(self.meter)
        master.addLayout(meter_row, stretch=1)
        master.addWidget(self.master_label)
        self._master_box = QWidget()
        self._master_box.setObjectName("strip")
        self._master_box.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        self._master_box.setLayout(master)
        self._presets_box = QWidget()
        self._presets_box.setLayout(presets)
        self.empty_hint = QLabel("Open a song and press Separate: each stem gets a strip here "
                                 "(solo, mute, pan, gain), beside the master and its meter.")
        self.empty_hint.setObjectName("hint")
        self._grid.addWidget(self.empty_hint, 0, 0)
        self.setEnabled(False)

    def bind(self, state: MixerState | None) -> None:
        """Show strips for ``state``'s stems (None: an empty, disabled panel)."""
        for strip in self.strips.values():
            strip.setParent(None)
            strip.deleteLater()
        self.strips = {}
        self.state = state
        self.all_but_menu.clear()
        self.empty_hint.setVisible(state is None)
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
        self._grid.setColumnStretch(len(self.strips) + 2, 1)  # strips packed on the left
        self.master.blockSignals(True)
        self.master.setValue(round(state.master_db * STEPS_PER_DB))
        self.master.blockSignals(False)
        self.master_label.setText(db_text(state.master_db))
        self.setEnabled(True)

    def _edit_master(self, value: int) -> None:
        if self.state is not None:
            self.state.master_db = value / STEPS_PER_DB
            self.master_label.setText(db_text(self.state.master_db))
            self.changed.emit()

    def sync(self) -> None:
        """Show the state after something else (a lane header, a preset) changed it."""
        for strip in self.strips.values():
            strip.sync()

    def _apply(self) -> None:
        self.sync()
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
