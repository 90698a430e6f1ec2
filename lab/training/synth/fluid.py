"""Rendering note events with FluidSynth (libfluidsynth through ctypes, float output).

One ``FluidRenderer`` per process loads the General MIDI soundfonts once into a loader synth;
each part is rendered dry by a fresh synth that borrows those soundfonts. A reused synth is not
deterministic (voices outlive resets, effect delay lines keep their tails), a fresh one is, and
it costs milliseconds. Effects are ours (``mixing``).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
from pathlib import Path

import numpy as np

from .score import Part

SOUNDFONT_DIRS = (Path("/usr/share/sounds/sf2"), Path("/usr/share/sounds/sf3"))
# Distribution soundfonts of sampled instruments, best first (Debian/Ubuntu package names:
# fluid-soundfont-gm, musescore-general-soundfont, timgm6mb-soundfont).
SOUNDFONTS = ("FluidR3_GM.sf2", "MuseScore_General_Full.sf3", "MuseScore_General.sf3",
              "TimGM6mb.sf2")
DRUM_CHANNEL = 9
# Multi-sampled acoustic drum kits (Debian: avldrums.lv2-soundfont; preset bank 0, program 0, GM
# drum keys), used by synth v2 beside the GM kits. Loaded on first use, so v1 never sees them.
KIT_SOUNDFONTS = ("Red_Zeppelin_4_LV2.sf2", "Black_Pearl_4_LV2.sf2")
KIT_DIRS = (*SOUNDFONT_DIRS, Path("/usr/lib/lv2/avldrums.lv2"))


def _write(lib: ctypes.CDLL, synth: int, n: int) -> np.ndarray:
    left = np.zeros(n, np.float32)
    right = np.zeros(n, np.float32)
    lib.fluid_synth_write_float(synth, n, left.ctypes.data, 0, 1, right.ctypes.data, 0, 1)
    return np.stack([left, right])


class SynthUnavailableError(RuntimeError):
    """libfluidsynth or the soundfonts are missing (run scripts/install-system-deps.sh)."""


def find_soundfonts(names: tuple[str, ...] = SOUNDFONTS,
                    dirs: tuple[Path, ...] = SOUNDFONT_DIRS) -> list[Path]:
    found = []
    for name in names:
        for folder in dirs:
            path = folder / name
            if path.is_file() and path.resolve() not in {p.resolve() for p in found}:
                found.append(path)
    return found


def _load_library() -> ctypes.CDLL:
    name = ctypes.util.find_library("fluidsynth") or "libfluidsynth.so.3"
    try:
        lib = ctypes.CDLL(name)
    except OSError as err:
        raise SynthUnavailableError(f"libfluidsynth not found ({err}); install the "
                                    "'fluidsynth' package") from err
    vp, ci, cd, cc = ctypes.c_void_p, ctypes.c_int, ctypes.c_double, ctypes.c_char_p
    signatures = {
        "new_fluid_settings": ([], vp),
        "delete_fluid_settings": ([vp], None),
        "fluid_settings_setnum": ([vp, cc, cd], ci),
        "fluid_settings_setint": ([vp, cc, ci], ci),
        "new_fluid_synth": ([vp], vp),
        "delete_fluid_synth": ([vp], None),
        "fluid_synth_sfload": ([vp, cc, ci], ci),
        "fluid_synth_program_select": ([vp, ci, ci, ci, ci], ci),
        "fluid_synth_noteon": ([vp, ci, ci, ci], ci),
        "fluid_synth_noteoff": ([vp, ci, ci], ci),
        "fluid_synth_cc": ([vp, ci, ci, ci], ci),
        "fluid_synth_pitch_bend": ([vp, ci, ci], ci),
        "fluid_synth_get_sfont_by_id": ([vp, ci], vp),
        "fluid_synth_add_sfont": ([vp, vp], ci),
        "fluid_synth_remove_sfont": ([vp, vp], ci),
        "fluid_synth_write_float": ([vp, ci, vp, ci, ci, vp, ci, ci], ci),
    }
    for fname, (args, res) in signatures.items():
        fn = getattr(lib, fname)
        fn.argtypes, fn.restype = args, res
    # A fresh synth warns about every empty channel before its soundfont is attached; keep
    # errors, drop warnings, info and debug (FLUID_WARN=2, FLUID_INFO=3, FLUID_DBG=4).
    lib.fluid_set_log_function.argtypes = [ci, vp, vp]
    for level in (2, 3, 4):
        lib.fluid_set_log_function(level, None, None)
    return lib


class FluidRenderer:
    """Renders one ``Part`` at a time to a (2, N) float32 array."""

    def __init__(self, sample_rate: int, soundfonts: list[Path] | None = None):
        self.sample_rate = sample_rate
        self._lib = lib = _load_library()
        fonts = soundfonts if soundfonts is not None else find_soundfonts()
        if not fonts:
            raise SynthUnavailableError("no General MIDI soundfont found; install "
                                        "fluid-soundfont-gm")
        self._settings = lib.new_fluid_settings()
        lib.fluid_settings_setnum(self._settings, b"synth.sample-rate", float(sample_rate))
        lib.fluid_settings_setnum(self._settings, b"synth.gain", 0.5)
        lib.fluid_settings_setint(self._settings, b"synth.polyphony", 256)
        lib.fluid_settings_setint(self._settings, b"synth.cpu-cores", 1)
        lib.fluid_settings_setint(self._settings, b"synth.reverb.active", 0)
        lib.fluid_settings_setint(self._settings, b"synth.chorus.active", 0)
        self._loader = lib.new_fluid_synth(self._settings)
        self._fonts = []
        for path in fonts:
            sfid = lib.fluid_synth_sfload(self._loader, str(path).encode(), 0)
            if sfid >= 0:
                self._fonts.append(lib.fluid_synth_get_sfont_by_id(self._loader, sfid))
        if not self._fonts:
            raise SynthUnavailableError(f"no soundfont could be loaded from {fonts}")
        self.n_fonts = len(self._fonts)
        self._kits: list[int] | None = None

    def _load(self, paths: list[Path]) -> list[int]:
        fonts = []
        for path in paths:
            sfid = self._lib.fluid_synth_sfload(self._loader, str(path).encode(), 0)
            if sfid >= 0:
                fonts.append(self._lib.fluid_synth_get_sfont_by_id(self._loader, sfid))
        return fonts

    @property
    def n_kits(self) -> int:
        """How many multi-sampled drum kit soundfonts there are (loaded on first call)."""
        if self._kits is None:
            self._kits = self._load(find_soundfonts(KIT_SOUNDFONTS, KIT_DIRS))
        return len(self._kits)

    def render(self, part: Part, n_samples: int, font: int = 0,
               kit: int | None = None) -> np.ndarray:
        """Render ``part`` into exactly ``n_samples`` (2, N) samples (events past it are cut);
        ``kit`` plays a drum part on drum kit soundfont ``kit`` instead of a GM font."""
        lib, sr = self._lib, self.sample_rate
        synth = lib.new_fluid_synth(self._settings)
        if kit is not None and self.n_kits:
            sfont, bank, program = self._kits[kit % self.n_kits], 0, 0
        else:
            sfont, bank, program = self._fonts[font % self.n_fonts], None, None
        sfid = lib.fluid_synth_add_sfont(synth, sfont)
        try:
            return self._play(synth, sfid, part, n_samples, sr, bank, program)
        finally:
            lib.fluid_synth_remove_sfont(synth, sfont)  # borrowed: detach before deleting
            lib.delete_fluid_synth(synth)

    def _play(self, synth: int, sfid: int, part: Part, n_samples: int, sr: int,
              bank: int | None = None, program: int | None = None) -> np.ndarray:
        lib = self._lib
        chan = DRUM_CHANNEL if part.drums else 0
        if bank is None:
            bank = 128 if part.drums else 0
        lib.fluid_synth_program_select(synth, chan, sfid, bank,
                                       part.program if program is None else program)
        lib.fluid_synth_cc(synth, chan, 10, int(np.clip(64 + part.pan * 63, 0, 127)))
        lib.fluid_synth_cc(synth, chan, 7, 100)
        events = []
        for note in part.notes:
            on = int(round(note.start * sr))
            off = max(on + 1, int(round((note.start + note.duration) * sr)))
            events.append((on, 1, note.pitch, note.velocity))
            events.append((off, 0, note.pitch, 0))
        events.sort(key=lambda e: (e[0], e[1]))  # note-offs before note-ons at one instant
        blocks, now = [], 0
        for when, kind, pitch, velocity in events:
            when = min(when, n_samples)
            if when > now:
                blocks.append(_write(lib, synth, when - now))
                now = when
            if kind:
                lib.fluid_synth_noteon(synth, chan, pitch, velocity)
            else:
                lib.fluid_synth_noteoff(synth, chan, pitch)
        if n_samples > now:
            blocks.append(_write(lib, synth, n_samples - now))
        return np.concatenate(blocks, axis=1)[:, :n_samples]

    def close(self) -> None:
        if self._loader:
            self._lib.delete_fluid_synth(self._loader)
            self._lib.delete_fluid_settings(self._settings)
            self._loader = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter exit the library may be gone
            self.close()
