"""What a run ran (``run.json``, ``scenario.toml``): the scenario as run after its overrides, the
overrides, the rule modules with the sha256 of the user's contracts, the perpsim version and git
commit. The backend and the seed are the run's own fields (:class:`~protocol.sim.result.RunResult`).
"""

from __future__ import annotations

import copy
import subprocess
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Optional, Union

import tomli_w

from protocol import __version__
from protocol.build.digest import contracts_sha256

if TYPE_CHECKING:
    from protocol.sim.scenario import Scenario

SCENARIO_FILE = "scenario.toml"
PACKAGE_DIR = Path(__file__).resolve().parent.parent  # protocol/


def git_commit(directory: Union[str, Path] = PACKAGE_DIR) -> Optional[str]:
    """The commit checked out where ``directory`` is, or ``None`` outside a git checkout or
    without git (never raises)."""
    try:
        done = subprocess.run(["git", "-C", str(directory), "rev-parse", "--verify", "HEAD"],
                              capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and len(commit) == 40 else None


@lru_cache(maxsize=1)
def _package_commit() -> Optional[str]:
    return git_commit(PACKAGE_DIR)


def perpsim_version() -> str:
    """The installed perpsim's version (``protocol.__version__`` when not installed)."""
    try:
        return metadata.version("perpsim")
    except metadata.PackageNotFoundError:
        return __version__


def scenario_toml(raw: Mapping[str, Any]) -> Optional[str]:
    """TOML text of a scenario's table (as :attr:`Scenario.raw <protocol.sim.scenario.Scenario>`
    holds it): ``perpsim run`` on the file runs the same scenario. ``None`` when a value has no
    TOML form (an object set by an override from Python)."""
    try:
        return tomli_w.dumps(_plain(copy.deepcopy(dict(raw))))
    except (TypeError, ValueError):
        return None


def _plain(value: Any) -> Any:
    """Tuples as lists and keys set to ``None`` left out (TOML has no null), for tomli_w."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class Provenance:
    """What a run ran, besides its seed and backend.

    ``scenario_toml``: the scenario as run (``None`` for a :class:`Scenario` built in Python or
    changed past what its TOML can say); in a study, the study's scenario, and ``variant`` the
    run's variant of it. ``overrides``: the dotted keys set on the scenario's file (``--set``,
    ``--blocks``, ``--contracts`` as ``venue.contracts``, a sweep's parameters). ``modules``: rule
    module kind -> contract (empty: stock); ``contracts``, ``contracts_sha256``: the user's contract
    directory and its hash (:func:`contracts_sha256`). ``commit``: ``None`` outside a git
    checkout. ``preset``: the venue preset (:mod:`protocol.venue.presets`) the scenario's markets
    started from, whether its file or ``--preset`` named it."""

    scenario_toml: Optional[str] = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    modules: Mapping[str, str] = field(default_factory=dict)
    contracts: Optional[str] = None
    contracts_sha256: Optional[str] = None
    perpsim_version: str = ""
    commit: Optional[str] = None
    variant: Optional[str] = None
    #: The venue preset the markets were configured from (``venue.preset``), if any.
    preset: Optional[str] = None

    @classmethod
    def of(cls, scenario: "Scenario", variant: Optional[str] = None) -> "Provenance":
        """The provenance of a run of ``scenario`` (its seed and backend already the run's)."""
        text = None
        if scenario.raw is not None:
            text = scenario_toml({**scenario.raw, "name": scenario.name, "seed": scenario.seed,
                                  "backend": scenario.backend})
        return cls(scenario_toml=text,
                   overrides=dict(scenario.overrides), modules=dict(scenario.venue.modules),
                   contracts=scenario.venue.contracts,
                   contracts_sha256=contracts_sha256(scenario.venue.contracts),
                   perpsim_version=perpsim_version(), commit=_package_commit(), variant=variant,
                   preset=scenario.venue.preset)

    def info(self) -> dict[str, Any]:
        """The ``run.json`` entries (``scenario_file``: the file the TOML is written to, or
        ``None``)."""
        return {"overrides": dict(self.overrides), "modules": dict(self.modules),
                "contracts": self.contracts, "contracts_sha256": self.contracts_sha256,
                "perpsim_version": self.perpsim_version, "commit": self.commit,
                "variant": self.variant, "preset": self.preset,
                "scenario_file": SCENARIO_FILE if self.scenario_toml is not None else None}

    @classmethod
    def from_info(cls, info: Mapping[str, Any], scenario_toml: Optional[str] = None) -> "Provenance":
        """Back from ``run.json`` entries (missing ones, from older runs, left empty)."""
        return cls(scenario_toml=scenario_toml, overrides=info.get("overrides") or {},
                   modules=info.get("modules") or {}, contracts=info.get("contracts"),
                   contracts_sha256=info.get("contracts_sha256"),
                   perpsim_version=info.get("perpsim_version") or "", commit=info.get("commit"),
                   variant=info.get("variant"), preset=info.get("preset"))
