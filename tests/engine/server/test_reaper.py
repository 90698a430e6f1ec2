"""The Reaper script (integrations/reaper/stemma_separate.lua) run by Lua 5.4 against the real
server, with Reaper's API stood in for by tests/engine/server/reaper_mock.lua: the selected
item's region goes out through curl, and one track per stem comes back, aligned to the item,
with stems that sum to the region."""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import soundfile as sf

from .conftest import ROOT

SCRIPT = ROOT / "integrations" / "reaper" / "stemma_separate.lua"
MOCK = ROOT / "tests" / "engine" / "server" / "reaper_mock.lua"


def run_script(server, tmp_path, source, offset, length, position, playrate=1.0):
    lua = shutil.which("lua5.4") or shutil.which("lua")
    assert lua, "Lua 5.4 is needed (scripts/install-system-deps.sh test installs lua5.4)"
    env = {**os.environ, "STEMMA_STATE_DIR": str(server.state_dir),
           "MOCK_SOURCE": str(source), "MOCK_STARTOFFS": str(offset),
           "MOCK_LENGTH": str(length), "MOCK_POSITION": str(position),
           "MOCK_PLAYRATE": str(playrate), "MOCK_PROJECT": str(tmp_path / "project")}
    run = subprocess.run([lua, str(MOCK), str(SCRIPT)], env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return run.stdout.splitlines()


def test_the_script_inserts_one_track_per_stem_aligned_to_the_item(server, songs, tmp_path):
    offset, length, position = 1.25, 3.5, 42.0
    lines = run_script(server, tmp_path, songs["short"], offset, length, position)
    tracks = [line.split(" ") for line in lines if line.startswith("TRACK")]
    assert [t[2] for t in tracks] == ["vocals", "drums", "bass", "other"], lines
    assert all(float(t[4]) == position and float(t[5]) == length for t in tracks)
    files = [t[3] for t in tracks]
    assert all(f.startswith(str(tmp_path / "project" / "stemma")) for f in files)
    audio, sr = sf.read(songs["short"], dtype="float32")
    region = audio[round(offset * sr):round((offset + length) * sr)]
    total = sum(sf.read(f, dtype="float32")[0] for f in files)
    assert total.shape == region.shape and np.abs(total - region).max() < 1e-4


def test_the_script_explains_what_it_cannot_do(server, songs, tmp_path):
    lines = run_script(server, tmp_path, songs["short"], 0, 1, 0, playrate=2.0)
    assert lines == ["MESSAGE The take's playrate is not 1; this script sends the source "
                     "region as is."]
    lines = run_script(server, tmp_path, songs["six"], 0, 1, 0)
    assert len(lines) == 1 and "TooManyChannelsError" not in lines[0]
    assert "has 6 channels" in lines[0] and str(songs["six"]) in lines[0]
    stopped = {**os.environ, "STEMMA_STATE_DIR": str(tmp_path / "nowhere")}
    run = subprocess.run(["lua5.4", str(MOCK), str(SCRIPT)], env=stopped, capture_output=True,
                         text=True, timeout=60)
    assert run.stdout.startswith("MESSAGE No Stemma server is running")
