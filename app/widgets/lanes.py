"""The session view: a time ruler and one lane per stem plus the mixture, like a DAW.

- Waveforms come from ``Peaks`` for the visible range only (fast at any zoom; clipped to view).
- Wheel zooms in time, dragging a lane scrolls, a click seeks.
- Dragging on the ruler sets the loop region, shown on every lane.
- Each lane can show its spectrogram instead: log-frequency axis in Hz and a colour bar.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ..peaks import Peaks
from ..spectro import Spectrogram

COLOURS = {"mixture": "#c8c8c8", "vocals": "#ff6b6b", "drums": "#ffd166", "bass": "#4dabf7",
           "other": "#69db7c"}
HZ_TICKS = (50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000)
SIDE_WIDTH = 118  # px of lane controls left of the plots


def _clock(seconds: float) -> str:
    m, s = divmod(max(0.0, seconds), 60)
    return f"{int(m)}:{s:04.1f}"


class TimeAxis(pg.AxisItem):
    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph's name
        return [_clock(v) for v in values]


class HzAxis(pg.AxisItem):
    """Left axis of a spectrogram: positions are log2(Hz), labels are Hz."""

    def tickValues(self, minVal, maxVal, size):  # noqa: N802, N803
        ticks = [np.log2(f) for f in HZ_TICKS if minVal <= np.log2(f) <= maxVal]
        return [(1.0, ticks)]

    def tickStrings(self, values, scale, spacing):  # noqa: N802
        out = []
        for v in values:
            hz = 2 ** v
            out.append(f"{hz / 1000:g}k" if hz >= 1000 else f"{hz:g}")
        return out


class RulerViewBox(pg.ViewBox):
    """Drag to set the loop, click to seek; wheel zooms like the lanes."""

    loop_dragged = Signal(float, float, bool)  # start s, end s, finished
    clicked = Signal(float)

    def __init__(self) -> None:
        super().__init__(enableMenu=False)
        self.setMouseEnabled(x=True, y=False)

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802
        if ev.button() != Qt.MouseButton.LeftButton:
            return super().mouseDragEvent(ev, axis)
        ev.accept()
        a = self.mapSceneToView(ev.buttonDownScenePos()).x()
        b = self.mapSceneToView(ev.scenePos()).x()
        self.loop_dragged.emit(min(a, b), max(a, b), ev.isFinish())

    def mouseClickEvent(self, ev):  # noqa: N802
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.clicked.emit(self.mapSceneToView(ev.scenePos()).x())


class Lane(QWidget):
    """Controls on the left, the plot on the right."""

    spectrogram_toggled = Signal(str, bool)
    clicked = Signal(float)

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.peaks: Peaks | None = None
        side = QWidget()
        side.setFixedWidth(SIDE_WIDTH)
        col = QVBoxLayout(side)
        col.setContentsMargins(4, 2, 4, 2)
        label = QLabel(name.capitalize())
        label.setStyleSheet(f"color: {COLOURS.get(name, '#ddd')}; font-weight: bold")
        self.spectrogram_box = QCheckBox("Spectrogram")
        self.spectrogram_box.toggled.connect(lambda on: self.spectrogram_toggled.emit(name, on))
        col.addWidget(label)
        col.addWidget(self.spectrogram_box)
        col.addStretch()
        self.plot = pg.PlotWidget(axisItems={"left": HzAxis("left")})
        self.plot.setMinimumHeight(70)
        item = self.plot.getPlotItem()
        item.hideButtons()
        item.setMenuEnabled(False)
        item.hideAxis("bottom")
        item.getAxis("left").setWidth(44)
        item.getAxis("left").setStyle(showValues=False)
        vb = item.getViewBox()
        vb.setMouseEnabled(x=True, y=False)
        vb.setYRange(-1, 1, padding=0.02)
        self.curve = pg.PlotDataItem(pen=pg.mkPen(COLOURS.get(name, "#ddd"), width=1))
        self.curve.setClipToView(True)
        self.plot.addItem(self.curve)
        self.image = pg.ImageItem()
        self.image.setVisible(False)
        self.plot.addItem(self.image)
        self.colorbar: pg.ColorBarItem | None = None
        self.region = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(255, 220, 0, 40))
        self.region.setVisible(False)
        self.plot.addItem(self.region)
        self.playhead = pg.InfiniteLine(angle=90, pen=pg.mkPen("#ffffff", width=1))
        self.plot.addItem(self.playhead)
        self.plot.scene().sigMouseClicked.connect(self._on_click)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(side)
        row.addWidget(self.plot)

    def _on_click(self, ev) -> None:
        if ev.button() == Qt.MouseButton.LeftButton and not ev.double():
            self.clicked.emit(self.plot.getViewBox().mapSceneToView(ev.scenePos()).x())

    def redraw(self, t0: float, t1: float) -> None:
        """Waveform of [t0, t1) at the plot's pixel width."""
        if self.peaks is None:
            self.curve.setData([], [])
            return
        x, y = self.peaks.view(t0, t1, max(100, self.plot.width()))
        self.curve.setData(x, y)

    def show_spectrogram(self, spec: Spectrogram | None) -> None:
        """Show ``spec`` instead of the waveform; None goes back to the waveform."""
        vb = self.plot.getViewBox()
        axis = self.plot.getPlotItem().getAxis("left")
        if spec is None:
            self.image.setVisible(False)
            self.curve.setVisible(True)
            if self.colorbar is not None:
                self.colorbar.setVisible(False)
            axis.setStyle(showValues=False)
            vb.setYRange(-1, 1, padding=0.02)
            return
        top = float(np.percentile(spec.db, 99.5))
        self.image.setImage(spec.db, autoLevels=False, levels=(top - 80, top))
        n_frames, n_rows = spec.db.shape
        self.image.setRect(0.0, spec.log2_f_min, n_frames * spec.seconds_per_frame,
                           n_rows * spec.log2_step)
        if self.colorbar is None:
            self.colorbar = pg.ColorBarItem(values=(top - 80, top), colorMap="magma",
                                            width=10, label="dB", interactive=False)
            self.colorbar.setImageItem(self.image, insert_in=self.plot.getPlotItem())
        self.colorbar.setLevels((top - 80, top))
        self.colorbar.setVisible(True)
        self.image.setVisible(True)
        self.curve.setVisible(False)
        axis.setStyle(showValues=True)
        vb.setYRange(spec.log2_f_min, spec.log2_f_min + n_rows * spec.log2_step, padding=0)


