"""A singer made from espeak-ng: words spoken on one pitch, then sung by TD-PSOLA.

espeak-ng speaks each lyric word in a monotone (SSML ``prosody range="0"``), so every glottal
period has the same length. TD-PSOLA (Moulines & Charpentier 1990) then re-places those periods
at the melody's pitch, with scoops into notes, vibrato and slow drift, and stretches the vowel
to the note's length while the consonants keep their natural speed. Formants stay where the
voice put them, so the result sounds like a (robotic, but clearly human-shaped) singer rather
than a pitched instrument. Breaths before phrases, a double-tracked take and a harmony line
follow what producers do to real lead vocals.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import dataclass

import numpy as np
import scipy.signal as ss
import soundfile as sf
import soxr

from .mixing import biquad

FEMALE = ("en-us+f1", "en-us+f2", "en-us+f3", "en-us+f4", "en+f2", "en+f5")
MALE = ("en-us+m1", "en-us+m2", "en-us+m3", "en-us+m4", "en+m6", "en+m7")
WORDS = (  # singable one-syllable words and vocables
    "love", "heart", "night", "light", "fire", "dream", "stay", "home", "way", "go", "know",
    "you", "me", "sky", "fly", "high", "run", "sun", "stars", "rain", "time", "mind", "hold",
    "cold", "gold", "free", "see", "be", "here", "near", "dance", "chance", "feel", "real",
    "blue", "true", "through", "lost", "found", "sound", "down", "town", "dark", "burn",
    "turn", "day", "say", "wild", "child", "road", "soul", "whole", "call", "fall", "all",
    "hand", "stand", "land", "sea", "free", "now", "how", "out", "shine", "mine", "line",
    "oh", "la", "yeah", "ah", "hey", "na", "ooh", "whoa", "baby", "tonight", "forever",
)
ESPEAK_RATE = 22050  # Hz, espeak-ng's output rate


class VoiceUnavailableError(RuntimeError):
    """espeak-ng is not installed."""


PITCH_LEVELS = (0, 20, 40, 60, 80, 99)  # espeak-ng -p settings we synthesize words at


@dataclass(frozen=True)
class Word:
    audio: np.ndarray  # (n,) float32 at ESPEAK_RATE, silence trimmed
    period: float  # samples per glottal period of the monotone voice (fractional)
    voiced: tuple[int, int]  # first and last voiced sample: the stretchable vowel
    marks: np.ndarray  # analysis pitch marks (sample indices), one per period


_CACHE: dict[tuple[str, str, int], Word] = {}
_PITCH: dict[tuple[str, int], float] = {}  # (voice, level) -> Hz


def _espeak(voice: str, text: str, level: int) -> np.ndarray:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise VoiceUnavailableError("espeak-ng not found; install the 'espeak-ng' package")
    ssml = f'<speak><prosody range="0" rate="slow">{text}</prosody></speak>'
    out = subprocess.run([exe, "-m", "-z", "-p", str(level), "-v", voice, "--stdout", ssml],
                         check=True, capture_output=True).stdout
    audio, _ = sf.read(io.BytesIO(out), dtype="float32")
    return audio


def _period(x: np.ndarray) -> float:
    """Fractional period (samples) of a monotone voice: autocorrelation peak, 60-600 Hz,
    refined by a parabola through its neighbours."""
    centre = int(np.argmax(np.abs(x)))
    seg = x[max(0, centre - 2048): centre + 2048]
    ac = np.correlate(seg, seg, "full")[len(seg) - 1:]
    lo, hi = ESPEAK_RATE // 600, ESPEAK_RATE // 60
    lag = lo + int(np.argmax(ac[lo:hi]))
    a, b, c = ac[lag - 1], ac[lag], ac[min(lag + 1, len(ac) - 1)]
    shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
    return float(lag + np.clip(shift, -0.5, 0.5))


def _voiced_span(x: np.ndarray, period: float) -> tuple[int, int]:
    """First and last sample of frames that repeat after one period (correlation > 0.6)."""
    lag, hop = int(round(period)), 256
    voiced = []
    for start in range(0, len(x) - 2 * lag - hop, hop):
        a, b = x[start:start + hop + lag], x[start + lag:start + 2 * lag + hop]
        if np.dot(a, b) > 0.6 * np.linalg.norm(a) * np.linalg.norm(b) + 1e-12:
            voiced.append(start)
    return (voiced[0], voiced[-1] + hop) if voiced else (0, len(x))


def _pitch_marks(x: np.ndarray, period: float, voiced: tuple[int, int]) -> np.ndarray:
    """One mark per period. Inside the vowel each mark is placed where the period around it
    best matches the one before (so every grain holds the same part of the glottal cycle);
    consonants get evenly spaced marks."""
    p = int(round(period))
    half, search = p // 2, max(1, p // 8)
    v0, v1 = voiced
    anchor = v0 + int(np.argmax(np.abs(x[v0:min(v1, v0 + 4 * p)])))

    def step(t: int, direction: int) -> int:
        guess = int(round(t + direction * period))
        inside = (v0 <= guess - search - half and guess + search + half <= v1
                  and v0 <= t - half and t + half <= v1)
        if not inside:
            return guess
        ref = x[t - half:t + half]
        cands = np.lib.stride_tricks.sliding_window_view(
            x[guess - search - half:guess + search + half], 2 * half)
        return guess - search + int(np.argmax(cands @ ref))

    marks, t = [anchor], anchor
    while (t := step(t, 1)) < len(x):
        marks.append(t)
    t = anchor
    while (t := step(t, -1)) >= 0:
        marks.insert(0, t)
    return np.asarray(marks)


def _analyse(audio: np.ndarray) -> Word:
    """Trim silence, measure the monotone period, find the voiced stretch and the marks."""
    frame = 512
    n = len(audio) // frame
    energy = np.sqrt(np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1))
    loud = np.flatnonzero(energy > 0.02 * energy.max())
    audio = audio[loud[0] * frame:(loud[-1] + 1) * frame].astype(np.float32)
    period = _period(audio)
    voiced = _voiced_span(audio, period)
    return Word(audio, period, voiced, _pitch_marks(audio, period, voiced))


def voice_pitch(voice: str, level: int) -> float:
    """The monotone pitch (Hz) of ``voice`` at espeak-ng pitch ``level``."""
    key = (voice, level)
    if key not in _PITCH:
        _PITCH[key] = ESPEAK_RATE / word_at(voice, "la", level).period
    return _PITCH[key]


def word_at(voice: str, text: str, level: int) -> Word:
    key = (voice, text, level)
    if key not in _CACHE:
        _CACHE[key] = _analyse(_espeak(voice, text, level))
    return _CACHE[key]


def word(voice: str, text: str, target_hz: float) -> Word:
    """``text`` spoken by ``voice`` at the highest monotone pitch not above ``target_hz``:
    PSOLA raises pitch cleanly, while lowering it leaves gaps between grains."""
    levels = [lv for lv in PITCH_LEVELS if voice_pitch(voice, lv) <= target_hz * 1.03]
    level = max(levels, key=lambda lv: voice_pitch(voice, lv)) if levels else min(
        PITCH_LEVELS, key=lambda lv: voice_pitch(voice, lv))
    return word_at(voice, text, level)


def sing(w: Word, duration: float, f0: np.ndarray) -> np.ndarray:
    """TD-PSOLA: ``w`` sung for ``duration`` seconds on the pitch curve ``f0`` (Hz, one value
    per output sample at ESPEAK_RATE). Returns (n,) float32."""
    sr = ESPEAK_RATE
    x, period, marks = w.audio, w.period, w.marks
    v0, v1 = w.voiced
    n_out = int(duration * sr)
    onset, coda = v0, len(x) - v1
    vowel_out = max(n_out - onset - coda, int(0.3 * (v1 - v0)))
    n_out = onset + vowel_out + coda
    f0 = np.resize(f0, n_out)

    def source_time(t: float) -> float:  # output sample -> source sample (the time warp)
        if t < onset:
            return t
        if t < onset + vowel_out:
            return v0 + (t - onset) * (v1 - v0) / vowel_out
        return v1 + (t - onset - vowel_out)

    p = int(round(period))
    window = np.hanning(2 * p + 1).astype(np.float32)
    padded = np.pad(x, (p, p + 1))
    out = np.zeros(n_out + 2 * p + 1, np.float32)
    t = 0.0
    while t < n_out:
        s = source_time(t)
        m = marks[int(np.clip(np.searchsorted(marks, s), 0, len(marks) - 1))]
        m = int(np.clip(m, 0, len(x) - 1))
        out[int(t):int(t) + 2 * p + 1] += padded[m:m + 2 * p + 1] * window
        t += sr / f0[min(int(t), n_out - 1)] if v0 <= s < v1 else period
    return out[p:p + n_out]


def pitch_curve(rng: np.random.Generator, midi: float, duration: float, previous: float | None,
                vibrato: tuple[float, float]) -> np.ndarray:
    """Hz per sample at ESPEAK_RATE: a scoop or glide in, then vibrato on long notes."""
    sr = ESPEAK_RATE
    t = np.arange(int(duration * sr)) / sr
    cents = np.zeros_like(t)
    if previous is not None and abs(previous - midi) <= 7 and rng.random() < 0.5:
        cents += (previous - midi) * 100 * np.exp(-t / 0.035)  # legato glide
    elif rng.random() < 0.5:
        cents -= rng.uniform(40, 120) * np.exp(-t / 0.04)  # scoop up into the note
    rate, depth = vibrato
    if duration > 0.35:
        fade = np.clip((t - 0.2) / 0.25, 0, 1)
        cents += depth * fade * np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi))
    cents += np.cumsum(rng.normal(0, 0.4, len(t)))[: len(t)] * 0.05  # slow drift
    return 440.0 * 2 ** ((midi - 69 + cents / 100) / 12)


def breath(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """An inhalation: band-limited noise swelling and fading."""
    n = int(seconds * ESPEAK_RATE)
    noise = rng.standard_normal(n).astype(np.float32)
    spec = np.fft.rfft(noise)
    f = np.fft.rfftfreq(n, 1 / ESPEAK_RATE)
    spec *= np.exp(-((np.log2(np.maximum(f, 1) / 1800)) ** 2) / 1.5)
    shaped = np.fft.irfft(spec, n)
    env = np.sin(np.pi * np.arange(n) / n) ** 1.5
    return (shaped * env / (np.abs(shaped).max() + 1e-9)).astype(np.float32)


def sing_line(rng: np.random.Generator, voice: str, notes: list[tuple[float, float, int, int]],
              n_samples: int, sample_rate: int, detune_cents: float = 0.0,
              delay_s: float = 0.0) -> np.ndarray:
    """A sung take of ``notes`` (start s, length s, MIDI pitch, velocity) as (n_samples,)."""
    sr = ESPEAK_RATE
    out = np.zeros(int(n_samples * sr / sample_rate) + sr, np.float32)
    vibrato = (float(rng.uniform(4.8, 6.4)), float(rng.uniform(20, 55)))
    previous_end, previous_pitch = -1.0, None
    for start, length, midi, velocity in notes:
        w = word(voice, str(rng.choice(WORDS)), 440.0 * 2 ** ((midi - 69) / 12))
        start += delay_s
        legato = start - previous_end < 0.06
        if start - previous_end > 0.5 and start > 0.35 and rng.random() < 0.8:
            b = breath(rng, float(rng.uniform(0.2, 0.35)))
            at = int((start - 0.05) * sr) - len(b)
            if at >= 0:
                out[at:at + len(b)] += 0.05 * b
        f0 = pitch_curve(rng, midi + detune_cents / 100, length,
                         previous_pitch if legato else None, vibrato)
        sung = sing(w, length, f0)
        env = np.ones(len(sung), np.float32)
        fade = min(len(sung) // 4, int(0.04 * sr))
        if fade:
            env[-fade:] = np.linspace(1, 0, fade)
        at = max(0, int(start * sr) - w.voiced[0])  # consonants lead, the vowel hits the beat
        seg = sung * env * (0.35 + 0.65 * velocity / 127)
        end = min(len(out), at + len(seg))
        out[at:end] += seg[: end - at]
        previous_end, previous_pitch = start + length, midi
    resampled = soxr.resample(out, sr, sample_rate, quality="HQ")
    return resampled[:n_samples].astype(np.float32)


def air(x: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Content above espeak-ng's 11 kHz band edge, as real vocals have: breath noise that follows
    the voice's envelope, and the upper harmonics a soft saturation adds. (n,) -> (n,)."""
    high = np.concatenate([biquad("highpass", 7000.0, sample_rate)] * 2)
    env = ss.lfilter([0.002], [1, -0.998], np.abs(x))
    noise = ss.sosfilt(high, rng.standard_normal(len(x))) * env
    excite = ss.sosfilt(high, np.tanh(3 * x) / 3)
    return (x + float(rng.uniform(0.08, 0.2)) * noise + float(rng.uniform(0.1, 0.3)) * excite
            ).astype(np.float32)
