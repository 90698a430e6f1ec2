"""A singer made from natural speech: Festival voices re-sung by the WORLD vocoder (synth v2).

Festival (the HTS voice cmu_us_slt_arctic_hts, female, 32 kHz, and the diphone voices kal and
ked, male, 16 kHz) speaks each lyric word. WORLD (Morise et al., "WORLD: a vocoder-based
high-quality speech synthesis system for real-time applications", IEICE 2016; pyworld) splits
it into F0, a spectral envelope and aperiodicity every 5 ms. The word is then sung:

- the voiced stretch (the vowel) is time-stretched to the note while the consonants keep their
  natural speed, and F0 is replaced by the melody with scoops, glides, vibrato and drift;
- the spectral envelope (formants) is kept, optionally warped along frequency (a vocal tract
  length factor) so three voices give many singers, male and female;
- unvoiced frames (consonants, breaths) keep F0 = 0: WORLD renders them as shaped noise;
- the envelope and aperiodicity are extended above the source's Nyquist (8 or 16 kHz) with a
  tilted, mostly aperiodic "air" band, and synthesis runs at the song's rate, so the stem has
  breath and sibilance energy up to 20 kHz like a vocal recorded at 44.1 kHz.

The analysis of each (voice, word) is cached per process: a song re-renders only the synthesis.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.signal as ss
import soundfile as sf

FRAME_MS = 5.0  # WORLD frame period
FRAME_S = FRAME_MS / 1000
VOICES = {  # festival voice -> (sex, source rate Hz)
    "cmu_us_slt_arctic_hts": ("female", 32000),
    "kal_diphone": ("male", 16000),
    "ked_diphone": ("male", 16000),
}
WORDS = (  # singable words and vocables
    "love", "heart", "night", "light", "fire", "dream", "stay", "home", "way", "go", "know",
    "you", "me", "sky", "fly", "high", "run", "sun", "stars", "rain", "time", "mind", "hold",
    "cold", "gold", "free", "see", "be", "here", "near", "dance", "chance", "feel", "real",
    "blue", "true", "through", "lost", "found", "sound", "down", "town", "dark", "burn",
    "turn", "day", "say", "wild", "child", "road", "soul", "whole", "call", "fall", "all",
    "hand", "stand", "land", "sea", "now", "how", "out", "shine", "mine", "line",
    "oh", "la", "yeah", "ah", "hey", "na", "ooh", "whoa", "baby", "tonight", "forever",
)
VOCABLES = ("oh", "yeah", "ooh", "whoa", "ah", "hey")


class SingerUnavailableError(RuntimeError):
    """Festival, its voices or pyworld are missing (scripts/install-system-deps.sh train)."""


@dataclass(frozen=True)
class Singer:
    """One singer: a Festival voice, a formant warp and a breathiness."""

    voice: str  # key of VOICES
    warp: float  # spectral envelope frequency factor: > 1 shorter vocal tract (brighter)
    breathiness: float  # 0..1: extra aperiodicity in the upper voiced band
    tilt_db: float  # dB per octave of the air band above the source's Nyquist (negative)
    air_db: float = 4.0  # envelope lift from 6 to 12 kHz: breath and a close mic's brightness
    air_floor_db: float = 36.0  # the air band starts at least this far below the formant peak

    @property
    def female(self) -> bool:
        sex = VOICES[self.voice][0]
        return (sex == "female") != (self.warp > 1.12 and sex == "male")


def draw_singer(rng: np.random.Generator, female: bool) -> Singer:
    """A random singer of the asked sex: the female HTS voice, or a male diphone voice with its
    vocal tract shortened (formants up 14-20%), for women; the male voices for men."""
    if female:
        voice = "cmu_us_slt_arctic_hts" if rng.random() < 0.6 else str(
            rng.choice(["kal_diphone", "ked_diphone"]))
        warp = (float(rng.uniform(0.95, 1.06)) if voice.startswith("cmu")
                else float(rng.uniform(1.14, 1.2)))
    else:
        voice = str(rng.choice(["kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts"],
                               p=[0.45, 0.45, 0.1]))
        warp = (float(rng.uniform(0.8, 0.86)) if voice.startswith("cmu")
                else float(rng.uniform(0.93, 1.06)))
    return Singer(voice, warp, float(rng.uniform(0.0, 0.5)), float(rng.uniform(-8.0, -4.0)),
                  float(rng.uniform(2.0, 6.0)), float(rng.uniform(32.0, 42.0)))


@dataclass(frozen=True)
class Analysis:
    """WORLD parameters of one spoken word at the source rate."""

    f0: np.ndarray  # (T,) Hz, 0 where unvoiced
    sp: np.ndarray  # (T, F) spectral envelope (power), F = fft_size // 2 + 1
    ap: np.ndarray  # (T, F) aperiodicity 0..1
    rate: int  # Hz of the source
    voiced: tuple[int, int]  # first and last+1 voiced frame: the stretchable vowel


_CACHE: dict[tuple[str, str], Analysis] = {}


def _pyworld():
    try:
        with warnings.catch_warnings():  # its `import pkg_resources`, deprecated by setuptools
            warnings.filterwarnings("ignore", "pkg_resources is deprecated", UserWarning)
            import pyworld
    except ImportError as err:
        raise SingerUnavailableError("pyworld is not installed (pip install pyworld, the "
                                     "lab's train extra)") from err
    return pyworld


def _speak(voice: str, texts: list[str]) -> list[tuple[np.ndarray, int]]:
    """Festival ``voice`` speaking each of ``texts``, in one Festival process (its start-up
    and voice loading cost about a second; each word then takes milliseconds)."""
    exe = shutil.which("festival")
    if exe is None:
        raise SingerUnavailableError("festival not found; install festival, "
                                     "festvox-us-slt-hts, festvox-kallpc16k, festvox-kdlpc16k")
    with tempfile.TemporaryDirectory() as tmp:
        lines = [f"(voice_{voice})"]
        for i, text in enumerate(texts):
            safe = text.replace('"', "").replace("\\", "")
            lines += [f'(set! u (Utterance Text "{safe}"))', "(utt.synth u)",
                      f'(utt.save.wave u "{tmp}/{i}.wav" \'riff)']
        script = Path(tmp) / "words.scm"
        script.write_text("\n".join(lines) + "\n")
        subprocess.run([exe, "-b", str(script)], check=True, capture_output=True)
        out = []
        for i in range(len(texts)):
            audio, rate = sf.read(str(Path(tmp) / f"{i}.wav"), dtype="float64")
            out.append((audio.mean(axis=1) if audio.ndim > 1 else audio, rate))
    return out


def _trim(audio: np.ndarray, rate: int) -> np.ndarray:
    frame = rate // 100
    n = len(audio) // frame
    energy = np.sqrt(np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1))
    loud = np.flatnonzero(energy > 0.01 * energy.max())
    return audio[max(0, loud[0] - 1) * frame:(loud[-1] + 2) * frame]


def prepare(voice: str, texts: set[str] | list[str]) -> None:
    """Speak and analyse every word of ``texts`` not yet cached, in one Festival run."""
    missing = sorted({t for t in texts if (voice, t) not in _CACHE})
    if missing:
        for text, (audio, rate) in zip(missing, _speak(voice, missing), strict=True):
            _CACHE[(voice, text)] = _analyse(audio, rate)


def _analyse(audio: np.ndarray, rate: int) -> Analysis:
    """WORLD analysis (Harvest F0, CheapTrick envelope, D4C aperiodicity) of a trimmed word."""
    pw = _pyworld()
    audio = np.ascontiguousarray(_trim(audio, rate))
    f0, t = pw.harvest(audio, rate, f0_floor=60.0, f0_ceil=500.0, frame_period=FRAME_MS)
    sp = pw.cheaptrick(audio, f0, t, rate)
    ap = pw.d4c(audio, f0, t, rate)
    voiced = np.flatnonzero(f0 > 0)
    span = (int(voiced[0]), int(voiced[-1]) + 1) if len(voiced) else (0, len(f0))
    return Analysis(f0, sp, ap, rate, span)


def analyse(voice: str, text: str) -> Analysis:
    """``text`` spoken by Festival ``voice``, analysed by WORLD (cached per process)."""
    prepare(voice, [text])
    return _CACHE[(voice, text)]


def _to_rate(a: Analysis, singer: Singer, sample_rate: int, fft_size: int,
             frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Envelope and aperiodicity of ``frames`` on the output rate's grid: warped by the
    singer's vocal tract factor, and extended above the source's band edge with an air band
    (the top 1.5 kHz's level, at least air_floor_db under the formant peak, tilted per octave;
    aperiodicity rising towards 1)."""
    src_freqs = np.linspace(0, a.rate / 2, a.sp.shape[1])
    freqs = np.linspace(0, sample_rate / 2, fft_size // 2 + 1)
    look = freqs / singer.warp  # warp: the envelope at f comes from f / warp
    edge = 0.96 * a.rate / 2
    inside = np.minimum(look, edge)
    log_sp = np.log(a.sp[frames] + 1e-16)
    sp = np.stack([np.interp(inside, src_freqs, row) for row in log_sp])
    ap = np.stack([np.interp(inside, src_freqs, row) for row in a.ap[frames]])
    top = src_freqs >= edge - 1500
    top_level = np.log(np.mean(a.sp[frames][:, top], axis=1) + 1e-16)[:, None]
    # a diphone voice's LPC envelope is nearly flat at its band edge: real voices are 30-45 dB
    # down there, so the air band never starts closer than air_floor_db to the formant peak
    peak = np.log(a.sp[frames][:, src_freqs < 3000].max(axis=1) + 1e-16)[:, None]
    top_level = np.minimum(top_level, peak - singer.air_floor_db * np.log(10) / 10)
    blend = np.clip((look - (edge - 1500)) / 1500, 0, 1)  # crossfade into the air band
    sp = (1 - blend) * sp + blend * top_level
    above = look > edge
    octaves = np.log2(np.maximum(look[above], edge) / edge)
    sp[:, above] = top_level + singer.tilt_db * octaves * np.log(10) / 10
    ap[:, above] = np.maximum(ap[:, above], 1 - 0.35 * np.exp(-octaves))
    lift = singer.air_db * np.clip(np.log2(np.maximum(freqs, 1) / 6000), 0, 1)  # dB
    sp = sp + lift * np.log(10) / 10
    upper = freqs > 3000
    ap[:, upper] = np.clip(ap[:, upper] + singer.breathiness * 0.25, 0, 0.999)
    return np.ascontiguousarray(np.exp(sp)), np.ascontiguousarray(ap)


def pitch_frames(rng: np.random.Generator, pitches: list[float], n_frames: int,
                 previous: float | None, vibrato: tuple[float, float]) -> np.ndarray:
    """Hz per WORLD frame for a note (several pitches = a melisma, spread evenly): a scoop or
    legato glide in, a quick glide between melisma pitches, vibrato on long notes, drift."""
    t = np.arange(n_frames) * FRAME_S
    seg = np.minimum((np.arange(n_frames) * len(pitches)) // max(n_frames, 1), len(pitches) - 1)
    target = np.asarray(pitches, float)[seg]
    midi = ss.lfilter([0.25], [1, -0.75], target - target[0]) + target[0]  # 20 ms glides
    cents = np.zeros(n_frames)
    if previous is not None and abs(previous - pitches[0]) <= 7 and rng.random() < 0.5:
        cents += (previous - pitches[0]) * 100 * np.exp(-t / 0.04)
    elif rng.random() < 0.6:
        cents -= rng.uniform(40, 150) * np.exp(-t / 0.05)  # scoop up into the note
    rate, depth = vibrato
    if n_frames * FRAME_S > 0.35:
        fade = np.clip((t - 0.2) / 0.3, 0, 1)
        cents += depth * fade * np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi))
    cents += np.cumsum(rng.normal(0, 1.0, n_frames)) * 0.3  # slow drift
    return 440.0 * 2 ** ((midi - 69 + cents / 100) / 12)


