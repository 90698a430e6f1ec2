"""Desktop-app responsiveness (issue 3 targets), offscreen, on a PulseAudio null sink.

    python bench/bench_app.py

- Open: from adding a 10-minute stereo 44.1 kHz WAV to its waveform on screen (target < 1 s),
  and to the song decoded into memory, ready to play.
- Zoom: one redraw of all lanes after a zoom, from whole song to 50 ms (target < 50 ms).
- Mixer: a fader change is applied at the start of the next audio block; the table gives the
  block length, the device's output latency, and the measured wait for that next block.
- Separating a 3-minute song: the longest gap between 10 ms UI timer ticks (target < 100 ms),
  and how long Cancel takes to stop the job (target < 1 s).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
HOME = Path(tempfile.mkdtemp(prefix="stemma-bench-"))
for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
    os.environ[var] = str(HOME / var.lower())

from tests.app.pulse import null_sink_server  # noqa: E402


def wait(app, condition, timeout: float) -> float:
    """Spin the event loop until ``condition()``; returns the seconds it took."""
    start = time.perf_counter()
    while not condition():
        app.processEvents()
        if time.perf_counter() - start > timeout:
            raise TimeoutError("condition not met")
        time.sleep(0.001)
    return time.perf_counter() - start


def song(minutes: float) -> Path:
    from engine import load_audio
    from engine.audio_io import AudioWriter

    path = HOME / f"song_{minutes:g}min.wav"
    demo, sr = load_audio(ROOT / "assets" / "demo" / "demo_song.flac")
    total = int(minutes * 60 * sr)
    with AudioWriter(path, sr, 2, "wav", "16", expected_frames=total) as writer:
        done = 0
        while done < total:
            writer.write(demo[:, : total - done])
            done += min(demo.shape[1], total - done)
        writer.commit()
    return path


def main() -> None:
    with null_sink_server(HOME):
        from PySide6.QtCore import QSettings, QTimer
        from PySide6.QtWidgets import QApplication

        from app.window import MainWindow

        app = QApplication([])
        settings = QSettings(str(HOME / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings)
        window.resize(1400, 900)
        window.show()
        app.processEvents()
        rows = []

        ten = song(10)
        frames = 10 * 60 * 44100
        start = time.perf_counter()
        window.add_files([ten])

        def drawn() -> bool:
            lane = window.view.lanes.get("mixture")
            if lane is None or lane.peaks is None or lane.peaks.n_frames != frames:
                return False
            x = lane.curve.getData()[0]
            return x is not None and len(x) > 0

        wait(app, drawn, 30)
        window.view.lanes["mixture"].plot.repaint()
        rows.append(("10-minute song added -> waveform shown", time.perf_counter() - start,
                     "< 1 s"))
        wait(app, lambda: window.loaded is not None and window.loaded.track.source == ten, 30)
        rows.append(("10-minute song added -> decoded, ready to play",
                     time.perf_counter() - start, "-"))

        spans = [(0, 600), (100, 400), (200, 260), (250, 255), (252, 252.5), (252.1, 252.15)]
        times = []
        for t0, t1 in spans * 3:
            start = time.perf_counter()
            window.view.zoom_to(t0, t1)
            app.processEvents()
            for lane in window.view.lanes.values():
                lane.plot.repaint()
            times.append(time.perf_counter() - start)
        rows.append(("zoom redraw, median of 18 (all lanes)", float(np.median(times)),
                     "< 50 ms"))
        rows.append(("zoom redraw, worst of 18", max(times), "< 50 ms"))

        player = window.player
        window.toggle_play()
        wait(app, lambda: player.callbacks > 20, 10)
        waits = []
        for i in range(10):
            mixer = player.mixer
            before = player.callbacks
            mixer.set_gains(np.full((mixer.n_sources, 2), 0.5 + 0.05 * i, np.float32))
            # The first callback that starts after the change applies it.
            waits.append(wait(app, lambda b=before: player.callbacks > b, 5))
        window.stop()
        block = player.block_size / window.loaded.sample_rate
        rows.append((f"mixer change -> next block ({player.block_size} frames)", block,
                     "one block"))
        rows.append(("measured wait for that block, worst of 10", max(waits),
                     "about one block"))
        rows.append(("device output latency (after the block)", player.latency, "-"))

        three = song(3)
        window.add_files([three])
        wait(app, lambda: window.loaded is not None and window.loaded.track.source == three, 30)
        gaps, last = [], [time.perf_counter()]

        def tick() -> None:
            now = time.perf_counter()
            gaps.append(now - last[0])
            last[0] = now

        timer = QTimer(interval=10, timeout=tick)
        timer.start()
        window.separate_current()
        wait(app, lambda: window.loaded.track.status == "separated", 300)
        timer.stop()
        rows.append(("longest UI stall while separating 3 minutes", max(gaps), "< 100 ms"))
        rows.append(("3-minute separation in the app", sum(gaps), "-"))

        window.loaded.track.stem_files = {}
        window.separate_current()
        wait(app, lambda: window.progress.value() > 50, 60)
        start = time.perf_counter()
        window.cancel_separation()
        wait(app, lambda: window.loaded.track.status == "cancelled", 30)
        rows.append(("Cancel -> job stopped, files removed", time.perf_counter() - start,
                     "< 1 s"))
        window.close()

    print(f"{os.cpu_count()} cores, Qt offscreen, PulseAudio null sink")
    print("| measure | value | target |")
    print("|---|---|---|")
    for name, seconds, target in rows:
        print(f"| {name} | {seconds * 1000:.1f} ms | {target} |")


if __name__ == "__main__":
    main()
