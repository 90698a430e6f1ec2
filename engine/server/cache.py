"""The server's content cache: finished separations kept by what they were made from, so the
same region of the same audio with the same model and settings is separated once.

The key is the sha256 of the audio file's bytes (not its path or time: a copy or an upload
of the same file hits), the model's name and weights (the sha256 of its files as the manifest
lists them, with its backend and parameters), the model options, the range, the stems and the
output format. Entries are folders under ``root/entries``; past ``max_bytes`` the least
recently used are removed. Jobs write into ``root/work/<job>`` first; an entry appears whole
(one rename) or not at all.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..registry import ModelInfo

log = logging.getLogger(__name__)
META = "entry.json"


def weights_hash(model: ModelInfo) -> str:
    """What identifies a model's numbers: its files' sha256s, backend and parameters."""
    data = {"backend": model.backend, "params": model.params,
            "files": sorted((f.path, f.sha256) for f in model.files)}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def content_key(audio_sha256: str, model: ModelInfo, settings: dict[str, Any]) -> str:
    """The cache key of one separation: audio, model, weights and every setting that changes
    the files (options, start, end, stems, format, bit depth)."""
    data = {"audio": audio_sha256, "model": model.name, "weights": weights_hash(model),
            "settings": settings}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:32]


@dataclass
class Entry:
    folder: Path
    outputs: dict[str, Path]  # output name -> file
    size: int  # bytes
    used: float  # time.time() of the last use


class ContentCache:
    """Finished separations under ``root``, at most ``max_bytes`` in all (LRU)."""

    def __init__(self, root: str | Path, max_bytes: int):
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.entries_dir = self.root / "entries"
        self.work_dir = self.root / "work"
        self._lock = threading.Lock()
        self._entries: dict[str, Entry] = {}
        self.entries_dir.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.work_dir, ignore_errors=True)  # what a killed server left
        self.work_dir.mkdir()
        for meta in self.entries_dir.glob(f"*/{META}"):
            self._load(meta)

    def _load(self, meta: Path) -> None:
        try:
            outputs = {k: meta.parent / v for k, v in json.loads(meta.read_text()).items()}
            size = sum(p.stat().st_size for p in outputs.values())
        except (OSError, ValueError, AttributeError):
            shutil.rmtree(meta.parent, ignore_errors=True)  # a damaged entry: made again
            return
        self._entries[meta.parent.name] = Entry(meta.parent, outputs, size, meta.stat().st_mtime)

    def work_folder(self, job_id: str) -> Path:
        """An empty folder for one job's files (removed by :meth:`discard` or :meth:`store`)."""
        folder = self.work_dir / job_id
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def discard(self, job_id: str) -> None:
        shutil.rmtree(self.work_dir / job_id, ignore_errors=True)

    def lookup(self, key: str) -> dict[str, Path] | None:
        """The outputs kept under ``key`` (marked as just used), or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or not all(p.is_file() for p in entry.outputs.values()):
                return None
            entry.used = time.time()
            os.utime(entry.folder / META)
            return dict(entry.outputs)

    def store(self, key: str, job_id: str, outputs: dict[str, Path]) -> dict[str, Path]:
        """Keep a finished job's ``outputs`` (files in its work folder) under ``key``;
        returns where they are now."""
        work = self.work_dir / job_id
        names = {name: path.relative_to(work).as_posix() for name, path in outputs.items()}
        (work / META).write_text(json.dumps(names))
        with self._lock:
            folder = self.entries_dir / key
            if key in self._entries:  # two identical jobs ran at once: keep the first
                shutil.rmtree(work, ignore_errors=True)
                return dict(self._entries[key].outputs)
            shutil.rmtree(folder, ignore_errors=True)
            os.replace(work, folder)
            kept = {name: folder / rel for name, rel in names.items()}
            size = sum(p.stat().st_size for p in kept.values())
            self._entries[key] = Entry(folder, kept, size, time.time())
            self._evict(keep=key)
            return kept

    def _evict(self, keep: str) -> None:
        total = sum(e.size for e in self._entries.values())
        for key, entry in sorted(self._entries.items(), key=lambda kv: kv[1].used):
            if total <= self.max_bytes:
                break
            if key == keep:
                continue
            shutil.rmtree(entry.folder, ignore_errors=True)
            del self._entries[key]
            total -= entry.size
            log.info("cache: removed %s (%d bytes), least recently used", key, entry.size)

    @property
    def size(self) -> int:
        with self._lock:
            return sum(e.size for e in self._entries.values())
