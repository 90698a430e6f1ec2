"""A producer's tools for the stems: EQ, compression, reverb, panning, loudness, and the paper's
training augmentations (per-stem gain 0.5-1.5, polarity flip 10% of the time, a seven-band EQ).

All work on (2, N) float32 arrays. Stems are processed one by one; the mixture is always the plain
sum of the finished stems, so it stays an exact sum whatever happens here.
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage as ndi
import scipy.signal as ss


def biquad(kind: str, freq: float, sr: int, gain_db: float = 0.0, q: float = 0.707) -> np.ndarray:
    """One second-order section (RBJ audio EQ cookbook) as a (1, 6) sos row."""
    a_lin = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * min(freq, 0.45 * sr) / sr
    alpha = np.sin(w0) / (2 * q)
    cos = np.cos(w0)
    if kind == "peak":
        b = [1 + alpha * a_lin, -2 * cos, 1 - alpha * a_lin]
        a = [1 + alpha / a_lin, -2 * cos, 1 - alpha / a_lin]
    elif kind in ("lowshelf", "highshelf"):
        sign = 1 if kind == "lowshelf" else -1
        sq = 2 * np.sqrt(a_lin) * alpha
        b = [a_lin * ((a_lin + 1) - sign * (a_lin - 1) * cos + sq),
             sign * 2 * a_lin * ((a_lin - 1) - sign * (a_lin + 1) * cos),
             a_lin * ((a_lin + 1) - sign * (a_lin - 1) * cos - sq)]
        a = [(a_lin + 1) + sign * (a_lin - 1) * cos + sq,
             -sign * 2 * ((a_lin - 1) + sign * (a_lin + 1) * cos),
             (a_lin + 1) + sign * (a_lin - 1) * cos - sq]
    elif kind == "highpass":
        b = [(1 + cos) / 2, -(1 + cos), (1 + cos) / 2]
        a = [1 + alpha, -2 * cos, 1 - alpha]
    elif kind == "lowpass":
        b = [(1 - cos) / 2, 1 - cos, (1 - cos) / 2]
        a = [1 + alpha, -2 * cos, 1 - alpha]
    else:
        raise ValueError(f"unknown filter kind {kind!r}")
    return np.concatenate([np.array(b) / a[0], np.array(a) / a[0]])[None]


def eq(x: np.ndarray, sr: int, bands: list[tuple[str, float, float, float]]) -> np.ndarray:
    """Apply (kind, Hz, gain dB, Q) filters in series."""
    if not bands:
        return x
    sos = np.concatenate([biquad(kind, f, sr, g, q) for kind, f, g, q in bands])
    return ss.sosfilt(sos, x, axis=-1).astype(np.float32)


SEVEN_BANDS = (60.0, 150.0, 400.0, 1000.0, 2500.0, 6000.0, 12000.0)  # Hz, octave-ish spacing


def seven_band_eq(x: np.ndarray, sr: int, gains_db: np.ndarray) -> np.ndarray:
    """The augmentation EQ: peaking filters at fixed centres (Q 1), one gain each."""
    return eq(x, sr, [("peak", f, float(g), 1.0) for f, g in zip(SEVEN_BANDS, gains_db,
                                                                   strict=True)])


def _one_pole(x: np.ndarray, time_s: float, sr: int) -> np.ndarray:
    pole = np.exp(-1.0 / max(1.0, time_s * sr))
    return ss.lfilter([1 - pole], [1, -pole], x)


def compress(x: np.ndarray, sr: int, threshold_db: float, ratio: float,
             release_s: float = 0.15, makeup_db: float = 0.0) -> np.ndarray:
    """Feed-forward compressor on the stereo-linked level (5 ms RMS). Gain reduction reacts
    within milliseconds and is held for ``release_s`` before it recovers smoothly."""
    level_db = 10 * np.log10(np.maximum(_one_pole(np.mean(x ** 2, axis=0), 0.005, sr), 1e-10))
    reduction = np.maximum(level_db - threshold_db, 0.0) * (1 - 1 / ratio)
    n = max(1, int(release_s * sr))
    held = ndi.maximum_filter1d(reduction, n, origin=(n - 1) // 2)  # max over the past n
    held = _one_pole(held, release_s / 4, sr)
    return (x * 10 ** ((makeup_db - held) / 20)).astype(np.float32)


def reverb_ir(sr: int, rng: np.random.Generator, rt60: float, predelay: float,
              brightness: float) -> np.ndarray:
    """A stereo impulse response: decorrelated noise with exponential decay, darker as it
    decays (high frequencies die faster in real rooms). (2, L)."""
    n = int((rt60 * 1.2 + predelay) * sr)
    t = np.arange(n) / sr
    noise = rng.standard_normal((2, n))
    decay = np.exp(-6.9 * t / rt60)  # -60 dB at rt60
    bright = ss.sosfilt(biquad("highpass", 2500.0, sr), noise, axis=-1)
    dark = noise - bright
    fast = np.exp(-6.9 * t / (rt60 * (0.3 + 0.5 * brightness)))
    ir = (dark * decay + bright * fast) * (t >= predelay)
    ir[:, : int(predelay * sr)] = 0.0
    ir /= np.sqrt(np.sum(ir ** 2) / 2) + 1e-9
    return ir.astype(np.float32)


def reverb(x: np.ndarray, ir: np.ndarray, wet: float) -> np.ndarray:
    """Dry plus ``wet`` of the convolved signal, same length as ``x``; mono input feeds both."""
    n = x.shape[-1]
    src = x.mean(axis=0)
    tail = np.stack([ss.oaconvolve(src, ir[c])[:n] for c in range(2)])
    return (x + wet * tail).astype(np.float32)


def pan(mono: np.ndarray, position: float) -> np.ndarray:
    """Constant-power pan of (N,) to (2, N); position -1 (left) .. 1 (right)."""
    angle = (position + 1) * np.pi / 4
    return np.stack([np.cos(angle) * mono, np.sin(angle) * mono]).astype(np.float32)


def rms_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(x.astype(np.float64) ** 2) + 1e-12))


def set_level(x: np.ndarray, target_db: float) -> np.ndarray:
    """Scale so the RMS over the whole stem is ``target_db`` dBFS (silence stays silent)."""
    if not np.any(x):
        return x
    return (x * 10 ** ((target_db - rms_db(x)) / 20)).astype(np.float32)
