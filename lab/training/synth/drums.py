"""Drum grooves in several styles, with fills into new sections and crashes on the downbeat.

Patterns are written on a 16th-note grid, one string per drum: ``X`` accent, ``x`` normal,
``o`` ghost, ``.`` rest. Waltzes use a 12-step (3/4) grid.
"""

from __future__ import annotations

import numpy as np

from .score import Note, Part, SongPlan

# General MIDI percussion keys.
KEYS = {"K": 36, "k": 35, "S": 38, "E": 40, "R": 37, "C": 39, "H": 42, "P": 44, "O": 46,
        "Y": 51, "B": 53, "X": 49, "Z": 57, "T": 54, "M": 70, "W": 56, "F": 41, "L": 45,
        "N": 47, "U": 48, "I": 50}
VELOCITY = {"X": 112, "x": 88, "o": 42}
# GM kits (bank 128 presets) that suit each style.
KITS = {"rock": (0, 8, 16), "pop": (0, 8), "funk": (0, 8), "disco": (0, 8, 24),
        "hiphop": (0, 8, 25), "ballad": (0, 8, 40), "shuffle": (0, 8, 32), "bossa": (32, 40),
        "electronic": (24, 25), "halftime": (0, 16), "waltz": (0, 32, 40)}

GROOVES: dict[str, tuple[dict[str, str], ...]] = {
    "rock": ({"K": "X.......X.x.....", "S": "....X.......X...", "H": "x.x.x.x.x.x.x.x."},
             {"K": "X.....x.X.......", "S": "....X.......X...", "H": "x.x.x.x.x.x.x.x."},
             {"K": "X.x.....X.x.....", "S": "....X..o....X...", "Y": "x.x.x.x.x.x.x.x."}),
    "pop": ({"K": "X.......X.......", "S": "....X.......X...", "H": "x.x.x.x.x.x.x.x."},
            {"K": "X.....x...X.....", "S": "....X.......X...", "H": "xxx.xxx.xxx.xxx."},
            {"K": "X.......X..x....", "C": "....X.......X...", "H": "x.x.x.x.x.x.x.x."}),
    "funk": ({"K": "X.........X..x..", "S": "....X..o.o..X..o", "H": "Xxx.Xxx.Xxx.Xxx."},
             {"K": "X..x......X.....", "S": "....X.o.....X.o.", "H": "xxxxxxxxxxxxxxxx"}),
    "disco": ({"K": "X...X...X...X...", "S": "....X.......X...", "H": "x.x.x.x.x.x.x.x.",
               "O": "..x...x...x...x."},),
    "hiphop": ({"K": "X.....x...X.....", "S": "....X.......X...", "H": "x.x.x.x.x.x.x.x."},
               {"K": "X..x......X..x..", "S": "....X.......X...", "H": "x.xxx.x.x.xxx.x."}),
    "ballad": ({"K": "X.......x.......", "R": "....x.......x...", "H": "x...x...x...x..."},
               {"K": "X.....x.........", "S": "....x.......x...", "H": "x.x.x.x.x.x.x.x."}),
    "shuffle": ({"K": "X.......X.......", "S": "....X.......X...", "H": "x.x.x.x.x.x.x.x."},
                {"K": "X.....x.X.......", "S": "....X.......X..o", "Y": "x.x.x.x.x.x.x.x."}),
    "bossa": ({"K": "X..xX..xX..xX..x", "R": "x..x..x...x..x..", "H": "xxxxxxxxxxxxxxxx"},),
    "electronic": ({"K": "X...X...X...X...", "C": "....X.......X...", "O": "..x...x...x...x.",
                    "M": "xoxoxoxoxoxoxoxo"},
                   {"K": "X...X...X...X...", "C": "....X.......X...", "H": "xxxxxxxxxxxxxxxx"}),
    "halftime": ({"K": "X.......x.x.....", "S": "........X.......", "H": "x.x.x.x.x.x.x.x."},),
    "waltz": ({"K": "X...........", "S": "....x...x...", "H": "x.x.x.x.x.x."},
              {"K": "X.......x...", "R": "....x...x...", "Y": "x...x...x..."}),
}

FILLS = (  # the last beat or two before a new section
    {"S": "xxxx", "N": "....", "F": "...."},
    {"I": "xx..", "N": "..xx", "F": "...."},
    {"S": "x.xx", "F": "..x.", "U": "...."},
    {"I": "x...", "U": ".x..", "N": "..x.", "F": "...x"},
)


def _strip(pattern: dict[str, str], energy: float, rng: np.random.Generator) -> dict[str, str]:
    """Thin a groove for quiet sections: fewer hats, side stick for snare."""
    if energy >= 0.45:
        return pattern
    out = dict(pattern)
    for hat in ("H", "Y"):
        if hat in out:
            out[hat] = "".join(c if i % 4 == 0 else "." for i, c in enumerate(out[hat]))
    if "S" in out and rng.random() < 0.5:
        out["R"] = out.pop("S")
    return out


def _bar_hits(pattern: dict[str, str], steps: int) -> list[tuple[int, str, str]]:
    hits = []
    for drum, line in pattern.items():
        for step, mark in enumerate(line[:steps]):
            if mark != ".":
                hits.append((step, drum, mark))
    return hits


def drum_part(plan: SongPlan, rng: np.random.Generator) -> Part:
    """The whole song's drum track."""
    steps = plan.beats_per_bar * 4
    grooves = GROOVES[plan.style]
    verse_groove = grooves[int(rng.integers(len(grooves)))]
    chorus_groove = grooves[int(rng.integers(len(grooves)))]
    kit = int(rng.choice(KITS[plan.style]))
    jitter = float(rng.uniform(0.003, 0.009))  # s: a drummer's timing spread
    part = Part(name=f"drums kit {kit}", stem="drums", program=kit, drums=True)
    for section in plan.sections:
        base = chorus_groove if section.energy > 0.75 else verse_groove
        if section.name == "intro" and rng.random() < 0.3:
            continue  # some intros have no drums
        for b in range(section.n_bars):
            bar = section.start_bar + b
            pattern = _strip(base, section.energy, rng)
            hits = _bar_hits(pattern, steps)
            last = b == section.n_bars - 1 and section is not plan.sections[-1]
            if last and rng.random() < 0.75:
                fill = FILLS[int(rng.integers(len(FILLS)))]
                n_fill = 4 * int(rng.integers(1, 3))
                hits = [h for h in hits if h[0] < steps - n_fill or h[1] in ("K",)]
                for drum, line in fill.items():
                    for i, mark in enumerate(line * (n_fill // 4)):
                        if mark != ".":
                            hits.append((steps - n_fill + i, drum, mark))
            if b == 0 and section.energy > 0.5 and (section.start_bar > 0 or rng.random() < 0.5):
                hits.append((0, "X" if rng.random() < 0.7 else "Z", "X"))
            if section.energy > 0.8 and rng.random() < 0.5:
                hits += [(s, "T", "x") for s in range(4, steps, 8)]
            for step, drum, mark in hits:
                beat = bar * plan.beats_per_bar + step / 4
                t = plan.time(beat) + rng.normal(0, jitter)
                velocity = VELOCITY[mark] * (0.75 + 0.35 * section.energy) + rng.normal(0, 6)
                part.notes.append(Note(max(0.0, t), 0.12, KEYS[drum],
                                       int(np.clip(velocity, 20, 127))))
    return part
