"""The torture corpus: bad and odd inputs, made at test time, through the real ``stemma`` command.

Every case ends in the exit code the README documents, with exactly the expected line on stderr
naming the file (never a traceback, never a decoder's own chatter), and leaves nothing behind:
no temporary files, no empty folders, inputs untouched. What each case did is written to
``build/test-artifacts/torture.md`` (case, exit code, message, left behind).
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine import load_audio
from tests.conftest import default_stop_signals, ffmpeg, music, residual_db

ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts"
STEMS = ["bass.wav", "drums.wav", "other.wav", "vocals.wav"]
SECONDS = 8.0  # the corpus song: long enough that a 10% cut still holds audio
OGG_SECONDS = 20.0  # libsndfile writes Ogg pages of ~4 kB: 10% of 8 s is still inside the first
ROWS: list[tuple[str, int, str, str]] = []  # (case, exit code, message, left behind)


@pytest.fixture(scope="module", autouse=True)
def table():
    """Write the table of what every case did once the module is through."""
    yield
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    lines = ["| case | exit code | message | left behind |", "|---|---|---|---|"]
    lines += [f"| {c} | {code} | {m.replace('|', '/')} | {left} |" for c, code, m, left in ROWS]
    (ARTIFACTS / "torture.md").write_text("\n".join(lines) + "\n")


def stemma(*args: object, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, **kwargs)


def files_in(folder: Path) -> list[str]:
    """Every file under ``folder``, hidden ones included, relative to it."""
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def digest(paths: list[Path]) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths if p.is_file()}


def record(case: str, run: subprocess.CompletedProcess, left: str, root: Path) -> list[str]:
    """Check the run's stderr is clean, add a table row; returns the stderr lines."""
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert "Traceback" not in run.stderr, run.stderr
    assert not any(line.startswith(("Note:", "Warning:", "[")) for line in lines), lines
    message = " / ".join(line.replace(str(root) + os.sep, "") for line in lines) or "-"
    ROWS.append((case, run.returncode, message, left))
    return lines


def left_behind(out: Path) -> str:
    found = files_in(out)
    assert not [f for f in found if f.endswith(".part")], found
    if not found:
        return "nothing" if not out.exists() or not any(out.iterdir()) else "an empty folder"
    names = sorted({Path(f).name for f in found})
    return f"{len(found)} files ({', '.join(names)})" if names != STEMS else (
        f"the {len(STEMS) * (len(found) // len(STEMS))} stems" if len(found) % 4 == 0 else
        ", ".join(found))


# --- making the corpus -----------------------------------------------------------------------


@dataclass(frozen=True)
class Format:
    ext: str
    write: Callable[[Path, Path], Path]  # (folder, source WAV) -> encoded file


def _sf(fmt: str, subtype: str, rate: int = 44100, seconds: float = SECONDS):
    def write(folder: Path, src: Path) -> Path:
        path = folder / f"song_{subtype.lower()}.{EXTS_OPUS.get(subtype, EXTS[fmt])}"
        sf.write(path, music(seconds, rate, 2, seed=5).T, rate, format=fmt, subtype=subtype)
        return path
    return write


def _ff(name: str, *args: str):
    def write(folder: Path, src: Path) -> Path:
        return ffmpeg(src, folder / name, *args)
    return write


