"""``stemma-lab eval``: score separators on held-out songs with the paper's metrics plus SDR.

Every model separates every song in memory; three reference rows bracket them: ``mixture``
(the mixture given as every stem), ``mix/4`` (a quarter of the mixture as every stem: what a
separator that separates nothing but keeps the sum scores; a model must clearly beat it) and
``oracle-irm`` (the ideal ratio mask computed from the true stems: a ceiling for mask-based
methods). ``--model codec`` adds ``codec-oracle``: the
true stems through the neural codec, the ceiling for separators that generate codec tokens;
``--model codec-refined[:MODEL]`` adds ``codec-oracle refined``: those coded stems, mono at the
token separator's rate as its LM would generate them, refined on the mixture by that separator's
Wiener step (``MODEL``, default ``tokenlm``): the ceiling of the refined output, the score a
perfect LM would reach with this codec and refinement.
Aggregates: uSDR, SI-SDR and the perceptual scores are means over songs; cSDR is the median
over songs of each song's median 1 s frame (the SiSEC/museval convention).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.api import Separator
from engine.dsp.stft import istft, stft

from ..musdb import STEMS, Track, load_tracks
from . import metrics

log = logging.getLogger(__name__)
REFERENCE_ROWS = ("mixture", f"mix/{len(STEMS)}", "oracle-irm")
SIGNAL_METRICS = ("usdr", "csdr", "si_sdr")
VOCAL_METRICS = ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "nisqa")
# a row's Type (the paper's table marks generative models G and discriminative ones D)
KINDS = {"classic": "DSP", "tokenlm": "G", "bandsplit": "D", "demucs": "D", "mdxnet": "D",
         "roformer": "D"}


def oracle_irm(mixture: np.ndarray, stems: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Ideal ratio masks |S_s|^2 / sum_j |S_j|^2 (4096-point STFT, per channel) applied to the
    mixture: the best any such mask can do."""
    n_fft, hop = 4096, 1024
    x = stft(mixture, n_fft, hop)
    power = {name: np.abs(stft(s, n_fft, hop)) ** 2 for name, s in stems.items()}
    total = sum(power.values()) + 1e-12
    return {name: istft(p / total * x, n_fft, hop, mixture.shape[-1])
            for name, p in power.items()}


@dataclass
class Row:
    """One model's scores: per song, per stem, per metric."""

    name: str
    kind: str  # "reference", "DSP", "G" (generative), ...
    seconds: float = 0.0  # time spent separating
    audio_seconds: float = 0.0  # audio separated
    scores: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # song/stem/m

    @property
    def rtf(self) -> float:
        """Real-time factor: separation time / audio time (below 1 is faster than real time)."""
        return self.seconds / self.audio_seconds if self.audio_seconds else float("nan")

    def aggregate(self, stem: str, metric: str) -> float:
        values = [s[stem][metric] for s in self.scores.values()
                  if stem in s and metric in s[stem]]
        values = [v for v in values if np.isfinite(v)]
        if not values:
            return float("nan")
        return float(np.median(values) if metric == "csdr" else np.mean(values))

    def average(self, metric: str) -> float:
        values = [self.aggregate(s, metric) for s in STEMS]
        values = [v for v in values if np.isfinite(v)]
        return float(np.mean(values)) if values else float("nan")


@dataclass
class Report:
    data: Path
    songs: list[str]
    rows: list[Row]
    skipped: dict[str, str]  # metric -> why it was not computed


class _Scorer:
    """Holds the metric models (ViSQOL, DNSMOS, NISQA) that can run here."""

    def __init__(self, nisqa_weights: Path | None, use_visqol: bool):
        avail = metrics.available(nisqa_weights)
        if not use_visqol:
            avail["visqol"] = metrics.Availability(False, "turned off (--no-visqol)")
        self.skipped = {name: a.why for name, a in avail.items() if not a.ok}
        self.visqol = metrics.Visqol() if avail["visqol"].ok else None
        self.dnsmos = metrics.Dnsmos() if avail["dnsmos"].ok else None
        self.nisqa = None
        if avail["nisqa"].ok:
            from .nisqa import Nisqa

            self.nisqa = Nisqa(nisqa_weights)  # type: ignore[arg-type]

    def score(self, truth: np.ndarray, estimate: np.ndarray, sr: int,
              vocals: bool) -> dict[str, float]:
        out = {"usdr": metrics.sdr(truth, estimate), "csdr": metrics.csdr(truth, estimate, sr),
               "si_sdr": metrics.si_sdr(truth, estimate)}
        if self.visqol is not None:
            out["visqol"] = self.visqol(truth, estimate, sr)
        if vocals and self.dnsmos is not None:
            out.update({f"dnsmos_{k}": v for k, v in self.dnsmos(estimate, sr).items()})
        if vocals and self.nisqa is not None:
            out["nisqa"] = self.nisqa(estimate, sr)["mos"]
        return out


def _estimators(models: list[str]) -> list[tuple[str, str, Callable]]:
    """(row name, kind, separate(mixture, stems, sr) -> {stem: estimate}) for every row."""
    rows: list[tuple[str, str, Callable]] = [
        ("mixture", "reference", lambda mix, stems, sr: {s: mix for s in STEMS}),
        (f"mix/{len(STEMS)}", "reference",
         lambda mix, stems, sr: {s: mix / len(STEMS) for s in STEMS}),
        ("oracle-irm", "reference", lambda mix, stems, sr: oracle_irm(mix, stems)),
    ]
    for spec in models:
        if spec == "truth":  # the true stems: every metric at its best (a check of the metrics)
            name, kind, run = "truth", "reference", lambda mix, stems, sr: dict(stems)
        elif spec == "codec-refined" or spec.startswith("codec-refined:"):
            name, kind, run = _codec_refined_row(spec.partition(":")[2] or "tokenlm")
        elif spec == "codec" or spec.startswith("codec:"):
            name, kind, run = _codec_row(spec.partition(":")[2] or "default")
        else:
            name, kind, run = _model_row(spec)
        if any(name == row[0] for row in rows):  # e.g. the shipped model and a new export of it
            name += f" ({spec})"
        rows.append((name, kind, run))
    return rows


