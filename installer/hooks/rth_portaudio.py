"""Runtime hook: sounddevice finds PortAudio with ``ctypes.util.find_library("portaudio")``,
which on Linux only looks at the system's libraries. The bundle carries its own copy
(``libportaudio.so.2``), so a machine without libportaudio2 still plays: point the lookup at it."""

import ctypes.util
import os
import sys

_bundled = os.path.join(sys._MEIPASS, "libportaudio.so.2")
if sys.platform.startswith("linux") and os.path.exists(_bundled):
    _find_library = ctypes.util.find_library

    def _find_bundled_first(name):
        return _bundled if name == "portaudio" else _find_library(name)

    ctypes.util.find_library = _find_bundled_first
