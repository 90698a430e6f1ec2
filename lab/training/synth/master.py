"""Mastering like a release (synth v2): bus compression, a limiter and a loudness target, all
applied as ONE gain curve that multiplies every stem.

A compressor or limiter on the mix bus computes its gain from the mixture and multiplies the
mixture by it. Multiplying each stem by the same gain instead gives the same mastered mixture
(g * sum(s) == sum(g * s)), so the mastered stems still sum exactly to the mastered mixture:
what a separation model must learn to undo is the release's processing, shared by the stems.

Loudness is integrated loudness per ITU-R BS.1770-4 (K-weighting, 400 ms blocks, absolute
-70 LUFS and relative -10 LU gates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.ndimage as ndi
import scipy.signal as ss

from .mixing import _one_pole, biquad


def loudness(x: np.ndarray, sr: int) -> float:
    """Integrated loudness (LUFS) of (C, N) audio, BS.1770-4 with unit channel weights."""
    # K-weighting as two cookbook biquads (+4 dB shelf at 1.5 kHz, 38 Hz high-pass): within
    # 0.01 dB of the standard's 48 kHz coefficients, and defined at any rate.
    sos = np.concatenate([biquad("highshelf", 1500.0, sr, 4.0, 1 / np.sqrt(2)),
                          biquad("highpass", 38.0, sr, 0.0, 0.5)])
    k = ss.sosfilt(sos, np.atleast_2d(x).astype(np.float64), axis=-1)
    block, hop = int(0.4 * sr), int(0.1 * sr)
    if k.shape[-1] < block:
        return -70.0
    power = (k ** 2).sum(axis=0)
    csum = np.concatenate([[0.0], np.cumsum(power)])
    starts = np.arange(0, k.shape[-1] - block + 1, hop)
    z = (csum[starts + block] - csum[starts]) / block
    blocks = -0.691 + 10 * np.log10(np.maximum(z, 1e-12))
    kept = z[blocks > -70.0]
    if not len(kept):
        return -70.0
    relative = -0.691 + 10 * np.log10(kept.mean()) - 10.0
    kept = z[(blocks > -70.0) & (blocks > relative)]
    return float(-0.691 + 10 * np.log10(kept.mean()))


@dataclass(frozen=True)
class MasterSettings:
    lufs: float  # integrated loudness target, -14 (streaming) .. -7 (loud release)
    bus_threshold_db: float  # bus compressor threshold, relative to the mix's RMS
    bus_ratio: float  # gentle: 1.5 .. 3
    bus_attack_s: float  # 10 .. 30 ms: lets transients through ("glue")
    bus_release_s: float  # 0.1 .. 0.4 s
    ceiling_db: float  # limiter ceiling, dBFS (sample peak)
    limiter_release_s: float  # 30 .. 120 ms per 10 dB of release


def draw_settings(rng: np.random.Generator) -> MasterSettings:
    return MasterSettings(lufs=float(rng.uniform(-14.0, -7.0)),
                          bus_threshold_db=float(rng.uniform(-2.0, 4.0)),
                          bus_ratio=float(rng.uniform(1.5, 3.0)),
                          bus_attack_s=float(rng.uniform(0.01, 0.03)),
                          bus_release_s=float(rng.uniform(0.1, 0.4)),
                          ceiling_db=float(rng.uniform(-1.0, -0.1)),
                          limiter_release_s=float(rng.uniform(0.03, 0.12)))


def _level_db(mix: np.ndarray, time_s: float, sr: int) -> np.ndarray:
    return 10 * np.log10(np.maximum(_one_pole(np.mean(mix ** 2, axis=0), time_s, sr), 1e-12))


def bus_gain(mix: np.ndarray, sr: int, s: MasterSettings) -> np.ndarray:
    """The bus compressor's gain (N,): RMS detector, soft knee, attack/release smoothing."""
    level = _level_db(mix, 0.01, sr)
    threshold = 10 * np.log10(np.mean(mix ** 2) + 1e-12) + s.bus_threshold_db
    over = level - threshold
    knee = 6.0
    reduction = np.where(over > knee / 2, over,
                         np.where(over > -knee / 2, (over + knee / 2) ** 2 / (2 * knee), 0.0))
    reduction *= 1 - 1 / s.bus_ratio
    attack = _one_pole(reduction, s.bus_attack_s, sr)
    smooth = np.maximum(attack, _one_pole(ndi.maximum_filter1d(attack, 3), s.bus_release_s, sr))
    return 10 ** (-smooth / 20)


def limiter_gain(mix: np.ndarray, sr: int, ceiling: float, release_s: float) -> np.ndarray:
    """A look-ahead peak limiter's gain (N,): never lets |mix * gain| exceed ``ceiling``. The
    needed gain is held over a 2 ms look-ahead window and released at 10 dB per
    ``release_s``, then ramped in over the look-ahead (a moving average, so the ramp starts before
    the peak); a last minimum with the needed gain guarantees the ceiling."""
    need = np.minimum(1.0, ceiling / np.maximum(np.abs(mix).max(axis=0), 1e-12))
    ahead = max(1, int(0.002 * sr))
    held = -ndi.maximum_filter1d(-need, 2 * ahead + 1)  # min over +-ahead
    atten = -20 * np.log10(held)  # dB of reduction needed, held over the look-ahead
    # instant attack, release at a constant 10 dB per release_s: the running maximum of
    # atten[j] - rate * (i - j), i.e. cummax(atten + rate * j) - rate * i
    rate = 10.0 / max(1.0, release_s * sr)
    ramp_db = rate * np.arange(len(atten))
    atten = np.maximum.accumulate(atten + ramp_db) - ramp_db
    gain = 10 ** (-atten / 20)
    ramp = ndi.uniform_filter1d(gain, 2 * ahead + 1)
    return np.minimum(ramp, need)


def master_gain(stems: dict[str, np.ndarray], sr: int, s: MasterSettings) -> np.ndarray:
    """The one gain curve (N,) of the whole master: bus compression, a drive to the loudness
    target, then the limiter. The drive is found by the secant method on loudness (the
    limiter takes back part of every dB). No clipper: a waveshaper's per-sample gain would
    print the kick's distortion into every stem (broadband bursts in the vocals)."""
    mix = sum(stems.values()).astype(np.float64)
    bus = bus_gain(mix, sr, s)
    ceiling = 10 ** (s.ceiling_db / 20)

    def chain(drive_db: float) -> tuple[np.ndarray, float]:
        driven = mix * bus * 10 ** (drive_db / 20)
        gain = bus * 10 ** (drive_db / 20)
        gain = gain * limiter_gain(driven, sr, ceiling, s.limiter_release_s)
        return gain, loudness(mix * gain, sr)

    drive = s.lufs - loudness(mix * bus, sr)
    gain, got = chain(drive)
    prev_drive, prev_got = drive, got
    drive += s.lufs - got
    for _ in range(8):
        gain, got = chain(drive)
        if abs(got - s.lufs) < 0.1:
            break
        slope = (got - prev_got) / (drive - prev_drive) if drive != prev_drive else 1.0
        step = (s.lufs - got) / float(np.clip(slope, 0.1, 1.0))
        prev_drive, prev_got = drive, got
        drive += float(np.clip(step, -12.0, 12.0))
    return gain


def master(stems: dict[str, np.ndarray], sr: int, s: MasterSettings) -> dict[str, np.ndarray]:
    """Each stem times the shared master gain: the stems' sum is the mastered mixture."""
    gain = master_gain(stems, sr, s).astype(np.float32)
    return {name: (audio * gain).astype(np.float32) for name, audio in stems.items()}
