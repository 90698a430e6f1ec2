"""Export from the session (no Qt): stems, the karaoke track, and the current mix.

The remix is rendered by the same ``Mixer.render`` playback uses, with the mixer's current
gains, so the file is sample for sample what you hear. Everything one export writes is all or
nothing: a cancel or an error removes the files this export had already finished.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine import OutputExistsError, save_audio

from .mixer import Mixer
from .state import Loop, MixerState


@dataclass
class ExportRequest:
    folder: Path
    track: str  # the song's name, for {track} in the template
    stems: list[str] = field(default_factory=list)  # stems to write as files
    karaoke: bool = False  # everything but the vocals
    remix: bool = False  # the current mix
    loop_only: bool = False  # only the loop region
    fmt: str = "wav"
    bit_depth: str = "32f"
    template: str = "{track}_{stem}"
    overwrite: bool = False

    def targets(self) -> dict[str, Path]:
        """Every file this export will write, by what it holds."""
        names = list(self.stems) + (["karaoke"] if self.karaoke else []) + (
            ["remix"] if self.remix else [])
        return {n: self.folder / f"{self.template.format(track=self.track, stem=n)}.{self.fmt}"
                for n in names}

    def existing(self) -> list[Path]:
        return [p for p in self.targets().values() if p.exists()]


def export(request: ExportRequest, stems: dict[str, np.ndarray], sample_rate: int,
           mixer: MixerState, loop: Loop | None,
           check_cancel: Callable[[], None] = lambda: None,
           on_file: Callable[[int, int, Path], None] | None = None) -> list[Path]:
    """Write the requested files; returns their paths."""
    n_frames = next(iter(stems.values())).shape[-1]
    region = loop.clamp(n_frames) if (request.loop_only and loop) else None
    start, end = (region.start, region.end) if region else (0, n_frames)
    targets = request.targets()
    if not request.overwrite:
        for path in targets.values():
            if path.exists():
                raise OutputExistsError("already exists; choose to replace it", path)
    written: list[Path] = []
    try:
        for i, (what, path) in enumerate(targets.items()):
            check_cancel()
            if on_file is not None:
                on_file(i, len(targets), path)
            if what == "karaoke":
                audio = sum(a[:, start:end] for n, a in stems.items() if n != "vocals")
            elif what == "remix":
                names = list(mixer.stems)
                sources = np.stack([stems[n] for n in names])
                channels = sources.shape[1]
                audio = Mixer(sources, mixer.gains(channels)).render_offline(start, end)
            else:
                audio = stems[what][:, start:end]
            save_audio(path, audio, sample_rate, request.fmt, request.bit_depth,
                       overwrite=request.overwrite)
            written.append(path)
        check_cancel()
    except BaseException:  # a cancel, an error: take back what this export wrote
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return written
