"""Reading what musicians throw at us, writing without losing anything."""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from engine import audio_io
from engine.errors import (
    AudioNotFoundError,
    AudioReadError,
    CorruptAudioError,
    EmptyAudioError,
    NonFiniteAudioError,
    OutputExistsError,
    TooManyChannelsError,
    UnsupportedFormatError,
    UnsupportedSampleRateError,
)
from tests.conftest import ffmpeg, music


@pytest.mark.parametrize(("subtype", "tolerance"), [
    ("PCM_16", 1 / 32768), ("PCM_24", 1 / 2 ** 23), ("FLOAT", 0.0), ("PCM_U8", 1 / 128)],
    ids=["int16", "int24", "float32", "uint8"])
@pytest.mark.parametrize("channels", [1, 2], ids=["mono", "stereo"])
def test_wav_reads_exact_rate_channels_length_and_values(tmp_path, subtype, tolerance, channels):
    audio = music(1.0, 22050, channels)[:, :22049]  # an odd length
    path = tmp_path / "x.wav"
    sf.write(path, audio.T, 22050, subtype=subtype)
    got, sr = audio_io.read(path)
    assert sr == 22050 and got.shape == audio.shape and got.dtype == np.float32
    assert np.abs(got - audio).max() <= tolerance + 1e-7


@pytest.mark.parametrize(("ext", "fmt", "subtype", "sr"), [
    ("flac", "FLAC", "PCM_24", 96000), ("aiff", "AIFF", "PCM_16", 8000),
    ("ogg", "OGG", "VORBIS", 44100), ("opus", "OGG", "OPUS", 48000)],
    ids=["flac-96k", "aiff-8k", "ogg-vorbis", "opus"])
def test_soundfile_formats_keep_rate_and_length(tmp_path, ext, fmt, subtype, sr):
    audio = music(1.5, sr, 2)
    path = tmp_path / f"x.{ext}"
    sf.write(path, audio.T, sr, format=fmt, subtype=subtype)
    got, got_sr = audio_io.read(path)
    assert got_sr == sr and got.shape == audio.shape


def test_192k_mono_is_read(tmp_path):
    path = tmp_path / "hi.wav"
    sf.write(path, music(0.5, 192000, 1).T, 192000, subtype="PCM_24")
    info = audio_io.probe(path)
    assert (info.sample_rate, info.n_channels, info.n_frames) == (192000, 1, 96000)


@pytest.mark.parametrize(("encoder", "ext"), [("libmp3lame", "mp3"), ("libmp3lame", "MP3")])
def test_mp3_decodes_to_the_encoded_length(make_wav, tmp_path, encoder, ext):
    """The LAME gapless header removes encoder delay and padding: no extra samples."""
    src, audio = make_wav("src.wav", seconds=2.0, sr=48000, channels=1)
    mp3 = ffmpeg(src, tmp_path / f"song.{ext}", "-c:a", encoder, "-b:a", "192k")
    got, sr = audio_io.read(mp3)
    assert sr == 48000 and got.shape == audio.shape
    lag = np.argmax(np.correlate(got[0, 2000:6000], audio[0, 2000:4000], "valid"))
    assert lag == 0, "decoded MP3 is shifted against the original"


@pytest.mark.parametrize("codec", ["aac", "alac"])
def test_m4a_trims_priming_and_padding(make_wav, tmp_path, codec):
    src, audio = make_wav("src.wav", seconds=2.0, sr=44100, channels=2)
    m4a = ffmpeg(src, tmp_path / "song.m4a", "-c:a", codec)
    got, sr = audio_io.read(m4a)
    assert sr == 44100 and got.shape[0] == 2
    # The MP4 edit list stores the duration in milliseconds: within one of the original.
    assert abs(got.shape[1] - audio.shape[1]) <= sr // 1000
    if codec == "alac":
        assert np.abs(got[:, :audio.shape[1]] - audio).max() < 1e-4  # lossless and aligned
    else:
        lag = np.argmax(np.correlate(got[0, 3000:9000], audio[0, 3000:5000], "valid"))
        assert lag == 0, "AAC priming samples were not removed"


def test_ni_stem_mp4_reads_the_mixture_stream(tmp_path, make_wav):
    mix, audio = make_wav("mix.wav", seconds=1.0)
    quiet, _ = make_wav("quiet.wav", seconds=1.0, seed=3)
    sf.write(quiet, np.zeros((44100, 2)), 44100)
    path = tmp_path / "track.stem.mp4"
    args = [shutil.which("ffmpeg"), "-loglevel", "error", "-y", "-i", str(mix)]
    for _ in range(4):
        args += ["-i", str(quiet)]
    for i in range(5):
        args += ["-map", f"{i}:a"]
    subprocess.run(args + ["-c:a", "alac", str(path)], check=True)
    got, _ = audio_io.read(path)
    assert np.abs(got[:, :audio.shape[1]] - audio).max() < 1e-4, "read a stem, not the mix"


