"""The app's switch for the local server (``stemma serve``): a checkable *Server › Local server*
action that starts the server as a child process, and a status bar label that says whether it
runs and on which port (what a DAW script or plugin connects to). The server stops when the
action is unchecked or the window closes."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QProcess, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QMainWindow

from engine import read_server_discovery

log = logging.getLogger(__name__)
START_TIMEOUT = 60_000  # ms for the server to write its discovery file


def serve_command() -> tuple[str, list[str]]:
    """How to start ``stemma serve`` from this app: the bundle's ``stemma`` beside the app
    when frozen (installer), else this interpreter's ``-m engine``."""
    if getattr(sys, "frozen", False):
        return str(Path(sys.executable).with_name("stemma")), ["serve", "--port", "0"]
    return sys.executable, ["-m", "engine", "serve", "--port", "0"]


class ServerControl(QObject):
    """Owns the server process; ``info`` is its discovery data once it is up."""

    def __init__(self, window: QMainWindow):
        super().__init__(window)
        self.window = window
        self.process: QProcess | None = None
        self.info: dict | None = None
        self.action = QAction("&Local server (for DAW plugins)", window, checkable=True)
        self.action.toggled.connect(self._toggled)
        menus = getattr(window, "menus", None)  # the app's menus keep Help last
        menu = menus.menu("&Server") if menus else window.menuBar().addMenu("&Server")
        menu.addAction(self.action)
        self.label = QLabel()
        window.statusBar().addPermanentWidget(self.label)
        self._poll = QTimer(self, interval=100, timeout=self._check)
        self._waited = 0
        window.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt's name
        if watched is self.window and event.type() == QEvent.Type.Close:
            self.stop()
        return False

    def _toggled(self, on: bool) -> None:
        if on:
            self.start()
        else:
            self.stop()

    def start(self) -> None:
        if self.process is not None:
            return
        program, args = serve_command()
        self.process = QProcess(self)
        self.process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        self.process.finished.connect(self._ended)
        self.process.start(program, args)
        self.label.setText("Local server: starting…")
        self._waited = 0
        self._poll.start()

    def _check(self) -> None:
        """Up when the discovery file names our process."""
        self._waited += self._poll.interval()
        if self.process is None:
            self._poll.stop()
            return
        info = read_server_discovery()
        if info is not None and info.get("pid") == self.process.processId():
            self.info = info
            self._poll.stop()
            self.label.setText(f"Local server on port {info['port']}")
            log.info("local server up: %s", info["url"])
        elif self._waited > START_TIMEOUT:
            self._poll.stop()
            self.process.kill()

    def stop(self) -> None:
        """Stop the server (SIGTERM: it finishes cleanly and removes its discovery file)."""
        process, self.process = self.process, None
        self._poll.stop()
        if process is None:
            return
        process.finished.disconnect(self._ended)
        process.terminate()
        if not process.waitForFinished(10_000):
            process.kill()
            process.waitForFinished(2_000)
        self._show_stopped("Local server stopped")

    def _ended(self, code: int, status) -> None:
        """The server ended on its own (a port in use, another server running...)."""
        process, self.process = self.process, None
        self._poll.stop()
        said = bytes(process.readAll()).decode(errors="replace").strip() if process else ""
        last = said.splitlines()[-1] if said else f"exit status {code}"
        log.warning("local server ended: %s", said or code)
        self._show_stopped(f"Local server stopped: {last}")

    def _show_stopped(self, text: str) -> None:
        self.info = None
        self.label.setText(text)
        self.action.blockSignals(True)
        self.action.setChecked(False)
        self.action.blockSignals(False)
