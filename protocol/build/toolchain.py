"""Where the npm toolchain lives: solc-js, OpenZeppelin Contracts and anvil.

In the repository they are ``./node_modules`` (``npm ci``). An installed package carries a copy of
``package.json`` and ``package-lock.json`` (in ``protocol/build/npm``, put there by the build hook in
``setup.py``) and, the first time something needs the toolchain, installs exactly that lock with
``npm ci`` into a per-user cache keyed by the lock's hash. The pins are read from that one
``package.json``; nothing is downloaded but npm packages, and only when Node.js is there to do it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from protocol.exceptions import PerpsimError

PACKAGE_DIR = Path(__file__).resolve().parent.parent
#: The compiled contracts: package data of the wheel.
ARTIFACTS_DIR = PACKAGE_DIR / "artifacts"
PROJECT_ROOT = PACKAGE_DIR.parent
#: The copy of the repository's package.json and package-lock.json an installed package carries.
BUNDLED_NPM_DIR = Path(__file__).resolve().parent / "npm"
NPM_FILES = ("package.json", "package-lock.json")
#: What ``npm ci`` leaves behind once it has finished, so a half-done install is never used.
READY_STAMP = ".perpsim-ready"
NO_NODE = ("Node.js >= 20 with npm is needed for this (perpsim installs solc, OpenZeppelin and "
           "anvil with npm into {cache} on first use): install Node.js from https://nodejs.org "
           "or your package manager, then run the command again")


class ToolchainError(PerpsimError):
    """The npm toolchain is missing and cannot be set up; the message is one line."""


def npm_manifest_dir() -> Path:
    """The directory holding the ``package.json`` and lock that pin the toolchain: the
    repository's, or the copy inside an installed package."""
    if (BUNDLED_NPM_DIR / "package.json").is_file():
        return BUNDLED_NPM_DIR
    return PROJECT_ROOT


def pins() -> dict[str, str]:
    """Every pinned npm package and its exact version, from ``package.json``."""
    manifest = json.loads((npm_manifest_dir() / "package.json").read_text())
    return {**manifest.get("dependencies", {}), **manifest.get("optionalDependencies", {})}


def cache_root() -> Path:
    """perpsim's per-user cache: ``$PERPSIM_CACHE``, else ``$XDG_CACHE_HOME/perpsim``, else
    ``~/.cache/perpsim``."""
    if os.environ.get("PERPSIM_CACHE"):
        return Path(os.environ["PERPSIM_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "perpsim"


def cached_npm_dir() -> Path:
    """Where ``npm ci`` of the pinned lock goes in the cache (set up or not)."""
    lock = (npm_manifest_dir() / "package-lock.json").read_bytes()
    return cache_root() / "npm" / hashlib.sha256(lock).hexdigest()[:16]


def npm_dir(root: Path | None = None) -> Path:
    """The directory whose ``node_modules`` holds the toolchain for sources under ``root``
    (default: the repository, else the installed package): ``root`` itself when it has
    ``node_modules``; a repository without them is told to run ``npm ci``; anything else uses
    the per-user cache, set up on first use."""
    root = PROJECT_ROOT if root is None else root
    if (root / "node_modules").is_dir():
        return root
    if (root / "package.json").is_file():
        raise ToolchainError(f"{root}/node_modules is missing: run `npm ci` in {root}")
    return ensure_cache()


def ensure_cache() -> Path:
    """Install the pinned toolchain into the cache unless it is there; return its directory.
    Announces the one-time set-up in one line on stderr; concurrent set-ups do not collide
    (each installs into its own directory and the first to finish is kept)."""
    target = cached_npm_dir()
    if (target / "node_modules" / READY_STAMP).exists():
        return target
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise ToolchainError(NO_NODE.format(cache=target))
    versions = ", ".join(f"{name} {version}" for name, version in pins().items())
    print(f"perpsim: first use, installing {versions} into {target} (npm ci)", file=sys.stderr)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    for name in NPM_FILES:
        shutil.copyfile(npm_manifest_dir() / name, staging / name)
    proc = subprocess.run([npm, "ci", "--prefer-offline", "--ignore-scripts", "--no-audit",
                           "--no-fund", "--loglevel=error"], cwd=staging, capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        lines = (proc.stderr or proc.stdout).strip().splitlines() or ["(no output)"]
        raise ToolchainError(f"npm ci of perpsim's toolchain failed in {staging}: {lines[-1]}")
    (staging / "node_modules" / READY_STAMP).touch()
    try:
        staging.rename(target)
    except OSError:  # another process finished first; keep its install
        shutil.rmtree(staging, ignore_errors=True)
    return target


def anvil_binary(directory: Path) -> Path | None:
    """The anvil executable npm put under ``directory/node_modules`` (@foundry-rs/anvil-<platform>),
    if any."""
    for candidate in sorted((directory / "node_modules" / "@foundry-rs").glob("anvil-*/bin/anvil")):
        if os.access(candidate, os.X_OK):
            return candidate
    return None
