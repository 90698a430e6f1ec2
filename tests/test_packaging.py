"""Installation rules a user would trip over if they broke."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
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


def test_stemma_lab_is_its_own_command():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["stemma-lab"] == "lab.cli:main"


def test_every_package_folder_goes_into_the_wheel():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts)
             for top in ("engine", "app", "lab", "export_onnx")
             for p in (ROOT / top).rglob("__init__.py")}
    assert found <= listed, f"not in [tool.setuptools] packages: {sorted(found - listed)}"


def test_runtime_extras_pull_no_training_package():
    """What only the lab needs (ONNX export, plotting, metrics) stays out of what users
    install: the base dependencies and every runtime extra."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    lab_only = (_names(extras["train"]) | _names(extras["eval"])) - {"torch"}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = _names(project["dependencies"])
    for extra in ("cpu", "gpu", "lm", "gui", "demucs", "roformer"):
        runtime |= _names(extras[extra])
    assert not runtime & lab_only, f"runtime installs lab packages: {runtime & lab_only}"


def test_readme_layout_names_every_module_and_folder():
    readme = (ROOT / "README.md").read_text()
    layout = readme.split("## Layout", 1)[1].split("```")[1]
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.splitlines()
    # folders the repository holds (not build outputs or an ignored data folder beside them)
    tracked = {f.split("/", 1)[0] for f in files if "/" in f and not f.startswith(".")}
    missing = [f"{d}/" for d in sorted(tracked) if f"\n{d}/" not in layout]
    for top in ("app", "engine", "lab"):
        for child in sorted((ROOT / top).iterdir()):
            if child.name.startswith("__") or child.name == "__pycache__":
                continue
            name = child.name if child.suffix == ".py" else f"{child.name}/"
            if child.is_dir() and not (child / "__init__.py").exists():
                continue
            if name not in layout:
                missing.append(f"{top}/{name}")
    assert not missing, f"README Layout does not name: {missing}"


def test_the_runtime_never_imports_the_lab_is_a_contract():
    """lint-imports (a gate in scripts/test.sh) enforces it; this keeps the contract there."""
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
        "contracts"]
    assert any(c["type"] == "forbidden" and set(c["source_modules"]) >= {"engine", "app"}
               and set(c["forbidden_modules"]) >= {"lab", "export_onnx"} for c in contracts)
