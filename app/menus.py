"""The window's menus and keyboard shortcuts: File (open, recent files, projects, export),
View (waveforms or spectrograms, zoom, the selected lane's solo and mute) and Help (keyboard
shortcuts, the log, About with versions and models).

Other modules add their own actions through :meth:`Menus.menu`, which returns a menu by
title and creates it (before Help) when it is not there yet: e.g. a "Local server" toggle
goes in with ``window.menus.menu("&Tools").addAction(action)``.
"""

from __future__ import annotations

import importlib.metadata
import platform
from pathlib import Path

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QUrl, qVersion
from PySide6.QtGui import QAction, QActionGroup, QDesktopServices, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QVBoxLayout,
)

from engine import Separator

from .icons import icon
from .logs import log_dir

MAX_RECENT = 8
LOG_LINES = 400  # the end of the log the Show Log window shows
SHORTCUTS = (("Space", "Play / pause"), ("Home", "Back to the start"),
             ("1 … 9", "Select stem lane 1 to 9 (or click its header)"),
             ("S", "Solo the selected lane"), ("M", "Mute the selected lane"),
             ("Ctrl+=  /  Ctrl+-", "Zoom in / out around the playhead (or the mouse wheel)"),
             ("Ctrl+0", "Show the whole song"), ("Ctrl+O", "Open songs"),
             ("Ctrl+S", "Save the project"), ("Ctrl+E", "Export"), ("Ctrl+Q", "Quit"))
VERSIONED = ("numpy", "onnxruntime", "torch", "pyqtgraph", "sounddevice")


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def about_text() -> str:
    """Versions of Stemma and what it runs on, and the installed models: for bug reports."""
    lines = [f"<b>Stemma {_version('stemma')}</b> — split songs into their stems.<br>",
             f"Python {platform.python_version()}, Qt {qVersion()}, PySide6 {pyside_version}, "
             + ", ".join(f"{p} {_version(p)}" for p in VERSIONED) + "<br><br><b>Models</b><ul>"]
    for info in Separator.models():
        lines.append(f"<li><b>{info.name}</b> ({', '.join(info.stems)}): "
                     f"{info.description.split('.')[0]}</li>")
    return "".join(lines) + "</ul>"


