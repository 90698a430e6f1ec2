"""Logging to a rotating file in the user's log folder, and a dialog for unhandled errors that
says where that file is (friture's exception handler is the model)."""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import threading
import traceback
from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths, Signal

log = logging.getLogger("app")


def log_dir() -> Path:
    """``$STEMMA_LOG_DIR``, else ``logs`` in the user's app data folder."""
    if os.environ.get("STEMMA_LOG_DIR"):
        return Path(os.environ["STEMMA_LOG_DIR"])
    return Path(QStandardPaths.writableLocation(
        QStandardPaths.StandardLocation.AppLocalDataLocation)) / "logs"


def setup_logging() -> Path:
    """Log INFO and up to ``stemma.log`` (1 MB, 3 backups kept); returns its path."""
    folder = log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "stemma.log"
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=1_000_000, backupCount=3,
                                                   encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    if not any(isinstance(h, logging.handlers.RotatingFileHandler) for h in root.handlers):
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    return path


class ErrorReporter(QObject):
    """Catches unhandled exceptions on any thread, logs them and asks the UI to show them."""

    error = Signal(str, str)  # summary, log path

    def __init__(self, log_path: Path):
        super().__init__()
        self.log_path = log_path

    def install(self) -> None:
        sys.excepthook = self._handle
        threading.excepthook = lambda args: self._handle(args.exc_type, args.exc_value,
                                                         args.exc_traceback)

    def _handle(self, exc_type, exc, tb) -> None:
        log.error("unhandled error:\n%s", "".join(traceback.format_exception(exc_type, exc, tb)))
        self.error.emit(f"{exc_type.__name__}: {exc}", str(self.log_path))
