"""Merge ``stemma-lab eval`` reports of disjoint song sets into one report (the same tables,
JSON and charts), so a long evaluation can run as shards on several cores or machines.

    python scripts/merge_reports.py --out report/ report_a/ report_b/

Every shard must score the same rows (models) with the same metrics; a song in two shards is
an error. Separation speed is summed over shards (time and audio).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lab.evaluation.report import write  # noqa: E402
from lab.evaluation.run import Report, Row  # noqa: E402


def merge(shards: list[dict], data: str) -> Report:
    names = [list(s["models"]) for s in shards]
    if any(n != names[0] for n in names):
        raise SystemExit(f"the shards score different rows: {names}")
    songs = [song for s in shards for song in s["songs"]]
    if len(set(songs)) != len(songs):
        raise SystemExit("a song appears in more than one shard")
    rows = []
    for name in names[0]:
        parts = [s["models"][name] for s in shards]
        row = Row(name, parts[0]["kind"])
        for part in parts:
            row.seconds += part["seconds"]
            row.audio_seconds += part["audio_seconds"]
            row.scores.update({song: {stem: {m: (float("nan") if v is None else v)
                                             for m, v in metrics.items()}
                                      for stem, metrics in stems.items()}
                               for song, stems in part["songs"].items()})
        rows.append(row)
    skipped = {k: v for s in shards for k, v in s["skipped"].items()}
    return Report(Path(data), songs, rows, skipped)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shards", type=Path, nargs="+", help="report folders of stemma-lab eval")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", default="", help="how to name the merged data set")
    args = parser.parse_args()
    shards = [json.loads((folder / "report.json").read_text()) for folder in args.shards]
    report = merge(shards, args.data or " + ".join(s["data"] for s in shards))
    for path in write(report, args.out):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