EXTS = {"WAV": "wav", "AIFF": "aiff", "FLAC": "flac", "OGG": "ogg", "MP3": "mp3"}
EXTS_OPUS = {"OPUS": "opus"}
FORMATS = {
    "wav": Format(".wav", _sf("WAV", "PCM_16")),
    "aiff": Format(".aiff", _sf("AIFF", "PCM_24")),
    "flac": Format(".flac", _sf("FLAC", "PCM_16")),
    "ogg": Format(".ogg", _sf("OGG", "VORBIS", seconds=OGG_SECONDS)),
    "opus": Format(".opus", _sf("OGG", "OPUS", 48000, seconds=OGG_SECONDS)),
    "mp3": Format(".mp3", _sf("MP3", "MPEG_LAYER_III")),
    "m4a": Format(".m4a", _ff("song_aac.m4a", "-c:a", "aac", "-movflags", "+faststart")),
    "alac": Format(".m4a", _ff("song_alac.m4a", "-c:a", "alac", "-movflags", "+faststart")),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """One song in every format (8 s; Ogg 20 s), and the source WAV they were made from."""
    folder = tmp_path_factory.mktemp("corpus")
    src = folder / "source.wav"
    sf.write(src, music(SECONDS, 44100, 2, seed=5).T, 44100, subtype="PCM_16")
    return {name: fmt.write(folder, src) for name, fmt in FORMATS.items()}


def audio_offset(path: Path) -> int:
    """Where a file's audio data starts: cutting there leaves its header only."""
    data = path.read_bytes()
    ext = path.suffix.lower()
    if ext in (".wav", ".aiff"):
        riff = ext == ".wav"
        target, pos = (b"data", 12) if riff else (b"SSND", 12)
        while data[pos:pos + 4] != target:
            size = struct.unpack("<I" if riff else ">I", data[pos + 4:pos + 8])[0]
            pos += 8 + size + (size & 1)
        return pos + 8 + (0 if riff else 8)
    if ext == ".flac":
        pos, last = 4, 0
        while not last:
            last, size = data[pos] & 0x80, int.from_bytes(data[pos + 1:pos + 4], "big")
            pos += 4 + size
        return pos
    if ext in (".ogg", ".opus"):  # header pages have granule position 0
        pos = 0
        while struct.unpack("<q", data[pos + 6:pos + 14])[0] <= 0:
            n_segments = data[pos + 26]
            pos += 27 + n_segments + sum(data[pos + 27:pos + 27 + n_segments])
        return pos
    if ext == ".mp3":  # after the Xing/LAME frame
        return data.index(data[:2], 100)
    if ext == ".m4a":  # the start of the audio box
        pos = 0
        while data[pos + 4:pos + 8] != b"mdat":
            pos += struct.unpack(">I", data[pos:pos + 4])[0]
        return pos + 8
    raise ValueError(ext)


# --- bad inputs: exit 1, one line naming the file, nothing written ----------------------------


def _write(name: str, data: bytes | str):
    def make(folder: Path) -> Path:
        path = folder / name
        if isinstance(data, str):
            path.write_text(data)
        else:
            path.write_bytes(data)
        return path
    return make


def _wav(name: str, audio: np.ndarray, rate: int, subtype: str = "FLOAT"):
    def make(folder: Path) -> Path:
        sf.write(folder / name, audio.T, rate, subtype=subtype)
        return folder / name
    return make


def _channels(n: int):
    return _wav(f"{n}ch.wav", np.zeros((n, 4800), np.float32) + 0.01, 48000, "PCM_16")


def _with(value: float):
    audio = music(1.0, 44100)
    audio[1, 30000] = value
    return audio


def _fifo(folder: Path) -> Path:
    os.mkfifo(folder / "stream.wav")
    return folder / "stream.wav"


RANDOM = np.random.default_rng(11).bytes(50_000)
BAD_INPUTS = {
    "missing file": (lambda folder: folder / "missing.wav", "file not found"),
    "a folder": (lambda folder: (folder / "album.wav").mkdir() or folder / "album.wav",
                 "is a folder, not an audio file"),
    "0 bytes": (_write("empty.mp3", b""), "file is empty (0 bytes)"),
    "text as audio (.mp3)": (_write("lyrics.mp3", "la la la\n" * 500), "not valid MP3 audio"),
    "text as audio (.wav)": (_write("lyrics.wav", "la la la\n" * 500), "not valid WAV audio"),
    "text file (.txt)": (_write("lyrics.txt", "la la la\n" * 500), "not an audio format"),
    "a pipe": (_fifo, "is a pipe or a device, not a file"),
    "NaN samples": (_wav("nan.wav", _with(np.nan), 44100), "NaN or infinite samples"),
    "Inf samples": (_wav("inf.wav", _with(np.inf), 44100), "NaN or infinite samples"),
    "4 kHz": (_wav("4k.wav", music(1.0, 4000, 1), 4000), "sample rate 4000 Hz is outside"),
    "384 kHz": (_wav("384k.wav", music(0.2, 384000, 2), 384000),
                "sample rate 384000 Hz is outside"),
    **{f"{n} channels": (_channels(n), f"has {n} channels") for n in range(3, 9)},
    **{f"random bytes ({ext})": (_write(f"noise{ext}", RANDOM), "cannot decode: not valid")
       for ext in (".wav", ".flac", ".aiff", ".ogg", ".opus", ".mp3", ".m4a", ".aac", ".mp4")},
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input(case, tmp_path):
    make, problem = BAD_INPUTS[case]
    inputs = tmp_path / "in"
    inputs.mkdir()
    path = make(inputs)
    before = digest(list(inputs.iterdir()))
    out = tmp_path / "out"
    run = stemma("separate", "-q", path, "-o", out, timeout=60)
    lines = record(case, run, left_behind(out), inputs)
    assert run.returncode == 1
    assert lines == [f"stemma: error: {path}: {lines[0].split(': ', 3)[-1]}"]
    assert problem in lines[0]
    assert left_behind(out) == "nothing"
    assert digest(list(inputs.iterdir())) == before


def test_standard_input_is_refused_with_a_hint(tmp_path):
    run = stemma("separate", "-q", "-", "-o", tmp_path / "out", timeout=60, stdin=subprocess.PIPE)
    lines = record("'-' (standard input)", run, left_behind(tmp_path / "out"), tmp_path)
    assert run.returncode == 1 and len(lines) == 1
    assert lines[0].startswith("stemma: error: -: reading audio from standard input is not "
                               "supported; save it to a file")


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_header_only(fmt, corpus, tmp_path):
    source = corpus[fmt]
    path = tmp_path / f"header_only_{source.name}"
    path.write_bytes(source.read_bytes()[:audio_offset(source)])
    out = tmp_path / "out"
    run = stemma("separate", "-q", path, "-o", out, timeout=60)
    lines = record(f"header only ({fmt})", run, left_behind(out), tmp_path)
    assert run.returncode == 1 and len(lines) == 1, lines
    assert lines[0].startswith(f"stemma: error: {path}: ")
    assert re.search(r"contains no audio samples|no audio could be decoded|cannot decode",
                     lines[0])
    assert left_behind(out) == "nothing"


# --- truncated files: read as far as they go, with a warning; or refused when nothing can be --


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9], ids=["10%", "50%", "90%"])
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_truncated(fmt, fraction, corpus, tmp_path):
    source = corpus[fmt]
    path = tmp_path / f"cut_{source.name}"
    data = source.read_bytes()
    path.write_bytes(data[:int(len(data) * fraction)])
    out = tmp_path / "out"
    run = stemma("separate", "-q", path, "-o", out, timeout=120)
    lines = record(f"truncated at {fraction:.0%} ({fmt})", run, left_behind(out), tmp_path)
    assert run.returncode == 0, run.stderr
    assert [line for line in lines if line.startswith("stemma:")] == lines and len(lines) == 1
    assert lines[0].startswith(f"stemma: warning: {path}: the file ends ")
    if fmt in ("ogg", "opus"):  # Ogg keeps no length: how much is missing is unknown
        assert "without its end-of-stream mark" in lines[0]
    else:
        assert re.search(r"ends \d+\.\d\d s short of the 8\.00 s its header declares", lines[0])
    mix, _ = load_audio(path)  # what did decode: the stems are exactly that long and sum to it
    stems = [load_audio(out / path.stem / name)[0] for name in STEMS]
    assert all(s.shape == mix.shape for s in stems) and mix.shape[1] < OGG_SECONDS * 48000
    assert residual_db(mix, stems) < -120


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9], ids=["10%", "50%", "90%"])
def test_truncated_m4a_without_its_index_is_refused(fraction, corpus, tmp_path):
    """An MP4 whose index comes last (ffmpeg's default) has none left when cut: nothing can be
    decoded, so it is an error, saying why."""
    sf.write(tmp_path / "x.wav", music(3.0, 44100, 2).T, 44100)
    plain = ffmpeg(tmp_path / "x.wav", tmp_path / "plain.m4a", "-c:a", "aac")
    path = tmp_path / "cut_plain.m4a"
    data = plain.read_bytes()
    path.write_bytes(data[:int(len(data) * fraction)])
    out = tmp_path / "out"
    run = stemma("separate", "-q", path, "-o", out, timeout=60)
    lines = record(f"truncated at {fraction:.0%} (m4a, index at the end)", run,
                   left_behind(out), tmp_path)
    assert run.returncode == 1 and len(lines) == 1
    assert lines[0] == (f"stemma: error: {path}: is incomplete: its audio is there but not the "
                        "index MP4/M4A files keep at their end (it was cut off while being "
                        "written or copied)")
    assert left_behind(out) == "nothing"


