"""Crash bundles of simulations: when a run fails (an exception escapes, or a SPEC §12
invariant breaks under ``check_invariants``), the scenario as it ran, the seed, the backend, the
block and the error, and a ``test_replay.py`` that runs the scenario again to that block and
asserts the same failure (see :mod:`protocol.testing.crash` for the convention)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Mapping, Optional, Protocol, Union, cast

import tomli_w

from protocol.errors import PerpsimError
from protocol.sim.engine import Progress, Simulation, run_study, study_variants
from protocol.sim.loader import apply_overrides, load_scenario
from protocol.sim.result import CrashPoint, RunResult, StudyResult
from protocol.sim.scenario import Scenario
from protocol.testing.crash import REPLAY_FILE, Failure, write_bundle

SCENARIO_FILE = "scenario.toml"


class FailureFixed(PerpsimError, AssertionError):
    """A replay ran past the recorded block without the recorded failure."""


class CarriesBundle(Protocol):
    """A failure :func:`run_scenario` wrote a crash bundle of: the bundle's folder with it."""

    crash_bundle: Path


def scenario_toml(scenario: "Scenario", overrides: Optional[Mapping[str, Any]] = None, *,
                  backend: Optional[str] = None, seed: Optional[int] = None) -> str:
    """The TOML of what ran: the scenario's file with ``overrides`` applied, its relative paths
    made absolute (so the text runs from anywhere), and the run's seed and backend."""

    if scenario.source is None or not Path(scenario.source).is_file():
        raise ValueError(f"scenario {scenario.name!r} was not loaded from a TOML file: "
                         "nothing to write into a crash bundle")
    source = Path(scenario.source)
    raw = apply_overrides(tomllib.loads(source.read_text(encoding="utf-8")), overrides)
    raw.setdefault("name", scenario.name)
    raw["seed"] = scenario.seed if seed is None else seed
    raw["backend"] = backend or scenario.backend
    venue = raw.get("venue")
    if isinstance(venue, dict) and isinstance(venue.get("contracts"), str):
        venue["contracts"] = str((source.parent / venue["contracts"]).resolve())
    for table in (raw.get("prices") or {}).values():
        if isinstance(table, dict) and isinstance(table.get("file"), str):
            table["file"] = str((source.parent / table["file"]).resolve())
    return tomli_w.dumps(raw)


def write_crash_bundle(directory: Union[str, Path], scenario: "Scenario", exc: BaseException, *,
                       overrides: Optional[Mapping[str, Any]] = None, backend: Optional[str] = None,
                       seed: Optional[int] = None, check_invariants: int = 0) -> Path:
    """Write the bundle of ``exc``, which escaped a run of ``scenario`` (as loaded, before the
    run's ``backend`` and ``seed``), into ``directory``; return it."""
    point = getattr(exc, "perpsim_crash", None) or CrashPoint(0)
    text = scenario_toml(scenario, overrides, backend=backend, seed=seed)
    raw = tomllib.loads(text)
    record = {"kind": "simulation", "scenario": scenario.name,
              "source": str(Path(cast(str, scenario.source)).resolve()),  # a loaded scenario's file
              "overrides": dict(overrides or {}), "seed": raw["seed"], "backend": raw["backend"],
              "variant": point.variant, "block": point.block, "check_invariants": check_invariants}
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / SCENARIO_FILE).write_text(text, encoding="utf-8")
    replay = _replay_test(Failure.of(exc), point, raw, check_invariants)
    return write_bundle(directory, exc, record, replay)


def _replay_test(failure: Failure, point: CrashPoint, raw: dict[str, Any], check_invariants: int) -> str:
    import_line, catch = failure.catchable()
    where = f"block {point.block}" + (f" of the {point.variant!r} run" if point.variant else "")
    asserts = "\n".join(f"    {line}" for line in failure.assertions("failure.value"))
    return f'''"""Replays a perpsim crash: {SCENARIO_FILE} (seed {raw["seed"]}, {raw["backend"]}) failed in {where}
with {failure.one_line()[:200]}

This test PASSES while the failure still happens (same exception, message, invariant and block)
and FAILS once it is fixed. Run it with: pytest {REPLAY_FILE}
"""

from pathlib import Path

import pytest
{import_line}
from protocol.sim.crash import replay

BUNDLE = Path(__file__).resolve().parent


def test_replay_fails_the_same_way():
    with pytest.raises({catch}) as failure:
        replay(BUNDLE / {SCENARIO_FILE!r}, block={point.block}, variant={point.variant!r},
               check_invariants={check_invariants})
{asserts}
    assert failure.value.perpsim_crash.block == {point.block}
'''


def replay(scenario_file: Union[str, Path], *, block: int, variant: Optional[str] = None,
           check_invariants: int = 0) -> None:
    """Run a bundled scenario (one ``variant`` of its study) up to ``block``: the recorded
    failure propagates; a run that gets past ``block`` without it raises :class:`FailureFixed`."""
    scenario = load_scenario(Path(scenario_file))
    if variant is not None:
        scenario = study_variants(scenario)[0][variant]

    def stop_past(done: int, total: int) -> None:
        if done >= block:
            raise FailureFixed(f"block {done} finished without the recorded failure")

    Simulation(scenario, check_invariants=check_invariants).run(stop_past)
    raise FailureFixed("the run finished without the recorded failure")


def run_scenario(scenario: Union[str, Path], overrides: Optional[Mapping[str, Any]] = None, *,
                 backend: Optional[str] = None, seed: Optional[int] = None,
                 check_invariants: int = 0, crash_dir: Union[str, Path, None] = None,
                 progress: Optional["Progress"] = None) -> Union["RunResult", "StudyResult"]:
    """Load a scenario (a built-in name or a TOML file, with dotted-key ``overrides``) and run
    it, as a study if it asks for one. On a failure, with ``crash_dir``, write a crash bundle
    there and re-raise the failure with ``.crash_bundle`` set to the folder."""
    sc = load_scenario(scenario, overrides)
    try:
        if sc.study or sc.study_modes:
            return run_study(sc, backend=backend, seed=seed, progress=progress,
                             check_invariants=check_invariants)
        return Simulation(sc, backend=backend, seed=seed,
                          check_invariants=check_invariants).run(progress)
    except Exception as exc:
        if crash_dir is None:
            raise
        bundle = write_crash_bundle(crash_dir, sc, exc, overrides=overrides, backend=backend,
                                    seed=seed, check_invariants=check_invariants)
        cast(CarriesBundle, exc).crash_bundle = bundle
        exc.add_note(f"crash bundle: {bundle} (pytest {bundle / REPLAY_FILE})")
        raise
