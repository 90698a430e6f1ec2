"""``stemma-app`` / ``python -m app``: start the desktop app."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication, QMessageBox

from .logs import ErrorReporter, setup_logging
from .window import MainWindow


def start(argv: list[str]) -> MainWindow:
    """The window, shown, with the songs named on the command line added: each one that
    cannot be opened (missing, 6 channels ...) is listed in a message box that stays up."""
    window = MainWindow()
    window.show()
    files = [Path(a) for a in argv[1:]]
    if files:
        window.add_files(files)
    return window


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv if argv is None else argv
    app = QApplication.instance() or QApplication(argv)
    app.setOrganizationName("Stemma")
    app.setApplicationName("Stemma")
    log_path = setup_logging()
    window = start(app.arguments())  # Qt's own options taken out
    reporter = ErrorReporter(log_path)
    reporter.error.connect(lambda summary, path: QMessageBox.critical(
        window, "Stemma hit a problem", f"{summary}\n\nDetails are in the log:\n{path}"))
    reporter.install()
    return app.exec()
