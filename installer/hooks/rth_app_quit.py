"""Runtime hook of ``stemma-app``: SIGTERM (a logout, a shutdown, ``kill``) closes the window as
the user would (jobs cancelled, audio closed, settings kept) and the app exits with 0, instead of
dying mid-write. Qt's event loop runs no Python code while idle, so a Python signal handler would
wait for the next event: the signal is blocked here, before Qt or torch start any thread (they
inherit the mask), and one thread waits for it and asks the application to close its windows.
Programs started from the app would inherit the mask too; it starts none."""

import os
import signal
import threading

_SIGNALS = {signal.SIGTERM}


def _wait_and_close() -> None:
    signal.sigwait(_SIGNALS)
    from PySide6.QtCore import QCoreApplication, QMetaObject, Qt

    app = QCoreApplication.instance()
    if app is None:  # not started yet: nothing to save
        os._exit(128 + signal.SIGTERM)
    QMetaObject.invokeMethod(app, "closeAllWindows", Qt.ConnectionType.QueuedConnection)


if hasattr(signal, "pthread_sigmask"):  # POSIX; on Windows the window's close event does this
    signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    threading.Thread(target=_wait_and_close, name="stemma-sigterm", daemon=True).start()
