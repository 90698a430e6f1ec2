"""The installer's bundle, built from this checkout by installer/build.sh and run as a user
would run the downloaded archive: unpacked somewhere else, started from another folder, with
no PATH, no PYTHONPATH and no virtual environment, and a home folder of its own."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import residual_db

ROOT = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
STEMS = ("vocals", "drums", "bass", "other")
CUDA_LIBRARY = re.compile(  # libcudart.so.12, cublas64_12.dll, libtorch_cuda.so, ..._tensorrt.so
    r"^(lib)?(cuda|cudnn|cublas|cufft|curand|cusparse|cusolver|nccl|nvrtc|nvjitlink)"
    r"|_(cuda|tensorrt)\.", re.IGNORECASE)
PAINTED = "of MainWindow"  # Qt's painting log: "Flushing QRegion(...) of MainWindow(...) to ..."

pytestmark = [pytest.mark.bundle,
              pytest.mark.skipif(not sys.platform.startswith("linux"),
                                 reason="the bundle test runs on the Linux CI machine")]


@dataclass(frozen=True)
class Bundle:
    folder: Path  # the unpacked archive: stemma, stemma-app, _internal/, demo_song.flac
    home: Path  # HOME of every run: the user folders land here
    work: Path  # the folder runs start in, away from the bundle
    files_before: dict[str, tuple[int, int]]  # path -> (size, mtime_ns) when unpacked

    def env(self, **extra: str) -> dict[str, str]:
        """A bare environment: no PATH, PYTHONPATH or VIRTUAL_ENV, our own HOME."""
        return {"HOME": str(self.home), "LANG": "C.UTF-8", **extra}

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.folder / "stemma"), *args], cwd=self.work,
                              env=self.env(), capture_output=True, text=True, timeout=timeout)


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.lstat().st_size, p.lstat().st_mtime_ns)
            for p in folder.rglob("*")}


def _checkout_copy(dst: Path) -> None:
    """The files of a clean clone plus uncommitted edits: tracked and untracked-but-not-ignored
    files, never build outputs or venvs."""
    names = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, names):
        src = ROOT / name
        if src.is_file():
            (dst / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / name)


@pytest.fixture(scope="session")
def bundle(tmp_path_factory) -> Bundle:
    """One build per test session (a few minutes): build.sh in a copy of the checkout with
    this interpreter's packages, then the archive unpacked into another folder."""
    src = tmp_path_factory.mktemp("checkout")
    _checkout_copy(src)
    env = {**os.environ, "STEMMA_PYTHON": sys.executable, "STEMMA_ZSTD_LEVEL": "1",
           "STEMMA_BUILD_VENV": str(ROOT / "build" / "installer" / "venv")}  # PyInstaller, kept
    done = subprocess.run(["bash", "installer/build.sh"], cwd=src, env=env,
                          capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    archives = sorted((src / "dist").glob(f"stemma-{VERSION}-linux-*.tar.*"))
    assert len(archives) == 1, f"one archive expected, found {archives}"
    programs = tmp_path_factory.mktemp("programs")
    unpack = ["tar", "-I", "zstd", "-xf"] if archives[0].suffix == ".zst" else ["tar", "-xzf"]
    subprocess.run([*unpack, str(archives[0]), "-C", str(programs)], check=True)
    shutil.rmtree(src)  # the build's gigabytes are not needed any more
    home, work = tmp_path_factory.mktemp("home"), tmp_path_factory.mktemp("elsewhere")
    folder = programs / "stemma"
    return Bundle(folder, home, work, _tree(folder))


def test_the_bundle_fits_the_download_budget(bundle):
    size = sum(p.stat().st_size for p in bundle.folder.rglob("*") if p.is_file())
    assert size < 1_000_000_000, f"unpacked bundle is {size / 1e6:.0f} MB"
    for name in ("stemma", "stemma-app", "demo_song.flac", "stemma.desktop", "stemma.png"):
        assert (bundle.folder / name).is_file(), name
    libraries = [p.name for p in bundle.folder.rglob("*")
                 if p.is_file() and (".so" in p.name or p.suffix in (".dll", ".dylib"))]
    assert any(name.startswith("libtorch_cpu") for name in libraries)
    cuda = [name for name in libraries if CUDA_LIBRARY.search(name)]
    assert not cuda, f"the CPU build carries CUDA libraries: {cuda}"


def test_the_bundle_has_the_models_runtime_files_only(bundle):
    """Every file a shipped model separates with is there, and the weights only the lab reads
    (marked "runtime": false) stay out: tens of MB nobody who separates needs."""
    import json
    left_out = []
    for manifest in (ROOT / "assets" / "models").glob("*/manifest.json"):
        inside = bundle.folder / "_internal" / "assets" / "models" / manifest.parent.name
        for entry in json.loads(manifest.read_text())["files"]:
            if entry.get("runtime", True):
                assert (inside / entry["path"]).stat().st_size == entry["size"], entry
            else:
                assert not (inside / entry["path"]).exists(), entry
                left_out.append(entry["path"])
    assert {"codec.safetensors", "masks.safetensors"} <= set(left_out)


def test_version(bundle):
    done = bundle.run("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"stemma {VERSION}"


def test_models_lists_the_shipped_models(bundle):
    done = bundle.run("models")
    assert done.returncode == 0, done.stderr
    names = [line.split()[0] for line in done.stdout.splitlines() if line.strip()]
    assert {"classic", "tokenlm"} <= set(names), done.stdout
    assert "hcodec-small" in done.stdout  # the codec tokenlm needs is shipped too


@pytest.mark.parametrize(("model", "seconds"), [("classic", None), (None, None), ("tokenlm", 4)],
                         ids=["classic", "default-model", "tokenlm-4s"])
def test_separate_the_demo(bundle, model, seconds):
    """The whole demo with classic and with the default model; tokenlm (torch and
    onnxruntime inside the bundle) on 4 s of it, one window, to keep the test short."""
    demo = bundle.folder / "demo_song.flac"
    if seconds:
        audio, sr = sf.read(demo, dtype="int16")
        demo = bundle.work / "demo_excerpt.flac"
        sf.write(demo, audio[8 * sr:(8 + seconds) * sr], sr)
    out = f"stems-{model or 'default'}"
    args = ["separate", str(demo), "-o", out] + (["--model", model] if model else [])
    done = bundle.run(*args)
    assert done.returncode == 0, done.stderr
    assert f"stemma: model {model or ''}" in done.stderr  # it says which model ran, and where
    mix, sr = sf.read(demo, dtype="float32", always_2d=True)
    stems = []
    for stem in STEMS:
        audio, stem_sr = sf.read(bundle.work / out / demo.stem / f"{stem}.wav",
                                 dtype="float32", always_2d=True)
        assert stem_sr == sr and audio.shape == mix.shape, (stem, audio.shape, mix.shape)
        stems.append(audio.T)
    assert residual_db(mix.T, stems) < -100
    assert np.abs(stems[0]).max() > 1e-3  # not silence that sums trivially


def test_app_starts_offscreen_and_closes_cleanly(bundle):
    """The window paints (Qt's painting log says so), the bundled PortAudio is the one loaded,
    and SIGTERM (a logout) closes the window as a user would: exit status 0, no traceback."""
    env = bundle.env(QT_QPA_PLATFORM="offscreen", QT_LOGGING_RULES="qt.widgets.painting=true")
    app = subprocess.Popen([str(bundle.folder / "stemma-app")], cwd=bundle.work, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    painted = threading.Event()
    errors: list[str] = []

    def read_stderr() -> None:
        for line in app.stderr:
            if PAINTED in line and line.startswith("qt.widgets.painting: Flushing"):
                painted.set()
            elif not line.startswith("qt.widgets.painting"):
                errors.append(line)

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        assert painted.wait(timeout=120), "".join(errors)[-3000:]
        maps = Path(f"/proc/{app.pid}/maps").read_text()
        portaudio = {line.split()[-1] for line in maps.splitlines() if "libportaudio" in line}
        assert portaudio and all(p.startswith(str(bundle.folder)) for p in portaudio), portaudio
        app.send_signal(signal.SIGTERM)
        assert app.wait(timeout=60) == 0, "".join(errors)[-3000:]
    finally:
        if app.poll() is None:
            app.kill()
    reader.join(timeout=10)
    assert not any("Traceback" in line for line in errors), "".join(errors)
    log = bundle.home / ".local" / "share" / "Stemma" / "Stemma" / "logs" / "stemma.log"
    assert log.is_file()  # in the user's data folder, not beside the program
    assert "unhandled error" not in log.read_text()


def test_nothing_is_written_beside_the_programs(bundle):
    """Runs before this one wrote stems, logs and settings: all outside the bundle."""
    assert _tree(bundle.folder) == bundle.files_before
