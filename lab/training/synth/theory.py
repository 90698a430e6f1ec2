"""Harmony, form and melody: the composer's decisions, drawn at random from a seed."""

from __future__ import annotations

import numpy as np

from .score import Chord, Section, SongPlan

SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
}
MODE_WEIGHTS = {"major": 0.5, "minor": 0.35, "dorian": 0.08, "mixolydian": 0.07}
# Progressions as scale degrees (1-based), the staples of pop, rock and soul.
PROGRESSIONS = {
    "major": ((1, 5, 6, 4), (6, 4, 1, 5), (1, 6, 4, 5), (1, 4, 1, 5), (1, 4, 6, 5),
              (4, 1, 5, 6), (1, 3, 4, 4), (2, 5, 1, 6), (1, 5, 4, 5), (4, 5, 3, 6)),
    "minor": ((1, 6, 3, 7), (1, 4, 5, 1), (1, 7, 6, 7), (1, 6, 7, 1), (1, 4, 7, 3),
              (6, 7, 1, 1), (1, 3, 7, 4), (4, 5, 1, 1)),
    "dorian": ((1, 4, 1, 4), (1, 2, 1, 7), (1, 4, 7, 1)),
    "mixolydian": ((1, 7, 4, 1), (1, 4, 7, 4), (1, 7, 1, 4)),
}
# Groove family -> (tempo range in BPM, swing range, swing grid in beats).
STYLES = {
    "rock": ((100, 150), (0.0, 0.0), 0.25),
    "pop": ((90, 130), (0.0, 0.08), 0.25),
    "funk": ((90, 118), (0.05, 0.2), 0.25),
    "disco": ((110, 128), (0.0, 0.05), 0.25),
    "hiphop": ((78, 100), (0.1, 0.28), 0.25),
    "ballad": ((64, 84), (0.0, 0.05), 0.25),
    "shuffle": ((95, 140), (0.25, 0.33), 0.5),
    "bossa": ((120, 145), (0.0, 0.0), 0.25),
    "electronic": ((118, 132), (0.0, 0.0), 0.25),
    "halftime": ((130, 160), (0.0, 0.1), 0.25),
    "waltz": ((90, 150), (0.0, 0.0), 0.25),
}
FORMS = (
    (("intro", 2), ("verse", 4), ("chorus", 4), ("verse", 4), ("chorus", 4), ("outro", 2)),
    (("intro", 4), ("verse", 8), ("chorus", 8), ("bridge", 4), ("chorus", 8)),
    (("intro", 2), ("verse", 4), ("verse", 4), ("chorus", 4), ("bridge", 2), ("chorus", 4)),
    (("verse", 4), ("chorus", 4), ("verse", 4), ("chorus", 4), ("outro", 4)),
)
ENERGY = {"intro": 0.35, "verse": 0.55, "chorus": 0.9, "bridge": 0.65, "outro": 0.4}


def make_chord(key: int, mode: str, degree: int, seventh: bool, inversion: int = 0) -> Chord:
    scale = SCALES[mode]
    i = degree - 1
    steps = (0, 2, 4, 6) if seventh else (0, 2, 4)
    tones = [(key + scale[(i + s) % 7]) % 12 for s in steps]
    if mode == "minor" and degree == 5:
        tones[1] = (tones[1] + 1) % 12  # harmonic-minor dominant: the raised leading tone
    return Chord(root=tones[0], tones=tuple(tones), bass=tones[inversion % len(tones)])


def _section_chords(rng: np.random.Generator, key: int, mode: str, prog: tuple[int, ...],
                    n_bars: int, two_per_bar: bool) -> tuple[Chord, ...]:
    sevenths = rng.random() < 0.3
    chords: list[Chord] = []
    slots = n_bars * 2
    per_chord = 1 if two_per_bar else 2
    i = 0
    while len(chords) < slots:
        inversion = 1 if rng.random() < 0.12 else 0
        chord = make_chord(key, mode, prog[i % len(prog)], sevenths and rng.random() < 0.6,
                           inversion)
        chords.extend([chord] * per_chord)
        i += 1
    return tuple(chords[:slots])


