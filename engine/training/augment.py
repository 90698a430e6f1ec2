"""The paper's training augmentations (seeds/001, section 3.1), applied per stem before the
stems are summed into the training mixture:

- loudness: a random gain in [0.5, 1.5] per stem;
- polarity inversion with probability 0.1 per stem;
- a seven-band parametric EQ with track-dependent gain ranges (below).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .synth.mixing import seven_band_eq

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
