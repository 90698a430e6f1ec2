"""Notes, parts and the song plan: what the composer decides and the renderers play.

Times are in seconds from the song's start (the composer converts beats, applying swing and
humanisation); pitches are MIDI note numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Note:
    start: float  # s
    duration: float  # s
    pitch: int  # MIDI note number (drums: GM percussion key)
    velocity: int  # 1-127


@dataclass
class Part:
    """One instrument's notes, destined for one stem."""

    name: str  # e.g. "piano", "kick+snare kit"
    stem: str  # "drums", "bass", "other" or "vocals"
    program: int  # GM program (drums: GM kit preset, bank 128)
    drums: bool = False
    pan: float = 0.0  # -1 left .. 1 right
    notes: list[Note] = field(default_factory=list)


@dataclass(frozen=True)
class Chord:
    root: int  # pitch class 0-11
    tones: tuple[int, ...]  # pitch classes, root first
    bass: int  # pitch class in the bass (inversions, slash chords)


@dataclass(frozen=True)
class Section:
    name: str  # intro, verse, chorus, bridge, outro
    start_bar: int
    n_bars: int
    chords: tuple[Chord, ...]  # one per half bar (harmonic rhythm up to two per bar)
    energy: float  # 0 (sparse) .. 1 (full)
    vocals: bool


@dataclass(frozen=True)
class SongPlan:
    seed: int
    style: str  # groove family: rock, pop, funk, disco, hiphop, ballad, shuffle, bossa, ...
    tempo: float  # beats per minute
    beats_per_bar: int
    key: int  # tonic pitch class
    mode: str  # major, minor, dorian, mixolydian
    swing: float  # delay of off-beat grid steps, fraction of a step (0 straight .. 0.33)
    swing_grid: float  # beats per swung step: 0.25 (16ths) or 0.5 (8ths, shuffle)
    sections: tuple[Section, ...]
    duration: float  # s, the rendered length

    @property
    def beat_s(self) -> float:
        return 60.0 / self.tempo

    @property
    def bar_s(self) -> float:
        return self.beats_per_bar * self.beat_s

    def time(self, beat: float) -> float:
        """Seconds at ``beat`` (counted from the song's first beat), swing applied."""
        steps = beat / self.swing_grid
        step = int(np.floor(steps + 1e-9))
        if step % 2 == 1 and abs(steps - step) < 1e-6:
            beat += self.swing * self.swing_grid
        return beat * self.beat_s

    @property
    def n_bars(self) -> int:
        return sum(s.n_bars for s in self.sections)

    def chord_at(self, bar: int, half: int) -> Chord:
        for section in self.sections:
            if section.start_bar <= bar < section.start_bar + section.n_bars:
                return section.chords[2 * (bar - section.start_bar) + half]
        return self.sections[-1].chords[-1]

    def section_at(self, bar: int) -> Section:
        for section in self.sections:
            if section.start_bar <= bar < section.start_bar + section.n_bars:
                return section
        return self.sections[-1]
