"""The ``stemma`` command, run as a user runs it: a real process on real files."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine import load_audio, probe_audio
from tests.conftest import default_stop_signals, ffmpeg, music, residual_db

STEMS = ["bass", "drums", "other", "vocals"]


def stemma(*args: object, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout)


def all_files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """The acceptance inputs: 48 kHz mono MP3 (12 s: past frame 524,288, where block reads of
    MP3 once went wrong), 44.1 kHz stereo M4A, 96 kHz 24-bit WAV."""
    folder = tmp_path_factory.mktemp("inputs")
    src48 = folder / "src48.wav"
    sf.write(src48, music(12.0, 48000, 1).T, 48000)
    src44 = folder / "src44.wav"
    sf.write(src44, music(5.0, 44100, 2, seed=1).T, 44100)
    hi = folder / "hires.wav"
    sf.write(hi, music(5.0, 96000, 2, seed=2)[:, :479_999].T, 96000, subtype="PCM_24")
    return {
        "mp3": ffmpeg(src48, folder / "mono48.mp3", "-c:a", "libmp3lame", "-b:a", "192k"),
        "m4a": ffmpeg(src44, folder / "stereo44.m4a", "-c:a", "aac", "-b:a", "256k"),
        "wav96": hi,
    }


@pytest.mark.parametrize("kind", ["mp3", "m4a", "wav96"])
def test_stems_keep_rate_channels_and_exact_length(inputs, tmp_path, kind):
    path = inputs[kind]
    run = stemma("separate", path, "-o", tmp_path)
    assert run.returncode == 0, run.stderr
    info = probe_audio(path)
    out = tmp_path / path.stem
    assert sorted(p.name for p in out.iterdir()) == [f"{s}.wav" for s in STEMS]
    mix, _ = load_audio(path)
    stems = []
    for name in STEMS:
        stem = probe_audio(out / f"{name}.wav")
        assert (stem.sample_rate, stem.n_channels, stem.n_frames) == (
            info.sample_rate, info.n_channels, info.n_frames), name
        assert stem.codec == "FLOAT"  # default: float WAV, nothing rescaled
        stems.append(load_audio(out / f"{name}.wav")[0])
    assert residual_db(mix, stems) < -120  # float stems: the sum is the decoded file
    worst = np.abs(mix.astype(np.float64) - sum(s.astype(np.float64) for s in stems)).max()
    assert worst < 1e-5, "some block of the stems does not sum to the file"
    assert str(out) in run.stdout  # says where the stems went


@pytest.fixture
def bad_inputs(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "empty.wav").write_bytes(b"")
    (folder / "corrupt.flac").write_bytes(b"fLaC" + os.urandom(5000))
    (folder / "lyrics.txt").write_text("la la la\n" * 100)
    sf.write(folder / "surround.wav", np.zeros((48000, 6), np.float32), 48000)
    nan = music(1.0, 44100)
    nan[0, 30000] = np.nan
    sf.write(folder / "nan.wav", nan.T, 44100, subtype="FLOAT")
    return {
        "missing.wav": "file not found",
        "empty.wav": "empty (0 bytes)",
        "corrupt.flac": "cannot decode",
        "lyrics.txt": "not an audio format",
        "surround.wav": "6 channels",
        "nan.wav": "NaN",
    }, folder


def test_bad_inputs_fail_one_line_each_and_the_batch_goes_on(bad_inputs, make_wav, tmp_path):
    problems, folder = bad_inputs
    good, _ = make_wav("good.wav", seconds=2.0)
    out = tmp_path / "out"
    paths = [folder / name for name in problems] + [good]
    run = stemma("separate", *paths, "-o", out)
    assert run.returncode == 1
    errors = [line for line in run.stderr.splitlines() if line.startswith("stemma: error:")]
    assert len(errors) == len(problems)
    for line, (name, problem) in zip(errors, problems.items(), strict=True):
        assert name in line and problem in line, line
    # The good file was separated; nothing at all exists for the bad ones, not even temp files
    # or empty folders.
    assert all_files(out) == [f"good/{s}.wav" for s in STEMS]
    assert [p.name for p in out.iterdir()] == ["good"]


def test_silence_and_very_short_files_are_fine(tmp_path):
    sf.write(tmp_path / "silence.wav", np.zeros((44100 * 3, 2)), 44100)
    sf.write(tmp_path / "blip.wav", np.full((20, 1), 0.1), 22050)
    run = stemma("separate", tmp_path / "silence.wav", tmp_path / "blip.wav", "-o",
                 tmp_path / "o")
    assert run.returncode == 0, run.stderr
    assert not np.any(load_audio(tmp_path / "o/silence/vocals.wav")[0])
    assert probe_audio(tmp_path / "o/blip/drums.wav").n_frames == 20


def test_two_stems_flac_16_bit(make_wav, tmp_path):
    path, _ = make_wav("song.wav", seconds=2.0)
    run = stemma("separate", path, "-o", tmp_path / "o", "--two-stems", "vocals",
                 "--format", "flac", "--bit-depth", "16")
    assert run.returncode == 0, run.stderr
    assert all_files(tmp_path / "o") == ["song/no_vocals.flac", "song/vocals.flac"]
    assert probe_audio(tmp_path / "o/song/vocals.flac").codec == "PCM_16"


def test_stem_subset_and_refusing_to_overwrite(make_wav, tmp_path):
    path, _ = make_wav("song.wav", seconds=1.0)
    assert stemma("separate", path, "-o", tmp_path, "--stems", "drums,bass").returncode == 0
    assert sorted(p.name for p in (tmp_path / "song").iterdir()) == ["bass.wav", "drums.wav"]
    again = stemma("separate", path, "-o", tmp_path, "--stems", "drums")
    assert again.returncode == 1 and "already exists" in again.stderr
    assert stemma("separate", path, "-o", tmp_path, "--stems", "drums",
                  "--overwrite").returncode == 0


@pytest.mark.parametrize(("args", "message"), [
    (["--stems", "guitar"], "unknown stem 'guitar'"),
    (["--format", "flac", "--bit-depth", "32f"], "bit depth"),
    (["--model", "classic", "--device", "cuda"], "CPU only"),
    (["--model", "nonexistent"], "unknown model"),
    (["--model", "classic", "--raw"], "--raw does not apply to the model 'classic'"),
    (["--model", "classic", "--option", "wiener=true"], "option wiener does not apply"),
    (["--model", "bandsplit", "--option", "wiener=maybe"], "'maybe' is not true or false"),
    (["--model", "bandsplit", "--option", "wiener"], "give KEY=VALUE"),
    (["--model", "tokenlm", "--option", "temperature=0", "--option", "samples=3"],
     "samples=3: give 1, or more than 1 with sampling"),
    (["--model", "tokenlm", "--option", "mean_exponent=0"], "mean_exponent=0.0: give a positive"),
])
def test_bad_options_are_explained(make_wav, tmp_path, args, message):
    path, _ = make_wav("song.wav", seconds=1.0)
    run = stemma("separate", path, "-o", tmp_path / "o", *args)
    assert run.returncode == 2 and message in run.stderr  # bad usage, as the README says
    assert not (tmp_path / "o").exists()


def test_a_model_option_changes_what_the_model_does(make_wav, tmp_path):
    """``--option wiener=true`` runs the mask model's Wiener step: other stems than its plain
    masks give, still summing to the mix."""
    path, audio = make_wav("song.wav", seconds=3.0, subtype="FLOAT")
    plain = stemma("separate", path, "-o", tmp_path / "plain", "--model", "bandsplit")
    wiener = stemma("separate", path, "-o", tmp_path / "wiener", "--model", "bandsplit",
                    "--option", "wiener=true")
    assert plain.returncode == 0 and wiener.returncode == 0, wiener.stderr
    a, _ = load_audio(tmp_path / "plain/song/vocals.wav")
    b, _ = load_audio(tmp_path / "wiener/song/vocals.wav")
    assert residual_db(a, [b]) > -40  # a different filter, not the same stems
    stems = [load_audio(tmp_path / f"wiener/song/{s}.wav")[0] for s in STEMS]
    assert residual_db(audio, stems) < -80


def test_karaoke_is_the_mix_without_vocals(make_wav, tmp_path):
    path, audio = make_wav("song.wav", seconds=3.0, subtype="FLOAT")
    assert stemma("karaoke", path, "-o", tmp_path / "k.wav").returncode == 0
    assert stemma("separate", path, "-o", tmp_path, "--stems", "vocals").returncode == 0
    karaoke, _ = load_audio(tmp_path / "k.wav")
    vocals, _ = load_audio(tmp_path / "song/vocals.wav")
    assert residual_db(audio, [karaoke, vocals]) < -80


def test_remix_applies_gains_and_mutes(make_wav, tmp_path):
    path, _ = make_wav("song.wav", seconds=2.0)
    assert stemma("separate", path, "-o", tmp_path).returncode == 0
    run = stemma("remix", tmp_path / "song", "--gain", "vocals=-6", "--mute", "drums",
                 "-o", tmp_path / "remix.flac")
    assert run.returncode == 0, run.stderr
    stems = {s: load_audio(tmp_path / f"song/{s}.wav")[0] for s in STEMS}
    expected = 10 ** (-6 / 20) * stems["vocals"] + stems["bass"] + stems["other"]
    got, _ = load_audio(tmp_path / "remix.flac")
    assert np.abs(got - expected).max() < 2 / 2 ** 23  # 24-bit FLAC


def test_16_bit_stems_of_a_16_bit_song_sum_back_to_it_exactly(make_wav, tmp_path):
    """Rounded together, the stems' 16-bit samples add up to the song's, sample for sample."""
    path, _ = make_wav("song.wav", seconds=4.0, subtype="PCM_16")
    run = stemma("separate", path, "-o", tmp_path, "--bit-depth", "16")
    assert run.returncode == 0, run.stderr
    mix = sf.read(path, dtype="int16")[0].astype(np.int64)
    total = sum(sf.read(tmp_path / f"song/{s}.wav", dtype="int16")[0].astype(np.int64)
                for s in STEMS)
    assert np.array_equal(total, mix)


def test_clipping_is_reported_once_per_file_in_one_wording(tmp_path):
    loud = tmp_path / "loud.wav"
    sf.write(loud, (music(2.0, 44100) * 2.5).T, 44100, subtype="FLOAT")  # peaks at 1.5
    run = stemma("separate", "-q", loud, "-o", tmp_path, "--bit-depth", "16")
    assert run.returncode == 0, run.stderr
    lines = run.stderr.splitlines()
    assert lines and all(re.fullmatch(
        rf"stemma: warning: {tmp_path}/loud/\w+\.wav: \d+ samples clipped at the chosen bit "
        r"depth \(peak \d\.\d\d\); use --bit-depth 32f to keep them", line) for line in lines)
    assert len({line.split(": ")[2] for line in lines}) == len(lines)  # one line per file


def test_remix_with_a_bad_gain(make_wav, tmp_path):
    path, _ = make_wav("song.wav", seconds=1.0)
    stemma("separate", path, "-o", tmp_path)
    run = stemma("remix", tmp_path / "song", "--gain", "vocals", "-o", tmp_path / "r.wav")
    assert run.returncode == 2 and "STEM=DB" in run.stderr


def test_ctrl_c_stops_cleanly_with_no_partial_files(make_wav, tmp_path):
    path, _ = make_wav("long.wav", seconds=120.0)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "engine", "separate", str(path), "-o",
                             str(out), "--threads", "1"], stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_stop_signals)
    deadline = time.monotonic() + 60
    while not list(out.rglob("*.part")) and time.monotonic() < deadline:
        time.sleep(0.05)  # wait until it is writing
    assert list(out.rglob("*.part")), "separation never started writing"
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert "cancelled" in stderr
    assert not out.exists() or all_files(out) == []


def test_models_lists_classic():
    run = stemma("models")
    assert run.returncode == 0 and "classic" in run.stdout


@pytest.mark.parametrize(("inputs", "folders"), [
    (["m/a/song.wav", "m/b/song.ogg"], ["a/song", "b/song"]),
    (["x/a/mixture.wav", "y/a/mixture.wav"], ["x/a/mixture", "y/a/mixture"]),
    (["a/song.wav", "a/song.mp3", "b/song.wav"], ["song (wav)", "song (mp3)", "song"]),
    (["a/one.wav", "b/two.wav"], ["one", "two"]),
], ids=["parents", "grandparents", "same-folder", "distinct"])
def test_batch_output_folders_never_collide(inputs, folders, tmp_path, capsys):
    from engine.cli import _output_dirs

    out = _output_dirs([str(tmp_path / p) for p in inputs], tmp_path / "OUT")
    assert out == [tmp_path / "OUT" / f for f in folders]
    assert ("their stems go to" in capsys.readouterr().err) == (folders != ["one", "two"])


def test_a_reader_that_stops_early_gets_no_traceback():
    """`stemma models | head -1`: the pipe closes before stemma writes; it stops quietly."""
    proc = subprocess.Popen([sys.executable, "-m", "engine", "models"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # no reader is left: stemma's first write fails with EPIPE
    _, err = proc.communicate(timeout=300)
    assert "Traceback" not in err.decode() and "Broken pipe" not in err.decode(), err.decode()
    assert proc.returncode == 128 + signal.SIGPIPE
