"""The window's playback: what plays (the original or the stems through the mixer), the
transport, the loop and the position readout. A mixin of ``MainWindow``, kept apart so each
file reads as one concern; it uses the window's ``player``, ``loaded``, ``view``, ``listen``,
``play_button``, ``stop_button``, ``position_label`` and ``mixer_panel``."""

from __future__ import annotations

import numpy as np

from .mixer import Mixer
from .session import Loaded
from .state import Loop


class PlaybackMixin:
    def _show_playback_state(self) -> None:
        ok = self.player.available
        for w in (self.play_button, self.stop_button):
            w.setEnabled(ok)
            w.setToolTip("" if ok else f"Playback is off: {self.player.reason}")
        self.playback_label.setText("" if ok else f"Playback off: {self.player.reason}")

    def _choose_source(self, text: str) -> None:
        """Original: the mix as it was. Stems: the stems through the mixer."""
        loaded = self.loaded
        if loaded is None:
            return
        self._source = "stems" if text == "Stems" and loaded.block is not None else "mixture"
        self.listen.blockSignals(True)
        self.listen.setCurrentText("Stems" if self._source == "stems" else "Original")
        self.listen.blockSignals(False)
        mixer = self._make_mixer(loaded)
        self.player.load(mixer, loaded.sample_rate)
        self._show_playback_state()

    def _make_mixer(self, loaded: Loaded) -> Mixer:
        if self._source == "stems" and loaded.block is not None:
            return Mixer(loaded.block, loaded.track.mixer.gains(loaded.block.shape[1]))
        mixture = loaded.mixture[None]
        gains = np.ones((1, 2), np.float32) if mixture.shape[1] == 2 else np.full(
            (1, 2), np.sqrt(0.5), np.float32)  # mono: equal power to both sides
        return Mixer(mixture, gains)

    def _mixer_changed(self) -> None:
        loaded = self.loaded
        mixer = self.player.mixer
        if loaded is None or mixer is None or self._source != "stems":
            return
        mixer.set_gains(loaded.track.mixer.gains(mixer.n_channels))

    def toggle_play(self) -> None:
        self.player.toggle()
        self.toolbar.show_playing(self.player.playing)

    def stop(self) -> None:
        self.player.stop()
        self.toolbar.show_playing(False)

    def rewind(self) -> None:
        """Home: back to the start, playing on if it was playing."""
        self.player.seek(0)

    def _seek_seconds(self, seconds: float) -> None:
        if self.loaded is not None:
            self.player.seek(int(seconds * self.loaded.sample_rate))

    def _loop_frames(self, loop: Loop | None) -> tuple[int, int] | None:
        return (loop.start, loop.end) if loop is not None else None

    def _loop_seconds(self, loop: Loop | None) -> tuple[float, float] | None:
        if loop is None or self.loaded is None:
            return None
        return loop.start / self.loaded.sample_rate, loop.end / self.loaded.sample_rate

    def _set_loop(self, seconds: tuple[float, float] | None) -> None:
        loaded = self.loaded
        if loaded is None:
            return
        sr = loaded.sample_rate
        loop = None if seconds is None else Loop(int(seconds[0] * sr), int(seconds[1] * sr))
        loaded.track.loop = loop.clamp(loaded.n_frames) if loop else None
        self.player.set_loop(self._loop_frames(loaded.track.loop))

    def _tick(self) -> None:
        loaded = self.loaded
        if loaded is None:
            return
        sr = loaded.sample_rate
        pos = self.player.position
        self.view.set_position(pos / sr)
        self.position_label.setText(f"{pos // sr // 60}:{pos / sr % 60:04.1f} / "
                                    f"{loaded.n_frames // sr // 60}:"
                                    f"{loaded.n_frames / sr % 60:04.1f}")
        self.mixer_panel.meter.set_peak(self.player.peak if self.player.playing else 0.0)
        if not self.player.playing and self.play_button.text() == "Pause":
            self.toolbar.show_playing(False)

    def _redraw_dirty(self) -> None:
        for name in self._dirty:
            if name in self.view.lanes:
                self.view.redraw(name)
        self._dirty.clear()
