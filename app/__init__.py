"""Stemma's desktop app: PySide6 + pyqtgraph + sounddevice, on top of ``engine``'s public API."""
