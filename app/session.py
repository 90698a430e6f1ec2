"""A song open in the window (no Qt): its audio, its stems as they arrive, what the lanes draw."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine import load_audio, open_audio

from .peaks import Peaks
from .spectro import Spectrogram
from .state import TrackState


@dataclass
class Loaded:
    """A song's audio in memory, with what the view draws."""

    track: TrackState
    sample_rate: int
    mixture: np.ndarray  # (C, N)
    block: np.ndarray | None = None  # (S, C, N): all stems, shared with the mixer
    stems: dict[str, np.ndarray] = field(default_factory=dict)  # views into ``block``
    peaks: dict[str, Peaks] = field(default_factory=dict)
    spectrograms: dict[str, Spectrogram] = field(default_factory=dict)
    complete: bool = False

    @property
    def n_frames(self) -> int:
        return self.mixture.shape[-1]

    def allocate(self, names: list[str]) -> None:
        """Silent stems to be filled in place: the mixer plays whatever has arrived, and their
        waveforms fill in as pieces are stored (:meth:`store`)."""
        self.block = np.zeros((len(names),) + self.mixture.shape, np.float32)
        self.stems = {name: self.block[i] for i, name in enumerate(names)}
        for name in names:
            self.peaks[name] = Peaks(self.stems[name], self.sample_rate, filled=False)
        self.complete = False

    def store(self, at: int, blocks: dict[str, np.ndarray]) -> None:
        """Copy a separated piece in (on the worker thread) and update its waveforms."""
        for name, block in blocks.items():
            self.stems[name][:, at:at + block.shape[-1]] = block
            self.peaks[name].update(at, at + block.shape[-1])

    def discard_stems(self) -> list[str]:
        """Forget the stems (a cancelled or failed separation kept nothing); their names."""
        names = list(self.stems)
        for name in names:
            self.peaks.pop(name, None)
        self.stems, self.block = {}, None
        return names


PREVIEW_BLOCK = 1 << 18  # frames decoded at a time for the preview (2 MB of stereo float)


def preview(track: TrackState) -> Peaks:
    """The song's waveform, decoded block by block without keeping the audio: it shows
    before ``load`` has the whole song in memory."""
    with open_audio(track.source) as reader:
        return Peaks.streamed(reader.blocks(PREVIEW_BLOCK), reader.info.sample_rate)


def load(track: TrackState, peaks: Peaks | None = None) -> Loaded:
    """Decode the song (and its stems if separated before) and build the waveforms
    (``peaks``: the song's ``preview``, kept when it matches what was decoded)."""
    mixture, sr = load_audio(track.source)
    loaded = Loaded(track, sr, mixture)
    if peaks is None or peaks.sample_rate != sr or not peaks.attach(mixture):
        peaks = Peaks(mixture, sr)
    loaded.peaks["mixture"] = peaks
    if track.stem_files and all(p.is_file() for p in track.stem_files.values()):
        loaded.allocate(list(track.stem_files))
        for name, path in track.stem_files.items():
            audio, _ = load_audio(path)
            loaded.stems[name][:] = audio[:, :loaded.n_frames]
            loaded.peaks[name] = Peaks(loaded.stems[name], sr)
        loaded.complete = True
    return loaded
