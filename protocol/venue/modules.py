"""Users' rule modules: compile their contracts with the project's and check that each named
module implements its kind's interface, before anything is deployed."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Optional

from protocol.build import CompileError, compile_contracts, user_artifacts_dir
from protocol.chain.abi import load_artifact, signature
from protocol.errors import ChainError, PerpsimError
from protocol.margin.types import MODULE_INTERFACES


class ModuleError(PerpsimError):
    """A module choice that cannot be deployed: unknown kind, no such contract, a contract that
    does not implement the interface, or a compile error (one line each)."""


def _signatures(abi: list[dict]) -> set[str]:
    return {signature(item) for item in abi if item.get("type") == "function"}


def prepare_modules(modules: Mapping[str, str], contracts: Optional[str | Path] = None) -> Optional[Path]:
    """Compile ``contracts`` (a directory) with the project's sources when given, and check every
    ``kind -> contract`` of ``modules``; return the artifacts directory to deploy from (None:
    the project's own)."""
    artifacts = None
    if contracts is not None:
        user_dir = Path(contracts)
        try:
            compile_contracts(user_dir=user_dir)
        except CompileError as exc:
            raise ModuleError(exc.messages[0]) from None
        artifacts = user_artifacts_dir(user_dir)
    for kind, name in modules.items():
        if kind not in MODULE_INTERFACES:
            raise ModuleError(f"unknown module kind {kind!r}; kinds: {', '.join(MODULE_INTERFACES)}")
        try:
            artifact = load_artifact(name, artifacts)
        except ChainError:
            where = f"{contracts} or the project" if contracts is not None else "the project"
            raise ModuleError(f"no contract {name!r} in {where} for the {kind} module") from None
        interface = load_artifact(MODULE_INTERFACES[kind], artifacts)
        missing = sorted(_signatures(interface.raw["abi"]) - _signatures(artifact.raw["abi"]))
        if missing:
            raise ModuleError(f"{name} does not implement {MODULE_INTERFACES[kind]} "
                              f"(the {kind} module): missing {', '.join(missing)}")
        if not artifact.bytecode_hex:
            raise ModuleError(f"{name} is abstract or an interface: nothing to deploy as the "
                              f"{kind} module")
    return artifacts
