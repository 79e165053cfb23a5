"""Scratch copies of a directory tree where mutants are tested without touching the original.

A copy holds the tracked and untracked, non-ignored files (``git ls-files``) of a git work tree,
or everything but caches and virtual environments otherwise, with ``node_modules`` symlinked.
Commands run in the copy with ``PYTHONPATH`` pointing at it (so a copy of the perpsim repository
imports its own ``protocol``), each in a session of its own that a timeout kills whole.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

_IGNORE = shutil.ignore_patterns(".git", "node_modules", "__pycache__", ".venv", "venv",
                                 ".hypothesis", ".pytest_cache", ".perpsim", "*.egg-info")


def _listed_files(root: Path) -> list[str] | None:
    """Files ``git ls-files`` lists under ``root`` (None when ``root`` is not in a work tree)."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=root, check=True, capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return [rel for rel in out.decode().split("\0") if rel]


class Workspace:
    """A copy of ``source`` at ``path`` and the environment commands run with in it."""

    def __init__(self, path: Path, pythonpath: bool = True):
        self.path = path
        self.env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        if pythonpath:
            self.env["PYTHONPATH"] = str(path)
        self.env.pop("PYTEST_ADDOPTS", None)

    @classmethod
    def create(cls, source: Path, dest: Path, extra: tuple[str, ...] = (),
               pythonpath: bool = True) -> "Workspace":
        """Copy ``source`` to ``dest`` (plus the ignored paths ``extra``, e.g. build output)."""
        dest.mkdir(parents=True)
        listed = _listed_files(source)
        if listed is None:
            shutil.copytree(source, dest, ignore=_IGNORE, dirs_exist_ok=True, symlinks=True)
        else:
            for rel in listed:
                src = source / rel
                if not src.is_file() or rel.startswith("node_modules/"):
                    continue  # deleted in the working tree, or a directory entry
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / rel)
        for rel in extra:
            if (source / rel).is_dir():
                shutil.copytree(source / rel, dest / rel, dirs_exist_ok=True)
        if (source / "node_modules").is_dir() and not (dest / "node_modules").exists():
            (dest / "node_modules").symlink_to((source / "node_modules").resolve())
        return cls(dest, pythonpath)

    def run(self, args: list[str], timeout: float | None) -> tuple[int | None, str]:
        """Run ``args`` in the copy: (exit code, or None after a timeout; stdout and stderr)."""
        proc = subprocess.Popen(args, cwd=self.path, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=timeout)
            return proc.returncode, out
        except subprocess.TimeoutExpired:
            _kill(proc)
            out, _ = proc.communicate()
            return None, out
        except BaseException:
            _kill(proc)
            raise

    def pytest(self, paths: list[str], extra: list[str], timeout: float | None,
               stop_first: bool = True) -> tuple[int | None, str]:
        """pytest on ``paths`` in the copy (``-x`` unless ``stop_first`` is False)."""
        shutil.rmtree(self.path / ".hypothesis", ignore_errors=True)  # no replay across mutants
        args = [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider", *extra]
        if stop_first:
            args.append("-x")
        return self.run(args + paths, timeout)


def _kill(proc: subprocess.Popen[Any]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the session started for it, nothing else
    except ProcessLookupError:
        pass
