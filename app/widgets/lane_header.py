"""A lane's header, left of its waveform as in a DAW: the stem's colour and name, solo (S),
mute (M), the spectrogram toggle, and a gain slider with its value in dB.

It edits the stem's ``StemMix`` (the same object the mixer strip edits) and says
``mix_changed``; the mixture's header has no mixer controls (the original is not mixed)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QToolButton, QVBoxLayout, QWidget

from .. import theme
from ..icons import icon
from ..state import MAX_DB, MIN_DB, StemMix

HEADER_WIDTH = 208  # px of lane header left of the plots
STEPS_PER_DB = 10  # gain resolution: 0.1 dB


def db_text(db: float) -> str:
    return "-inf dB" if db <= MIN_DB else f"{db:+.1f} dB"


def small_button(text: str, name: str, tip: str) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setObjectName(name)
    button.setCheckable(True)
    button.setToolTip(tip)
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys stay with the window's shortcuts
    return button


class LaneHeader(QWidget):
    mix_changed = Signal()
    clicked = Signal()

    def __init__(self, name: str, number: int | None) -> None:
        super().__init__()
        self.name = name
        self.mix: StemMix | None = None
        self.setObjectName("laneHeader")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        self.setFixedWidth(HEADER_WIDTH)
        colour = theme.stem_colour(name)
        stripe = QWidget()
        stripe.setFixedWidth(4)
        stripe.setStyleSheet(f"background: {colour}; border-radius: 2px")
        self.title = QLabel(name.capitalize())
        self.title.setToolTip(f"{name}: press {number} to select this lane" if number else
                              "the original mix")
        self.solo = small_button("S", "solo", f"Solo {name} (select the lane, then S)")
        self.mute = small_button("M", "mute", f"Mute {name} (select the lane, then M)")
        self.spectrogram_box = small_button("", "spectrogram", f"Show {name} as a spectrogram")
        self.spectrogram_box.setIcon(icon("spectrogram"))
        self.gain = QSlider(Qt.Orientation.Horizontal)
        self.gain.setRange(int(MIN_DB * STEPS_PER_DB), int(MAX_DB * STEPS_PER_DB))
        self.gain.setToolTip(f"{name} gain (dB)")
        self.gain.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.gain_label = QLabel(db_text(0.0))
        self.gain_label.setObjectName("value")
        self.gain_label.setFixedWidth(62)
        self.gain_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        top = QHBoxLayout()
        top.setSpacing(4)
        top.addWidget(self.title, stretch=1)
        for w in (self.solo, self.mute, self.spectrogram_box):
            top.addWidget(w)
        bottom = QHBoxLayout()
        bottom.addWidget(self.gain, stretch=1)
        bottom.addWidget(self.gain_label)
        col = QVBoxLayout()
        col.setContentsMargins(0, 4, 0, 4)
        col.addLayout(top)
        col.addLayout(bottom)
        col.addStretch()
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 2, 8, 2)
        row.addWidget(stripe)
        row.addLayout(col, stretch=1)
        for w in (self.solo, self.mute, self.gain, self.gain_label):
            w.setVisible(name != "mixture")
        self.solo.toggled.connect(self._edit)
        self.mute.toggled.connect(self._edit)
        self.gain.valueChanged.connect(self._edit)
        self.set_dimmed(False)

    def bind(self, mix: StemMix | None) -> None:
        """Edit ``mix`` from now on (None: the controls only show, as before a session)."""
        self.mix = mix
        self.sync()

    def sync(self) -> None:
        """Show the mix's values without echoing them back as edits."""
        if self.mix is None:
            return
        for widget, value in ((self.solo, self.mix.solo), (self.mute, self.mix.mute)):
            widget.blockSignals(True)
            widget.setChecked(value)
            widget.blockSignals(False)
        self.gain.blockSignals(True)
        self.gain.setValue(round(self.mix.gain_db * STEPS_PER_DB))
        self.gain.blockSignals(False)
        self.gain_label.setText(db_text(self.mix.gain_db))

    def _edit(self) -> None:
        if self.mix is None:
            return
        self.mix.solo, self.mix.mute = self.solo.isChecked(), self.mute.isChecked()
        self.mix.gain_db = self.gain.value() / STEPS_PER_DB
        self.gain_label.setText(db_text(self.mix.gain_db))
        self.mix_changed.emit()

    def set_dimmed(self, dimmed: bool) -> None:
        colour = theme.MUTED_TEXT if dimmed else theme.stem_colour(self.name)
        self.title.setStyleSheet(f"color: {colour}; font-weight: bold; font-size: 11pt")

    def set_selected(self, selected: bool) -> None:
        self.setProperty("selected", "true" if selected else "false")
        self.style().unpolish(self)
        self.style().polish(self)

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.clicked.emit()
        super().mousePressEvent(event)
