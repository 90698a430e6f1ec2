"""From a seed to four mixed stems: plan, arrange, render, mix.

    synth = Synthesizer(sample_rate=44100)   # version="v2" (default) or "v1"
    song = synth.render(seed=7)              # 4 to 30 s, a window into a random song
    song.stems["vocals"]                     # (2, N) float32; song.mixture is their exact sum

Two versions render different songs from one seed. ``v1`` (this module): espeak-ng words sung
by PSOLA, one GM soundfont per part, per-stem mixing; it stays frozen so the held-out test
sets made with it stay reproducible. ``v2`` (``song_v2``): a Festival voice re-sung by WORLD,
multi-sampled drum kits in a room, performed dynamics, and a release master (bus compression,
limiter, -14 to -7 LUFS) shared by the stems.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ...musdb import STEMS
from . import mixing, voice
from .drums import drum_part
from .fluid import FluidRenderer
from .parts import bass_part, other_parts
from .score import Note, Part, SongPlan
from .theory import make_plan, melody

CHOIR = (52, 53)  # GM choir aahs, voice oohs: backing vocals belong to the vocal stem
TARGET_LEVEL_DB = {"vocals": -17.0, "drums": -19.0, "bass": -20.0, "other": -20.0}


@dataclass
class Song:
    stems: dict[str, np.ndarray]  # name -> (2, N) float32
    sample_rate: int
    plan: SongPlan
    instruments: dict[str, list[str]] = field(default_factory=dict)
    loudness: float | None = None  # LUFS the master aimed at (v2), None for v1

    @property
    def mixture(self) -> np.ndarray:
        """The exact sum of the stems, in the fixed order of STEMS."""
        out = np.zeros_like(self.stems[STEMS[0]])
        for name in STEMS:
            out += self.stems[name]
        return out


def _vocal_notes(plan: SongPlan, rng: np.random.Generator,
                 low: int) -> list[tuple[float, float, int, int]]:
    """The lead melody over the sung sections: (start s, length s, pitch, velocity)."""
    notes = []
    for section in plan.sections:
        if not section.vocals:
            continue
        lift = 3 if section.name == "chorus" else 0
        bars = range(section.start_bar, section.start_bar + section.n_bars)
        density = 0.75 if section.name == "chorus" else 0.6
        for beat, length, pitch in melody(plan, rng, bars, low + lift, low + lift + 16, density):
            start = plan.time(beat)
            dur = plan.time(beat + length) - start
            if start < plan.duration:
                notes.append((start, dur * 0.95, pitch, int(80 + 30 * section.energy)))
    return notes


VERSIONS = ("v1", "v2")


@dataclass
class Start:
    """What every version draws first from a seed, in this order."""

    rng: np.random.Generator
    plan: SongPlan
    n: int  # samples
    vocal_bars: set[int]


def start(seed: int, duration: float | None, style: str | None, from_start: bool,
          sample_rate: int) -> Start:
    rng = np.random.default_rng(seed)
    duration = float(rng.uniform(4.0, 30.0)) if duration is None else float(duration)
    plan = make_plan(seed, duration, style, from_start)
    vocal_bars = {b for sec in plan.sections if sec.vocals
                  for b in range(sec.start_bar, sec.start_bar + sec.n_bars)}
    return Start(rng, plan, int(round(duration * sample_rate)), vocal_bars)


def other_stem(play: Callable[[Part, float], np.ndarray], s: Start, sample_rate: int,
               names: list[str]) -> np.ndarray:
    """The "other" stem: each part played by ``play(part, room)``, EQ'd and levelled."""
    rng, sr = s.rng, sample_rate
    other = np.zeros((2, s.n), np.float32)
    for part in other_parts(s.plan, rng, s.vocal_bars):
        names.append(part.name)
        audio = play(part, float(rng.uniform(0.3, 0.8)))
        audio = mixing.eq(audio, sr, [("highpass", float(rng.uniform(80, 160)), 0.0, 0.707),
                                      ("peak", float(rng.uniform(300, 5000)),
                                       float(rng.uniform(-4, 4)), 1.0)])
        other += mixing.set_level(audio, float(rng.uniform(-24, -19)))
    return other


