"""The separator's training data: codec tokens of every stem and the mixture's log-mel,
precomputed once per song and augmentation variant, so training needs no audio work at all.

For each song of a MUSDB-layout folder and each variant ``v`` (``v = 0`` unaugmented, others
with the paper's per-stem gain, polarity and seven-band EQ drawn from ``(seed, song, v)``):
the stems are made mono, the mixture is their sum, and ``<out>/<song>_<v>.npz`` holds
``mel`` (4 S, n_mels) as uint8 steps of ``MEL_STEP`` (0.086 in natural-log units, 0.75 dB:
far below what the conditioner's layer norm can tell apart), ``mel_delivered`` (the same, of
the mixture as a 44.1 kHz file delivers it, see ``as_delivered``) and ``tokens`` (4 tracks, 2 paths,
L, S) int16, compressed: about 10 kB per second of song, so hours of training data travel to a
lent GPU within its 64 MiB.

Most songs reach the separator at 44.1 kHz, and the engine resamples them to the codec's 48 kHz:
their mel bands above 22.05 kHz are empty, which no 48 kHz training song shows. A model trained
on clean 48 kHz renders only separated such songs worse than the same songs at 48 kHz (the
tokenlm model card has the figures), so training windows take their mel from ``mel_delivered``
with a probability (``TokenWindows(delivered=...)``); the targets stay the clean stems' tokens.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from engine.audio_io import read
from engine.neural_codec import coding_windows

from ..musdb import STEMS, load_tracks
from ..nn.codec import Codec
from ..nn.conformer import ConformerConfig, MelFrontend
from .augment import augment_stems
from .degrade import BITRATES_KBPS, CODECS, codec_round_trip, rate_round_trip

DELIVERY_RATE = 44100  # the rate most songs are stored at

log = logging.getLogger(__name__)


def encode_long(codec: Codec, audio: np.ndarray) -> np.ndarray:
    """(N,) mono 48 kHz -> codes (2, L, S), coded in the run-time codec's windows (with
    context on both sides), so training tokens are the tokens the engine would make."""
    fs = codec.cfg.frame_samples
    n_frames = len(audio) // fs
    x = torch.from_numpy(np.ascontiguousarray(audio[:n_frames * fs]))[None]
    out = torch.zeros(2, codec.cfg.n_levels, n_frames, dtype=torch.long)
    for r0, r1, k0, k1 in coding_windows(n_frames):
        out[:, :, k0:k1] = codec.encode(x[:, r0 * fs:r1 * fs])[0, :, :, k0 - r0:k1 - r0]
    return out.numpy()


MEL_FLOOR, MEL_STEP = -12.0, 22.0 / 255  # uint8 log-mel: [-12, 10] in 255 steps


def pack_mel(mel: np.ndarray) -> np.ndarray:
    return np.clip(np.rint((mel - MEL_FLOOR) / MEL_STEP), 0, 255).astype(np.uint8)


def unpack_mel(packed: np.ndarray) -> np.ndarray:
    return (packed.astype(np.float32) * MEL_STEP + MEL_FLOOR).astype(np.float32)


def as_delivered(mixture: np.ndarray, sr: int, rng: np.random.Generator,
                 codec_probability: float) -> np.ndarray:
    """(N,) mixture at ``sr`` -> the same length at ``sr`` as a 44.1 kHz file brings it to the
    engine (stored at 44.1 kHz, with probability ``codec_probability`` as MP3 or AAC at
    128-320 kbps, then resampled to ``sr`` as the engine does)."""
    stored = None
    if rng.random() < codec_probability:
        codec, kbps = str(rng.choice(tuple(CODECS))), int(rng.choice(BITRATES_KBPS))

        def stored(x: np.ndarray) -> np.ndarray:
            return codec_round_trip(x, DELIVERY_RATE, codec, kbps)

    return rate_round_trip(mixture[None], sr, DELIVERY_RATE, stored)[0]


def prepare_tokens(songs: str | Path, codec: Codec, out: str | Path,
                   variants: Sequence[int] = (0, 1, 2), seed: int = 0,
                   conformer: ConformerConfig | None = None, limit: int | None = None,
                   codec_probability: float = 0.25,
                   on_song: Callable[[int, int, str], None] | None = None) -> list[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    frontend = MelFrontend(conformer or ConformerConfig())
    tracks = load_tracks(songs)[:limit]
    written = []
    codec.eval()
    for i, track in enumerate(tracks):
        if on_song is not None:
            on_song(i, len(tracks), track.name)
        stems = {}
        for name in STEMS:
            audio, sr = read(track.folder / f"{name}.wav")
            if sr != codec.cfg.sample_rate:
                raise ValueError(f"{track.folder}: {sr} Hz; render the songs at "
                                 f"{codec.cfg.sample_rate} Hz")
            stems[name] = np.ascontiguousarray(audio.mean(axis=0, keepdims=True))
        for v in variants:
            path = out / f"{track.name}_{v}.npz"
            if path.exists():
                written.append(path)
                continue
            rng = np.random.default_rng((seed, i, v))
            varied = stems if v == 0 else augment_stems(stems, sr, rng)
            mixture = sum(varied[name] for name in STEMS)[0]
            tokens = np.stack([encode_long(codec, varied[name][0]) for name in STEMS])
            n = tokens.shape[-1]
            n_samples = n * codec.cfg.frame_samples
            history = np.random.default_rng((seed, i, v, 1))
            with torch.no_grad():
                mel = frontend(torch.from_numpy(mixture[:n_samples])[None])
                mel_delivered = frontend(torch.from_numpy(
                    as_delivered(mixture, sr, history, codec_probability)[:n_samples])[None])
            tmp = path.with_name(f".{path.stem}.part.npz")
            np.savez_compressed(tmp, mel=pack_mel(mel[0].numpy()),
                                mel_delivered=pack_mel(mel_delivered[0].numpy()),
                                tokens=tokens.astype(np.int16))
            tmp.replace(path)
            written.append(path)
    return written


class TokenWindows(torch.utils.data.IterableDataset):
    """Endless random windows: {"mel": (4 S, n_mels), "tracks": (4, 2 S, L)} tensors; with
    probability ``delivered`` the mel is that of the mixture as a 44.1 kHz file delivers it
    (token files written before ``mel_delivered`` existed always give the clean mel)."""

    def __init__(self, folder: str | Path, window_frames: int, seed: int = 0,
                 delivered: float = 0.0):
        super().__init__()
        self.delivered = delivered
        self.files = sorted(Path(folder).glob("*.npz"))
        if not self.files:
            raise FileNotFoundError(f"no token files in {folder}; run "
                                    "`stemma-lab tokenize` first")
        self.window = window_frames
        self.seed = seed
        self._cache: dict[Path, tuple[np.ndarray, np.ndarray | None, np.ndarray]] = {}

    def _load(self, path: Path) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        if path not in self._cache:  # a few tens of MB in all: keep everything in memory
            with np.load(path) as data:  # packed: unpacked per window
                self._cache[path] = (data["mel"], data.get("mel_delivered"), data["tokens"])
        return self._cache[path]

    def __iter__(self):
        from engine.nn.layout import interleave

        info = torch.utils.data.get_worker_info()
        worker = info.id if info is not None else 0
        rng = np.random.default_rng((self.seed, worker))
        while True:
            mel, mel_delivered, tokens = self._load(
                self.files[int(rng.integers(len(self.files)))])
            s = tokens.shape[-1]
            if s < self.window:
                continue
            f0 = int(rng.integers(0, s - self.window + 1))
            if mel_delivered is not None and rng.random() < self.delivered:
                mel = mel_delivered
            codes = torch.from_numpy(tokens[..., f0:f0 + self.window].astype(np.int64))
            yield {"mel": torch.from_numpy(unpack_mel(mel[4 * f0:4 * (f0 + self.window)])),
                   "tracks": interleave(codes)}


def fixed_windows(folder: str | Path, window_frames: int,
                  delivered: bool = False) -> dict[str, torch.Tensor]:
    """Held-out windows that never change: from every token file, windows at 0, 1, 2 ...
    window lengths, and with ``delivered`` the same windows again with the mel of the 44.1 kHz
    delivery (where the file has it). {"mel": (W, 4 S, n_mels), "tracks": (W, 4, 2 S, L)}."""
    from engine.nn.layout import interleave

    mels, tracks = [], []
    for path in sorted(Path(folder).glob("*.npz")):
        with np.load(path) as data:
            versions = [data["mel"]]
            if delivered and "mel_delivered" in data:
                versions.append(data["mel_delivered"])
            tokens = data["tokens"]
        for packed in versions:
            mel = unpack_mel(packed)
            for f0 in range(0, tokens.shape[-1] - window_frames + 1, window_frames):
                mels.append(mel[4 * f0:4 * (f0 + window_frames)])
                codes = torch.from_numpy(tokens[..., f0:f0 + window_frames].astype(np.int64))
                tracks.append(interleave(codes))
    if not mels:
        raise FileNotFoundError(f"no token windows in {folder}")
    return {"mel": torch.from_numpy(np.stack(mels)), "tracks": torch.stack(tracks)}
