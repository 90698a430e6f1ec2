"""An evaluation report as Markdown tables (shaped like the paper's Tables 1 and 2), JSON and
one PNG bar chart per metric."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

from ..musdb import STEMS
from .run import Report, Row

STEM_METRICS = {  # metric -> (title, unit)
    "visqol": ("ViSQOL (audio mode, 48 kHz) ↑", "MOS-LQO"),
    "usdr": ("uSDR: SDR over the whole song, mean over songs ↑", "dB"),
    "csdr": ("cSDR: median SDR over 1 s frames, median over songs ↑", "dB"),
    "si_sdr": ("SI-SDR, mean over songs ↑", "dB"),
}
VOCAL_COLUMNS = (("dnsmos_sig", "SIG"), ("dnsmos_bak", "BAK"), ("dnsmos_ovrl", "OVRL"),
                 ("nisqa", "NISQA"))


def _fmt(value: float) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.2f}"


def _has(report: Report, metric: str) -> bool:
    return any(math.isfinite(r.aggregate(s, metric)) for r in report.rows for s in STEMS)


def markdown(report: Report) -> str:
    lines = [f"# Evaluation on {len(report.songs)} songs from `{report.data}`", ""]
    for number, (metric, (title, _)) in enumerate(STEM_METRICS.items(), start=1):
        if not _has(report, metric):
            continue
        lines += [f"## Table {number}: {title}", "",
                  "| Model | Type | " + " | ".join(STEMS) + " | avg |",
                  "|---|---|" + "---|" * (len(STEMS) + 1)]
        for row in report.rows:
            cells = [_fmt(row.aggregate(s, metric)) for s in STEMS] + [_fmt(row.average(metric))]
            lines.append(f"| {row.name} | {row.kind} | " + " | ".join(cells) + " |")
        lines.append("")
    vocal = [(m, label) for m, label in VOCAL_COLUMNS if _has(report, m)]
    if vocal:
        lines += ["## Vocals quality: DNSMOS P.835 and NISQA ↑ (non-intrusive, on the "
                  "separated vocals)", "",
                  "| Model | Type | " + " | ".join(label for _, label in vocal) + " |",
                  "|---|---|" + "---|" * len(vocal)]
        for row in report.rows:
            lines.append(f"| {row.name} | {row.kind} | "
                         + " | ".join(_fmt(row.aggregate("vocals", m)) for m, _ in vocal) + " |")
        lines.append("")
    lines += ["## Speed", "", "| Model | real-time factor (time / audio) | x real time |",
              "|---|---|---|"]
    for row in report.rows:
        speed = 1 / row.rtf if row.rtf and math.isfinite(row.rtf) and row.rtf > 0 else float("nan")
        lines.append(f"| {row.name} | {row.rtf:.4f} | {_fmt(speed)} |")
    lines.append("")
    if report.skipped:
        lines += ["## Skipped metrics", ""]
        lines += [f"- **{name}**: {why}" for name, why in report.skipped.items()]
        lines.append("")
    return "\n".join(lines)


def to_json(report: Report) -> dict:
    def row(r: Row) -> dict:
        aggregates = {m: {s: r.aggregate(s, m) for s in STEMS} | {"avg": r.average(m)}
                      for m in list(STEM_METRICS) + [m for m, _ in VOCAL_COLUMNS]}
        return {"kind": r.kind, "rtf": r.rtf, "seconds": r.seconds,
                "audio_seconds": r.audio_seconds, "aggregates": aggregates, "songs": r.scores}
    return {"data": str(report.data), "songs": report.songs, "skipped": report.skipped,
            "models": {r.name: row(r) for r in report.rows}}


def _finite(value):
    """NaN and infinities as null, so the file is strict JSON."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def plots(report: Report, folder: Path) -> list[Path]:
    """One grouped bar chart per stem metric; [] when matplotlib is not installed."""
    if importlib.util.find_spec("matplotlib") is None:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for metric, (title, unit) in STEM_METRICS.items():
        if not _has(report, metric):
            continue
        fig, ax = plt.subplots(figsize=(8, 4))
        width = 0.8 / len(report.rows)
        for i, row in enumerate(report.rows):
            values = [row.aggregate(s, metric) for s in STEMS] + [row.average(metric)]
            xs = [j + i * width for j in range(len(values))]
            ax.bar(xs, [v if math.isfinite(v) else 0 for v in values], width, label=row.name)
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(STEMS) + 1)],
                      list(STEMS) + ["avg"])
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        path = folder / f"{metric}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


def write(report: Report, folder: str | Path) -> list[Path]:
    """report.md, report.json and the charts into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.md").write_text(markdown(report))
    (folder / "report.json").write_text(json.dumps(_finite(to_json(report)), indent=1))
    return [folder / "report.md", folder / "report.json", *plots(report, folder)]