class SessionView(QWidget):
    """The ruler and the lanes of one song."""

    seek_requested = Signal(float)  # seconds
    loop_changed = Signal(object)  # (start s, end s) or None
    spectrogram_toggled = Signal(str, bool)

    def __init__(self) -> None:
        super().__init__()
        self.duration = 0.0
        self.lanes: dict[str, Lane] = {}
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(1)
        self.ruler_box = RulerViewBox()
        self.ruler = pg.PlotWidget(viewBox=self.ruler_box,
                                   axisItems={"bottom": TimeAxis("bottom"),
                                              "left": HzAxis("left")})
        self.ruler.setFixedHeight(44)
        ruler_item = self.ruler.getPlotItem()
        ruler_item.hideButtons()
        # The same left axis as a lane (width, no labels): linked views align by screen
        # pixels, so the ruler's time zero sits exactly above the lanes'.
        ruler_item.getAxis("left").setWidth(44)
        ruler_item.getAxis("left").setStyle(showValues=False)
        self.ruler_region = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(255, 220, 0, 80))
        self.ruler_region.setVisible(False)
        self.ruler.addItem(self.ruler_region)
        self.ruler_head = pg.InfiniteLine(angle=90, pen=pg.mkPen("#ffffff", width=2))
        self.ruler.addItem(self.ruler_head)
        ruler_row = QHBoxLayout()
        ruler_row.setContentsMargins(0, 0, 0, 0)
        ruler_row.setSpacing(0)
        ruler_row.addSpacing(SIDE_WIDTH)
        ruler_row.addWidget(self.ruler)
        self._layout.addLayout(ruler_row)
        self._layout.addStretch()
        self.ruler_box.loop_dragged.connect(self._on_loop_drag)
        self.ruler_box.clicked.connect(self._on_ruler_click)
        self.ruler_box.sigXRangeChanged.connect(lambda *_: self.redraw())

    def set_lanes(self, names: list[str]) -> None:
        """Create lanes for ``names`` (mixture first), dropping any from the last song."""
        for lane in self.lanes.values():
            lane.setParent(None)
            lane.deleteLater()
        self.lanes = {}
        for i, name in enumerate(names):
            lane = Lane(name)
            lane.plot.setXLink(self.ruler)
            lane.clicked.connect(self.seek_requested)
            lane.spectrogram_toggled.connect(self.spectrogram_toggled)
            self._layout.insertWidget(1 + i, lane, stretch=1)
            self.lanes[name] = lane

    def set_audio(self, name: str, peaks: Peaks | None) -> None:
        self.lanes[name].peaks = peaks
        self.redraw(name)

    def set_duration(self, seconds: float) -> None:
        self.duration = seconds
        self.ruler_box.setLimits(xMin=0, xMax=max(seconds, 0.1), minXRange=0.005)
        self.ruler_box.setXRange(0, max(seconds, 0.1), padding=0)

    def visible_range(self) -> tuple[float, float]:
        return tuple(self.ruler_box.viewRange()[0])  # type: ignore[return-value]

    def zoom_to(self, t0: float, t1: float) -> None:
        self.ruler_box.setXRange(t0, t1, padding=0)

    def redraw(self, name: str | None = None) -> None:
        t0, t1 = self.visible_range()
        for lane_name, lane in self.lanes.items():
            if name is None or lane_name == name:
                lane.redraw(t0, t1)

    def set_position(self, seconds: float) -> None:
        self.ruler_head.setValue(seconds)
        for lane in self.lanes.values():
            lane.playhead.setValue(seconds)

    def set_loop(self, loop: tuple[float, float] | None) -> None:
        for item in [self.ruler_region] + [lane.region for lane in self.lanes.values()]:
            item.setVisible(loop is not None)
            if loop is not None:
                item.setRegion(loop)

    def _on_loop_drag(self, start: float, end: float, finished: bool) -> None:
        start, end = max(0.0, start), min(self.duration, end)
        loop = (start, end) if end - start > 0.05 else None
        self.set_loop(loop)
        if finished:
            self.loop_changed.emit(loop)

    def _on_ruler_click(self, seconds: float) -> None:
        self.seek_requested.emit(min(max(0.0, seconds), self.duration))
