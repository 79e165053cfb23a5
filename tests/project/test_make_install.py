"""``make demo`` installs perpsim alone (what the demo runs); ``make test`` adds the dev and ray
extras; each is idempotent with its stamp, and neither order downgrades (issue 25). The recipes
run for real, with a stand-in Python that logs what it is asked to do."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOGGER = '#!/bin/sh\necho "$(basename "$0") $*" >> "{log}"\n'


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    for name in ("Makefile", "pyproject.toml", "package.json", "package-lock.json"):
        shutil.copy(ROOT / name, tmp_path / name)
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for tool in ("python", "perpsim"):
        (bin_dir / tool).write_text(LOGGER.format(log=tmp_path / "log"))
        (bin_dir / tool).chmod(0o755)
    (tmp_path / "node_modules").mkdir()
    past = time.time() - 60
    for name in ("pyproject.toml", "package.json", "package-lock.json"):
        os.utime(tmp_path / name, (past, past))
    (tmp_path / "node_modules" / ".installed").touch()  # npm ci done
    return tmp_path


def make(project: Path, target: str) -> list[str]:
    """The pip installs and the runs ``make target`` did (run as from a shell: the variables of
    a ``make test PYTEST_ARGS=...`` this suite runs under are not passed down)."""
    log = project / "log"
    log.write_text("")
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "PYTEST_ARGS", "PYTEST_WORKERS")}
    subprocess.run(["make", "-s", target, f"PYTHON={project / '.venv' / 'bin' / 'python'}"],
                   cwd=project, check=True, capture_output=True, env=env)
    return [line for line in log.read_text().splitlines()
            if "pip install" in line or line.startswith("perpsim") or "pytest" in line]


PIP = "python -m pip install --quiet --disable-pip-version-check -e"
PYTEST = "python -m pytest --backend all -n auto --dist loadfile"  # one worker per core


def test_demo_installs_the_package_alone_and_test_adds_the_extras(project):
    assert make(project, "demo") == [f"{PIP} .", "perpsim run default --backend revm"]
    assert make(project, "demo") == ["perpsim run default --backend revm"]  # stamped
    assert make(project, "test") == [f"{PIP} .[dev,ray]", PYTEST]
    assert make(project, "test") == [PYTEST]
    assert make(project, "demo") == ["perpsim run default --backend revm"]  # keeps the extras


def test_test_first_then_demo_installs_nothing_more(project):
    assert make(project, "test") == [f"{PIP} .[dev,ray]", PYTEST]
    assert make(project, "demo") == ["perpsim run default --backend revm"]
    time.sleep(0.01)
    (project / "pyproject.toml").touch()  # a changed pin: both install again, in turn
    assert make(project, "demo") == [f"{PIP} .", "perpsim run default --backend revm"]
    assert make(project, "test") == [f"{PIP} .[dev,ray]", PYTEST]