# --- odd but valid: separated, no message ------------------------------------------------------


ODD = {
    "1 sample": ("blip.wav", np.full((1, 1), 0.25, np.float32), 44100),
    "silence": ("silence.wav", np.zeros((2, 3 * 44100), np.float32), 44100),
    "8 kHz mono (lowest rate)": ("low.wav", music(2.0, 8000, 1), 8000),
    "192 kHz stereo (highest rate)": ("high.wav", music(1.0, 192000, 2), 192000),
    "unicode name": ("Björk – Jóga (ライブ) 🎵.wav", music(1.0, 44100), 44100),
    "250-character name": ("s" * 246 + ".wav", music(1.0, 44100), 44100),
    "250-byte unicode name": ("ß" * 123 + ".wav", music(1.0, 44100), 44100),
}


@pytest.mark.parametrize("case", list(ODD))
def test_odd_but_valid(case, tmp_path):
    name, audio, rate = ODD[case]
    path = tmp_path / name
    sf.write(path, audio.T, rate, subtype="FLOAT")
    out = tmp_path / "out"
    run = stemma("separate", "-q", path, "-o", out)
    lines = record(case, run, left_behind(out), tmp_path)
    assert run.returncode == 0 and lines == [], run.stderr
    stems = [load_audio(out / path.stem / s)[0] for s in STEMS]
    assert all(s.shape == audio.shape for s in stems)
    if case == "silence":
        assert not any(np.any(s) for s in stems)
    assert residual_db(audio, stems) < -120 or not np.any(audio)