def sing_word(rng: np.random.Generator, singer: Singer, text: str, pitches: list[float],
              duration: float, sample_rate: int, previous: float | None,
              vibrato: tuple[float, float]) -> tuple[np.ndarray, int]:
    """``text`` sung on ``pitches`` for ``duration`` s. Returns ((n,) float64 audio, the
    sample where the vowel starts: placing it on the beat lets the consonants lead)."""
    pw = _pyworld()
    a = analyse(singer.voice, text)
    v0, v1 = a.voiced
    n_vowel = max(int(duration / FRAME_S) - v0 - (len(a.f0) - v1), max(4, (v1 - v0) // 3))
    frames = np.concatenate([np.arange(v0),
                             np.linspace(v0, v1 - 1, n_vowel).round().astype(int),
                             np.arange(v1, len(a.f0))])
    fft_size = pw.get_cheaptrick_fft_size(sample_rate)
    sp, ap = _to_rate(a, singer, sample_rate, fft_size, frames)
    f0 = np.zeros(len(frames))
    sung = a.f0[frames] > 0
    curve = pitch_frames(rng, pitches, int(sung.sum()), previous, vibrato)
    f0[sung] = curve
    audio = pw.synthesize(np.ascontiguousarray(f0), sp, ap, sample_rate, FRAME_MS)
    return audio, int(v0 * FRAME_S * sample_rate)


def breath(rng: np.random.Generator, seconds: float, sample_rate: int) -> np.ndarray:
    """An inhalation: noise with a soft 1-2.5 kHz hump over a floor that falls above 6 kHz,
    swelling and fading."""
    n = int(seconds * sample_rate)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / sample_rate)
    hump = np.exp(-((np.log2(np.maximum(f, 1) / float(rng.uniform(1200, 2500)))) ** 2) / 2.0)
    spec *= (hump + 0.05) * (f > 150) / np.sqrt(1 + (f / 6000) ** 2)
    shaped = np.fft.irfft(spec, n)
    env = np.sin(np.pi * np.arange(n) / n) ** 1.5
    return shaped * env / (np.abs(shaped).max() + 1e-9)


@dataclass(frozen=True)
class SungNote:
    """One syllable of a vocal line."""

    start: float  # s
    duration: float  # s
    pitches: tuple[float, ...]  # MIDI (fractional allowed); several = a melisma
    velocity: int  # 1-127
    word: str


def sing_line(rng: np.random.Generator, singer: Singer, notes: list[SungNote], n_samples: int,
              sample_rate: int, detune_cents: float = 0.0, delay_s: float = 0.0,
              breaths: bool = True) -> np.ndarray:
    """A sung take of ``notes`` as (n_samples,) float32."""
    prepare(singer.voice, {n.word for n in notes})
    out = np.zeros(n_samples + sample_rate, np.float64)
    vibrato = (float(rng.uniform(4.8, 6.5)), float(rng.uniform(15, 60)))
    previous_end, previous_pitch = -1.0, None
    for note in notes:
        start = note.start + delay_s + float(rng.normal(0, 0.008))
        legato = start - previous_end < 0.06
        if breaths and start - previous_end > 0.5 and start > 0.4 and rng.random() < 0.8:
            b = breath(rng, float(rng.uniform(0.2, 0.4)), sample_rate)
            at = int((start - 0.06) * sample_rate) - len(b)
            if at >= 0:
                out[at:at + len(b)] += float(rng.uniform(0.008, 0.025)) * b
        pitches = [p + detune_cents / 100 for p in note.pitches]
        audio, vowel_at = sing_word(rng, singer, note.word, pitches, note.duration,
                                    sample_rate, previous_pitch if legato else None, vibrato)
        fade = min(len(audio) // 4, int(0.03 * sample_rate))
        if fade:
            audio[-fade:] *= np.linspace(1, 0, fade)
        at = max(0, int(start * sample_rate) - vowel_at)
        seg = audio * (0.35 + 0.65 * note.velocity / 127)
        end = min(len(out), at + len(seg))
        out[at:end] += seg[: end - at]
        previous_end, previous_pitch = start + note.duration, note.pitches[-1]
    return out[:n_samples].astype(np.float32)
