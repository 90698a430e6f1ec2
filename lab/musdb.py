"""Songs in the MUSDB18-HQ folder layout, ``<song>/mixture.wav, vocals.wav, drums.wav,
bass.wav, other.wav``, and its four stems (``STEMS``: the one stem list of the lab). Our
test-set writer produces the layout, and a real MUSDB18-HQ copy loads the same way (point at
its ``test`` folder, or at the root: ``test/`` is then used)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine import audio_io
from engine.errors import InvalidArgumentError

STEMS = ("vocals", "drums", "bass", "other")


@dataclass(frozen=True)
class Track:
    name: str
    folder: Path

    def load(self) -> tuple[np.ndarray, dict[str, np.ndarray], int]:
        """(mixture (C, N), {stem: (C, N)}, sample rate); all checked to match."""
        mixture, sr = audio_io.read(self.folder / "mixture.wav")
        stems = {}
        for name in STEMS:
            audio, rate = audio_io.read(self.folder / f"{name}.wav")
            if rate != sr or audio.shape != mixture.shape:
                raise InvalidArgumentError(
                    f"{name}.wav does not match mixture.wav in rate or shape "
                    f"({rate} Hz {audio.shape} vs {sr} Hz {mixture.shape})", self.folder)
            stems[name] = audio
        return mixture, stems, sr


def load_tracks(folder: str | Path) -> list[Track]:
    """Every song folder under ``folder`` holding a mixture and the four stems, by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InvalidArgumentError("is not a folder of test songs", folder)
    if not any((p / "mixture.wav").is_file() for p in folder.iterdir() if p.is_dir()) and (
            folder / "test").is_dir():
        folder = folder / "test"
    tracks = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        files = [sub / f"{n}.wav" for n in ("mixture",) + STEMS]
        if all(f.is_file() for f in files):
            tracks.append(Track(sub.name, sub))
    if not tracks:
        raise InvalidArgumentError("holds no songs in the MUSDB18-HQ layout (<song>/mixture.wav, "
                                   "vocals.wav, drums.wav, bass.wav, other.wav)", folder)
    return tracks


def load_track_sets(folders: str | Path) -> list[Track]:
    """The songs of one folder, or of several given as one comma-separated string (e.g. songs of
    both synthesizer versions): ``load_tracks`` of each, in the order given."""
    return [track for folder in str(folders).split(",") if folder.strip()
            for track in load_tracks(folder.strip())]
