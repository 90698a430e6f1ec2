"""The window's lanes: which lane the keys act on, solo and mute by key, the lane headers and
the mixer panel kept in step (both edit one ``MixerState``), spectrograms and zoom. A mixin of
``MainWindow``; it uses the window's ``view``, ``loaded``, ``mixer_panel``, ``job_label`` and
``_run``."""

from __future__ import annotations

from .spectro import Spectrogram, compute
from .worker import Task


class LanesMixin:
    def select_lane(self, number: int) -> None:
        """Key 1..9: the n-th stem lane."""
        stems = self.view.stems()
        if 1 <= number <= len(stems):
            self.view.select(stems[number - 1])

    def toggle_lane(self, what: str) -> None:
        """Key S or M: solo or mute the selected lane."""
        name = self.view.selected
        loaded = self.loaded
        if loaded is None or name is None or name not in loaded.track.mixer.stems:
            self.job_label.setText("Select a stem lane first (click its header or press 1-9)")
            return
        mix = loaded.track.mixer.stems[name]
        setattr(mix, what, not getattr(mix, what))
        self._lanes_changed()

    def _lanes_changed(self) -> None:
        """A lane header (or a key) edited the mix: the strips show it, the audio follows."""
        self.mixer_panel.sync()
        self._mix_edited()

    def _mix_edited(self) -> None:
        if self.loaded is not None:
            self.view.show_mix(self.loaded.track.mixer)
        self._mixer_changed()

    def zoom(self, factor: float) -> None:
        if self.loaded is not None:
            self.view.zoom(factor, self.player.position / self.loaded.sample_rate)

    def zoom_fit(self) -> None:
        self.view.zoom_fit()

    def show_spectrograms(self, on: bool) -> None:
        """View › Spectrograms / Waveforms: every lane at once."""
        for lane in self.view.lanes.values():
            lane.spectrogram_box.setChecked(on)

    def _toggle_spectrogram(self, name: str, on: bool) -> None:
        loaded = self.loaded
        lane = self.view.lanes[name]
        if not on or loaded is None:
            lane.show_spectrogram(None)
            return
        if name in loaded.spectrograms:
            lane.show_spectrogram(loaded.spectrograms[name])
            return
        audio = loaded.mixture if name == "mixture" else loaded.stems.get(name)
        if audio is None:
            lane.spectrogram_box.setChecked(False)
            return
        job = Task(f"spectrogram {name}", lambda job: compute(audio, loaded.sample_rate))

        def done(spec: Spectrogram) -> None:
            loaded.spectrograms[name] = spec
            if loaded is self.loaded and name in self.view.lanes:
                self.view.lanes[name].show_spectrogram(spec)

        job.signals.finished.connect(done)
        self._run(job)
