"""Runs record what they ran (issue 25, defect 3): ``run.json`` names the overrides, the module
choices with the sha256 of the user's contracts, the perpsim version and commit, the backend and
the seed; ``scenario.toml`` is the scenario as run, and running it again gives the same numbers;
the report header names the overrides and the modules."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tomllib
from dataclasses import replace
from decimal import Decimal
from html import unescape
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, reject, settings
from hypothesis import strategies as st

from protocol.cli import main as cli
from protocol.sim.loader import ScenarioError, builtin_scenarios

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "custom_module"
SETTINGS = ("agents.count=2", "markets.ETH.taker_fee_bps=7")


def _sha256_of_sol_files(directory: Path) -> str:
    """The documented digest, computed independently: for each .sol file in sorted relative-path
    order, its path (UTF-8, '/'-separated), a NUL, its size as 8 big-endian bytes, its bytes."""
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*.sol"), key=lambda p: p.relative_to(directory).as_posix()):
        data = path.read_bytes()
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0"
                      + len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def _head() -> str | None:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A CLI run with --set overrides, --contracts and a user's rates module, on 3 blocks."""
    out = tmp_path_factory.mktemp("recorded") / "run"
    args = ["run", "default", "--blocks", "3", "--seed", "7", "--backend", "revm",
            "--contracts", str(EXAMPLE), "--set", "venue.modules.rates=DeadBandRates",
            "--out", str(out)]
    for item in SETTINGS:
        args += ["--set", item]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return out


def test_run_json_records_overrides_modules_version_commit_backend_and_seed(recorded):
    info = json.loads((recorded / "run.json").read_text())
    assert info["overrides"] == {"agents.count": 2, "markets.ETH.taker_fee_bps": 7,
                                 "venue.modules.rates": "DeadBandRates", "blocks": 3,
                                 "venue.contracts": str(EXAMPLE.resolve())}
    assert info["modules"] == {"rates": "DeadBandRates"}
    assert info["contracts"] == str(EXAMPLE.resolve())
    assert info["contracts_sha256"] == _sha256_of_sol_files(EXAMPLE)
    assert info["perpsim_version"] == "0.1.0"
    assert info["commit"] == _head() and re.fullmatch(r"[0-9a-f]{40}", info["commit"])
    assert (info["seed"], info["backend"]) == (7, "revm")
    assert info["scenario_file"] == "scenario.toml"


def test_scenario_toml_is_the_scenario_as_run(recorded):
    raw = tomllib.loads((recorded / "scenario.toml").read_text())
    assert (raw["name"], raw["seed"], raw["backend"], raw["blocks"]) == ("default", 7, "revm", 3)
    assert raw["markets"]["ETH"]["taker_fee_bps"] == 7
    assert [a["count"] for a in raw["agents"]] == [2] * len(raw["agents"])
    assert raw["venue"]["modules"] == {"rates": "DeadBandRates"}
    assert raw["venue"]["contracts"] == str(EXAMPLE.resolve())


def test_running_the_recorded_scenario_again_gives_the_same_numbers(recorded, tmp_path):
    again = tmp_path / "again"
    result = CliRunner().invoke(cli, ["run", str(recorded / "scenario.toml"), "--out", str(again)])
    assert result.exit_code == 0, result.output
    first = (recorded / "summary.json").read_text()
    assert json.loads(first)["transactions"] > 0
    assert (again / "summary.json").read_text() == first
    assert (again / "timeseries.csv").read_text() == (recorded / "timeseries.csv").read_text()
    info = json.loads((again / "run.json").read_text())
    assert info["overrides"] == {}
    assert (info["modules"], info["contracts_sha256"]) == ({"rates": "DeadBandRates"},
                                                           _sha256_of_sol_files(EXAMPLE))
    assert (again / "scenario.toml").read_text() == (recorded / "scenario.toml").read_text()


