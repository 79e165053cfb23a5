"""ruff (pinned in the dev extra, configured in pyproject.toml) passes on every Python file of
the repository: pyflakes' errors, syntax and statement errors, and sorted imports. mypy (pinned
there too, configured there: strict, the ``protocol`` package) type-checks the package."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _ruff() -> str:
    found = Path(sys.executable).with_name("ruff")
    return str(found) if found.exists() else (shutil.which("ruff") or "ruff")


def _mypy() -> str:
    found = Path(sys.executable).with_name("mypy")
    return str(found) if found.exists() else (shutil.which("mypy") or "mypy")


def test_ruff_passes():
    out = subprocess.run([_ruff(), "check", "--no-cache", "--output-format", "concise", "."],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_sees_what_it_claims(tmp_path):
    # An unused import and unsorted imports, made up here, are found: the check can fail.
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    (tmp_path / "bad.py").write_text("import sys\nimport os\n")
    out = subprocess.run([_ruff(), "check", "--no-cache", "--output-format", "concise", "."],
                         cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 1
    assert "F401" in out.stdout and "I001" in out.stdout


def test_mypy_strict_passes(tmp_path):
    # The cache goes to the test's own directory: the run checks the files as they are.
    out = subprocess.run([_mypy(), "--cache-dir", str(tmp_path / "cache")],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_sees_what_it_claims(tmp_path):
    # A function made up here, with an argument of the wrong type and no return annotation,
    # is refused under the project's configuration: the check can fail.
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    (tmp_path / "bad.py").write_text("def half(n: int) -> int:\n    return n // 2\n\n\n"
                                     "def untyped(x):\n    return half(\"two\")\n")
    out = subprocess.run([_mypy(), "--cache-dir", str(tmp_path / "cache"), "bad.py"],
                         cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "[arg-type]" in out.stdout and "[no-untyped-def]" in out.stdout
