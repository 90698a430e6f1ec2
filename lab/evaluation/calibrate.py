"""Prior gains for a token separator's refinement (``engine.backends.tokenlm.PRIOR_GAINS``).

A token separator's generated stems carry the systematic colouring of its LM and its codec:
on held-out songs the small codec alone gives bass 2-5 dB too little power against the other
stems below 250 Hz, and the Wiener refinement, which shares the mixture out by the stems'
relative power, gives too little of it to the bass. The gains are the ratio of true to
generated power, per stem and frequency bin, summed over every frame of the calibration
songs and smoothed over a sixth of an octave; the refinement multiplies each stem's generated
power by them. Fitted on songs no training run or test set uses (the lab's test set 3), with
the model's own generation settings, so they describe that model and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.backends.tokenlm import HOP, N_FFT, PRIOR_GAINS, RATE, generation_power
from engine.dsp.stft import stft
from engine.errors import InvalidArgumentError
from engine.registry import MANIFEST, file_sha256, save_manifest

BINS = N_FFT // 2 + 1
LIMITS = (1e-2, 1e2)  # gains beyond +-20 dB would be fitting noise, not colour


def smooth_octave(x: np.ndarray, fraction: float = 1 / 6) -> np.ndarray:
    """Mean of each bin's neighbours within ``fraction`` of an octave around it (at least the
    bin itself), along the last axis of (..., BINS)."""
    n = x.shape[-1]
    half = np.maximum(np.round(np.arange(n) * (2 ** (fraction / 2) - 1)), 0).astype(int)
    lo, hi = np.maximum(np.arange(n) - half, 0), np.minimum(np.arange(n) + half + 1, n)
    cumulative = np.concatenate([np.zeros(x.shape[:-1] + (1,)), np.cumsum(x, axis=-1)], -1)
    return (cumulative[..., hi] - cumulative[..., lo]) / (hi - lo)


class GainFit:
    """Sums true and generated power per stem and bin over songs; ``gains()`` their ratio."""

    def __init__(self, n_stems: int = 4):
        self.true = np.zeros((n_stems, BINS))
        self.generated = np.zeros((n_stems, BINS))
        self.songs = 0

    def add(self, true: np.ndarray, generated: np.ndarray, exponent: float = 2.0) -> None:
        """(S, N) true mono stems and (K, S, N) generations, both at the refinement's rate;
        the generations averaged as the refinement averages them (``generation_power`` with
        the model's ``mean_exponent``)."""
        for k in range(len(true)):
            self.true[k] += _power(true[k])
        self.generated += generation_power(generated, exponent).sum(axis=1)
        self.songs += 1

    def gains(self, strength: float = 1.0) -> np.ndarray:
        """(S, BINS) float32: (true / generated power) ** strength, smoothed and clipped."""
        if not self.songs:
            raise InvalidArgumentError("no calibration songs were added")
        floor = 1e-9 * max(self.true.max(), self.generated.max(), 1e-30)
        ratio = smooth_octave(self.true + floor) / smooth_octave(self.generated + floor)
        return np.clip(ratio ** strength, *LIMITS).astype(np.float32)


def _power(x: np.ndarray) -> np.ndarray:
    return (np.abs(stft(np.asarray(x, np.float32)[None], N_FFT, HOP)[0]) ** 2).sum(axis=0)


def write_gains(folder: Path, gains: np.ndarray, how: dict) -> Path:
    """``folder/prior_gains.safetensors`` (a model file of kind "prior_gains" whose config is
    ``how`` they were fitted, written atomically), listed with its sha256 among the files of
    ``folder``'s manifest."""
    import json

    import torch

    from engine.nn.serialization import save_model

    folder = Path(folder)
    path = save_model(folder / PRIOR_GAINS, {"gains": torch.from_numpy(
        np.ascontiguousarray(gains, np.float32))}, "prior_gains", how)
    manifest = json.loads((folder / MANIFEST).read_text())
    entry = {"path": PRIOR_GAINS, "sha256": file_sha256(path), "size": path.stat().st_size}
    files = [f for f in manifest.get("files", []) if f["path"] != PRIOR_GAINS] + [entry]
    save_manifest(folder, manifest | {"files": files})
    return path


def calibrate(model: Path, data: Path, limit: int | None = None, strength: float = 1.0,
              on_song: Callable[[str, int, int], None] | None = None) -> np.ndarray:
    """Fit the gains of the token separator in the folder ``model`` on the songs of ``data``
    (MUSDB18-HQ layout, any rate) and write them into the folder. -> the gains."""
    import soxr

    from engine.backends import create
    from engine.registry import ModelInfo
    from lab.musdb import STEMS, load_tracks

    info = ModelInfo.from_folder(Path(model))
    if info.backend != "tokenlm":
        raise InvalidArgumentError(f"is a {info.backend} model; only token separators "
                                   "(tokenlm) have prior gains", model)
    backend = create(info, "cpu")
    tracks = load_tracks(data)[:limit]
    fit = GainFit(len(STEMS))
    for i, track in enumerate(tracks):
        if on_song is not None:
            on_song(track.name, i, len(tracks))
        mixture, stems, sr = track.load()
        true = np.stack([stems[s].mean(axis=0) for s in STEMS])
        mono = mixture.mean(axis=0)
        if sr != RATE:
            true = soxr.resample(true.T, sr, RATE, quality="HQ").T
            mono = soxr.resample(mono, sr, RATE, quality="HQ")
        generated = backend.generations(np.ascontiguousarray(mono, np.float32), lambda: None)
        fit.add(true, generated, backend.refine_cfg.mean_exponent)
    gains = fit.gains(strength)
    write_gains(Path(model), gains, {"songs": fit.songs, "data": Path(data).name,
                                     "strength": strength, "samples": backend.samples,
                                     "mean_exponent": backend.refine_cfg.mean_exponent})
    return gains
