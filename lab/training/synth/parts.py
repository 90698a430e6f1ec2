"""Pitched accompaniment: a bass line on the harmony and the "other" instruments (keys, guitars,
pads, strings, brass, leads), each with style-dependent patterns and voice-led chords."""

from __future__ import annotations

import numpy as np

from .score import Chord, Note, Part, SongPlan
from .theory import melody

BASS_PROGRAMS = {"electronic": (38, 39), "funk": (33, 36, 37), "bossa": (32, 33, 35),
                 "ballad": (32, 33, 35), "disco": (33, 34, 38), "hiphop": (33, 38, 39)}
DEFAULT_BASS = (33, 34, 35, 38)
BASS_PATTERNS = {  # style -> candidate bass patterns
    "rock": ("root8", "root4", "synco"), "pop": ("root4", "synco", "rootfifth", "root8"),
    "funk": ("synco", "octave"), "disco": ("octave",), "hiphop": ("synco", "whole"),
    "ballad": ("whole", "rootfifth"), "shuffle": ("walk", "rootfifth"), "bossa": ("bossa",),
    "electronic": ("root8", "octave", "synco"), "halftime": ("synco", "root8"),
    "waltz": ("rootfifth", "root4"),
}
BASS_RHYTHMS = {"root8": "x.x.x.x.x.x.x.x.", "root4": "x...x...x...x...",
                "synco": "x..x......x..x..", "octave": "x.X.x.X.x.X.x.X.",
                "rootfifth": "x.......F.......", "whole": "x...............",
                "bossa": "x..Fx..Fx..Fx..F", "walk": "x...w...w...w..."}

# "Other" instruments: role -> GM programs.
KEYS = (0, 1, 2, 4, 5, 7, 16, 17, 18, 11)
GUITARS = (24, 25, 26, 27, 28, 29, 30)
PADS = (88, 89, 90, 92, 95)
STRINGS = (48, 49, 50, 51)
BRASS = (56, 57, 60, 61, 62, 63)
LEADS = (80, 81, 73, 65, 66, 71, 40, 12, 22)
COMPING = {  # role -> rhythm names; "." rest, "x" chord, "a" arpeggio note, "d"/"u" strums
    "keys": ("block", "half", "offbeat", "arp", "syncop"),
    "guitar": ("strum", "power", "arp", "syncop", "bossa"),
}
RHYTHMS = {"block": "x...x...x...x...", "half": "x.......x.......", "whole": "x...............",
           "offbeat": "..x...x...x...x.", "arp": "aaaaaaaa", "syncop": "x..x..x...x.x...",
           "strum": "d.d.u.dud.u.d.u.", "power": "xxxxxxxxxxxxxxxx", "bossa": "x..x..x...x..x.."}