def test_karaoke_to_a_250_character_unicode_name(tmp_path):
    """The temporary file beside the output gets a name that fits (its name is shortened)."""
    path = tmp_path / "song.wav"
    sf.write(path, music(1.0, 44100).T, 44100)
    target = tmp_path / ("ü" * 120 + ".wav")  # 244 bytes of a 255-byte limit
    run = stemma("karaoke", "-q", path, "-o", target)
    record("karaoke to a 244-byte unicode name", run, "the karaoke file", tmp_path)
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, target.name])


# --- where the output goes: read-only, full, taken -------------------------------------------


def _mount_tmpfs(folder: Path, options: str) -> None:
    """A tmpfs at ``folder``, or a skip saying why not (root without mount rights: a container
    without CAP_SYS_ADMIN)."""
    run = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                         capture_output=True, text=True)
    if run.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {run.stderr.strip()}")


@pytest.fixture
def song(tmp_path):
    path = tmp_path / "song.wav"
    sf.write(path, music(4.0, 44100).T, 44100)
    return path


@pytest.fixture
def read_only(tmp_path):
    """A read-only folder: a read-only tmpfs as root (who may write anywhere else), else a
    folder without write permission."""
    folder = tmp_path / "locked"
    folder.mkdir()
    if os.geteuid() == 0:
        _mount_tmpfs(folder, "ro,size=1m")
        yield folder
        subprocess.run(["umount", str(folder)], check=True)
    else:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)


