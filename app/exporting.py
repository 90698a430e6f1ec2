"""Export from the session (no Qt): stems, the karaoke track, and the current mix.

The remix is rendered by the same ``Mixer.render`` playback uses, with the mixer's current
gains, so the file is sample for sample what you hear. Files are written by the engine's one
writer (``engine.write_arrays``): all or nothing, so a cancel or an error leaves no new file,
and a file the export was allowed to replace is replaced only once every file is complete.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine import OutputSpec, Stems, write_arrays

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
    """Write the requested files through the engine's one writer; returns their paths."""
    n_frames = next(iter(stems.values())).shape[-1]
    region = loop.clamp(n_frames) if (request.loop_only and loop) else None
    start, end = (region.start, region.end) if region else (0, n_frames)
    part = Stems({name: audio[:, start:end] for name, audio in stems.items()}, sample_rate)
    arrays: dict[str, np.ndarray] = {name: part[name] for name in request.stems}
    if request.karaoke:
        arrays["karaoke"] = part.instrumental()  # the engine knows which stem is sung
    if request.remix:
        sources = np.stack([stems[n] for n in mixer.stems])
        arrays["remix"] = Mixer(sources, mixer.gains(sources.shape[1])).render_offline(start,
                                                                                      end)
    spec = OutputSpec(request.fmt, request.bit_depth, request.overwrite)
    reports = write_arrays(arrays, request.targets(), sample_rate, spec,
                           check_cancel=check_cancel, on_file=on_file)
    return [report.path for report in reports.values()]
