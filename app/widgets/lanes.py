"""The session view: a time ruler and one lane per stem plus the mixture, like a DAW.

- Waveforms come from ``Peaks`` for the visible range only (fast at any zoom; clipped to view).
- Wheel zooms in time, dragging a lane scrolls, a click seeks.
- Dragging on the ruler sets the loop region, shown on every lane.
- Each lane can show its spectrogram instead: log-frequency axis in Hz and a colour bar, in a
  column of its own so the plots stay as wide as the ruler (the song's end stays in view).
- Each lane's header (``LaneHeader``) has the stem's solo, mute and gain; lanes not heard are
  dimmed; one lane is selected for the keyboard's S and M.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from .. import theme
from ..peaks import Peaks
from ..spectro import Spectrogram
from ..state import MIN_DB, MixerState
from .lane_header import HEADER_WIDTH, LaneHeader

HZ_TICKS = (1000, 100, 10000, 20000, 50, 500, 5000, 200, 2000)  # most wanted first
TICK_GAP = 13  # px between Hz labels
AXIS_WIDTH = 44  # px of the Hz axis left of each plot (and of the ruler, for alignment)
COLORBAR_WIDTH = 64  # px column right of each plot for the spectrogram's colour bar
LABEL_ROOM = 8  # px above and below a plot where its edge labels may spill
ZOOM_STEP = 1.5  # each zoom in or out: this factor in seconds shown


def _clock(seconds: float) -> str:
    m, s = divmod(max(0.0, seconds), 60)
    return f"{int(m)}:{s:04.1f}"


class TimeAxis(pg.AxisItem):
    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph's name
        return [_clock(v) for v in values]


class HzAxis(pg.AxisItem):
    """Left axis of a spectrogram: positions are log2(Hz), labels are Hz."""

    def tickValues(self, minVal, maxVal, size):  # noqa: N802, N803
        """The ticks that fit: taken in ``HZ_TICKS`` order, each at least ``TICK_GAP`` px
        from those kept, so a short lane shows 100, 1k, 10k and a tall one all of them."""
        px_per_octave = size / max(maxVal - minVal, 1e-9)
        kept: list[float] = []
        for f in HZ_TICKS:
            v = np.log2(f)
            if minVal <= v <= maxVal and all(abs(v - k) * px_per_octave >= TICK_GAP
                                            for k in kept):
                kept.append(v)
        return [(1.0, sorted(kept))]

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
    """The header on the left, the plot in the middle, the spectrogram's colour bar on the
    right. The colour bar has a column of its own in every lane and beside the ruler, so
    showing it never narrows this lane's plot: time stays aligned across lanes and the end of
    the song stays in view."""

    spectrogram_toggled = Signal(str, bool)
    clicked = Signal(float)

    def __init__(self, name: str, number: int | None = None) -> None:
        super().__init__()
        self.name = name
        self.peaks: Peaks | None = None
        self.dimmed = False
        self.header = LaneHeader(name, number)
        self.spectrogram_box = self.header.spectrogram_box
        self.spectrogram_box.toggled.connect(lambda on: self.spectrogram_toggled.emit(name, on))
        self.plot = pg.PlotWidget(axisItems={"left": HzAxis("left")})
        self.plot.setBackground(theme.PLOT_BACKGROUND)
        self.plot.setMinimumHeight(70)
        item = self.plot.getPlotItem()
        item.hideButtons()
        item.setMenuEnabled(False)
        item.hideAxis("bottom")
        # Room above and below the plot for the Hz labels at its edges ("20k" whole).
        item.layout.setContentsMargins(1, LABEL_ROOM, 1, LABEL_ROOM)  # 1: as the ruler
        axis = item.getAxis("left")
        axis.setWidth(AXIS_WIDTH)
        axis.setStyle(showValues=False, hideOverlappingLabels=LABEL_ROOM)
        vb = item.getViewBox()
        vb.setMouseEnabled(x=True, y=False)
        vb.setYRange(-1, 1, padding=0.02)
        self.curve = pg.PlotDataItem(pen=pg.mkPen(theme.stem_colour(name), width=1))
        self.curve.setClipToView(True)
        self.plot.addItem(self.curve)
        self.image = pg.ImageItem()
        self.image.setVisible(False)
        self.plot.addItem(self.image)
        self.colorbar: pg.ColorBarItem | None = None
        # The colour bar's column; its view is made at the first spectrogram (opening a song
        # costs no graphics view per lane).
        self.bar_column = QWidget()
        self.bar_column.setFixedWidth(COLORBAR_WIDTH)
        self.bar_column.setStyleSheet(f"background: {theme.PLOT_BACKGROUND}")
        QVBoxLayout(self.bar_column).setContentsMargins(0, 0, 0, 0)
        self.bar_view: pg.GraphicsLayoutWidget | None = None
        self.region = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(255, 220, 0, 40))
        self.region.setVisible(False)
        self.plot.addItem(self.region)
        self.playhead = pg.InfiniteLine(angle=90, pen=pg.mkPen("#ffffff", width=1))
        self.plot.addItem(self.playhead)
        self.plot.scene().sigMouseClicked.connect(self._on_click)
        self.hint = QLabel("Press Separate to fill this lane" if name != "mixture" else "")
        self.hint.setObjectName("hint")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        row = QGridLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.header, 0, 0)
        row.addWidget(self.plot, 0, 1)
        row.addWidget(self.hint, 0, 1)
        row.addWidget(self.bar_column, 0, 2)
        row.setColumnStretch(1, 1)

    def _on_click(self, ev) -> None:
        if ev.button() == Qt.MouseButton.LeftButton and not ev.double():
            self.clicked.emit(self.plot.getViewBox().mapSceneToView(ev.scenePos()).x())

    def redraw(self, t0: float, t1: float) -> None:
        """Waveform of [t0, t1) at the plot's pixel width."""
        self.hint.setVisible(self.peaks is None and self.name != "mixture")
        if self.peaks is None:
            self.curve.setData([], [])
            return
        x, y = self.peaks.view(t0, t1, max(100, self.plot.width()))
        self.curve.setData(x, y)

    def clear(self) -> None:
        """Empty, as a new lane: no audio, the waveform view, no loop, no mix bound."""
        self.peaks = None
        self.spectrogram_box.blockSignals(True)
        self.spectrogram_box.setChecked(False)
        self.spectrogram_box.blockSignals(False)
        self.show_spectrogram(None)
        self.region.setVisible(False)
        self.header.bind(None)
        self.set_dimmed(False)
        self.curve.setData([], [])
        self.hint.setVisible(self.name != "mixture")

    def set_dimmed(self, dimmed: bool) -> None:
        """A lane you do not hear (muted, or another lane soloed) is drawn faint."""
        self.dimmed = dimmed
        colour = theme.stem_colour(self.name)
        self.curve.setPen(pg.mkPen(theme.dimmed(colour) if dimmed else colour, width=1))
        self.image.setOpacity(0.3 if dimmed else 1.0)
        self.header.set_dimmed(dimmed)

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
            self.bar_view = pg.GraphicsLayoutWidget()
            self.bar_view.setBackground(theme.PLOT_BACKGROUND)
            self.bar_view.ci.setContentsMargins(0, LABEL_ROOM, 0, LABEL_ROOM)
            self.bar_column.layout().addWidget(self.bar_view)
            self.colorbar = pg.ColorBarItem(values=(top - 80, top), colorMap="magma",
                                            width=10, label="dB", interactive=False)
            self.colorbar.setImageItem(self.image)
            self.bar_view.addItem(self.colorbar)
        self.colorbar.setLevels((top - 80, top))
        self.colorbar.setVisible(True)
        self.image.setVisible(True)
        self.curve.setVisible(False)
        self.hint.setVisible(False)
        axis.setStyle(showValues=True)
        vb.setYRange(spec.log2_f_min, spec.log2_f_min + n_rows * spec.log2_step, padding=0)


