"""Streamed reads are the whole-file decode, cut up: every format, every block boundary, any
length; and stems streamed from a file sum back to that decode.

Issue 11: MP3 blocks read through ``SoundFile.read`` were re-decoded after a seek at each block
boundary, so 3,000-4,000 samples after some multiples of 65,536 frames differed from the file
decoded whole. These properties would have caught it; the tests before used shorter files.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from engine import Separator, audio_io
from tests.conftest import music, residual_db

BLOCKS = (1000, 4096, 65536)  # block sizes read with: odd, small, and the engine's own


@dataclass(frozen=True)
class Encoding:
    """How a test file of one format is made, at which rates, and who decodes it for reference.

    ``soundfile``: (format, subtype) written by libsndfile; otherwise ``ffmpeg`` arguments.
    ``reference``: "soundfile" (one ``sf.read`` of the whole file) or "ffmpeg" (PyAV decoding
    every frame in one pass, independent of our reader's buffering).
    """

    ext: str
    rates: tuple[int, ...]
    soundfile: tuple[str, str] | None = None
    ffmpeg: tuple[str, ...] = ()
    reference: str = "soundfile"
    min_frames: int = 1  # shortest source worth encoding


ENCODINGS = {
    "wav": Encoding(".wav", (8000, 44100, 96000), soundfile=("WAV", "PCM_16")),
    "wav-float": Encoding(".wav", (22050, 48000), soundfile=("WAV", "FLOAT")),
    "flac": Encoding(".flac", (44100, 48000, 96000), soundfile=("FLAC", "PCM_24")),
    "ogg": Encoding(".ogg", (22050, 44100, 48000), soundfile=("OGG", "VORBIS")),
    "opus": Encoding(".opus", (48000,), soundfile=("OGG", "OPUS")),
    "mp3": Encoding(".mp3", (22050, 44100, 48000), soundfile=("MP3", "MPEG_LAYER_III")),
    "mp3-lame": Encoding(".mp3", (44100, 48000), ffmpeg=("-c:a", "libmp3lame", "-b:a", "192k")),
    "mp3-no-header": Encoding(".mp3", (44100,), ffmpeg=("-c:a", "libmp3lame", "-write_xing",
                                                         "0"), reference="ffmpeg"),
    # The MP4 edit list keeps whole milliseconds: a file of a few samples says it holds none.
    "m4a-aac": Encoding(".m4a", (44100, 48000), ffmpeg=("-c:a", "aac", "-b:a", "192k"),
                        reference="ffmpeg", min_frames=100),
    "m4a-alac": Encoding(".m4a", (44100, 96000), ffmpeg=("-c:a", "alac"), reference="ffmpeg"),
}


def encode(folder: Path, kind: str, n_frames: int, rate: int, channels: int) -> Path:
    """A music file of ``n_frames`` source samples in the format ``kind``."""
    enc = ENCODINGS[kind]
    audio = music(n_frames / rate + 0.01, rate, channels)[:, :n_frames]
    path = folder / f"song{enc.ext}"
    if enc.soundfile is not None:
        sf.write(path, audio.T, rate, format=enc.soundfile[0], subtype=enc.soundfile[1])
        return path
    src = folder / "src.wav"
    sf.write(src, audio.T, rate, subtype="FLOAT")
    subprocess.run([shutil.which("ffmpeg"), "-loglevel", "error", "-y", "-i", str(src),
                    *enc.ffmpeg, str(path)], check=True)
    return path


def reference_decode(path: Path, kind: str) -> np.ndarray:
    """(C, N): the file decoded in one go by the library's own front door."""
    if ENCODINGS[kind].reference == "soundfile":
        data, _ = sf.read(path, dtype="float32", always_2d=True)
        return data.T
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        frames = [audio_io._frame_to_array(f) for f in container.decode(stream)]
    return np.concatenate(frames, axis=1)


@st.composite
def files(draw, kinds=tuple(ENCODINGS), blocks=BLOCKS):
    """(kind, n_frames, rate, channels, block): lengths at, one before and one after 1-3
    block boundaries, or short ones (down to one sample)."""
    kind = draw(st.sampled_from(kinds))
    rate = draw(st.sampled_from(ENCODINGS[kind].rates))
    channels = draw(st.sampled_from((1, 2)))
    block = draw(st.sampled_from(blocks))
    k = draw(st.integers(0, 3))
    shortest = ENCODINGS[kind].min_frames
    n = k * block + draw(st.integers(-1, 1)) if k else draw(st.integers(shortest, 3000))
    return kind, max(n, shortest), rate, channels, block


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(case=files())
def test_streamed_read_is_the_whole_decode(case):
    kind, n_frames, rate, channels, block = case
    event(f"{kind}, {n_frames // block} block boundaries")  # --hypothesis-show-statistics
    with tempfile.TemporaryDirectory() as folder:
        path = encode(Path(folder), kind, n_frames, rate, channels)
        whole, whole_rate = audio_io.read(path)
        with audio_io.open_audio(path) as reader:
            blocks = list(reader.blocks(block))
            assert reader.missing_frames == 0
        streamed = np.concatenate(blocks, axis=1)
        assert whole_rate == rate and streamed.shape == whole.shape
        assert all(b.shape[1] == block for b in blocks[:-1]), "short block mid-stream"
        assert np.array_equal(streamed, whole), (
            f"first difference at frame {np.flatnonzero((streamed != whole).any(axis=0))[0]}")
        reference = reference_decode(path, kind)
        assert np.array_equal(whole, reference[:, :whole.shape[1]])
        if ENCODINGS[kind].reference == "soundfile":
            assert whole.shape == reference.shape


@pytest.fixture(scope="module")
def separator():
    return Separator("classic", threads=1)


@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=files(blocks=(65536,)))
def test_streamed_stems_sum_to_the_whole_decode_in_every_block(separator, case):
    """Separation reads in blocks of 65,536 frames: lengths around those boundaries."""
    kind, n_frames, rate, channels, _ = case
    event(f"{kind}, {n_frames // 65536} block boundaries")
    with tempfile.TemporaryDirectory() as folder:
        path = encode(Path(folder), kind, n_frames, rate, channels)
        mix, _ = audio_io.read(path)
        result = separator.separate_file(path, Path(folder) / "stems")
        stems = [audio_io.read(r.path)[0] for r in result.outputs.values()]
        assert all(s.shape == mix.shape for s in stems)
        assert residual_db(mix, stems) < -120
        error = np.abs(mix.astype(np.float64) - sum(s.astype(np.float64) for s in stems))
        assert error.max() < 1e-5, f"worst at frame {np.argmax(error.max(axis=0))}"
