"""scripts/merge_reports.py: shards of one evaluation merge into the report one run would give."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lab.evaluation.report import to_json, write
from lab.evaluation.run import Report, Row
from lab.musdb import STEMS

ROOT = Path(__file__).resolve().parents[2]


def _row(name: str, songs: dict[str, float]) -> Row:
    row = Row(name, "DSP", seconds=2.0 * len(songs), audio_seconds=10.0 * len(songs))
    row.scores = {song: {s: {"usdr": v, "csdr": v + 1} for s in STEMS} for song, v in songs.items()}
    return row


def test_shards_merge_into_the_whole_evaluation(tmp_path):
    songs = {"a1": 1.0, "a2": 2.0, "b1": 6.0}
    whole = Report(Path("set"), list(songs), [_row("m", songs)], {})
    for name, part in (("a", ["a1", "a2"]), ("b", ["b1"])):
        shard = Report(Path("set"), part, [_row("m", {k: songs[k] for k in part})], {})
        write(shard, tmp_path / name)
    run = subprocess.run([sys.executable, str(ROOT / "scripts/merge_reports.py"), "--out",
                          str(tmp_path / "all"), str(tmp_path / "a"), str(tmp_path / "b")],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    merged = json.loads((tmp_path / "all/report.json").read_text())["models"]["m"]
    expected = to_json(whole)["models"]["m"]
    assert merged["aggregates"]["usdr"]["avg"] == expected["aggregates"]["usdr"]["avg"] == 3.0
    assert merged["aggregates"]["csdr"]["avg"] == 3.0  # the median over songs, not of shards
    assert merged["rtf"] == expected["rtf"] == 0.2
    assert "| m | DSP |" in (tmp_path / "all/report.md").read_text()


def test_a_song_in_two_shards_is_refused(tmp_path):
    for name in "ab":
        write(Report(Path("set"), ["s"], [_row("m", {"s": 1.0})], {}), tmp_path / name)
    run = subprocess.run([sys.executable, str(ROOT / "scripts/merge_reports.py"), "--out",
                          str(tmp_path / "all"), str(tmp_path / "a"), str(tmp_path / "b")],
                         capture_output=True, text=True)
    assert run.returncode != 0 and "more than one shard" in run.stderr
    assert not (tmp_path / "all").exists()