class Menus:
    def __init__(self, window) -> None:
        self.window = window
        self.menus: dict[str, QMenu] = {}
        self.actions: dict[str, QAction] = {}
        self._file(window)
        self._view(window)
        self._help()
        QShortcut(QKeySequence("Space"), window, activated=window.toggle_play)
        QShortcut(QKeySequence("Home"), window, activated=window.rewind)
        for n in range(1, 10):
            QShortcut(QKeySequence(str(n)), window, activated=lambda n=n: window.select_lane(n))

    def menu(self, title: str) -> QMenu:
        """The menu called ``title``; a new one goes before Help."""
        if title not in self.menus:
            menu = QMenu(title, self.window)
            help_menu = self.menus.get("&Help")
            bar = self.window.menuBar()
            bar.insertMenu(help_menu.menuAction(), menu) if help_menu else bar.addMenu(menu)
            self.menus[title] = menu
        return self.menus[title]

    def _add(self, menu: QMenu, key: str, text: str, slot, shortcut=None, icon_name=None,
             checkable=False) -> QAction:
        action = QAction(text, self.window, checkable=checkable)
        action.triggered.connect(slot)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if icon_name:
            action.setIcon(icon(icon_name))
        menu.addAction(action)
        self.actions[key] = action
        return action

    def _file(self, w) -> None:
        menu = self.menu("&File")
        self._add(menu, "open", "&Open…", w.open_files, QKeySequence.StandardKey.Open, "open")
        self.recent = menu.addMenu("Open &Recent")
        self.recent.aboutToShow.connect(self._fill_recent)
        self._fill_recent()
        menu.addSeparator()
        self._add(menu, "open_project", "Open &Project…", w.open_project)
        self._add(menu, "save_project", "&Save Project…", w.save_project,
                  QKeySequence.StandardKey.Save)
        self._add(menu, "export", "&Export…", w.open_export, "Ctrl+E", "export")
        menu.addSeparator()
        self._add(menu, "quit", "&Quit", w.close, QKeySequence.StandardKey.Quit)

    def _view(self, w) -> None:
        menu = self.menu("&View")
        group = QActionGroup(w)
        for key, text, on in (("waveforms", "&Waveforms", False),
                              ("spectrograms", "&Spectrograms", True)):
            action = self._add(menu, key, text, lambda _=False, on=on: w.show_spectrograms(on),
                               icon_name=key[:-1], checkable=True)
            group.addAction(action)
        self.actions["waveforms"].setChecked(True)
        menu.addSeparator()
        self._add(menu, "zoom_in", "Zoom &In", lambda: w.zoom(1 / 1.5), "Ctrl+=", "zoom-in")
        self._add(menu, "zoom_out", "Zoom &Out", lambda: w.zoom(1.5), "Ctrl+-", "zoom-out")
        self._add(menu, "zoom_fit", "Whole &Song", w.zoom_fit, "Ctrl+0", "zoom-fit")
        menu.addSeparator()
        self._add(menu, "solo", "S&olo Selected Lane", lambda: w.toggle_lane("solo"), "S")
        self._add(menu, "mute", "&Mute Selected Lane", lambda: w.toggle_lane("mute"), "M")

    def _help(self) -> None:
        menu = self.menu("&Help")
        self._add(menu, "shortcuts", "&Keyboard Shortcuts", self.show_shortcuts)
        self._add(menu, "log", "Show &Log", self.show_log, icon_name="log")
        menu.addSeparator()
        self._add(menu, "about", "&About Stemma", self.show_about, icon_name="about")

    # --- recent files ---------------------------------------------------------------------

    def recent_files(self) -> list[str]:
        value = self.window.settings.value("recent_files", [])
        return [value] if isinstance(value, str) else list(value or [])

    def remember(self, path: Path) -> None:
        """Put ``path`` first in File › Open Recent."""
        files = [str(path)] + [p for p in self.recent_files() if p != str(path)]
        self.window.settings.setValue("recent_files", files[:MAX_RECENT])
        self._fill_recent()

    def _fill_recent(self) -> None:
        self.recent.clear()
        files = self.recent_files()
        for path in files:
            action = self.recent.addAction(Path(path).name)
            action.setToolTip(path)
            action.triggered.connect(lambda _=False, p=path: self.window.add_files([Path(p)]))
        if not files:
            self.recent.addAction("No recent songs").setEnabled(False)
        else:
            self.recent.addSeparator()
            self.recent.addAction("Clear", self._clear_recent)

    def _clear_recent(self) -> None:
        self.window.settings.setValue("recent_files", [])
        self._fill_recent()

    # --- help -----------------------------------------------------------------------------

    def show_shortcuts(self) -> QMessageBox:
        rows = "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{v}</td></tr>"
                       for k, v in SHORTCUTS)
        return self._box("Keyboard shortcuts", f"<table>{rows}</table>")

    def show_about(self) -> QMessageBox:
        return self._box("About Stemma", about_text())

    def _box(self, title: str, html: str) -> QMessageBox:
        box = QMessageBox(QMessageBox.Icon.NoIcon, title, html, QMessageBox.StandardButton.Ok,
                          self.window)
        box.setIconPixmap(icon("stemma").pixmap(64, 64))
        box.open()
        return box

    def show_log(self) -> QDialog:
        """The end of the log, with its path and a button that opens its folder."""
        path = log_dir() / "stemma.log"
        text = path.read_text(errors="replace").splitlines()[-LOG_LINES:] if path.is_file() \
            else [f"No log yet at {path}"]
        dialog = QDialog(self.window)
        dialog.setWindowTitle(f"Log — {path}")
        dialog.resize(900, 500)
        view = QPlainTextEdit("\n".join(text))
        view.setReadOnly(True)
        view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        view.moveCursor(view.textCursor().MoveOperation.End)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        folder = buttons.addButton("Open Folder", QDialogButtonBox.ButtonRole.ActionRole)
        folder.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(
            str(path.parent))))
        buttons.rejected.connect(dialog.close)
        col = QVBoxLayout(dialog)
        col.addWidget(view)
        col.addWidget(buttons)
        dialog.view = view
        dialog.open()
        return dialog
