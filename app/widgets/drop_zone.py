"""What an empty session shows: a large drop target that says what to do, which formats are
welcome and where the same is in the menus."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QLabel, QListWidget, QPushButton, QVBoxLayout, QWidget

from .. import theme
from ..icons import icon

FORMATS = "WAV · FLAC · MP3 · M4A · AIFF · OGG · Opus · MP4 · NI .stem.mp4"


class DropZone(QWidget):
    """A dashed, rounded target; ``open_requested`` when its button is pressed. The window
    takes the drop itself (anywhere on it), so this is the hint, not the only target."""

    open_requested = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.highlight = False  # a drag is over the window
        art = QLabel()
        art.setPixmap(icon("drop").pixmap(96, 96))
        art.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title = QLabel("Drop songs here")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setStyleSheet("font-size: 22pt; font-weight: bold; background: transparent")
        self.hint = QLabel("Each song opens with a lane per stem. Press Separate to split it\n"
                           "into vocals, drums, bass and other, then solo, mute, mix and export.")
        self.hint.setObjectName("hint")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        formats = QLabel(FORMATS)
        formats.setObjectName("hint")
        formats.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.open_button = QPushButton(icon("open"), "  Open songs…  (Ctrl+O)")
        self.open_button.setObjectName("primary")
        self.open_button.clicked.connect(self.open_requested)
        col = QVBoxLayout(self)
        col.setContentsMargins(60, 60, 60, 60)
        col.addStretch()
        for w in (art, self.title, self.hint, formats):
            col.addWidget(w)
        col.addSpacing(12)
        col.addWidget(self.open_button, alignment=Qt.AlignmentFlag.AlignCenter)
        col.addStretch()

    def set_highlight(self, on: bool) -> None:
        self.highlight = on
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect()).adjusted(30, 30, -30, -30)
        p.setBrush(QColor("#1b1e26" if not self.highlight else "#232a44"))
        pen = QPen(QColor(theme.ACCENT if self.highlight else theme.BORDER), 2,
                   Qt.PenStyle.DashLine)
        pen.setDashPattern([6, 4])
        p.setPen(pen)
        p.drawRoundedRect(rect, 18, 18)
        p.end()


class TrackList(QListWidget):
    """The songs of the session; empty, it says how songs get there."""

    def paintEvent(self, event) -> None:  # noqa: N802
        super().paintEvent(event)
        if self.count() == 0:
            p = QPainter(self.viewport())
            p.setPen(QColor(theme.MUTED_TEXT))
            p.drawText(QRectF(self.viewport().rect()).adjusted(12, 16, -12, -12),
                       Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop
                       | Qt.TextFlag.TextWordWrap,
                       "No songs yet.\nDrop files anywhere on the window, or use File › Open.")
            p.end()