class SessionView(QWidget):
    """The ruler and the lanes of one song."""

    seek_requested = Signal(float)  # seconds
    loop_changed = Signal(object)  # (start s, end s) or None
    spectrogram_toggled = Signal(str, bool)
    mix_changed = Signal()  # a lane header changed the mixer state

    def __init__(self) -> None:
        super().__init__()
        self.duration = 0.0
        self.lanes: dict[str, Lane] = {}
        self.selected: str | None = None  # the lane S and M act on
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(1)
        self.ruler_box = RulerViewBox()
        self.ruler = pg.PlotWidget(viewBox=self.ruler_box,
                                   axisItems={"bottom": TimeAxis("bottom"),
                                              "left": HzAxis("left")})
        self.ruler.setFixedHeight(44)
        self.ruler.setBackground(theme.SURFACE)
        ruler_item = self.ruler.getPlotItem()
        ruler_item.hideButtons()
        # The same left axis as a lane (width, no labels): linked views align by screen
        # pixels, so the ruler's time zero sits exactly above the lanes'.
        ruler_item.getAxis("left").setWidth(AXIS_WIDTH)
        ruler_item.getAxis("left").setStyle(showValues=False)
        self.ruler_region = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(255, 220, 0, 80))
        self.ruler_region.setVisible(False)
        self.ruler.addItem(self.ruler_region)
        self.ruler_head = pg.InfiniteLine(angle=90, pen=pg.mkPen("#ffffff", width=2))
        self.ruler.addItem(self.ruler_head)
        ruler_row = QHBoxLayout()
        ruler_row.setContentsMargins(0, 0, 0, 0)
        ruler_row.setSpacing(0)
        ruler_row.addSpacing(HEADER_WIDTH)
        ruler_row.addWidget(self.ruler)
        ruler_row.addSpacing(COLORBAR_WIDTH)
        self._layout.addLayout(ruler_row)
        self._layout.addStretch()
        self.ruler_box.loop_dragged.connect(self._on_loop_drag)
        self.ruler_box.clicked.connect(self._on_ruler_click)
        self.ruler_box.sigXRangeChanged.connect(lambda *_: self.redraw())

    def set_lanes(self, names: list[str]) -> None:
        """Lanes for ``names`` (mixture first): the last song's emptied when the names are
        the same (the usual case, and quicker), else new ones."""
        if names == list(self.lanes):
            for lane in self.lanes.values():
                lane.clear()
            return
        for lane in self.lanes.values():
            lane.setParent(None)
            lane.deleteLater()
        self.lanes = {}
        self.selected = None
        stems = [n for n in names if n != "mixture"]
        for i, name in enumerate(names):
            lane = Lane(name, stems.index(name) + 1 if name in stems else None)
            lane.plot.setXLink(self.ruler)
            lane.clicked.connect(self.seek_requested)
            lane.spectrogram_toggled.connect(self.spectrogram_toggled)
            lane.header.mix_changed.connect(self.mix_changed)
            lane.header.clicked.connect(lambda n=name: self.select(n))
            self._layout.insertWidget(1 + i, lane, stretch=1)
            self.lanes[name] = lane
        if stems:
            self.select(stems[0])

    def stems(self) -> list[str]:
        return [n for n in self.lanes if n != "mixture"]

    def select(self, name: str | None) -> None:
        """The lane keyboard S and M act on, highlighted."""
        self.selected = name if name in self.lanes else None
        for lane_name, lane in self.lanes.items():
            lane.header.set_selected(lane_name == self.selected)

    def bind_mix(self, state: MixerState | None) -> None:
        """Let the stem lanes' headers edit ``state`` (the mixer panel edits it too)."""
        for name, lane in self.lanes.items():
            lane.header.bind(state.stems.get(name) if state is not None else None)
        self.show_mix(state)

    def show_mix(self, state: MixerState | None) -> None:
        """Headers show ``state``; lanes not heard are dimmed."""
        soloed = state is not None and any(m.solo for m in state.stems.values())
        for name, lane in self.lanes.items():
            mix = state.stems.get(name) if state is not None else None
            lane.header.sync()
            heard = mix is None or ((mix.solo if soloed else not mix.mute)
                                    and mix.gain_db > MIN_DB)
            lane.set_dimmed(not heard)

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

    def zoom(self, factor: float, centre: float | None = None) -> None:
        """Show ``factor`` times the seconds shown now, around ``centre`` (the playhead)."""
        t0, t1 = self.visible_range()
        centre = (t0 + t1) / 2 if centre is None or not t0 <= centre <= t1 else centre
        span = min(max(self.duration, 0.1), max(0.005, (t1 - t0) * factor))
        start = min(max(0.0, centre - span * (centre - t0) / max(t1 - t0, 1e-9)),
                    max(0.0, self.duration - span))
        self.zoom_to(start, start + span)

    def zoom_fit(self) -> None:
        self.zoom_to(0.0, max(self.duration, 0.1))

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
