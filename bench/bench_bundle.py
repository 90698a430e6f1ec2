"""Size and start-up time of the installer's bundle (issue 15 targets).

    bash installer/build.sh                  # dist/stemma/ and dist/stemma-*.tar.zst
    python bench/bench_bundle.py --runs 5    # then this

Prints the unpacked and compressed sizes with the largest parts, and the start-up times of the
frozen programs, each a fresh process started from another folder with a bare environment (no
PATH, PYTHONPATH or venv; a home folder of its own): ``stemma --version`` until it exits, and
``stemma-app`` (Qt offscreen) until its main window's first paint is flushed, as Qt's
``qt.widgets.painting`` log reports it; the app is then closed with SIGTERM. The first run of
each is reported apart (files not yet in the page cache). Targets: under 1 GB unpacked, under
350 MB compressed.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def largest_parts(folder: Path, n: int) -> list[tuple[str, int]]:
    """Bytes per part: a top-level package folder of ``_internal`` (torch's libraries apart
    from its Python code), or a single library file."""
    sizes: Counter[str] = Counter()
    for path in folder.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        parts = path.relative_to(folder).parts
        if parts[0] == "_internal" and len(parts) > 2:
            key = "/".join(parts[1:4] if parts[1:3] == ("torch", "lib") else parts[1:2]) + (
                "" if parts[1:3] == ("torch", "lib") else "/")
        else:
            key = "/".join(parts[1:] if parts[0] == "_internal" else parts)
        sizes[key] += path.stat().st_size
    return sizes.most_common(n)


def time_version(exe: Path, env: dict, cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run([str(exe), "--version"], env=env, cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def time_first_paint(exe: Path, env: dict, cwd: Path) -> float:
    env = {**env, "QT_QPA_PLATFORM": "offscreen", "QT_LOGGING_RULES": "qt.widgets.painting=true"}
    start = time.perf_counter()
    app = subprocess.Popen([str(exe)], env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
    try:
        for line in app.stderr:
            if line.startswith("qt.widgets.painting: Flushing") and "of MainWindow" in line:
                elapsed = time.perf_counter() - start
                break
        else:
            raise RuntimeError(f"stemma-app exited with {app.wait()} before painting")
        app.send_signal(signal.SIGTERM)
        app.stderr.close()
        if app.wait(timeout=60) != 0:
            raise RuntimeError(f"stemma-app exited with {app.returncode} on SIGTERM")
        return elapsed
    finally:
        if app.poll() is None:
            app.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=ROOT / "dist" / "stemma")
    parser.add_argument("--runs", type=int, default=5, help="timed runs after the first")
    parser.add_argument("--parts", type=int, default=12, help="largest parts listed")
    args = parser.parse_args()
    folder = args.bundle.resolve()
    unpacked = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    archives = sorted(folder.parent.glob(f"{folder.name}-*.tar.*"))
    print("| measure | value | target |\n|---|---|---|")
    print(f"| unpacked ({folder.name}/) | {unpacked / 1e6:.0f} MB | < 1000 MB |")
    for archive in archives:
        print(f"| compressed ({archive.name}) | {archive.stat().st_size / 1e6:.0f} MB "
              "| < 350 MB |")
    with tempfile.TemporaryDirectory() as tmp:
        home, cwd = Path(tmp) / "home", Path(tmp) / "elsewhere"
        home.mkdir(), cwd.mkdir()
        env = {"HOME": str(home), "LANG": "C.UTF-8"}
        for label, measure, exe in (
                ("`stemma --version`", time_version, folder / "stemma"),
                ("`stemma-app` to first paint", time_first_paint, folder / "stemma-app")):
            first = measure(exe, env, cwd)
            times = [measure(exe, env, cwd) for _ in range(args.runs)]
            print(f"| {label}, first run | {first:.2f} s | |")
            print(f"| {label}, median of {args.runs} (min-max) | "
                  f"{statistics.median(times):.2f} s ({min(times):.2f}-{max(times):.2f}) | |")
    print(f"\nlargest parts of {folder.name}/ (under _internal/ unless at the top):\n")
    print("| part | MB |\n|---|---|")
    for name, size in largest_parts(folder, args.parts):
        print(f"| {name} | {size / 1e6:.1f} |")


if __name__ == "__main__":
    main()