def test_read_only_output_folder(song, read_only):
    run = stemma("separate", "-q", song, "-o", read_only)
    lines = record("read-only output folder", run, left_behind(read_only), song.parent)
    assert run.returncode == 1 and len(lines) == 1
    assert lines[0].startswith(f"stemma: error: {read_only}/song/")
    assert f"cannot write in {read_only} (read-only, or permission denied)" in lines[0]
    assert ".part" not in lines[0] and files_in(read_only) == []
    run = stemma("karaoke", "-q", song, "-o", read_only / "karaoke.wav")
    lines = record("karaoke into a read-only folder", run, left_behind(read_only), song.parent)
    assert run.returncode == 1 and lines == [
        f"stemma: error: {read_only}/karaoke.wav: cannot write in {read_only} (read-only, or "
        "permission denied)"]


@pytest.fixture
def tiny_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("a full disk is made with a tiny tmpfs, which needs root to mount")
    folder = tmp_path / "tiny"
    folder.mkdir()
    _mount_tmpfs(folder, "size=512k")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def test_full_disk(song, tiny_disk):
    run = stemma("separate", "-q", song, "-o", tiny_disk)
    lines = record("full disk (512 kB tmpfs)", run, left_behind(tiny_disk), song.parent)
    assert run.returncode == 1 and len(lines) == 1
    assert re.fullmatch(rf"stemma: error: {tiny_disk}/song/\w+\.wav: the disk is full", lines[0])
    assert files_in(tiny_disk) == []


def test_existing_output_is_kept(song, tmp_path):
    out = tmp_path / "out"
    (out / "song").mkdir(parents=True)
    (out / "song" / "drums.wav").write_bytes(b"my own drums")
    run = stemma("separate", "-q", song, "-o", out)
    lines = record("an output exists (no --overwrite)", run, "only the user's drums.wav, "
                   "untouched", tmp_path)
    assert run.returncode == 1 and len(lines) == 1 and "already exists" in lines[0]
    assert files_in(out) == ["song/drums.wav"]
    assert (out / "song" / "drums.wav").read_bytes() == b"my own drums"


# --- stopping a run: signals, and a run killed outright ----------------------------------------


@pytest.fixture(scope="module")
def long_song(tmp_path_factory):
    path = tmp_path_factory.mktemp("long") / "long.wav"
    sf.write(path, music(150.0, 44100).T, 44100, subtype="PCM_16")
    return path


def temp_files(out: Path) -> list[str]:
    return [f for f in files_in(out) if f.endswith(".part")]


def start_separating(path: Path, out: Path, **popen) -> subprocess.Popen:
    """A run that has begun writing its four stems (waits for their temporary files)."""
    popen.setdefault("preexec_fn", default_stop_signals)
    proc = subprocess.Popen([sys.executable, "-m", "engine", "separate", "-q", str(path), "-o",
                             str(out), "--threads", "1"], stderr=subprocess.PIPE, text=True,
                            **popen)
    deadline = time.monotonic() + 120
    while len(temp_files(out)) < len(STEMS):
        assert proc.poll() is None and time.monotonic() < deadline, "it never began writing"
        time.sleep(0.05)
    return proc


def second_run(out: Path, folder: Path) -> subprocess.CompletedProcess:
    """A short song of the same name separated into the same folder afterwards."""
    short = folder / "again" / "long.wav"
    short.parent.mkdir()
    sf.write(short, music(2.0, 44100).T, 44100)
    return stemma("separate", "-q", short, "-o", out, "--overwrite")


@pytest.mark.parametrize(("name", "code"), [("SIGINT", 130), ("SIGTERM", 143), ("SIGHUP", 129)])
def test_stopped_by_a_signal_mid_run(name, code, long_song, tmp_path):
    out = tmp_path / "out"
    proc = start_separating(long_song, out)
    proc.send_signal(getattr(signal, name))
    _, stderr = proc.communicate(timeout=60)
    run = subprocess.CompletedProcess(proc.args, proc.returncode, "", stderr)
    lines = record(f"{name} mid-run", run, left_behind(out), long_song.parent)
    assert proc.returncode == code, stderr
    assert lines[-1] == "stemma: cancelled; no partial files were left"
    assert left_behind(out) == "nothing"
    again = second_run(out, tmp_path)
    record(f"{name} mid-run, then a second run into the same folder", again, left_behind(out),
           tmp_path)
    assert again.returncode == 0 and files_in(out) == [f"long/{s}" for s in STEMS]


