"""The session as plain data (no Qt): tracks, their stems, the mixer and the loop.

Views read and change these objects; ``Project`` saves and loads them as JSON, so reopening a
separated song does not separate it again.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from engine import VOCALS

PROJECT_VERSION = 1
MIN_DB = -60.0  # fader bottom: treated as silence
MAX_DB = 12.0


@dataclass
class StemMix:
    gain_db: float = 0.0
    pan: float = 0.0  # -1 left .. 1 right
    mute: bool = False
    solo: bool = False


@dataclass
class MixerState:
    """Per-stem settings. ``gains()`` turns them into what the audio callback multiplies by."""

    stems: dict[str, StemMix] = field(default_factory=dict)
    master_db: float = 0.0

    @classmethod
    def for_stems(cls, names: list[str]) -> MixerState:
        return cls({name: StemMix() for name in names})

    def gains(self, n_channels: int) -> np.ndarray:
        """(S, 2) linear gains from each stem's channels to left/right output.

        Solo wins over mute (any solo silences the unsoloed). Pan is constant-power for a mono
        source and a balance control for a stereo one (centre: both sides at unity).
        """
        soloed = any(m.solo for m in self.stems.values())
        master = 10 ** (self.master_db / 20)
        out = np.zeros((len(self.stems), 2), np.float32)
        for i, mix in enumerate(self.stems.values()):
            audible = mix.solo if soloed else not mix.mute
            if not audible or mix.gain_db <= MIN_DB:
                continue
            level = master * 10 ** (mix.gain_db / 20)
            if n_channels == 1:
                angle = (mix.pan + 1) * np.pi / 4
                out[i] = level * np.sqrt(2) * np.array([np.cos(angle), np.sin(angle)])
            else:
                out[i] = level * np.array([min(1.0, 1 - mix.pan), min(1.0, 1 + mix.pan)])
        return out

    def karaoke(self, vocals: str = VOCALS) -> None:
        """Everything but the vocals."""
        self.all_but(vocals)

    def all_but(self, name: str) -> None:
        """Mute one stem (e.g. drumless, for drummers practising), unmute the rest."""
        for stem, mix in self.stems.items():
            mix.solo = False
            mix.mute = stem == name

    def reset(self) -> None:
        for mix in self.stems.values():
            mix.gain_db, mix.pan, mix.mute, mix.solo = 0.0, 0.0, False, False


@dataclass
class Loop:
    start: int  # samples
    end: int

    def clamp(self, n_frames: int) -> Loop | None:
        start, end = max(0, min(self.start, self.end)), min(n_frames, max(self.start, self.end))
        return Loop(start, end) if end - start > 0 else None


@dataclass
class TrackState:
    """One song in the session."""

    source: Path
    model: str = "auto"
    stem_files: dict[str, Path] = field(default_factory=dict)
    mixer: MixerState = field(default_factory=MixerState)
    loop: Loop | None = None
    # not separated, separating, separated, failed, cancelled (the app has no queue: a song
    # is separated when you press Separate, so nothing is ever "queued")
    status: str = "not separated"

    @property
    def name(self) -> str:
        return self.source.stem

    def to_dict(self) -> dict:
        return {"source": str(self.source), "model": self.model,
                "stem_files": {k: str(v) for k, v in self.stem_files.items()},
                "mixer": {"master_db": self.mixer.master_db,
                          "stems": {k: asdict(v) for k, v in self.mixer.stems.items()}},
                "loop": asdict(self.loop) if self.loop else None}

    @classmethod
    def from_dict(cls, data: dict) -> TrackState:
        mixer = MixerState({k: StemMix(**v) for k, v in data["mixer"]["stems"].items()},
                           data["mixer"].get("master_db", 0.0))
        files = {k: Path(v) for k, v in data.get("stem_files", {}).items()}
        loop = Loop(**data["loop"]) if data.get("loop") else None
        done = bool(files) and all(p.is_file() for p in files.values())
        return cls(Path(data["source"]), data.get("model", "auto"), files, mixer, loop,
                   "separated" if done else "not separated")


@dataclass
class Project:
    tracks: list[TrackState] = field(default_factory=list)

    def save(self, path: str | Path) -> None:
        """Write atomically: a temporary file renamed over the target."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.part")
        tmp.write_text(json.dumps({"stemma_project": PROJECT_VERSION,
                                   "tracks": [t.to_dict() for t in self.tracks]}, indent=1))
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> Project:
        data = json.loads(Path(path).read_text())
        if data.get("stemma_project") != PROJECT_VERSION:
            raise ValueError(f"{path}: not a Stemma project (version {PROJECT_VERSION})")
        return cls([TrackState.from_dict(t) for t in data["tracks"]])