def _model_row(spec: str) -> tuple[str, str, Callable]:
    """A separator, by name or folder and options (``NAME:key=value,...``)."""
    model, options = parse_spec(spec)
    separator = Separator(model, options=options)
    kind = separator.model.params.get("kind", KINDS.get(separator.model.backend, "G"))

    def run(mix, stems, sr):
        out = separator.separate(mix, sr, stems=list(STEMS))
        return {s: out[s] for s in STEMS}

    return row_label(separator.model, options), kind, run


def _codec_row(codec: str) -> tuple[str, str, Callable]:
    """The true stems coded and decoded by a neural codec: the ceiling of any separator that
    generates that codec's tokens (what the paper removes by coding its references too)."""
    from engine.neural_codec import NeuralCodec

    runtime = NeuralCodec(codec)

    def run(mix, stems, sr):
        return {s: runtime.roundtrip(audio, sr) for s, audio in stems.items()}

    return (f"codec-oracle ({runtime.info.name})", "reference", run)


def _codec_refined_row(model: str) -> tuple[str, str, Callable]:
    """The true stems through ``model``'s codec (mono, at its rate), then its refinement on
    the mixture: what a token separator whose LM generated the true tokens would give. Its
    prior gains stay off: they undo the colouring of the model's own generations."""
    import soxr

    from engine.backends import create
    from engine.backends.tokenlm import RATE, wiener_refine
    from engine.registry import resolve

    backend = create(resolve(model), "cpu", {"calibrated": False})

    def run(mix, stems, sr):
        at_rate = mix if sr == RATE else soxr.resample(mix.T, sr, RATE, quality="HQ").T
        at_rate = np.ascontiguousarray(at_rate, np.float32)
        raw = coded_stems(backend, stems, sr, at_rate.shape[1])
        refined = wiener_refine(at_rate, raw, backend.refine_cfg)
        out = np.zeros((len(STEMS),) + mix.shape, np.float32)
        for i, audio in enumerate(refined):
            back = audio if sr == RATE else soxr.resample(audio.T, RATE, sr, quality="HQ").T
            out[i, :, :min(mix.shape[1], back.shape[1])] = back[:, :mix.shape[1]]
        out += (mix - out.sum(axis=0)) / len(STEMS)  # resampling's residue, as the engine does
        return dict(zip(STEMS, out, strict=True))

    return (f"codec-oracle refined ({backend.codec.info.name}, {model}'s refinement)",
            "reference", run)


def coded_stems(backend, stems: dict[str, np.ndarray], sr: int, n: int) -> np.ndarray:
    """The true stems as a perfect LM of a token separator ``backend`` would generate them:
    each stem's channel mean through its codec, at the separator's rate, ``n`` samples:
    (4, n) float32."""
    import soxr

    from engine.backends.tokenlm import RATE

    coded = np.stack([backend.codec.roundtrip(stems[s].mean(axis=0), sr)[0] for s in STEMS])
    if sr != RATE:
        coded = soxr.resample(coded.T, sr, RATE, quality="HQ").T
    raw = np.zeros((len(STEMS), n), np.float32)
    raw[:, :min(n, coded.shape[1])] = coded[:, :n]
    return raw


def row_label(model, options: dict) -> str:
    """A row's name: the model's, with ``(refined)``/``(raw)`` for token separators and any
    other options spelled out."""
    label, rest = model.name, dict(options)
    if model.backend == "tokenlm":
        label += " (refined)" if rest.pop("refine", True) else " (raw)"
    if rest:
        label += " " + ",".join(f"{k}={v}" for k, v in rest.items())
    return label


def parse_spec(spec: str) -> tuple[str, dict]:
    """``name`` or ``name:key=value,key=value`` (values parsed as JSON where they can be)."""
    import json

    name, _, rest = spec.partition(":")
    options = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return name, options


def evaluate(models: list[str], data: str | Path, nisqa_weights: Path | None = None,
             use_visqol: bool = True, limit: int | None = None,
             on_song: Callable[[int, int, str], None] | None = None) -> Report:
    """Score ``models`` (plus the reference rows) on every song under ``data``."""
    tracks: list[Track] = load_tracks(data)[:limit]
    estimators = _estimators(models)
    scorer = _Scorer(nisqa_weights, use_visqol)
    rows = [Row(name, kind) for name, kind, _ in estimators]
    for i, track in enumerate(tracks):
        if on_song is not None:
            on_song(i, len(tracks), track.name)
        mixture, stems, sr = track.load()
        for row, (_, _, separate) in zip(rows, estimators, strict=True):
            start = time.perf_counter()
            estimates = separate(mixture, stems, sr)
            row.seconds += time.perf_counter() - start
            row.audio_seconds += mixture.shape[-1] / sr
            row.scores[track.name] = {
                stem: scorer.score(stems[stem], estimates[stem], sr, stem == "vocals")
                for stem in STEMS}
    return Report(Path(data), [t.name for t in tracks], rows, scorer.skipped)
