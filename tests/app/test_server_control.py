"""Server › Local server in the app: checking it starts `stemma serve`, the status bar shows its
port, a client reaches it; unchecking (or closing the window) stops it and its file goes."""

from __future__ import annotations

import pytest

from app.window import MainWindow
from engine import ServerClient, read_server_discovery


@pytest.fixture
def window(qtbot, settings, null_sink, tmp_path, monkeypatch):
    monkeypatch.setenv("STEMMA_STATE_DIR", str(tmp_path / "state"))
    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()


def test_the_app_starts_and_stops_the_local_server(qtbot, window, tmp_path):
    control = window.server
    assert not control.action.isChecked() and control.process is None
    control.action.trigger()
    qtbot.waitUntil(lambda: control.info is not None, timeout=60_000)
    info = read_server_discovery()
    assert info["pid"] == control.process.processId()
    assert window.statusBar().isAncestorOf(control.label)
    assert control.label.text() == f"Local server on port {info['port']}"
    assert ServerClient(info["url"], info["token"]).health()["status"] == "ok"

    control.action.trigger()  # unchecked: the server stops and removes its discovery file
    assert control.process is None and not control.action.isChecked()
    assert read_server_discovery() is None
    assert control.label.text() == "Local server stopped"

    control.action.trigger()  # and again; closing the window stops it too
    qtbot.waitUntil(lambda: control.info is not None, timeout=60_000)
    window.close()
    assert read_server_discovery() is None
