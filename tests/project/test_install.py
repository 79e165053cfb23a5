"""An installed perpsim carries its contracts and finds its npm toolchain in a per-user cache.

The package tree is made by the real build hook (``setup.py build_py``); the full sdist/wheel
install into a fresh virtualenv without Node is ``scripts/ci_install.sh``, run by CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from protocol.build import PROJECT_ROOT, compile_contracts, toolchain

CLI = "import sys; from protocol.cli import main; sys.argv[0] = 'perpsim'; main()"

# The build hook as pip's isolated build environment runs it: ``protocol`` is not importable there
# (only setuptools and wheel are), so setup.py must load what it needs from files.
ISOLATED_SETUP = """
import runpy, sys
class NoPerpsim:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] == 'protocol':
            raise ModuleNotFoundError(f"No module named {name!r} (isolated build)")
sys.meta_path.insert(0, NoPerpsim())
sys.argv = ['setup.py', *sys.argv[1:]]
runpy.run_path('setup.py', run_name='__main__')
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The package as a wheel installs it: what ``build_py`` puts in the build directory."""
    site = tmp_path_factory.mktemp("site")
    built = subprocess.run(
        [sys.executable, "-I", "-c", ISOLATED_SETUP, "-q", "build_py", "--build-lib", str(site)],
        cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-3000:]
    return site


def _perpsim(installed: Path, tmp_path: Path, *args: str, path: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(installed), "PATH": path,
           "PERPSIM_CACHE": str(tmp_path / "cache")}
    return subprocess.run([sys.executable, "-c", CLI, *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_package_carries_artifacts_sources_and_pins(installed: Path):
    package = installed / "protocol"
    sources = sorted(p.relative_to(PROJECT_ROOT / "contracts").as_posix()
                     for p in (PROJECT_ROOT / "contracts").rglob("*.sol"))
    assert sources and sorted(p.relative_to(package / "contracts").as_posix()
                              for p in (package / "contracts").rglob("*.sol")) == sources
    for name in toolchain.NPM_FILES:
        assert (package / "build" / "npm" / name).read_bytes() == (PROJECT_ROOT / name).read_bytes()
    assert (package / "artifacts" / "Clearinghouse.json").stat().st_size > 10_000


def test_without_node_compile_needs_nothing_and_recompiling_says_so_in_one_line(
        installed: Path, tmp_path: Path):
    no_node = tmp_path / "empty-bin"  # a PATH with no node, npm or anvil
    no_node.mkdir()
    current = _perpsim(installed, tmp_path, "compile", path=str(no_node))
    assert current.returncode == 0, current.stderr
    assert "contracts up to date" in current.stdout  # the shipped artifacts match the shipped sources

    cache = tmp_path / "cache" / "npm"
    for args in (["compile", "--force"], ["bench", "--quick", "--out", str(tmp_path / "b")]):
        refused = _perpsim(installed, tmp_path, *args, path=str(no_node))
        assert refused.returncode == 1
        [line] = refused.stderr.strip().splitlines()
        assert "Node.js >= 20 with npm is needed" in line and str(cache) in line, line
        assert "Traceback" not in refused.stderr
    assert "anvil not found" in refused.stderr
    assert not cache.exists()


def test_the_installed_copy_is_the_one_imported(installed: Path, tmp_path: Path):
    env = {**os.environ, "PYTHONPATH": str(installed)}
    proc = subprocess.run([sys.executable, "-c", "import protocol.build as b; print(b.PACKAGE_DIR, "
                           "b._default_root(), b.toolchain.npm_manifest_dir())"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    package = str((installed / "protocol").resolve())
    assert proc.stdout.split() == [package, package, f"{package}/build/npm"]


def test_cache_location_honours_perpsim_cache_then_xdg(monkeypatch, tmp_path: Path):
    monkeypatch.delenv("PERPSIM_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert toolchain.cache_root() == tmp_path / "xdg" / "perpsim"
    monkeypatch.setenv("PERPSIM_CACHE", str(tmp_path / "mine"))
    assert toolchain.cache_root() == tmp_path / "mine"
    monkeypatch.delenv("PERPSIM_CACHE")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert toolchain.cache_root() == tmp_path / "home" / ".cache" / "perpsim"


TOKEN = """// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
contract Token is ERC20 { constructor() ERC20("T", "T") {} }
"""


def test_first_compile_outside_a_repository_installs_the_pinned_toolchain_once(
        monkeypatch, tmp_path: Path, capsys):
    monkeypatch.setenv("PERPSIM_CACHE", str(tmp_path / "cache"))
    project = tmp_path / "project"  # no node_modules, no package.json: like an installed package
    (project / "contracts").mkdir(parents=True)
    (project / "contracts" / "Token.sol").write_text(TOKEN)

    result = compile_contracts(project, project / "artifacts")
    assert result.compiled and result.contracts == ["Token"]
    tools = toolchain.cached_npm_dir()
    assert tools.parent == tmp_path / "cache" / "npm"
    announcement, compiling = capsys.readouterr().err.strip().splitlines()
    assert compiling == "perpsim: compiling 1 contract…"
    assert announcement.startswith("perpsim: first use, installing ") and str(tools) in announcement
    assert all(f"{name} {version}" in announcement for name, version in toolchain.pins().items())
    assert not list(tools.parent.glob("*.tmp"))  # the staging directory became the cache entry

    anvil = toolchain.anvil_binary(tools)
    version = subprocess.run([str(anvil), "--version"], capture_output=True, text=True, check=True)
    assert toolchain.pins()["@foundry-rs/anvil-linux-amd64"] in version.stdout

    assert toolchain.ensure_cache() == tools
    assert capsys.readouterr().err == ""  # set up once: no second npm ci


def test_the_toolchain_runs_on_the_standard_library_alone():
    """What ``make`` runs while pip installs the virtualenv: no site-packages (``-S``), so
    neither web3 nor rich nor perpsim itself, only the standard library and node_modules."""
    done = subprocess.run([sys.executable, "-I", "-S", "protocol/build/standalone.py"],
                          cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{len(compile_contracts().contracts)} contracts up to date (")
