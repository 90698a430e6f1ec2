"""The master level meter: a vertical bar from -60 to +3 dBFS with a dB scale beside it, a
peak-hold line that stays for ``HOLD_SECONDS`` then falls, and the held peak as a number.

The window feeds it the last audio block's peak (``Player.peak``) from its UI timer; the audio
callback never touches it."""

from __future__ import annotations

import math
import time

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QLinearGradient, QPainter, QPen
from PySide6.QtWidgets import QWidget

from . import theme

FLOOR_DB = -60.0
TOP_DB = 3.0
SCALE_DB = (0, -6, -12, -18, -24, -36, -48, -60)
HOLD_SECONDS = 1.5  # a peak stays this long before the hold line falls
FALL_DB_PER_S = 20.0
BAR_WIDTH = 12
SCALE_WIDTH = 26


def to_db(peak: float) -> float:
    return 20 * math.log10(peak) if peak > 1e-6 else -math.inf


class LevelMeter(QWidget):
    """``set_peak(linear)`` each UI tick; ``held_db`` is what the hold line shows."""

    def __init__(self) -> None:
        super().__init__()
        self.setFixedWidth(BAR_WIDTH + SCALE_WIDTH + 6)
        self.setMinimumHeight(120)
        self.level_db = -math.inf
        self.held_db = -math.inf
        self._held_at = 0.0
        self.setToolTip("Output level (dBFS): bar, peak hold line and the held peak")

    def set_peak(self, peak: float, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        shown = (self.level_db, self.held_db)
        self.level_db = to_db(peak)
        if self.level_db >= self.held_db:
            self.held_db, self._held_at = self.level_db, now
        elif now - self._held_at > HOLD_SECONDS:
            fallen = self.held_db - FALL_DB_PER_S * (now - self._held_at - HOLD_SECONDS)
            self.held_db = max(self.level_db, fallen) if fallen > FLOOR_DB else -math.inf
        if (self.level_db, self.held_db) != shown:
            self.update()  # silence, as when stopped, repaints nothing

    def _y(self, db: float, top: float, height: float) -> float:
        frac = (min(TOP_DB, max(FLOOR_DB, db)) - FLOOR_DB) / (TOP_DB - FLOOR_DB)
        return top + height * (1 - frac)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        top, height = 28.0, self.height() - 36.0
        bar = QRectF(0, top, BAR_WIDTH, height)
        p.fillRect(bar, QColor(theme.PLOT_BACKGROUND))
        if self.level_db > FLOOR_DB:
            y = self._y(self.level_db, top, height)
            grad = QLinearGradient(0, top + height, 0, top)
            grad.setColorAt(0.0, QColor("#2fb35a"))
            grad.setColorAt(0.75, QColor("#d6c431"))
            grad.setColorAt(1.0, QColor("#e03131"))
            p.fillRect(QRectF(1, y, BAR_WIDTH - 2, top + height - y), grad)
        if self.held_db > FLOOR_DB:
            y = self._y(self.held_db, top, height)
            p.setPen(QPen(QColor("#ff6b6b" if self.held_db > -1 else theme.TEXT), 2))
            p.drawLine(0, round(y), BAR_WIDTH, round(y))
        font = QFont(self.font())
        font.setPointSizeF(7.5)
        p.setFont(font)
        p.setPen(QColor(theme.MUTED_TEXT))
        for db in SCALE_DB:
            y = self._y(db, top, height)
            p.drawText(QRectF(BAR_WIDTH + 3, y - 7, SCALE_WIDTH, 14),
                       Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                       str(db))
        held = "-inf" if self.held_db == -math.inf else f"{self.held_db:.1f}"
        p.setPen(QColor("#ff6b6b" if self.held_db > -1 else theme.TEXT))
        p.drawText(QRectF(0, 0, self.width(), 16), Qt.AlignmentFlag.AlignCenter, held)
        p.end()