def make_plan(seed: int, duration: float, style: str | None = None,
              from_start: bool = False) -> SongPlan:
    """A song of exactly ``duration`` seconds: a window into a randomly drawn form.

    ``from_start`` begins at the first bar (a whole-song demo); otherwise the window starts at
    a random bar, as excerpts for training do.
    """
    rng = np.random.default_rng(seed)
    style = style or str(rng.choice(list(STYLES)))
    (lo, hi), (swing_lo, swing_hi), grid = STYLES[style]
    tempo = float(rng.uniform(lo, hi))
    beats = 3 if style == "waltz" else 4
    modes = list(MODE_WEIGHTS)
    mode = str(rng.choice(modes, p=list(MODE_WEIGHTS.values())))
    key = int(rng.integers(12))
    progs = PROGRESSIONS[mode]
    by_name = {name: progs[int(rng.integers(len(progs)))] for name in ENERGY}
    form = FORMS[int(rng.integers(len(FORMS)))]
    bar_s = beats * 60.0 / tempo
    needed = int(np.ceil(duration / bar_s)) + 1
    # Lay the form out (repeated if the song is long), then take a window of `needed` bars.
    layout: list[tuple[str, int]] = []
    while sum(n for _, n in layout) < needed + (0 if from_start else 8):
        layout.extend(form)
    total = sum(n for _, n in layout)
    start = 0 if from_start else int(rng.integers(0, max(1, total - needed)))
    sections, bar, cursor = [], 0, 0
    fast_harmony = rng.random() < 0.2
    for name, n in layout:
        lo_bar, hi_bar = max(cursor, start), min(cursor + n, start + needed)
        cursor += n
        if hi_bar <= lo_bar:
            continue
        count = hi_bar - lo_bar
        chords = _section_chords(rng, key, mode, by_name[name], n, fast_harmony)
        offset = 2 * (lo_bar - (cursor - n))
        energy = float(np.clip(ENERGY[name] + rng.normal(0, 0.08), 0.15, 1.0))
        sections.append(Section(name, bar, count, chords[offset:offset + 2 * count], energy,
                                vocals=name not in ("intro", "outro") or rng.random() < 0.2))
        bar += count
    return SongPlan(seed=seed, style=style, tempo=tempo, beats_per_bar=beats, key=key, mode=mode,
                    swing=float(rng.uniform(swing_lo, swing_hi)), swing_grid=grid,
                    sections=tuple(sections), duration=duration)


# --- melody ------------------------------------------------------------------------------

RHYTHM_CELLS = (  # note lengths in beats filling one beat (negative: rest)
    (1.0,), (0.5, 0.5), (0.75, 0.25), (0.5, 0.25, 0.25), (0.25, 0.25, 0.5), (-0.5, 0.5),
    (1.0,), (0.5, 0.5),
)


def _scale_pitches(plan: SongPlan, low: int, high: int) -> np.ndarray:
    scale = SCALES[plan.mode]
    pcs = {(plan.key + s) % 12 for s in scale}
    return np.array([p for p in range(low, high + 1) if p % 12 in pcs])


def _phrase_rhythm(rng: np.random.Generator, n_beats: int, density: float) -> list[tuple]:
    """(onset beat, length in beats) of the notes of one phrase, ending on a held note."""
    notes, beat = [], 0.0
    sung = max(1, n_beats - int(rng.integers(1, 3)))  # leave a breath at the end
    while beat < sung - 1:
        cell = RHYTHM_CELLS[int(rng.integers(len(RHYTHM_CELLS)))]
        if rng.random() > density:
            cell = (1.0,) if rng.random() < 0.6 else (-1.0,)
        for length in cell:
            if length > 0:
                notes.append((beat, length))
            beat += abs(length)
    notes.append((beat, float(sung - beat) + rng.choice([0.0, 0.5])))
    return notes


def melody(plan: SongPlan, rng: np.random.Generator, bars: range, low: int, high: int,
           density: float = 0.7, phrase_bars: int = 2) -> list[tuple[float, float, int]]:
    """(start beat, length in beats, pitch) for a singable line over ``bars``.

    Phrases of ``phrase_bars`` bars; chord tones on strong beats, mostly steps in between, the
    rhythm of the first phrase of each pair repeated in the second (songs repeat motifs).
    """
    pitches = _scale_pitches(plan, low, high)
    bpb = plan.beats_per_bar
    out: list[tuple[float, float, int]] = []
    idx = len(pitches) // 2
    motif = None
    for k, first in enumerate(range(bars.start, bars.stop, phrase_bars)):
        n_beats = min(phrase_bars, bars.stop - first) * bpb
        if motif is None or k % 2 == 0 or len(motif) == 0:
            motif = _phrase_rhythm(rng, n_beats, density)
        for onset, length in motif:
            if onset >= n_beats:
                break
            beat = first * bpb + onset
            chord = plan.chord_at(int(beat // bpb), int((beat % bpb) >= bpb / 2))
            strong = onset % 1 == 0 and (onset % bpb) in (0, bpb // 2)
            if strong or rng.random() < 0.25:
                candidates = [i for i, p in enumerate(pitches) if p % 12 in chord.tones]
                idx = min(candidates, key=lambda i: abs(i - idx) + rng.random() * 2)
            else:
                idx = int(np.clip(idx + rng.choice([-2, -1, -1, 1, 1, 2]), 0, len(pitches) - 1))
            out.append((beat, min(length, n_beats - onset), int(pitches[idx])))
    return out
