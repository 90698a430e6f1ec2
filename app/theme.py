"""The app's look: one dark palette and style sheet, and one accent colour per stem.

Stem colours: a fixed map for the four usual stems and the mixture; any other stem a model's
manifest declares (``instrumental``, ``guitar``, ``piano`` ...) gets a colour derived from its
name, the same on every run and every machine (a hash of the name picks the hue).
"""

from __future__ import annotations

import colorsys
import hashlib

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from .icons import icons_dir

BACKGROUND = "#16181d"  # window and docks
SURFACE = "#1f2229"  # panels, lane headers, fields
RAISED = "#2a2e37"  # buttons
BORDER = "#353a45"
TEXT = "#e6e8ee"
MUTED_TEXT = "#8a90a0"
ACCENT = "#7c8cff"  # the app's own accent: selection, progress, the play button
PLOT_BACKGROUND = "#101216"  # behind waveforms and spectrograms

STEM_COLOURS = {"mixture": "#c9ced8", "vocals": "#ff6b6b", "drums": "#ffc145",
                "bass": "#4dabf7", "other": "#63d471"}
DIMMED_ALPHA = 55  # of 255: a muted (or not soloed) lane's waveform


def stem_colour(name: str) -> str:
    """The stem's accent as ``#rrggbb``: fixed for the usual stems, else from a hash of the
    name (hue anywhere, saturation and lightness chosen to read well on the dark plots)."""
    if name in STEM_COLOURS:
        return STEM_COLOURS[name]
    digest = hashlib.sha1(name.encode("utf-8")).digest()
    hue = int.from_bytes(digest[:2], "big") / 65536
    r, g, b = colorsys.hls_to_rgb(hue, 0.66, 0.72)
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


def dimmed(colour: str, alpha: int = DIMMED_ALPHA) -> QColor:
    c = QColor(colour)
    c.setAlpha(alpha)
    return c


