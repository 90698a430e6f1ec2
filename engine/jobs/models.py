"""Loaded models, kept between jobs: a model loads once, not on every click or file."""

from __future__ import annotations

import threading
from collections import OrderedDict

from ..api import Separator
from .request import Request


class ModelCache:
    """Separators keyed by (model, device, options, threads, chunk size), most recently used
    last; past ``capacity`` the oldest is closed (its weights and device memory released).

    Safe to share between threads; a separator is handed to one job at a time by the runner.
    """

    def __init__(self, capacity: int = 1):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._loaded: OrderedDict[tuple, Separator] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0  # how many times a model was loaded (a cache miss)

    def get(self, request: Request) -> Separator:
        """The separator for ``request``, loaded now if it is not yet (one load at a time,
        so two threads asking for one model load it once)."""
        key = request.model_key
        with self._lock:
            if key in self._loaded:
                self._loaded.move_to_end(key)
                return self._loaded[key]
            separator = Separator(request.model, device=request.device,
                                  threads=request.threads, chunk_seconds=request.chunk_seconds,
                                  options=dict(request.options))
            self.loads += 1
            self._loaded[key] = separator
            while len(self._loaded) > self.capacity:
                _, old = self._loaded.popitem(last=False)
                old.close()
            return separator

    def __len__(self) -> int:
        return len(self._loaded)

    def close(self) -> None:
        """Close every loaded model."""
        with self._lock:
            while self._loaded:
                _, separator = self._loaded.popitem(last=False)
                separator.close()
