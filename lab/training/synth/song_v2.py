"""Synth v2: the same composer as v1, performed and produced more like a release.

- vocals: a natural-speech singer re-sung by WORLD (``singer``): one lyric per lead note that
  doubles and harmonies sing too, melismas, ad-libs in the choruses, breaths, full-band air;
- instruments: a soundfont per part from several, velocity dynamics (phrase swells, accents on
  strong beats) and articulation (staccato to legato), wider stereo placement;
- drums: multi-sampled acoustic kits where installed (or GM kits), in a room: early reflections
  and a short, bright room reverb;
- master: bus compression, a limiter and a loudness drawn from -14 to -7 LUFS, as one gain
  shared by every stem (``master``), so the stems still sum exactly to the mixture.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from ...musdb import STEMS
from . import master, mixing, singer
from .drums import drum_part
from .parts import bass_part
from .score import Note, Part, SongPlan

if TYPE_CHECKING:
    from .song import Song, Synthesizer

ACOUSTIC_STYLES = ("rock", "pop", "funk", "hiphop", "ballad", "shuffle", "halftime", "waltz",
                   "disco", "bossa")
PRE_MASTER_DB = {"vocals": -17.0, "drums": -18.0, "bass": -20.0, "other": -20.0}


def _lyrics(rng: np.random.Generator, n_notes: int, hook: list[str]) -> list[str]:
    words = []
    for i in range(n_notes):
        words.append(hook[i % len(hook)] if hook and rng.random() < 0.6 else
                     str(rng.choice(singer.WORDS)))
    return words


def lead_line(plan: SongPlan, rng: np.random.Generator, low: int) -> list[singer.SungNote]:
    """The lead melody with lyrics (the chorus repeats a hook) and melismas on long notes."""
    from .song import _vocal_notes

    notes = _vocal_notes(plan, rng, low)
    hook = [str(w) for w in rng.choice(singer.WORDS, size=int(rng.integers(2, 5)))]
    out = []
    for (start, length, pitch, velocity), word in zip(notes, _lyrics(rng, len(notes), []),
                                                      strict=True):
        chorus = plan.section_at(int(start / plan.bar_s)).name == "chorus"
        if chorus and rng.random() < 0.6:
            word = hook[len(out) % len(hook)]
        pitches: tuple[float, ...] = (float(pitch),)
        if length > 0.6 and rng.random() < 0.3:
            step = float(rng.choice([2, -1, -2, 3]))
            pitches = (pitch, pitch + step, pitch) if rng.random() < 0.5 else (pitch + step, pitch)
        out.append(singer.SungNote(start, length, pitches, velocity, word))
    return out


def ad_libs(plan: SongPlan, rng: np.random.Generator,
            lead: list[singer.SungNote]) -> list[singer.SungNote]:
    """Vocables with melismas in the gaps the lead leaves in choruses and the outro."""
    out = []
    for prev, nxt in zip(lead, lead[1:], strict=False):
        gap_start = prev.start + prev.duration + 0.05
        gap = nxt.start - gap_start - 0.05
        section = plan.section_at(int(gap_start / plan.bar_s)).name
        if gap > 0.5 and section in ("chorus", "outro") and rng.random() < 0.5:
            top = prev.pitches[-1] + float(rng.choice([3, 5, 7, 12]))
            steps = [top, top - 2, top - 3, top - 5][: int(rng.integers(2, 5))]
            out.append(singer.SungNote(gap_start, min(gap, 1.2), tuple(steps),
                                       int(rng.integers(60, 95)), str(rng.choice(singer.VOCABLES))))
    return out


def _harmony(plan: SongPlan, line: list[singer.SungNote]) -> list[singer.SungNote]:
    def third(p: float) -> float:
        return p + (4 if (round(p) - plan.key) % 12 in (0, 5, 7) else 3)
    return [replace(n, pitches=tuple(third(p) for p in n.pitches)) for n in line]


def vocals(synth: Synthesizer, plan: SongPlan, rng: np.random.Generator, n: int,
           names: list[str]) -> np.ndarray:
    sr = synth.sample_rate
    female = rng.random() < 0.55
    lead_singer = singer.draw_singer(rng, female)
    low = int(rng.integers(55, 60)) if female else int(rng.integers(45, 50))
    line = lead_line(plan, rng, low)
    names.append(f"lead {lead_singer.voice} warp {lead_singer.warp:.2f}")
    out = mixing.pan(singer.sing_line(rng, lead_singer, line, n, sr),
                     float(rng.uniform(-0.05, 0.05)))
    chorus = [nt for nt in line if plan.section_at(int(nt.start / plan.bar_s)).name == "chorus"]
    if chorus and rng.random() < 0.7:  # the chorus double-tracked by the same singer
        spread = float(rng.uniform(0.4, 0.9))
        for side in (-spread, spread):
            take = replace(lead_singer, warp=lead_singer.warp * float(rng.uniform(0.97, 1.03)))
            audio = singer.sing_line(rng, take, chorus, n, sr,
                                     detune_cents=float(rng.uniform(-10, 10)),
                                     delay_s=float(rng.uniform(0.01, 0.035)), breaths=False)
            out += float(rng.uniform(0.3, 0.5)) * mixing.pan(audio, side)
        names.append("double")
    if chorus and rng.random() < 0.45:
        audio = singer.sing_line(rng, lead_singer, _harmony(plan, chorus), n, sr, breaths=False)
        out += float(rng.uniform(0.25, 0.4)) * mixing.pan(audio, float(rng.uniform(-0.4, 0.4)))
        names.append("harmony")
    extra = ad_libs(plan, rng, line)
    if extra and rng.random() < 0.6:
        audio = singer.sing_line(rng, lead_singer, extra, n, sr, breaths=False)
        out += float(rng.uniform(0.3, 0.6)) * mixing.pan(audio, float(rng.uniform(-0.5, 0.5)))
        names.append("ad-libs")
    return _vocal_chain(out, sr, rng)


def _vocal_chain(x: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Producer's chain: high-pass, presence, an air shelf, compression, plate-like reverb."""
    x = mixing.eq(x, sr, [("highpass", float(rng.uniform(80, 120)), 0.0, 0.707),
                          ("peak", float(rng.uniform(200, 400)), float(rng.uniform(-3, 0)), 1.0),
                          ("peak", float(rng.uniform(2500, 5000)), float(rng.uniform(0, 3)), 1.0),
                          ("highshelf", float(rng.uniform(8000, 12000)),
                           float(rng.uniform(1, 5)), 0.707)])
    x = mixing.compress(x, sr, threshold_db=mixing.rms_db(x) + float(rng.uniform(0, 4)),
                        ratio=float(rng.uniform(2.5, 5.0)), release_s=0.1)
    ir = mixing.reverb_ir(sr, rng, rt60=float(rng.uniform(1.0, 2.4)),
                          predelay=float(rng.uniform(0.015, 0.05)),
                          brightness=float(rng.uniform(0.5, 1.0)))
    return mixing.reverb(x, ir, wet=float(rng.uniform(0.1, 0.28)))