class Synthesizer:
    """Renders songs; holds the soundfonts, so make one per process and reuse it."""

    def __init__(self, sample_rate: int = 44100, version: str = "v2"):
        if version not in VERSIONS:
            raise ValueError(f"unknown synthesizer version {version!r}; one of {VERSIONS}")
        self.sample_rate = sample_rate
        self.version = version
        self.fluid = FluidRenderer(sample_rate)

    def _render_part(self, part: Part, n: int, rng: np.random.Generator, room: float) -> np.ndarray:
        """A part through a random soundfont, then its own room: ``room`` 0 (dry) .. 1 (hall)."""
        dry = self.fluid.render(part, n, font=int(rng.integers(self.fluid.n_fonts)))
        if room <= 0.05:
            return dry
        ir = mixing.reverb_ir(self.sample_rate, rng, rt60=0.3 + 2.0 * room,
                              predelay=float(rng.uniform(0.005, 0.03)),
                              brightness=float(rng.uniform(0.2, 0.8)))
        return mixing.reverb(dry, ir, wet=float(rng.uniform(0.1, 0.35)) * room)

    def _vocals(self, plan: SongPlan, rng: np.random.Generator, n: int,
                names: list[str]) -> np.ndarray:
        sr = self.sample_rate
        female = rng.random() < 0.55
        voices = voice.FEMALE if female else voice.MALE
        singer = str(rng.choice(voices))
        low = int(rng.integers(55, 60)) if female else int(rng.integers(45, 50))
        notes = _vocal_notes(plan, rng, low)
        names.append(f"lead {singer}")
        lead = voice.air(voice.sing_line(rng, singer, notes, n, sr), sr, rng)
        out = mixing.pan(lead, float(rng.uniform(-0.05, 0.05)))
        chorus_notes = [nt for nt in notes
                        if plan.section_at(int(nt[0] / plan.bar_s)).name == "chorus"]
        if chorus_notes and rng.random() < 0.7:  # double-tracked chorus, panned wide
            spread = float(rng.uniform(0.4, 0.8))
            for side, detune in ((-spread, 6.0), (spread, -6.0)):
                take = voice.sing_line(rng, str(rng.choice(voices)), chorus_notes, n, sr,
                                       detune_cents=detune,
                                       delay_s=float(rng.uniform(0.008, 0.03)))
                out += 0.45 * mixing.pan(take, side)
            names.append("double")
        if chorus_notes and rng.random() < 0.4:  # a third above, quieter
            harmony = [(s, d, p + (4 if (p - plan.key) % 12 in (0, 5, 7) else 3), v)
                       for s, d, p, v in chorus_notes]
            out += 0.35 * mixing.pan(voice.sing_line(rng, singer, harmony, n, sr),
                                     float(rng.uniform(-0.3, 0.3)))
            names.append("harmony")
        if rng.random() < 0.35:  # choir "aahs" under the lead
            part = Part("choir", "vocals", int(rng.choice(CHOIR)),
                        pan=float(rng.uniform(-0.3, 0.3)))
            part.notes = [Note(s, d, p, int(v * 0.6)) for s, d, p, v in notes]
            choir = self._render_part(part, n, rng, room=0.7)
            out += mixing.set_level(choir, mixing.rms_db(out) - float(rng.uniform(8, 14)))
            names.append("choir")
        out = mixing.eq(out, sr, [("highpass", 95.0, 0.0, 0.707),
                                  ("peak", float(rng.uniform(2500, 4000)),
                                   float(rng.uniform(0, 3)), 1.0)])
        out = mixing.compress(out, sr, threshold_db=mixing.rms_db(out) + 3, ratio=3.0)
        ir = mixing.reverb_ir(sr, rng, rt60=float(rng.uniform(0.9, 2.2)),
                              predelay=float(rng.uniform(0.01, 0.04)),
                              brightness=float(rng.uniform(0.3, 0.9)))
        return mixing.reverb(out, ir, wet=float(rng.uniform(0.12, 0.3)))

    def render(self, seed: int, duration: float | None = None, style: str | None = None,
               from_start: bool = False) -> Song:
        """A song from ``seed``: the same seed always gives the same samples."""
        if self.version == "v2":
            from . import song_v2

            return song_v2.render(self, seed, duration, style, from_start)
        s = start(seed, duration, style, from_start, self.sample_rate)
        rng, plan, n, sr = s.rng, s.plan, s.n, self.sample_rate
        instruments: dict[str, list[str]] = {name: [] for name in STEMS}
        stems = {}
        stems["vocals"] = self._vocals(plan, rng, n, instruments["vocals"])
        drums = drum_part(plan, rng)
        instruments["drums"].append(drums.name)
        stems["drums"] = mixing.compress(self._render_part(drums, n, rng, room=0.3), sr,
                                         threshold_db=-24, ratio=2.5, release_s=0.08)
        bass = bass_part(plan, rng)
        instruments["bass"].append(f"bass {bass.program}")
        stems["bass"] = mixing.compress(
            mixing.eq(self._render_part(bass, n, rng, room=0.1), sr,
                      [("highpass", 35.0, 0.0, 0.707)]), sr, threshold_db=-26, ratio=3.0)
        stems["other"] = other_stem(lambda part, room: self._render_part(part, n, rng, room),
                                    s, sr, instruments["other"])
        for name in STEMS:
            stems[name] = mixing.set_level(stems[name],
                                           TARGET_LEVEL_DB[name] + float(rng.normal(0, 2.0)))
        song = Song(stems, sr, plan, instruments)
        peak = float(np.abs(song.mixture).max())
        scale = float(rng.uniform(0.5, 0.95)) / max(peak, 1e-9)
        for name in STEMS:
            stems[name] = (stems[name] * scale).astype(np.float32)
        return song