def test_the_report_header_names_the_overrides_and_modules(recorded):
    html = (recorded / "report.html").read_text()
    header = re.search(r'<p class="meta" id="changes">(.*?)</p>', html, re.S)
    assert header, "no overrides line under the report's title"
    text = unescape(header.group(1))
    for item in ("agents.count = 2", "markets.ETH.taker_fee_bps = 7", "blocks = 3",
                 "venue.modules.rates = DeadBandRates"):
        assert item in text
    assert f"rates: DeadBandRates (contracts sha256 {_sha256_of_sol_files(EXAMPLE)[:12]})" in text
    assert html.index('id="changes"') < html.index('id="kpis"')  # in the header, not below


def test_perpsim_report_rebuilds_the_header_from_run_json(recorded, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(recorded, copy)
    (copy / "report.html").unlink()
    result = CliRunner().invoke(cli, ["report", str(copy)])
    assert result.exit_code == 0, result.output
    line = re.compile(r'<p class="meta" id="changes">.*?</p>', re.S)
    assert line.findall((copy / "report.html").read_text()) == \
        line.findall((recorded / "report.html").read_text())


def test_a_stock_run_without_overrides_says_so(tmp_path):
    from protocol.report import write_run
    from protocol.sim.engine import Simulation
    from protocol.sim.loader import load_scenario

    result = Simulation(load_scenario("default", {"agents.count": 1, "blocks": 2})).run()
    html = write_run(result, tmp_path).read_text()
    text = unescape(re.search(r'<p class="meta" id="changes">(.*?)</p>', html, re.S).group(1))
    assert text == "overrides: agents.count = 1, blocks = 2"  # stock modules go unsaid
    info = json.loads((tmp_path / "run.json").read_text())
    assert (info["modules"], info["contracts"], info["contracts_sha256"]) == ({}, None, None)


def test_the_contracts_hash_covers_paths_and_bytes_of_sol_files_only(tmp_path):
    from protocol.sim.provenance import contracts_sha256

    src = tmp_path / "c"
    shutil.copytree(EXAMPLE, src)
    (src / "sub").mkdir()
    (src / "sub" / "Lib.sol").write_text("// lib\n")
    first = contracts_sha256(src)
    assert first == _sha256_of_sol_files(src) and re.fullmatch(r"[0-9a-f]{64}", first)
    (src / "notes.txt").write_text("not a contract")
    assert contracts_sha256(src) == first
    (src / "sub" / "Lib.sol").write_text("// lib \n")
    assert contracts_sha256(src) != first
    (src / "sub" / "Lib.sol").write_text("// lib\n")
    (src / "sub" / "Lib.sol").rename(src / "Lib.sol")
    assert contracts_sha256(src) not in (first, None)


def test_the_commit_is_none_outside_a_git_checkout(tmp_path, monkeypatch):
    from protocol.sim import provenance

    assert provenance.git_commit(tmp_path) is None
    assert provenance.git_commit(ROOT) == _head()
    monkeypatch.setenv("PATH", str(tmp_path))  # no git at all
    assert provenance.git_commit(ROOT) is None


def test_each_run_of_a_sweep_records_what_it_ran(tmp_path):
    from protocol.sim.engine import Simulation
    from protocol.sim.loader import load_scenario
    from protocol.sweep import Axis, LocalEngine, run_sweep
    from protocol.sweep.run import run_metrics

    result = run_sweep("default", [Axis("keepers.latency", (2,))], [3], LocalEngine(1),
                       tmp_path / "sweep", fixed={"blocks": 3, "agents.count": 1})
    (record,) = result.records
    p = record.provenance
    assert p["overrides"] == {"blocks": 3, "agents.count": 1, "keepers.latency": 2}
    assert (p["backend"], p["modules"], p["commit"], p["perpsim_version"]) == (
        "revm", {}, _head(), "0.1.0")
    stored = json.loads((tmp_path / "sweep" / "runs.jsonl").read_text().splitlines()[0])
    assert stored["provenance"] == p
    scenario = tmp_path / "again.toml"
    scenario.write_text(p["scenario_toml"])
    raw = tomllib.loads(p["scenario_toml"])
    assert (raw["seed"], raw["blocks"], [k["latency"] for k in raw["keepers"]]) == (3, 3, [2, 2, 2])
    assert run_metrics(Simulation(load_scenario(scenario)).run()) == record.metrics


def test_a_study_records_its_scenario_and_each_runs_variant(tmp_path):
    out, again = tmp_path / "study", tmp_path / "again"
    runner = CliRunner()
    first = runner.invoke(cli, ["run", "isolated-vs-cross", "--blocks", "3", "--seed", "5",
                                "--set", "agents.count=1", "--set", "prices.ETH.shocks.at_block=2",
                                "--set", "prices.BTC.shocks.start_block=1", "--out", str(out)])
    assert first.exit_code == 0, first.output
    for mode in ("isolated", "cross"):
        info = json.loads((out / mode / "run.json").read_text())
        assert (info["variant"], info["mode"], info["seed"]) == (mode, mode, 5)
        assert info["overrides"] == {"agents.count": 1, "prices.ETH.shocks.at_block": 2,
                                     "prices.BTC.shocks.start_block": 1, "blocks": 3}
        assert (out / mode / "scenario.toml").read_text() == (out / "scenario.toml").read_text()
    assert ("overrides: agents.count = 1, blocks = 3, prices.BTC.shocks.start_block = 1, "
            "prices.ETH.shocks.at_block = 2") in unescape((out / "study.html").read_text())
    second = runner.invoke(cli, ["run", str(out / "scenario.toml"), "--out", str(again)])
    assert second.exit_code == 0, second.output
    assert (again / "comparison.csv").read_text() == (out / "comparison.csv").read_text()
    assert (again / "cross" / "summary.json").read_text() == (out / "cross" / "summary.json").read_text()


def test_a_value_without_a_toml_form_leaves_out_the_scenario_file_not_the_run():
    from protocol.sim.provenance import scenario_toml

    assert scenario_toml({"name": "x", "mode": None, "seed": (1, 2)}) == 'name = "x"\nseed = [\n    1,\n    2,\n]\n'
    assert scenario_toml({"name": object()}) is None


def test_with_keeps_the_scenario_table_true_or_drops_it():
    from protocol.sim.loader import load_scenario

    sc = load_scenario("cascade", {"agents.count": 1})
    assert sc.raw["name"] == "cascade" and sc.overrides == {"agents.count": 1}
    changed = sc.with_(blocks=5, seed=9, feedback=False, study=None)
    assert (changed.raw["blocks"], changed.raw["seed"], changed.raw["liquidity"]["feedback"]) == (5, 9, False)
    assert "study" not in changed.raw and sc.raw["study"] == "feedback"  # the original untouched
    assert sc.with_(venue=replace(sc.venue, insurance=Decimal(1))).raw is None  # not a top-level key
    assert sc.with_(seed=sc.seed).raw == sc.raw


def _same_scenario(path_or_name, overrides=None):
    """The scenario, and the one its written table loads as (``source`` aside)."""
    from protocol.sim.loader import load_scenario, parse_scenario
    from protocol.sim.provenance import scenario_toml

    sc = load_scenario(path_or_name, overrides)
    again = parse_scenario(scenario_toml(sc.raw), file=str(sc.source))
    return sc, again


@pytest.mark.parametrize("name", sorted(builtin_scenarios()))
def test_every_built_in_scenario_loads_back_from_its_table_unchanged(name):
    sc, again = _same_scenario(name)
    assert again == sc


@settings(max_examples=25, deadline=None)
@given(st.fixed_dictionaries({}, optional={
    "seed": st.integers(0, 2**32), "blocks": st.integers(1, 5000),
    "agents.count": st.integers(0, 50), "keepers.latency": st.integers(0, 10),
    "markets.ETH.taker_fee_bps": st.integers(0, 100), "venue.insurance": st.integers(0, 10**9),
    "prices.correlated.volatilities": st.lists(st.floats(0, 3), min_size=2, max_size=2),
    "mode": st.sampled_from(["isolated", "cross"]), "liquidity.feedback": st.booleans()}))
def test_any_overrides_load_back_from_the_written_table(overrides):
    try:
        sc, again = _same_scenario("default", overrides)
    except ScenarioError:  # out of a bound: not a scenario (the loader's tests cover these)
        reject()
    assert again == sc and sc.overrides == overrides
