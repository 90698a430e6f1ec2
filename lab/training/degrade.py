"""What real files have been through: lossy codecs and sample-rate changes (a training
augmentation for the mixture only).

Real songs reach a separator as MP3 or AAC at 128-320 kbps, or were once resampled (a 22.05 or
32 kHz master, a 48 kHz video track). The model must still return the clean stems, so the
training targets stay untouched and only the input mixture is degraded: coding each stem on its
own would put codec artifacts into the targets, and would not reproduce what coding a mix does
(one bit budget and one masking threshold shared by all instruments, pre-echo smeared across
them). Each round trip is time-aligned back to the original (codec priming and padding
removed by cross-correlation) and returns the same shape and rate.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import soxr

CODECS = {"mp3": ("mp3", "libmp3lame"), "aac": ("adts", "aac")}  # name -> (container, encoder)
BITRATES_KBPS = (128, 160, 192, 256, 320)
LOW_RATES = (16000, 22050, 24000, 32000)  # rates a file may once have been stored at
CODEC_RATES = (32000, 44100, 48000)  # rates MP3 and AAC encode here; others are resampled


def _encode(x: np.ndarray, sr: int, codec: str, kbps: int) -> bytes:
    import av

    container, encoder = CODECS[codec]
    buffer = io.BytesIO()
    layout = "stereo" if x.shape[0] == 2 else "mono"
    with av.open(buffer, "w", format=container) as out:
        stream = out.add_stream(encoder, rate=sr, layout=layout)
        stream.bit_rate = kbps * 1000
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(x, np.float32), format="fltp",
                                           layout=layout)
        frame.sample_rate = sr
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


def _decode(data: bytes, n_channels: int) -> np.ndarray:
    import av

    blocks = []
    with av.open(io.BytesIO(data)) as src:
        for frame in src.decode(audio=0):
            a = frame.to_ndarray()
            if not frame.format.is_planar:
                a = a.reshape(-1, n_channels).T
            blocks.append(a.astype(np.float32))
    return np.concatenate(blocks, axis=1)


def _align(decoded: np.ndarray, x: np.ndarray, max_lag: int = 4096) -> np.ndarray:
    """``decoded`` shifted by the codec's delay (found by cross-correlation) and cut or padded
    to ``x``'s length."""
    ref, dec = x.mean(axis=0), decoded.mean(axis=0)
    n = min(len(ref), len(dec) - max_lag, 1 << 16)
    if n > 1024:
        spec = np.fft.rfft(dec[: n + max_lag], 2 * (n + max_lag)) * np.conj(
            np.fft.rfft(ref[:n], 2 * (n + max_lag)))
        corr = np.fft.irfft(spec)[: max_lag + 1]
        lag = int(np.argmax(corr))
    else:
        lag = 0
    out = decoded[:, lag:lag + x.shape[1]]
    if out.shape[1] < x.shape[1]:
        out = np.pad(out, ((0, 0), (0, x.shape[1] - out.shape[1])))
    return out


def codec_round_trip(x: np.ndarray, sr: int, codec: str, kbps: int) -> np.ndarray:
    """(C, N) float32 through ``codec`` ("mp3" or "aac") at ``kbps``, back to (C, N) at ``sr``."""
    rate = sr if sr in CODEC_RATES else 44100
    src = x if rate == sr else soxr.resample(x.T, sr, rate).T
    decoded = _align(_decode(_encode(src, rate, codec, kbps), x.shape[0]), src)
    if rate != sr:
        decoded = soxr.resample(decoded.T, rate, sr).T
        decoded = decoded[:, : x.shape[1]]
        decoded = np.pad(decoded, ((0, 0), (0, x.shape[1] - decoded.shape[1])))
    return np.ascontiguousarray(decoded, np.float32)


def rate_round_trip(x: np.ndarray, sr: int, low: int,
                    at_low: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """(C, N) resampled to ``low`` Hz and back: the band above low / 2 is gone. ``at_low``, if
    given, is applied to the (C, M) signal while it is at ``low`` (a codec stored at that rate)."""
    y = soxr.resample(x.T, sr, low, quality="HQ")
    if at_low is not None:
        y = at_low(np.ascontiguousarray(y.T, np.float32)).T
    y = soxr.resample(y, low, sr, quality="HQ").T
    y = y[:, : x.shape[1]]
    return np.ascontiguousarray(np.pad(y, ((0, 0), (0, x.shape[1] - y.shape[1]))), np.float32)


def degrade(x: np.ndarray, sr: int, rng: np.random.Generator, codec_probability: float,
            rate_probability: float) -> np.ndarray:
    """A random real-file history for a mixture: maybe a low sample rate, then maybe a codec."""
    if rng.random() < rate_probability:
        x = rate_round_trip(x, sr, int(rng.choice(LOW_RATES)))
    if rng.random() < codec_probability:
        x = codec_round_trip(x, sr, str(rng.choice(tuple(CODECS))), int(rng.choice(BITRATES_KBPS)))
    return x