STYLE_SHEET = f"""
QWidget {{ color: {TEXT}; font-size: 10pt; }}
QMainWindow, QDialog, QMessageBox {{ background: {BACKGROUND}; }}
QMainWindow::separator {{ background: {BORDER}; width: 1px; height: 1px; }}
QMenuBar, QMenu {{ background: {SURFACE}; }}
QMenuBar::item:selected, QMenu::item:selected {{ background: {ACCENT}; color: white; }}
QMenu::separator {{ height: 1px; background: {BORDER}; margin: 4px 8px; }}
QToolBar {{ background: {SURFACE}; border: none; border-bottom: 1px solid {BORDER};
            padding: 4px; spacing: 6px; }}
QDockWidget {{ titlebar-close-icon: none; color: {MUTED_TEXT}; }}
QDockWidget::title {{ background: {SURFACE}; padding: 4px 8px; text-align: left; }}
QStatusBar {{ background: {SURFACE}; border-top: 1px solid {BORDER}; }}
QStatusBar QLabel {{ background: transparent; }}
QPushButton, QToolButton {{ background: {RAISED}; border: 1px solid {BORDER};
    border-radius: 5px; padding: 4px 10px; }}
QPushButton:hover, QToolButton:hover {{ border-color: {ACCENT}; }}
QPushButton:disabled, QToolButton:disabled {{ color: #5b606c; background: {SURFACE}; }}
QPushButton#primary {{ background: {ACCENT}; color: white; border-color: {ACCENT};
    font-weight: bold; }}
QPushButton#primary:disabled {{ background: #3b4160; color: #9aa0b8; }}
QToolButton#transport {{ border-radius: 16px; padding: 4px; }}
QToolButton#transport:checked {{ background: {ACCENT}; }}
QLabel#clock {{ font-family: "DejaVu Sans Mono", monospace; font-size: 15pt;
    color: {TEXT}; background: {PLOT_BACKGROUND}; border: 1px solid {BORDER};
    border-radius: 5px; padding: 2px 10px; }}
QLabel#hint {{ color: {MUTED_TEXT}; background: transparent; }}
QLabel#value {{ color: {MUTED_TEXT}; font-family: "DejaVu Sans Mono", monospace;
    font-size: 9pt; background: transparent; }}
QComboBox, QLineEdit {{ background: {SURFACE}; border: 1px solid {BORDER};
    border-radius: 5px; padding: 3px 8px; }}
QComboBox:hover, QLineEdit:focus {{ border-color: {ACCENT}; }}
QComboBox QAbstractItemView {{ background: {SURFACE}; selection-background-color: {ACCENT}; }}
QListWidget {{ background: {SURFACE}; border: none; outline: none; }}
QListWidget::item {{ padding: 8px 6px; border-bottom: 1px solid {BORDER}; }}
QListWidget::item:selected {{ background: #2c3350; color: {TEXT};
    border-left: 3px solid {ACCENT}; }}
QProgressBar {{ background: {RAISED}; border: none; border-radius: 3px; max-height: 6px; }}
QProgressBar::chunk {{ background: {ACCENT}; border-radius: 3px; }}
QSlider::groove:vertical {{ background: #454b58; width: 4px; border-radius: 2px; }}
QSlider::groove:horizontal {{ background: #454b58; height: 4px; border-radius: 2px; }}
QSlider::handle:vertical {{ background: {TEXT}; height: 10px; width: 22px;
    margin: 0 -9px; border-radius: 3px; }}
QSlider::handle:horizontal {{ background: {TEXT}; width: 10px; height: 14px;
    margin: -5px 0; border-radius: 3px; }}
QGroupBox {{ border: 1px solid {BORDER}; border-radius: 5px; margin-top: 12px;
    padding-top: 6px; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 8px; color: {MUTED_TEXT}; }}
QCheckBox {{ background: transparent; spacing: 6px; }}
QCheckBox::indicator {{ width: 14px; height: 14px; border: 1px solid #5b606c;
    border-radius: 3px; background: {SURFACE}; }}
QCheckBox::indicator:checked {{ background: {ACCENT}; border-color: {ACCENT};
    image: url("{{check}}"); }}
QCheckBox::indicator:disabled {{ background: {BACKGROUND}; border-color: {BORDER}; }}
QToolTip {{ background: {SURFACE}; color: {TEXT}; border: 1px solid {BORDER}; }}
QScrollBar {{ background: {BACKGROUND}; }}
QWidget#laneHeader {{ background: {SURFACE}; border-bottom: 1px solid {BORDER}; }}
QWidget#laneHeader[selected="true"] {{ background: #262b38; }}
QWidget#laneHeader QLabel {{ background: transparent; }}
QWidget#strip {{ background: {SURFACE}; border-radius: 6px; }}
QWidget#strip QLabel {{ background: transparent; }}
QToolButton#solo:checked {{ background: #f0b429; color: #1b1b1b; border-color: #f0b429; }}
QToolButton#mute:checked {{ background: #e8590c; color: white; border-color: #e8590c; }}
QToolButton#solo, QToolButton#mute, QToolButton#spectrogram {{ padding: 1px 4px;
    font-weight: bold; min-width: 18px; }}
QToolButton#spectrogram:checked {{ background: {ACCENT}; color: white; }}
"""


def apply(app: QApplication) -> None:
    """The dark palette (for what style sheets do not reach) and the style sheet."""
    if app.property("stemma_theme"):
        return  # applied already (another window)
    app.setStyle("Fusion")
    sheet = STYLE_SHEET.replace("{check}", (icons_dir() / "check.svg").as_posix())
    palette = QPalette()
    for role, colour in ((QPalette.ColorRole.Window, BACKGROUND),
                         (QPalette.ColorRole.WindowText, TEXT),
                         (QPalette.ColorRole.Base, SURFACE),
                         (QPalette.ColorRole.AlternateBase, RAISED),
                         (QPalette.ColorRole.Text, TEXT),
                         (QPalette.ColorRole.Button, RAISED),
                         (QPalette.ColorRole.ButtonText, TEXT),
                         (QPalette.ColorRole.Highlight, ACCENT),
                         (QPalette.ColorRole.HighlightedText, "#ffffff"),
                         (QPalette.ColorRole.ToolTipBase, SURFACE),
                         (QPalette.ColorRole.ToolTipText, TEXT),
                         (QPalette.ColorRole.PlaceholderText, MUTED_TEXT)):
        palette.setColor(role, QColor(colour))
    app.setPalette(palette)
    app.setStyleSheet(sheet)
    app.setProperty("stemma_theme", True)
