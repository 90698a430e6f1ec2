"""Installation rules a user would trip over if they broke."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORT = {"onnxruntime", "onnxruntime-gpu"}


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[ ;]", r, maxsplit=1)[0].lower() for r in requirements}


def test_onnxruntime_builds_never_share_an_install_set():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not _names(project["dependencies"]) & ORT, "the base install must not pick a build"
    for extra, reqs in project["optional-dependencies"].items():
        assert not _names(reqs) >= ORT, f"extra '{extra}' pulls both onnxruntime builds"


def test_this_environment_has_at_most_one_onnxruntime():
    installed = {d.metadata["Name"].lower() for d in importlib.metadata.distributions()}
    assert not installed >= ORT


def test_console_script_points_at_the_cli():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["stemma"] == "engine.cli:main"
