"""Stems kept from earlier separations, so a song is not separated twice with one model."""

from __future__ import annotations

import hashlib
from pathlib import Path

from .. import registry


class StemCache:
    """One folder under ``root`` per (song file as it is now, model): the song's path, size and
    modification time and the model's resolved name (``auto`` counts as the model it picks)
    make the key, so an edited song or another model is separated again."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def folder(self, source: str | Path, model: str) -> Path:
        source = Path(source)
        st = source.stat()
        name = registry.resolve(model).name
        key = f"{source.resolve()}|{st.st_size}|{st.st_mtime_ns}|{name}"
        return self.root / hashlib.sha1(key.encode()).hexdigest()[:16]

    def lookup(self, source: str | Path, model: str) -> dict[str, Path] | None:
        """The stem files (as float WAV, named by the model's manifest) if all are there."""
        stems = registry.resolve(model).stems
        folder = self.folder(source, model)
        files = {s: folder / f"{s}.wav" for s in stems}
        return files if all(p.is_file() for p in files.values()) else None