def test_misnamed_file_is_read_by_content(make_wav, tmp_path):
    src, audio = make_wav("src.wav", seconds=1.0)
    m4a = ffmpeg(src, tmp_path / "song.m4a", "-c:a", "alac")
    renamed = m4a.rename(tmp_path / "actually_m4a.mp3")
    got, _ = audio_io.read(renamed)
    assert got.shape[0] == 2 and abs(got.shape[1] - audio.shape[1]) <= 44


# --- bad input: a clear error naming the file --------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(AudioNotFoundError, match="not found") as err:
        audio_io.probe(tmp_path / "nope.wav")
    assert "nope.wav" in str(err.value)


def test_folder_instead_of_file(tmp_path):
    with pytest.raises(AudioReadError, match="folder"):
        audio_io.probe(tmp_path)


def test_zero_byte_file(tmp_path):
    (tmp_path / "empty.mp3").write_bytes(b"")
    with pytest.raises(EmptyAudioError, match="0 bytes"):
        audio_io.probe(tmp_path / "empty.mp3")


def test_wav_with_no_samples(tmp_path):
    sf.write(tmp_path / "none.wav", np.zeros((0, 2)), 44100)
    with pytest.raises(EmptyAudioError, match="no audio samples"):
        audio_io.probe(tmp_path / "none.wav")


@pytest.mark.parametrize("name", ["broken.wav", "broken.flac", "broken.m4a"])
def test_garbage_with_an_audio_extension_is_corrupt(tmp_path, name):
    (tmp_path / name).write_bytes(b"RIFF" + bytes(range(256)) * 40)
    with pytest.raises(CorruptAudioError, match=name):
        audio_io.read(tmp_path / name)


def test_truncated_flac_is_corrupt_or_short_never_silent(tmp_path):
    audio = music(3.0, 44100)
    path = tmp_path / "cut.flac"
    sf.write(path, audio.T, 44100, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    try:
        got, _ = audio_io.read(path)
    except CorruptAudioError as err:
        assert "cut.flac" in str(err)
    else:  # libsndfile may return the decodable half: never more than was there
        assert got.shape[1] < audio.shape[1]


@pytest.mark.parametrize("name", ["notes.txt", "song.xyz"])
def test_unsupported_format(tmp_path, name):
    (tmp_path / name).write_text("these are not samples\n" * 50)
    with pytest.raises(UnsupportedFormatError, match="not an audio format"):
        audio_io.probe(tmp_path / name)


def test_more_than_two_channels(tmp_path):
    sf.write(tmp_path / "surround.wav", np.zeros((1000, 6)), 48000)
    with pytest.raises(TooManyChannelsError, match="6 channels"):
        audio_io.probe(tmp_path / "surround.wav")


def test_sample_rate_below_8k(tmp_path):
    sf.write(tmp_path / "low.wav", np.zeros((1000, 1)), 4000)
    with pytest.raises(UnsupportedSampleRateError, match="4000 Hz"):
        audio_io.probe(tmp_path / "low.wav")


def test_nan_samples_are_reported_with_their_time(tmp_path):
    audio = np.zeros((2, 44100), np.float32)
    audio[1, 22050] = np.nan
    sf.write(tmp_path / "nan.wav", audio.T, 44100, subtype="FLOAT")
    with pytest.raises(NonFiniteAudioError, match=r"0\.500 s"):
        audio_io.read(tmp_path / "nan.wav")


# --- writing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "depth", "tolerance"), [
    ("wav", "16", 1 / 32768), ("wav", "24", 1 / 2 ** 23), ("wav", "32f", 0.0),
    ("flac", "16", 1 / 32768), ("flac", "24", 1 / 2 ** 23)])
def test_write_round_trip(tmp_path, fmt, depth, tolerance):
    audio = music(0.5, 44100)
    report = audio_io.write(tmp_path / f"o.{fmt}", audio, 44100, bit_depth=depth)
    got, sr = audio_io.read(report.path)
    assert sr == 44100 and got.shape == audio.shape
    assert np.abs(got - audio).max() <= tolerance / 2 + 1e-7


def test_float_output_keeps_overs_and_integer_output_reports_clipping(tmp_path):
    audio = np.full((1, 100), 1.5, np.float32)
    report = audio_io.write(tmp_path / "loud.wav", audio, 44100)
    assert report.n_clipped == 0 and audio_io.read(report.path)[0].max() == pytest.approx(1.5)
    report = audio_io.write(tmp_path / "loud16.wav", audio, 44100, bit_depth="16")
    assert report.n_clipped == 100 and report.peak == pytest.approx(1.5)


