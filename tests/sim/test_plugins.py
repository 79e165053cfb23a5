"""Plug-ins (``protocol.plugins``): the example package's agent, keeper, price model and metric,
named in a scenario by "module:attribute" and by entry-point name, run on the real contracts;
and the loader's errors for plug-ins that do not resolve or get bad parameters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from protocol.plugins import GROUPS
from protocol.sim.engine import Simulation
from protocol.sim.loader import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "plugins"
PACKAGE = "perpsim_example_bots"


@pytest.fixture
def example_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    yield
    for name in [n for n in sys.modules if n.split(".")[0] == PACKAGE]:
        monkeypatch.delitem(sys.modules, name)


def _sniper_liquidated_everyone(summary: dict, rows: list, sniper: str) -> None:
    assert summary["liquidations"] == 3  # the three all-in longs, after the cliff
    assert summary["keepers"]["sniper"]["wins"] >= 1
    assert summary["metrics"]["tally"] == {"liquidations": 3, "by_keeper": {sniper: 3}}
    counts = [int(r["tally.count"]) for r in rows]
    assert sum(counts) == 3 and all(c == 0 for c in counts[:5])  # nothing before the cliff
    assert [int(r["tally.total"]) for r in rows][-1] == 3


def test_the_example_runs_by_module_attribute(example_on_path, backend):
    scenario = load_scenario(EXAMPLE / "scenario.toml", {"backend": backend})
    assert [k.type for k in scenario.keepers] == [f"{PACKAGE}.keepers:SniperKeeper"]
    assert scenario.keepers[0].params.premium_gwei == 3
    result = Simulation(scenario).run()
    events = [e for e in result.events if e["event"] == "PositionLiquidated"]
    sniper = events[0]["args"]["keeper"]
    assert {e["args"]["keeper"] for e in events} == {sniper}  # no other keeper runs
    _sniper_liquidated_everyone(result.summary, result.rows, sniper)
    prices = result.column("exogenous.ETH")  # the cliff: 3000 until block 5, 4.5% lower after
    assert set(prices[:5]) == {3000} and set(prices[5:]) == {Decimal("2865.00000000")}


def _install(target: Path) -> Path:
    """The example installed as pip would: its package and a dist-info whose entry_points.txt
    is the groups its pyproject.toml declares (found by importlib.metadata for real)."""
    target.mkdir()
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    (target / PACKAGE).symlink_to(EXAMPLE / PACKAGE, target_is_directory=True)
    dist = target / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\n"
                                   f"Version: {project['version']}\n")
    groups = project["entry-points"]
    assert set(groups) == set(GROUPS.values())
    (dist / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{name} = {ref}\n" for name, ref in refs.items()) + "\n"
        for group, refs in groups.items()))
    return target


def test_the_example_runs_by_entry_point_name(tmp_path, backend):
    site = _install(tmp_path / "site")
    scenario = EXAMPLE / "scenario-entry-points.toml"
    assert f"{PACKAGE}." not in scenario.read_text()  # names only
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-c", "from protocol.cli import main; main()", "run",
                          str(scenario), "--backend", backend, "--out", str(out)],
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr + run.stdout
    summary = json.loads((out / "summary.json").read_text())
    header, *lines = (out / "timeseries.csv").read_text().splitlines()
    rows = [dict(zip(header.split(","), line.split(","))) for line in lines]
    sniper = next(iter(summary["metrics"]["tally"]["by_keeper"]))
    _sniper_liquidated_everyone(summary, rows, sniper)
    assert list(summary["cohorts"]) == ["all-in-long"]  # the entry point's name


BASE = """\
blocks = 10

[markets.ETH]
initial_price = 3000

[prices.ETH]
model = "perpsim_example_bots.prices:Cliff"

[[agents]]
type = "perpsim_example_bots.agents:AllInLong"
count = 1

[[keepers]]
type = "perpsim_example_bots.keepers:SniperKeeper"

[[metrics]]
type = "perpsim_example_bots.metrics:LiquidationTally"
"""


def _error(tmp_path: Path, text: str) -> ScenarioError:
    path = tmp_path / "s.toml"
    path.write_text(textwrap.dedent(text))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return info.value


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_plugin_defaults_load(example_on_path, tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(BASE)
    scenario = load_scenario(path)
    assert scenario.metrics[0].name == "LiquidationTally" and scenario.keepers[0].name == "SniperKeeper"
    assert scenario.agents[0].cohort == "AllInLong"


@pytest.mark.parametrize("old, new, key, needle, says", [
    ('"perpsim_example_bots.keepers:SniperKeeper"', '"nosuchpkg.bots:Sniper"', "keepers[0].type",
     "nosuchpkg", "cannot import module 'nosuchpkg.bots' of 'nosuchpkg.bots:Sniper': "
     "ModuleNotFoundError: No module named 'nosuchpkg'"),
    ('"perpsim_example_bots.keepers:SniperKeeper"', '"perpsim_example_bots.keepers:Nope"',
     "keepers[0].type", "Nope", "has no attribute 'Nope'"),
    ('"perpsim_example_bots.keepers:SniperKeeper"', '"sniperr"', "keepers[0].type", "sniperr",
     "not an entry point of perpsim.keepers"),
    ('"perpsim_example_bots.metrics:LiquidationTally"', '"perpsim_example_bots.agents:AllInParams"',
     "metrics[0].type", "AllInParams", "not a subclass of protocol.plugins.Metric"),
    ('model = "perpsim_example_bots.prices:Cliff"', 'model = "cliffs"', "prices.ETH.model",
     "cliffs", "not one of the built-ins (gbm,"),
    ("count = 1", "count = 1\nlevrage = 3", "agents[0].levrage", "levrage",
     "unknown key; valid keys: type, count, label, capital, leverage, market"),
    ("count = 1", "count = 1\nleverage = 2.5", "agents[0].leverage", "leverage",
     "expected integer, got float 2.5"),
    ('SniperKeeper"', 'SniperKeeper"\nmax_targets = 0', "keepers[0].max_targets", "max_targets",
     "must be at least 1, got 0"),
    ('Cliff"', 'Cliff"\ndrop = 1.5', "prices.ETH.drop", "drop", "must be in (0, 1), got 1.5"),
    ('LiquidationTally"', 'LiquidationTally"\ncount_accounts = "yes"',
     "metrics[0].count_accounts", "count_accounts", "expected boolean, got string 'yes'"),
])
def test_plugin_errors_point_at_the_key(example_on_path, tmp_path, old, new, key, needle, says):
    text = BASE.replace(old, new)
    assert text != BASE
    err = _error(tmp_path, text)
    assert (err.key, err.line) == (key, _line(text, needle)), str(err)
    assert says in err.message, str(err)


def test_plugin_metric_names_are_unique(example_on_path, tmp_path):
    text = BASE + '\n[[metrics]]\ntype = "perpsim_example_bots.metrics:LiquidationTally"\nname = "LiquidationTally"\n'
    err = _error(tmp_path, text)
    assert err.key == "metrics[1].name" and "duplicate metric name" in err.message