def test_under_nohup_a_closed_terminal_does_not_stop_the_run(tmp_path):
    path = tmp_path / "long.wav"  # long enough to be under way when the signal comes
    sf.write(path, music(30.0, 44100).T, 44100, subtype="PCM_16")
    out = tmp_path / "out"
    proc = start_separating(path, out,
                            preexec_fn=lambda: (default_stop_signals(),
                                                signal.signal(signal.SIGHUP, signal.SIG_IGN)))
    proc.send_signal(signal.SIGHUP)
    _, stderr = proc.communicate(timeout=300)
    run = subprocess.CompletedProcess(proc.args, proc.returncode, "", stderr)
    record("SIGHUP mid-run under nohup (SIGHUP ignored)", run, left_behind(out), tmp_path)
    assert proc.returncode == 0 and stderr == ""
    assert files_in(out) == [f"long/{s}" for s in STEMS]


def test_a_killed_run_leaves_temp_files_that_the_next_run_removes(long_song, tmp_path):
    """SIGKILL cannot be caught: its temporary files stay, and the next run into the same
    folder removes them (they are stamped with a process that is gone and locked by none)."""
    out = tmp_path / "out"
    proc = start_separating(long_song, out)
    proc.kill()
    proc.wait(timeout=30)
    assert len(temp_files(out)) == len(STEMS)
    run = second_run(out, tmp_path)
    record("SIGKILL mid-run, then a second run into the same folder", run, left_behind(out),
           tmp_path)
    assert run.returncode == 0, run.stderr
    assert files_in(out) == [f"long/{s}" for s in STEMS]


def test_three_hours_stream_in_bounded_memory(tmp_path):
    """A 3-hour 44.1 kHz stereo WAV (1.9 GB, a sparse file of silence: nothing to write) is
    read block by block and separated with memory that does not grow with its length; the
    whole file in float32 alone would take 3.8 GB. The separation is stopped once it is well
    under way, which also shows a stop on a long file leaves nothing."""
    path = tmp_path / "three_hours.wav"
    n_frames = 3 * 3600 * 44100
    with open(path, "wb") as fh:
        data_size = n_frames * 4
        fh.write(b"RIFF" + struct.pack("<I", 36 + data_size) + b"WAVEfmt "
                 + struct.pack("<IHHIIHH", 16, 1, 2, 44100, 44100 * 4, 4, 16)
                 + b"data" + struct.pack("<I", data_size))
        fh.truncate(44 + data_size)
    script = ("import re, sys\n"  # VmHWM: peak RSS since exec (ru_maxrss keeps the parent's)
              "from engine import audio_io\n"
              "with audio_io.open_audio(sys.argv[1]) as r:\n"
              "    n = sum(b.shape[1] for b in r.blocks(1 << 16))\n"
              "status = open('/proc/self/status').read()\n"
              "print(n, int(re.search(r'VmHWM:\\s+(\\d+)', status)[1]) // 1024)\n")
    read = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                          text=True, timeout=300, check=True)
    frames, peak_mb = map(int, read.stdout.split())
    assert frames == n_frames and peak_mb < 400, read.stdout
    out = tmp_path / "out"
    proc = start_separating(path, out)
    deadline = time.monotonic() + 120
    while sum((out / "three_hours" / f).stat().st_size for f in files_in(out / "three_hours")
              if f.endswith(".part")) < 4 * 60 * 44100 * 8 and time.monotonic() < deadline:
        time.sleep(0.2)  # until a minute of all four stems is written
    peak_kb = int(re.search(r"VmHWM:\s+(\d+)", Path(f"/proc/{proc.pid}/status").read_text())[1])
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    run = subprocess.CompletedProcess(proc.args, proc.returncode, "", stderr)
    record(f"3-hour file: read streamed (peak {peak_mb} MB), separation stopped after a minute "
           f"of stems (peak {peak_kb // 1024} MB)", run, left_behind(out), tmp_path)
    assert proc.returncode == 130 and peak_kb < 1_500_000
    assert left_behind(out) == "nothing"


