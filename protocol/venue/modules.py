"""Users' rule modules: check that each named module implements its kind's interface, first from
the sources (before any compile), then from the compiled ABI; compile the user's contracts
against the project's, before anything is deployed."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional

from protocol.build import (
    CompileError,
    _user_sources,
    compile_contracts,
    project_artifacts_dir,
    user_artifacts_dir,
)
from protocol.build.scan import ANY_ARITY, Declaration, declarations
from protocol.chain.abi import Artifact, load_artifact, signature
from protocol.errors import ChainError, PerpsimError
from protocol.margin.types import MODULE_INTERFACES


class ModuleError(PerpsimError):
    """A module choice that cannot be deployed: unknown kind, no such contract, a contract that
    does not implement the interface, or a compile error (one line each)."""


def _signatures(abi: list[dict[str, Any]]) -> set[str]:
    return {signature(item) for item in abi if item.get("type") == "function"}


def _provided(name: str, found: dict[str, Declaration], project: Path,
              seen: frozenset[str] = frozenset()) -> Optional[set[tuple[str, int]]]:
    """(name, arity) of the functions contract ``name`` of a user's sources has, its bases'
    included (a project's base by its compiled ABI); None when a base is unknown."""
    if name in seen:
        return None
    decl = found.get(name)
    if decl is None:
        try:
            abi = load_artifact(name, project).raw["abi"]
        except ChainError:
            return None  # e.g. an OpenZeppelin base: the compiled ABI will tell
        return {(f["name"], len(f.get("inputs", []))) for f in abi if f.get("type") == "function"}
    functions = set(decl.functions)
    for base in decl.bases:
        inherited = _provided(base, found, project, seen | {name})
        if inherited is None:
            return None
        functions |= inherited
    return functions


def check_sources(modules: Mapping[str, str], contracts: str | Path,
                  project: Optional[Path] = None) -> None:
    """Refuse, before any compile, a module of ``modules`` that the user's sources under
    ``contracts`` do not declare (nor the project), that is abstract, or that lacks a function
    of its interface, judged from the parsed sources (a function by name and number of
    parameters, inherited ones included; protocol.build.scan). Raises :class:`ModuleError`."""
    project = project_artifacts_dir() if project is None else project
    try:
        found = declarations(_user_sources(Path(contracts)))
    except CompileError as exc:
        raise ModuleError(exc.messages[0]) from None
    for kind, name in modules.items():
        if kind not in MODULE_INTERFACES:
            continue
        decl = found.get(name)
        if decl is None:
            try:
                load_artifact(name, project)
            except ChainError:
                raise ModuleError(f"no contract {name!r} in {contracts} or the project for the "
                                  f"{kind} module") from None
            continue
        if decl.abstract or decl.kind != "contract":
            raise ModuleError(f"{name} is abstract or an interface: nothing to deploy as the "
                              f"{kind} module")
        provided = _provided(name, found, project)
        if provided is None:
            continue
        names_only = {n for n, arity in provided if arity == ANY_ARITY}
        interface = load_artifact(MODULE_INTERFACES[kind], project).raw["abi"]
        missing = sorted(signature(f) for f in interface if f.get("type") == "function"
                         and (f["name"], len(f.get("inputs", []))) not in provided
                         and f["name"] not in names_only)
        if missing:
            raise ModuleError(f"{name} does not implement {MODULE_INTERFACES[kind]} "
                              f"(the {kind} module): missing {', '.join(missing)}")


def prepare_modules(modules: Mapping[str, str], contracts: Optional[str | Path] = None) -> Optional[Path]:
    """Check every ``kind -> contract`` of ``modules``, compile ``contracts`` (a directory of a
    user's files; only they are compiled, against the project's sources) when given, and check
    the modules' ABIs; return the artifacts directory to deploy from (None: the project's own).
    A missing contract or interface function is reported before any compile
    (:func:`check_sources`)."""
    for kind in modules:
        if kind not in MODULE_INTERFACES:
            raise ModuleError(f"unknown module kind {kind!r}; kinds: {', '.join(MODULE_INTERFACES)}")
    artifacts = None
    if contracts is not None:
        user_dir = Path(contracts)
        try:
            project = project_artifacts_dir()
        except CompileError as exc:
            raise ModuleError(exc.messages[0]) from None
        check_sources(modules, user_dir, project)
        try:
            compile_contracts(user_dir=user_dir)
        except CompileError as exc:
            raise ModuleError(exc.messages[0]) from None
        artifacts = user_artifacts_dir(user_dir)
    for kind, name in modules.items():
        artifact = module_artifact(kind, name, artifacts, contracts)
        if artifact.abi.constructor_inputs:
            raise ModuleError(f"{name}'s constructor takes ({', '.join(artifact.abi.constructor_inputs)}): "
                              f"a module chosen for every market is deployed without arguments; "
                              f"give it to a market with Venue.set_market_module(market, "
                              f"{kind!r}, {name!r}, *args)")
    return artifacts


def module_artifact(kind: str, name: str, artifacts: Optional[Path] = None,
                    contracts: Optional[str | Path] = None) -> Artifact:
    """The artifact of contract ``name`` (from ``artifacts``, a user's compiled directory, or
    the project's), checked to be a deployable ``kind`` module: it exists, implements the kind's
    interface and is not abstract. Raises :class:`ModuleError` (``contracts`` names the user's
    directory in the message)."""
    if kind not in MODULE_INTERFACES:
        raise ModuleError(f"unknown module kind {kind!r}; kinds: {', '.join(MODULE_INTERFACES)}")
    try:
        artifact = load_artifact(name, artifacts)
    except ChainError:
        where = f"{contracts} or the project" if contracts is not None else (
            "the venue's contracts" if artifacts is not None else "the project")
        raise ModuleError(f"no contract {name!r} in {where} for the {kind} module") from None
    interface = load_artifact(MODULE_INTERFACES[kind], artifacts)
    missing = sorted(_signatures(interface.raw["abi"]) - _signatures(artifact.raw["abi"]))
    if missing:
        raise ModuleError(f"{name} does not implement {MODULE_INTERFACES[kind]} "
                          f"(the {kind} module): missing {', '.join(missing)}")
    if not artifact.bytecode_hex:
        raise ModuleError(f"{name} is abstract or an interface: nothing to deploy as the "
                          f"{kind} module")
    return artifact
