"""Shared test material: small synthetic songs and real audio files made from them."""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


def default_stop_signals() -> None:
    """``preexec_fn`` of a child that a test stops with a signal: SIGINT, SIGTERM and SIGHUP at
    their defaults, as in a terminal, whatever the test run inherited (under ``nohup`` or as a
    shell's background job, SIGHUP or SIGINT arrive ignored, and the CLI rightly keeps them so)."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def music_parts(seconds: float, sr: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Four (2, N) float32 parts with the character of the four stems:
    - drums: decaying noise hits (hi-hat on 8ths, a low thump on beats);
    - bass: a sustained 55-82 Hz line changing note every second, centred;
    - vocals: a centred tone with vibrato and glides, gapped into phrases;
    - other: a steady three-note chord, panned left and right.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    beat = 0.5
    drums = np.zeros(n)
    for k, start in enumerate(np.arange(0, seconds, beat / 2)):
        i = int(start * sr)
        length = min(n - i, int(0.15 * sr))
        env = np.exp(-np.arange(length) / (0.02 * sr))
        hit = rng.standard_normal(length) * env * 0.3
        if k % 2 == 0:
            hit += np.sin(2 * np.pi * 60 * np.arange(length) / sr) * env * 0.8
        drums[i:i + length] += hit
    notes = np.array([55.0, 73.4, 82.4, 65.4])[(t // 1.0).astype(int) % 4]
    bass = 0.35 * np.sin(2 * np.pi * np.cumsum(notes) / sr)
    f0 = 330 * 2 ** (np.round(2 * np.sin(2 * np.pi * 0.25 * t)) / 12) * (
        1 + 0.01 * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    voice = sum(np.sin(h * phase) / h for h in range(1, 8)) * 0.2
    voice *= (np.sin(2 * np.pi * t / 4) > -0.3)  # phrases with gaps
    chord = sum(np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0)) * 0.06
    return {
        "vocals": np.stack([voice, voice]),
        "drums": np.stack([drums, 0.8 * drums]),
        "bass": np.stack([bass, bass]),
        "other": np.stack([0.9 * chord, 0.3 * chord]),
    }


def music(seconds: float, sr: int, channels: int = 2, seed: int = 0) -> np.ndarray:
    """A (C, N) float32 mixture of ``music_parts``, peaking near 0.6."""
    mix = sum(music_parts(seconds, sr, seed).values())
    mix = mix / np.abs(mix).max() * 0.6
    return (mix[:channels] if channels == 2 else mix.mean(axis=0, keepdims=True)).astype(
        np.float32)


def ffmpeg(src: Path, dst: Path, *args: str) -> Path:
    """Encode ``src`` with the ffmpeg command line, as users' own tools make files."""
    exe = shutil.which("ffmpeg")
    assert exe, "ffmpeg is needed to make MP3/M4A test files: run scripts/install-system-deps.sh"
    subprocess.run([exe, "-loglevel", "error", "-y", "-i", str(src), *args, str(dst)],
                   check=True)
    return dst


@pytest.fixture
def make_wav(tmp_path):
    """Write a music WAV: make_wav(name, seconds, sr, channels, subtype) -> (path, audio)."""

    def make(name: str = "song.wav", seconds: float = 4.0, sr: int = 44100, channels: int = 2,
             subtype: str = "PCM_16", seed: int = 0) -> tuple[Path, np.ndarray]:
        audio = music(seconds, sr, channels, seed)
        path = tmp_path / name
        sf.write(path, audio.T, sr, subtype=subtype)
        return path, audio

    return make


def sdr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Signal-to-distortion ratio in dB (plain energy ratio, no projections)."""
    err = np.sum((reference.astype(np.float64) - estimate) ** 2)
    return float(10 * np.log10(np.sum(reference.astype(np.float64) ** 2) / max(err, 1e-30)))


def residual_db(mix: np.ndarray, stems) -> float:
    """Level of mix - sum(stems) relative to the mix, in dB."""
    total = sum(np.asarray(s, dtype=np.float64) for s in stems)
    err = np.sum((mix.astype(np.float64) - total) ** 2)
    return float(10 * np.log10(max(err, 1e-30) / max(np.sum(mix.astype(np.float64) ** 2),
                                                     1e-30)))
