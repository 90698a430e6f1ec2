"""The paper's training augmentations (Lyu et al., arXiv:2604.09371, section 3.1), applied per
stem before the stems are summed into the training mixture:

- loudness: a random gain in [0.5, 1.5] per stem;
- polarity inversion with probability 0.1 per stem;
- a seven-band parametric EQ with track-dependent gain ranges (below).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .synth.mixing import SEVEN_BANDS, seven_band_eq

# Gain range (dB) per stem for the seven bands (60 Hz ... 12 kHz): bass and drums keep their low
# end within +-3 dB, vocals and other vary more in the mids and highs where their timbre lives.
EQ_RANGE_DB = {
    "vocals": (2.0, 3.0, 4.0, 4.0, 4.0, 4.0, 3.0),
    "drums": (3.0, 3.0, 3.0, 3.0, 4.0, 4.0, 4.0),
    "bass": (3.0, 3.0, 3.0, 4.0, 4.0, 2.0, 2.0),
    "other": (2.0, 3.0, 4.0, 4.0, 4.0, 4.0, 3.0),
}


@dataclass(frozen=True)
class AugmentConfig:
    gain_range: tuple[float, float] = (0.5, 1.5)  # linear, per stem
    flip_probability: float = 0.1  # polarity inversion, per stem
    eq_probability: float = 1.0  # chance each stem gets the seven-band EQ


def augment_stems(stems: dict[str, np.ndarray], sample_rate: int, rng: np.random.Generator,
                  cfg: AugmentConfig = AugmentConfig()) -> dict[str, np.ndarray]:
    """A new dict of augmented (C, N) float32 stems; the mixture is then their sum."""
    out = {}
    for name, audio in stems.items():
        x = audio
        if rng.random() < cfg.eq_probability:
            limits = np.asarray(EQ_RANGE_DB.get(name, EQ_RANGE_DB["other"]))
            x = seven_band_eq(x, sample_rate, rng.uniform(-limits, limits))
        gain = rng.uniform(*cfg.gain_range)
        if rng.random() < cfg.flip_probability:
            gain = -gain
        out[name] = (x * gain).astype(np.float32)
    return out


GRID = 2049  # frequency points where the EQ response is computed exactly


def seven_band_response(gains_db: torch.Tensor, sample_rate: int, n_bins: int) -> torch.Tensor:
    """Magnitude response (B, n_bins) on an rfft grid of the seven RBJ peaking bands (Q 1)
    with gains (B, 7) in dB: the same filters as ``seven_band_eq``, for batches in torch.
    Real and imaginary parts in float64 (near 0 Hz numerator and denominator both vanish), on
    a grid of ``GRID`` points interpolated to ``n_bins``: the bands are smooth (Q 1; 60 Hz is
    five points wide at 48 kHz), and the full grid took half a second per batch on a CPU."""
    device = gains_db.device
    centres = torch.tensor(SEVEN_BANDS, device=device, dtype=torch.float64)
    w0 = 2 * math.pi * centres.clamp(max=0.45 * sample_rate) / sample_rate  # (7,)
    alpha, c = (torch.sin(w0) / 2)[:, None], (-2 * torch.cos(w0))[:, None]  # (7, 1)
    a_lin = (10 ** (gains_db.double() / 40))[..., None]  # (B, 7, 1)
    w = torch.linspace(0, math.pi, min(n_bins, GRID), device=device, dtype=torch.float64)
    cos1, cos2, sin1, sin2 = torch.cos(w), torch.cos(2 * w), torch.sin(w), torch.sin(2 * w)

    def power(x0: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:  # (B, 7, 1) -> (B, 7, F)
        return (x0 + c * cos1 + x2 * cos2) ** 2 + (c * sin1 + x2 * sin2) ** 2

    num = power(1 + alpha * a_lin, 1 - alpha * a_lin)
    den = power(1 + alpha / a_lin, 1 - alpha / a_lin)
    response = (num / den).prod(1).sqrt().float()  # (B, grid)
    if response.shape[-1] == n_bins:
        return response
    return F.interpolate(response[:, None], size=n_bins, mode="linear",
                         align_corners=True)[:, 0]


def augment_batch(x: torch.Tensor, stems: list[str], sample_rate: int,
                  generator: torch.Generator | None = None,
                  cfg: AugmentConfig = AugmentConfig()) -> torch.Tensor:
    """The paper's augmentations on a batch of single-stem crops (B, N), in torch on x's
    device: per-crop gain and polarity, and the seven-band EQ applied as a zero-phase
    spectral gain (the training losses only see magnitudes, so the phase does not matter)."""
    b, device = x.shape[0], x.device

    def uniform(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator, device=device)

    limits = torch.tensor([EQ_RANGE_DB.get(s, EQ_RANGE_DB["other"]) for s in stems],
                          device=device)
    gains_db = (2 * uniform(b, 7) - 1) * limits
    use_eq = (uniform(b) < cfg.eq_probability)[:, None]
    spectrum = torch.fft.rfft(x.float(), dim=-1)
    response = seven_band_response(gains_db, sample_rate, spectrum.shape[-1])
    spectrum = spectrum * torch.where(use_eq, response, torch.ones_like(response))
    y = torch.fft.irfft(spectrum, n=x.shape[-1], dim=-1)
    low, high = cfg.gain_range
    gain = low + (high - low) * uniform(b)
    gain = torch.where(uniform(b) < cfg.flip_probability, -gain, gain)
    return y * gain[:, None]