def perform(part: Part, plan: SongPlan, rng: np.random.Generator) -> Part:
    """Dynamics and articulation: phrase swells over two bars, accents on strong beats, and a
    note-length factor from staccato (0.5) to legato (1.05) per part; drums keep their hits."""
    legato = 1.0 if part.drums else float(rng.uniform(0.5, 1.05))
    depth = float(rng.uniform(4, 14))
    phase = float(rng.uniform(0, 2 * np.pi))
    notes = []
    for note in part.notes:
        beat = note.start / plan.beat_s
        swell = depth * np.sin(2 * np.pi * beat / (2 * plan.beats_per_bar) + phase)
        accent = 6.0 if abs(beat - round(beat)) < 0.05 and round(beat) % 2 == 0 else 0.0
        velocity = int(np.clip(note.velocity + swell + accent + rng.normal(0, 4), 12, 127))
        duration = note.duration if part.drums else max(0.03, note.duration * legato)
        notes.append(Note(note.start, duration, note.pitch, velocity))
    return replace(part, notes=notes)


def _room_ir(sr: int, rng: np.random.Generator) -> np.ndarray:
    """A drum room: a handful of early reflections (3-30 ms, alternating sides) before a short
    diffuse tail. (2, L)."""
    tail = mixing.reverb_ir(sr, rng, rt60=float(rng.uniform(0.3, 0.9)),
                            predelay=0.03, brightness=float(rng.uniform(0.5, 1.0)))
    for k in range(int(rng.integers(6, 12))):
        at = int(float(rng.uniform(0.003, 0.03)) * sr)
        tail[k % 2, at] += float(rng.uniform(0.4, 1.0)) * (1 - at / (0.035 * sr))
    return tail


def drums(synth: Synthesizer, plan: SongPlan, rng: np.random.Generator, n: int,
          names: list[str]) -> np.ndarray:
    sr = synth.sample_rate
    part = perform(drum_part(plan, rng), plan, rng)
    kit = None
    if plan.style in ACOUSTIC_STYLES and synth.fluid.n_kits and rng.random() < 0.6:
        kit = int(rng.integers(synth.fluid.n_kits))
        names.append(f"acoustic kit {kit}")
    else:
        names.append(part.name)
    dry = synth.fluid.render(part, n, font=int(rng.integers(synth.fluid.n_fonts)), kit=kit)
    dry = mixing.compress(dry, sr, threshold_db=mixing.rms_db(dry) + 6, ratio=3.0,
                          release_s=0.08)
    return mixing.reverb(dry, _room_ir(sr, rng), wet=float(rng.uniform(0.15, 0.4)))


def _instrument(synth: Synthesizer, part: Part, plan: SongPlan, rng: np.random.Generator,
                n: int, room: float) -> np.ndarray:
    part = perform(part, plan, rng)
    part.pan = float(np.clip(part.pan * float(rng.uniform(1.0, 1.4)), -1, 1))
    return synth._render_part(part, n, rng, room)


def render(synth: Synthesizer, seed: int, duration: float | None = None,
           style: str | None = None, from_start: bool = False) -> Song:
    from .song import Song, other_stem, start

    s = start(seed, duration, style, from_start, synth.sample_rate)
    rng, plan, n, sr = s.rng, s.plan, s.n, synth.sample_rate
    names: dict[str, list[str]] = {name: [] for name in STEMS}
    stems = {"vocals": vocals(synth, plan, rng, n, names["vocals"]),
             "drums": drums(synth, plan, rng, n, names["drums"])}
    bass = bass_part(plan, rng)
    names["bass"].append(f"bass {bass.program}")
    stems["bass"] = mixing.compress(
        mixing.eq(_instrument(synth, bass, plan, rng, n, room=0.1), sr,
                  [("highpass", 35.0, 0.0, 0.707)]), sr, threshold_db=-26, ratio=3.0)
    stems["other"] = other_stem(lambda part, room: _instrument(synth, part, plan, rng, n, room),
                                s, sr, names["other"])
    for name in STEMS:
        stems[name] = mixing.set_level(stems[name], PRE_MASTER_DB[name] + float(rng.normal(0, 2)))
    settings = master.draw_settings(rng)
    stems = master.master(stems, sr, settings)
    return Song(stems, sr, plan, names, loudness=settings.lufs)
