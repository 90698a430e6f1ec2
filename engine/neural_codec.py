"""The neural audio codec at run time: the shipped ONNX encoder and decoder, no torch needed.

Codecs live beside the separators in ``assets/models/<name>/`` (``manifest.json`` with
backend "codec", ``encoder.onnx``, ``decoder.onnx``). Audio of any rate and channel count
goes in; each channel is coded separately (the codec is mono, 48 kHz). Long audio is coded in
windows with context on both sides, so memory stays bounded whatever the song's length
(attention in the codec is quadratic in time). A window with its context is 50 frames (4 s),
the crop length the codec is trained on, so its attention never sees distances it has not
learned.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from . import registry
from .errors import InvalidArgumentError, ModelNotFoundError
from .onnx_runtime import Session

WINDOW_FRAMES = 40  # codec frames kept per window: 3.2 s at 12.5 Hz
MARGIN_FRAMES = 5  # context on each side, dropped from the result: 0.4 s


def resolve_codec(codec: str | Path) -> registry.ModelInfo:
    """A codec by name or folder; ``"default"`` is the first one installed."""
    path = Path(codec)
    if path.is_dir():
        info = registry.ModelInfo.from_folder(path)
        if info.backend != registry.CODEC_BACKEND:
            raise ModelNotFoundError(f"'{info.name}' is a separator, not a codec", path)
        return info
    found = registry.list_codecs()
    if str(codec) == "default" and found:
        return found[0]
    for info in found:
        if info.name == str(codec):
            return info
    names = ", ".join(i.name for i in found) or "none"
    raise ModelNotFoundError(f"unknown codec '{codec}'; installed codecs: {names}")


@dataclass(frozen=True)
class Codes:
    """Tokens of one mono signal: (2, L, S) int64, acoustic then semantic, S codec frames."""

    tokens: np.ndarray
    n_samples: int  # length of the coded signal at 48 kHz (before padding)


def coding_windows(n: int, window: int = WINDOW_FRAMES,
                   margin: int = MARGIN_FRAMES) -> list[tuple[int, int, int, int]]:
    """(read start, read end, keep start, keep end) spans covering [0, n) in frames."""
    spans, start = [], 0
    while start < n:
        end = min(n, start + window)
        spans.append((max(0, start - margin), min(n, end + margin), start, end))
        start = end
    return spans


class NeuralCodec:
    def __init__(self, codec: str | Path = "default", device: str = "auto", verify: bool = True):
        self.info = resolve_codec(codec)
        if verify:
            self.info.verify()
        params = self.info.params
        self.sample_rate = int(self.info.sample_rate or 48000)
        self.frame_samples = int(params["frame_samples"])
        self.n_levels = int(params["n_levels"])
        self.device = device
        self._encoder: Session | None = None  # loaded when first needed: separators only decode
        self.decoder = Session(self.info.file("decoder.onnx"), device)
        self.provider = self.decoder.provider

    @property
    def encoder(self) -> Session:
        if self._encoder is None:
            self._encoder = Session(self.info.file("encoder.onnx"), self.device)
        return self._encoder

    def _mono48(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        x = np.asarray(audio, dtype=np.float32)
        if x.ndim != 1:
            raise InvalidArgumentError(f"encode takes one channel (N,), got {x.shape}")
        if sample_rate != self.sample_rate:
            x = soxr.resample(x, sample_rate, self.sample_rate, quality="HQ")
        return np.ascontiguousarray(x, dtype=np.float32)

    def encode(self, audio: np.ndarray, sample_rate: int) -> Codes:
        """(N,) mono at ``sample_rate`` -> codes."""
        x = self._mono48(audio, sample_rate)
        fs = self.frame_samples
        n_frames = max(1, -(-len(x) // fs))
        padded = np.zeros(n_frames * fs, np.float32)
        padded[:len(x)] = x
        out = np.zeros((2, self.n_levels, n_frames), np.int64)
        for r0, r1, k0, k1 in coding_windows(n_frames):
            codes = self.encoder(padded[None, r0 * fs:r1 * fs])[0][0]
            out[:, :, k0:k1] = codes[:, :, k0 - r0:k1 - r0]
        return Codes(out, len(x))

    def decode(self, codes: Codes, n_levels: int | None = None) -> np.ndarray:
        """Codes -> (N,) mono at 48 kHz, using the first ``n_levels`` levels of each path."""
        levels = n_levels or self.n_levels
        if not 1 <= levels <= self.n_levels:
            raise InvalidArgumentError(f"levels must be 1 to {self.n_levels}, not {levels}")
        tokens = codes.tokens[:, :levels]
        fs, n_frames = self.frame_samples, tokens.shape[-1]
        out = np.zeros(n_frames * fs, np.float32)
        for r0, r1, k0, k1 in coding_windows(n_frames):
            audio = self.decoder(np.ascontiguousarray(tokens[None, :, :, r0:r1]))[0][0]
            out[k0 * fs:k1 * fs] = audio[(k0 - r0) * fs:(k1 - r0) * fs]
        return out[:codes.n_samples]

    def roundtrip(self, audio: np.ndarray, sample_rate: int,
                  n_levels: int | None = None) -> np.ndarray:
        """(C, N) at any rate -> (C, N) coded and decoded, at that rate and length."""
        audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
        out = np.zeros(audio.shape, np.float32)
        for c, channel in enumerate(audio):
            decoded = self.decode(self.encode(channel, sample_rate), n_levels)
            if sample_rate != self.sample_rate:
                decoded = soxr.resample(decoded, self.sample_rate, sample_rate, quality="HQ")
            n = min(len(decoded), audio.shape[1])
            out[c, :n] = decoded[:n]
        return out
