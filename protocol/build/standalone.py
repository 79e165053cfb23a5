"""The toolchain on the standard library alone: ``python protocol/build/standalone.py [--force]
[--sizes]`` is ``python -m protocol.build`` without perpsim's dependencies or its virtualenv.

``make`` compiles this way while pip installs the virtualenv, and ``setup.py`` (whose isolated
build environment has only setuptools and wheel) loads the toolchain through :func:`load`. The
package's ``__init__`` (which imports web3) never runs: ``protocol.exceptions`` and
``protocol.build`` are loaded from their files.
"""

from __future__ import annotations

import importlib.util
import sys
from importlib.abc import Loader
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import cast

PROTOCOL = Path(__file__).resolve().parent.parent


def _load(name: str, path: Path, package: bool = False) -> ModuleType:
    if name not in sys.modules:
        # A file's spec, with its loader (spec_from_file_location gives both for a .py path).
        spec = cast(ModuleSpec, importlib.util.spec_from_file_location(
            name, path, submodule_search_locations=[str(path.parent)] if package else None))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        cast(Loader, spec.loader).exec_module(module)
    return sys.modules[name]


def load() -> ModuleType:
    """``protocol.build``, loaded from its files (as ``_perpsim_build``)."""
    _load("protocol.exceptions", PROTOCOL / "exceptions.py")  # the toolchain's errors derive from it
    return _load("_perpsim_build", PROTOCOL / "build" / "__init__.py", package=True)


if __name__ == "__main__":
    here = str(Path(__file__).resolve().parent)  # a script's folder (unless -I): not for imports
    sys.path[:] = [entry for entry in sys.path if entry != here]
    sys.exit(load().main())