def test_never_overwrites_unless_asked(tmp_path):
    target = tmp_path / "keep.wav"
    target.write_bytes(b"the user's file")
    with pytest.raises(OutputExistsError):
        audio_io.write(target, np.zeros((1, 10)), 44100)
    assert target.read_bytes() == b"the user's file"
    audio_io.write(target, np.zeros((1, 10)), 44100, overwrite=True)
    assert audio_io.probe(target).n_frames == 10


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "half.wav"
    with pytest.raises(RuntimeError), audio_io.AudioWriter(target, 44100, 2) as writer:
        writer.write(np.zeros((2, 1000), np.float32))
        raise RuntimeError("disk unplugged")
    assert list(tmp_path.iterdir()) == []


def test_flac_cannot_be_float(tmp_path):
    with pytest.raises(ValueError, match="bit depth"):
        audio_io.write(tmp_path / "x.flac", np.zeros((1, 10)), 44100, bit_depth="32f")


@pytest.mark.parametrize(("depth", "bits"), [("16", 16), ("24", 24)])
def test_stems_rounded_together_sum_to_the_rounded_mix(depth, bits):
    """Each stem stays within one step of its exact value; their sum is the mix rounded to
    the grid, where rounding each alone leaves up to two steps of error."""
    rng = np.random.default_rng(4)
    stems = (rng.standard_normal((4, 2, 10_000)) * 0.1).astype(np.float32)
    step = 2.0 ** (1 - bits)
    rounded = audio_io.quantize_together(stems, depth)
    on_grid = rounded.astype(np.float64) / step
    assert np.array_equal(on_grid, np.rint(on_grid))
    assert np.abs(rounded.astype(np.float64) - stems).max() <= step * (1 + 1e-6)
    mix = stems.astype(np.float64).sum(axis=0)
    assert np.array_equal(rounded.astype(np.float64).sum(axis=0), np.rint(mix / step) * step)
    alone = np.rint(stems.astype(np.float64) / step).sum(axis=0) * step
    assert np.abs(alone - mix).max() > step  # what rounding each stem alone did
    assert audio_io.quantize_together(stems, "32f") is stems
    # Given the mix they came from (float32 stems miss it by an ulp or so, a good part of a
    # 24-bit step), they land on the mix rounded, not on their own sum rounded.
    mix = (mix + rng.uniform(-1, 1, mix.shape) * step * 0.4).astype(np.float32)
    rounded = audio_io.quantize_together(stems, depth, mix)
    assert np.array_equal(rounded.astype(np.float64).sum(axis=0),
                          np.rint(mix.astype(np.float64) / step) * step)


def test_streamed_truncated_wav_warns_once_with_the_missing_time(tmp_path, caplog):
    path = tmp_path / "cut.wav"
    sf.write(path, music(2.0, 44100).T, 44100, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[:44 + (len(data) - 44) // 2])
    with audio_io.open_audio(path) as reader:
        blocks = list(reader.blocks(4096))
        assert reader.missing_frames == 44100
    assert sum(b.shape[1] for b in blocks) == 44100
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [f"{path}: the file ends 1.00 s short of the 2.00 s its header declares "
                        "(cut off or damaged); the 1.00 s before that are used"]


def test_decoder_chatter_goes_to_the_log_not_the_terminal(tmp_path, capfd):
    """libmpg123 prints notes on random bytes; they must not reach stderr."""
    (tmp_path / "noise.mp3").write_bytes(np.random.default_rng(0).bytes(20_000))
    with pytest.raises(CorruptAudioError, match="not valid MP3 audio"):
        audio_io.probe(tmp_path / "noise.mp3")
    assert capfd.readouterr().err == ""


def test_temp_names_fit_and_stale_ones_are_removed(tmp_path):
    long_target = tmp_path / ("é" * 120 + ".wav")
    temp = audio_io.temp_path(long_target)
    assert len(temp.name.encode()) <= 255 and temp.name.startswith(".é")
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f".vocals.wav.stemma-{dead.pid}-0123abcd.part"
    stale.write_bytes(b"half a stem")
    mine = tmp_path / f".drums.wav.stemma-{os.getpid()}-0123abcd.part"
    mine.write_bytes(b"being written")
    keep = tmp_path / ".vocals.wav.part"  # not ours by name
    keep.write_bytes(b"someone else's")
    assert audio_io.remove_stale_temps(tmp_path) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, keep.name])