def voicing(chord: Chord, low: int, high: int, previous: list[int] | None,
            n_voices: int) -> list[int]:
    """Chord tones between ``low`` and ``high``, as close as possible to the previous voicing."""
    candidates = []
    for inversion in range(len(chord.tones)):
        tones = chord.tones[inversion:] + chord.tones[:inversion]
        for octave in range(low // 12, high // 12 + 1):
            pitches, last = [], octave * 12 + tones[0] - 1
            for pc in (tones * 2)[:n_voices]:
                p = last + 1 + (pc - last - 1) % 12
                pitches.append(p)
                last = p
            if pitches[0] >= low and pitches[-1] <= high:
                candidates.append(pitches)
    if not candidates:
        return [low + (chord.root - low) % 12]
    centre = previous or [(low + high) // 2] * n_voices
    return min(candidates, key=lambda c: sum(abs(a - b) for a, b in zip(c, centre, strict=False)))


def _bass_pitch(pc: int, low: int = 28) -> int:
    return low + (pc - low) % 12


class _Writer:
    """Adds humanised notes to a part on the plan's beat grid."""

    def __init__(self, plan: SongPlan, part: Part, rng: np.random.Generator, jitter: float):
        self.plan, self.part, self.rng, self.jitter = plan, part, rng, jitter

    def note(self, beat: float, beats: float, pitch: int, velocity: float,
             offset: float = 0.0) -> None:
        plan = self.plan
        start = plan.time(beat) + offset + self.rng.normal(0, self.jitter)
        end = plan.time(beat + beats)
        velocity += self.rng.normal(0, 5)
        self.part.notes.append(Note(max(0.0, start), max(0.03, end - start), int(pitch),
                                    int(np.clip(velocity, 15, 127))))


def bass_part(plan: SongPlan, rng: np.random.Generator) -> Part:
    programs = BASS_PROGRAMS.get(plan.style, DEFAULT_BASS)
    pattern = str(rng.choice(BASS_PATTERNS[plan.style]))
    rhythm = BASS_RHYTHMS[pattern][: plan.beats_per_bar * 4]
    part = Part(name="bass", stem="bass", program=int(rng.choice(programs)))
    w = _Writer(plan, part, rng, jitter=float(rng.uniform(0.004, 0.01)))
    bpb = plan.beats_per_bar
    for section in plan.sections:
        steps = rhythm if section.energy > 0.3 else BASS_RHYTHMS["whole"][: bpb * 4]
        for bar in range(section.start_bar, section.start_bar + section.n_bars):
            marks = [(i, m) for i, m in enumerate(steps) if m != "."]
            for j, (step, mark) in enumerate(marks):
                beat = bar * bpb + step / 4
                chord = plan.chord_at(bar, int(step >= bpb * 2))
                nxt = marks[j + 1][0] if j + 1 < len(marks) else bpb * 4
                length = (nxt - step) / 4 * (0.85 if pattern != "whole" else 0.97)
                root = _bass_pitch(chord.bass)
                if mark == "X":
                    pitch = root + 12
                elif mark == "F":
                    pitch = _bass_pitch((chord.root + 7) % 12)
                elif mark == "w":  # walking: chord tones, then a chromatic step to the next root
                    target = _bass_pitch(plan.chord_at(bar + (step >= 12), 0).root)
                    pitch = target - 1 if step == 12 else _bass_pitch(
                        chord.tones[int(rng.integers(len(chord.tones)))])
                else:
                    pitch = root
                w.note(beat, length, pitch, 70 + 35 * section.energy)
    return part


def comping_part(plan: SongPlan, rng: np.random.Generator, role: str, program: int,
                 stem: str = "other") -> Part:
    """Chords for ``role`` ("keys", "guitar", "pad", "strings", "brass")."""
    part = Part(name=f"{role} {program}", stem=stem, program=program,
                pan=float(rng.uniform(-0.7, 0.7)))
    if role in COMPING:
        rhythm_name = str(rng.choice(COMPING[role]))
        if program in (29, 30):
            rhythm_name = "power"
    elif role == "brass":
        rhythm_name = "syncop" if rng.random() < 0.5 else "half"
    else:
        rhythm_name = "whole"
    rhythm = RHYTHMS[rhythm_name]
    low, high = {"guitar": (40, 72), "pad": (48, 79), "strings": (48, 84),
                 "brass": (53, 79)}.get(role, (48, 76))
    w = _Writer(plan, part, rng, jitter=float(rng.uniform(0.005, 0.012)))
    bpb, prev = plan.beats_per_bar, None
    for section in plan.sections:
        if role == "brass" and section.energy < 0.7:
            continue
        if role in ("pad", "strings") and section.energy < 0.3 and rng.random() < 0.5:
            continue
        level = 55 + 45 * section.energy
        for bar in range(section.start_bar, section.start_bar + section.n_bars):
            for half in (0, 1):
                chord = plan.chord_at(bar, half)
                n_voices = 3 if rhythm_name == "power" else int(rng.integers(3, 5))
                notes = voicing(chord, low, high, prev, n_voices)
                prev = notes
                if rhythm_name == "power":
                    notes = [_bass_pitch(chord.root, 40), _bass_pitch(chord.root, 40) + 7,
                             _bass_pitch(chord.root, 40) + 12]
                _comp_half(w, rhythm_name, rhythm, bar * bpb + half * bpb / 2, bpb, notes,
                           level, whole=rhythm_name == "whole")
    return part


def _comp_half(w: _Writer, name: str, rhythm: str, start: float, bpb: int, notes: list[int],
               level: float, whole: bool) -> None:
    """Half a bar of comping from a 16-step rhythm string."""
    half_steps = bpb * 2
    if name == "arp":
        for i in range(half_steps // 2):
            pitch = notes[i % len(notes)] if (i // len(notes)) % 2 == 0 else notes[
                -1 - i % len(notes)]
            w.note(start + i * 0.5, 0.45, pitch, level - 8)
        return
    if whole:
        for p in notes:
            w.note(start, bpb / 2 * 0.98, p, level - 10)
        return
    offset = 0 if start % bpb == 0 else half_steps
    marks = [(i, rhythm[(offset + i) % len(rhythm)]) for i in range(half_steps)]
    hits = [(i, m) for i, m in marks if m != "."]
    for j, (i, mark) in enumerate(hits):
        nxt = hits[j + 1][0] if j + 1 < len(hits) else half_steps
        length = (nxt - i) / 4 * (0.5 if name in ("power", "syncop", "offbeat") else 0.9)
        order = notes if mark != "u" else notes[::-1]
        spread = 0.012 if mark in "du" else 0.0  # s between strings of a strum
        for k, p in enumerate(order):
            w.note(start + i / 4, length, p, level - (8 if mark == "u" else 0), k * spread)


def lead_part(plan: SongPlan, rng: np.random.Generator, vocal_bars: set[int]) -> Part | None:
    """A counter-melody in the bars where nobody sings, if the song has such bars."""
    free = [b for b in range(plan.n_bars) if b not in vocal_bars]
    if not free:
        return None
    program = int(rng.choice(LEADS))
    part = Part(name=f"lead {program}", stem="other", program=program,
                pan=float(rng.uniform(-0.5, 0.5)))
    w = _Writer(plan, part, rng, jitter=0.008)
    lo = 60 + int(rng.integers(0, 7))
    for beat, length, pitch in melody(plan, rng, range(free[0], free[-1] + 1), lo, lo + 17, 0.6):
        if int(beat // plan.beats_per_bar) in free:
            w.note(beat, length * 0.92, pitch, 80)
    return part if part.notes else None


def other_parts(plan: SongPlan, rng: np.random.Generator, vocal_bars: set[int]) -> list[Part]:
    """Two to four instruments for the "other" stem: always a chord bed, then colours."""
    bed_role = "guitar" if plan.style in ("rock", "halftime") or rng.random() < 0.35 else "keys"
    bed = comping_part(plan, rng, bed_role, int(rng.choice(GUITARS if bed_role == "guitar"
                                                           else KEYS)))
    parts = [bed]
    extras = [("keys", KEYS), ("guitar", GUITARS), ("pad", PADS), ("strings", STRINGS),
              ("brass", BRASS)]
    rng.shuffle(extras)
    for role, programs in extras[: int(rng.integers(1, 3))]:
        parts.append(comping_part(plan, rng, role, int(rng.choice(programs))))
    if rng.random() < 0.6:
        lead = lead_part(plan, rng, vocal_bars)
        if lead is not None:
            parts.append(lead)
    return parts
