"""``stemma-lab register``: write a model's measured scores into its manifest, from a report of
``stemma-lab eval``, so that ``auto`` (``engine.registry.best_model``: highest ``usdr_avg``)
picks it when it is best.

    stemma-lab register work/report/report.json assets/models/bandsplit \\
        --row bandsplit:wiener=false --measured-on "held-out test set 0, 20 songs: ..."

Models are only comparable on the same songs: register every model that ``auto`` weighs from
one report. The manifest is replaced atomically; its file hashes stay as they are.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from engine.errors import InvalidArgumentError
from engine.registry import MANIFEST, save_manifest

from ..musdb import STEMS

AVERAGES = ("usdr", "csdr", "si_sdr", "visqol")


def metrics_of(report: dict, row: str) -> dict:
    """The manifest's ``metrics`` for one row of a report.json: averages over stems of each
    metric measured, uSDR per stem, ViSQOL per stem when measured."""
    rows = report.get("models", {})
    if row not in rows:
        raise InvalidArgumentError(f"has no row '{row}' (rows: {', '.join(rows)})",
                                   report.get("data", "the report"))
    agg = rows[row]["aggregates"]
    out: dict = {}
    for metric in AVERAGES:
        value = agg.get(metric, {}).get("avg")
        if value is not None and math.isfinite(value):
            out[f"{metric}_avg"] = round(value, 2)
    for metric in ("usdr", "visqol"):
        if f"{metric}_avg" in out:
            out[metric] = {s: round(agg[metric][s], 2) for s in STEMS}
    if "usdr_avg" not in out:
        raise InvalidArgumentError(f"row '{row}' has no average uSDR", report.get("data", ""))
    return out


def register(report_path: Path, model: Path, row: str, measured_on: str) -> dict:
    """Write ``metrics_of(report, row)`` plus ``measured_on`` into ``model``'s manifest."""
    manifest_path = Path(model) / MANIFEST
    if not manifest_path.is_file():
        raise InvalidArgumentError("is not a model folder (no manifest.json)", model)
    metrics = metrics_of(json.loads(Path(report_path).read_text()), row)
    metrics["measured_on"] = measured_on
    manifest = json.loads(manifest_path.read_text())
    save_manifest(model, manifest | {"metrics": metrics})
    return metrics