# --- batches and usage --------------------------------------------------------------------------


def test_batch_with_equal_names_goes_to_their_parent_folders(tmp_path):
    for folder, ext in (("a", "wav"), ("b", "ogg")):
        (tmp_path / folder).mkdir()
        sf.write(tmp_path / folder / f"song.{ext}", music(1.0, 44100).T, 44100)
    out = tmp_path / "out"
    a, b = tmp_path / "a/song.wav", tmp_path / "b/song.ogg"
    run = stemma("separate", "-q", a, b, a, "-o", out)
    lines = record("two inputs named 'song' (a/song.wav, b/song.ogg), one given twice", run,
                   left_behind(out), tmp_path)
    assert run.returncode == 0, run.stderr
    assert lines == [f"stemma: note: 2 inputs are named 'song'; their stems go to {out}/a/song, "
                     f"{out}/b/song", f"stemma: note: {a} is given twice; it is separated once"]
    assert files_in(out) == [f"a/song/{s}" for s in STEMS] + [f"b/song/{s}" for s in STEMS]


@pytest.fixture
def stems_dir(tmp_path, song):
    assert stemma("separate", "-q", song, "-o", tmp_path / "out").returncode == 0
    return tmp_path / "out" / "song"


USAGE = {
    "unknown model": (["separate", "-q", "{song}", "-o", "{tmp}/o", "--model", "demucs-9000"],
                      "unknown model 'demucs-9000'"),
    "--device cuda for a CPU-only model": (["separate", "-q", "{song}", "-o", "{tmp}/o",
                                            "--model", "classic", "--device", "cuda"],
                                           "runs on the CPU only"),
    "FLAC at 32-bit float": (["separate", "-q", "{song}", "-o", "{tmp}/o", "--format", "flac",
                              "--bit-depth", "32f"], "bit depth"),
    "remix --gain vocals=nan": (["remix", "{stems}", "--gain", "vocals=nan", "-o", "{tmp}/r.wav"],
                                "finite number of dB"),
    "remix --gain vocals=inf": (["remix", "{stems}", "--gain", "vocals=inf", "-o", "{tmp}/r.wav"],
                                "finite number of dB"),
    "remix a folder without stems": (["remix", "{tmp}/in", "-o", "{tmp}/r.wav"], "holds no stems"),
    "remix -o onto one of its stems": (["remix", "{stems}", "-o", "{stems}/vocals.wav",
                                        "--overwrite"], "is one of the stems being mixed"),
}


@pytest.mark.parametrize("case", list(USAGE))
def test_bad_usage_exits_2(case, tmp_path, song, stems_dir):
    args, problem = USAGE[case]
    (tmp_path / "in").mkdir()
    sf.write(tmp_path / "in" / "holiday.wav", music(1.0, 44100).T, 44100)
    before = digest(list(stems_dir.iterdir()))
    values = {"song": song, "tmp": tmp_path, "stems": stems_dir}
    run = stemma(*[a.format(**values) for a in args])
    lines = record(case, run, left_behind(tmp_path / "o"), tmp_path)
    assert run.returncode == 2 and len(lines) == 1, run.stderr
    assert lines[0].startswith("stemma: error: ") and problem in lines[0]
    assert not (tmp_path / "o").exists() and not (tmp_path / "r.wav").exists()
    assert digest(list(stems_dir.iterdir())) == before


def test_remix_leaves_out_what_is_not_a_stem(stems_dir, tmp_path):
    sf.write(stems_dir / "mixture.wav", music(4.0, 44100).T, 44100)
    run = stemma("remix", stems_dir, "-o", tmp_path / "r.wav")
    lines = record("remix a stem folder holding mixture.wav too", run, "the mix (r.wav)",
                   tmp_path)
    assert run.returncode == 0
    assert lines == [f"stemma: warning: {stems_dir}: not stems, left out of the mix: mixture.wav"]
    stems = [load_audio(stems_dir / s)[0] for s in STEMS]
    assert residual_db(load_audio(tmp_path / "r.wav")[0], stems) < -120
