"""Build hook: every sdist and wheel carries the compiled contracts and the sources to recompile.

Metadata lives in pyproject.toml; this file only adds two commands:

* ``sdist`` compiles ``contracts/`` into ``protocol/artifacts`` first when Node.js and
  ``node_modules`` are there (MANIFEST.in then ships the artifacts, the sources and the npm pins).
* ``build_py`` does the same (or, building from an sdist on a machine without Node, checks the
  artifacts it carries against its sources), then copies ``contracts/`` into the package as
  ``protocol/contracts`` and ``package.json`` / ``package-lock.json`` as ``protocol/build/npm``,
  so an installed ``perpsim compile`` can recompile (see ``protocol/build/toolchain.py``).

The compiler module is loaded from its files (``protocol/build/standalone.py``): the build
environment has none of perpsim's dependencies, and ``protocol.build`` needs only the standard
library.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = Path(__file__).resolve().parent


def _compiler():
    # The toolchain, loaded from its files through protocol/build/standalone.py: the package's
    # __init__ (which needs web3) never runs.
    name = "_perpsim_standalone"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, HERE / "protocol" / "build" / "standalone.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name].load()


def _prepare_artifacts() -> None:
    compiler = _compiler()
    try:
        state = compiler.artifacts_for_package(HERE)
    except compiler.CompileError as exc:
        sys.exit("perpsim build: " + "\n".join(exc.messages))
    print(f"perpsim build: contract artifacts {state}")


class BuildPyWithContracts(build_py):
    """``build_py`` that ships compiled artifacts and the contract sources."""

    def run(self) -> None:
        if getattr(self, "editable_mode", False):  # an editable install reads the repository
            super().run()
            return
        _prepare_artifacts()
        package = Path(self.build_lib) / "protocol"
        for stale in ("artifacts", "contracts"):  # left by an earlier build in the same build dir
            shutil.rmtree(package / stale, ignore_errors=True)
        super().run()
        for source in sorted((HERE / "contracts").rglob("*.sol")):
            target = package / "contracts" / source.relative_to(HERE / "contracts")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        npm = package / "build" / "npm"
        npm.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(HERE / name, npm / name)


class SdistWithArtifacts(sdist):
    """``sdist`` that compiles first, so the archive carries current artifacts."""

    def run(self) -> None:
        _prepare_artifacts()
        super().run()


setup(cmdclass={"build_py": BuildPyWithContracts, "sdist": SdistWithArtifacts})
