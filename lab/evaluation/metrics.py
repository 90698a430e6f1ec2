"""Separation metrics: SDR (framewise cSDR and global uSDR), SI-SDR, ViSQOL, DNSMOS and NISQA.

Arrays are (C, N) float at one sample rate. The signal-level metrics follow the Music Demixing
Challenge definitions (Mitsufuji et al. 2022): SDR = 10 log10(|s|^2 / |s - s_hat|^2) with a
small epsilon, over the whole song (uSDR) or as the median over non-overlapping 1 s frames,
skipping frames where the reference is silent (cSDR, the museval convention). Unlike museval's
BSS Eval v4 there is no distortion-filter projection: a filtered estimate is not forgiven.

The perceptual metrics follow the paper (Lyu et al., arXiv:2604.09371, section 3.3): ViSQOL in
audio mode at 48 kHz for every stem, DNSMOS P.835 (SIG/BAK/OVRL) and NISQA for vocals. Each
needs an optional package or file; :func:`available` says which can run here, and why not.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

EPS = 1e-7  # as in the MDX challenge: silent reference and silent estimate score 0 dB
FRAME_S = 1.0  # cSDR frame length


def _flat(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float64).reshape(-1)


def sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Global SDR in dB over all channels and samples (uSDR)."""
    s, e = _flat(reference), _flat(estimate)
    return float(10 * np.log10((np.sum(s ** 2) + EPS) / (np.sum((s - e) ** 2) + EPS)))


def framewise_sdr(reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> np.ndarray:
    """SDR of each 1 s frame; NaN where the reference is silent (museval skips those)."""
    frame = int(FRAME_S * sample_rate)
    n = reference.shape[-1] // frame
    out = np.full(n, np.nan)
    for i in range(n):
        s = _flat(reference[..., i * frame:(i + 1) * frame])
        if not np.any(s):
            continue
        e = _flat(estimate[..., i * frame:(i + 1) * frame])
        out[i] = 10 * np.log10((np.sum(s ** 2) + EPS) / (np.sum((s - e) ** 2) + EPS))
    return out


def csdr(reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
    """Median framewise SDR in dB (NaN if the reference is silent throughout)."""
    frames = framewise_sdr(reference, estimate, sample_rate)
    return float(np.nanmedian(frames)) if np.any(np.isfinite(frames)) else float("nan")


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Scale-invariant SDR (Le Roux et al. 2019) in dB, over all channels."""
    s, e = _flat(reference), _flat(estimate)
    energy = np.sum(s ** 2)
    if energy == 0:
        return float("nan")
    target = (np.dot(e, s) / energy) * s
    return float(10 * np.log10((np.sum(target ** 2) + EPS) / (np.sum((target - e) ** 2) + EPS)))


def _mono_at(x: np.ndarray, sample_rate: int, target: int) -> np.ndarray:
    mono = np.asarray(x, dtype=np.float64).reshape(-1, x.shape[-1]).mean(axis=0)
    if sample_rate == target:
        return mono
    return soxr.resample(mono, sample_rate, target, quality="HQ").astype(np.float64)


# --- optional perceptual metrics -------------------------------------------------------


@dataclass(frozen=True)
class Availability:
    ok: bool
    why: str  # what is missing, when not ok


def available(nisqa_weights: Path | None) -> dict[str, Availability]:
    """Which optional metrics can run here, and why not."""
    def has(module: str) -> bool:
        return importlib.util.find_spec(module) is not None

    out = {}
    out["visqol"] = (Availability(True, "") if has("visqol") else
                     Availability(False, "package visqol-python is not installed"))
    if not has("onnxruntime"):
        out["dnsmos"] = Availability(False, "onnxruntime is not installed")
    elif dnsmos_model_path() is None:
        out["dnsmos"] = Availability(False, "the DNSMOS model file (package speechmos) is "
                                            "not installed")
    else:
        out["dnsmos"] = Availability(True, "")
    if not has("torch"):
        out["nisqa"] = Availability(False, "torch is not installed")
    elif nisqa_weights is None:
        out["nisqa"] = Availability(False, "no NISQA weights given (--nisqa-weights PATH)")
    elif not Path(nisqa_weights).is_file():
        out["nisqa"] = Availability(False, f"NISQA weights not found at {nisqa_weights}")
    else:
        out["nisqa"] = Availability(True, "")
    return out


class Visqol:
    """ViSQOL v3 in audio mode: 48 kHz mono, MOS-LQO 1 to about 4.75."""

    RATE = 48000

    def __init__(self) -> None:
        from visqol import VisqolApi

        self._api = VisqolApi()
        self._api.create(mode="audio")

    def __call__(self, reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
        ref = _mono_at(reference, sample_rate, self.RATE)
        if not np.any(ref):
            return float("nan")  # no reference to compare with
        est = _mono_at(estimate, sample_rate, self.RATE)
        return float(self._api.measure_from_arrays(ref, est, self.RATE).moslqo)


def dnsmos_model_path() -> Path | None:
    """The DNSMOS P.835 ONNX model shipped in the speechmos package (not imported: only its
    model file is used)."""
    spec = importlib.util.find_spec("speechmos")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "dnsmos_models" / \
        "sig_bak_ovr.onnx"
    return path if path.is_file() else None


class Dnsmos:
    """DNSMOS P.835 (Reddy et al. 2022): SIG, BAK and OVRL of a (sung) voice, non-intrusive.

    16 kHz mono, 9.01 s windows hopped by 1 s (shorter clips are repeated to fill one), raw
    model outputs mapped by the published third-order polynomials, averaged over windows.
    """

    RATE = 16000
    WINDOW_S = 9.01
    # The published non-personalised P.835 mappings: (SIG, BAK, OVRL) polynomial coefficients.
    POLY = {"sig": (-0.08397278, 1.22083953, 0.0052439),
            "bak": (-0.13166888, 1.60915514, -0.39604546),
            "ovrl": (-0.06766283, 1.11546468, 0.04602535)}

    def __init__(self) -> None:
        import onnxruntime

        path = dnsmos_model_path()
        assert path is not None
        self._session = onnxruntime.InferenceSession(str(path),
                                                     providers=["CPUExecutionProvider"])

    def __call__(self, estimate: np.ndarray, sample_rate: int) -> dict[str, float]:
        audio = _mono_at(estimate, sample_rate, self.RATE).astype(np.float32)
        if not np.any(audio):
            return {k: float("nan") for k in self.POLY}
        window = int(self.WINDOW_S * self.RATE)
        while len(audio) < window:
            audio = np.concatenate([audio, audio])
        n_hops = int(len(audio) / self.RATE - self.WINDOW_S) + 1
        raw = []
        for i in range(n_hops):
            seg = audio[i * self.RATE:i * self.RATE + window]
            if len(seg) == window:
                raw.append(self._session.run(None, {"input_1": seg[None]})[0][0])
        scores = np.mean([[np.polyval(self.POLY[k], r[j]) for j, k in enumerate(self.POLY)]
                          for r in raw], axis=0)
        return {k: float(v) for k, v in zip(self.POLY, scores, strict=True)}
