"""Crash reproduction bundles from real broken rule modules: a margin rule that keeps no
maintenance margin (positions are liquidated only once their equity is gone) breaks the SPEC §12
liquidation invariant in a simulation and under the fuzzer; a rates rule that reverts past an
open-interest limit makes a keeper's scan raise. Each failure writes a bundle whose
``test_replay.py`` passes while the bug is there and fails once it is fixed.

Both modules sit in one directory with fixed names and text, so their compilation (minutes on a
cold cache, solc-js) is cached by content across tests and runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from protocol.cli import main as cli
from protocol.sim.crash import CrashPoint, run_scenario
from protocol.testing import InvariantViolation

ROOT = Path(__file__).resolve().parents[2]

BROKEN_MARGIN = """// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {StockMargin} from "contracts/modules/StockMargin.sol";

/// A broken margin rule: no maintenance margin, so nothing is liquidated before its equity is gone.
contract NoMaintenanceMargin is StockMargin {
    function requirements(uint256 market, uint256 notional, uint256 leverage, uint256 mmf)
        public view override returns (uint256 initialMargin, uint256 maintenanceMargin)
    {
        (initialMargin, ) = super.requirements(market, notional, leverage, mmf);
        maintenanceMargin = 0;
    }
}
"""

# For the fuzzer: a margin rule meant to be the stock one whose maintenance is 3/4 of the initial
# margin, so a position between the two maintenances, which most moves against it reach, is
# judged differently by the module and by its mirror.
HIGH_MARGIN = """// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {StockMargin} from "contracts/modules/StockMargin.sol";

contract ThreeQuarterMaintenance is StockMargin {
    function requirements(uint256 market, uint256 notional, uint256 leverage, uint256 mmf)
        public view override returns (uint256 initialMargin, uint256 maintenanceMargin)
    {
        (initialMargin, ) = super.requirements(market, notional, leverage, mmf);
        maintenanceMargin = initialMargin * 3 / 4;
    }
}
"""

LIMITED_RATES = """// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {RatesInput} from "contracts/interfaces/IRatesModule.sol";
import {StockRates} from "contracts/modules/StockRates.sol";

/// A broken rates rule: past 100 units of open interest it reverts instead of capping the rate,
/// so every view that accrues the market's indices reverts too.
contract OpenInterestLimitRates is StockRates {
    error OpenInterestAboveLimit(uint256 size);

    function rates(RatesInput calldata m) public view override returns (int256 fundingRate, uint256 borrowRate) {
        uint256 size = m.longSize + m.shortSize;
        if (size > 100e18) revert OpenInterestAboveLimit(size);
        return super.rates(m);
    }
}
"""

# Leveraged speculators through a 25% ETH crash over 30 blocks. The margin module is meant to be
# the stock rule (its mirror, which the invariants ask), and keeps no maintenance margin.
SCENARIO = """# A crash on a venue whose margin module keeps no maintenance margin.
seed = 3
blocks = 40
block_time = 60

[venue]
contracts = "contracts"
insurance = 100_000

[venue.modules]
margin = "NoMaintenanceMargin"

[venue.mirrors]
margin = "stock"

[markets.ETH]
initial_price = 3000
max_leverage = 50

[prices.ETH]
model = "gbm"
volatility = 0.5
shocks = [{ type = "crash", drop_pct = 0.25, start_block = 5, over_blocks = 30 }]

[[agents]]
type = "speculator"
count = 20

[[keepers]]
type = "liquidation"
name = "liquidator"
"""


def _broken_scenario(folder: Path) -> Path:
    (folder / "contracts").mkdir(parents=True)
    (folder / "contracts" / "NoMaintenanceMargin.sol").write_text(BROKEN_MARGIN)
    (folder / "contracts" / "OpenInterestLimitRates.sol").write_text(LIMITED_RATES)
    (folder / "contracts" / "ThreeQuarterMaintenance.sol").write_text(HIGH_MARGIN)
    path = folder / "broken.toml"
    path.write_text(SCENARIO)
    return path


def _pytest(test_file: Path, cwd: Path) -> subprocess.CompletedProcess:
    """Run a bundle's replay as a user would, in a fresh process outside the repository."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_an_invariant_broken_in_a_run_writes_a_bundle_that_replays_it(tmp_path):
    scenario = _broken_scenario(tmp_path / "user")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(scenario), "--check-invariants", "1", "--out", str(out),
                                      "--set", "blocks=30"])
    assert result.exit_code == 1, result.output
    bundle = out / "crash"
    lines = result.output.strip().splitlines()[-2:]
    assert lines[0] == f"crash bundle: {bundle} (replay: pytest {bundle / 'test_replay.py'})"
    assert lines[1].startswith("Error: block 8: InvariantViolation: invariant 'liquidation rule' broken:")
    assert "Traceback" not in result.output

    record = json.loads((bundle / "crash.json").read_text())
    assert (record["block"], record["seed"], record["backend"], record["variant"]) == (8, 3, "revm", None)
    assert record["overrides"] == {"blocks": 30} and record["check_invariants"] == 1
    assert record["error"]["type"] == "InvariantViolation"
    assert record["error"]["invariant"] == "liquidation rule"
    assert record["error"]["contract_error"] is None
    ran = tomllib.loads((bundle / "scenario.toml").read_text())
    assert ran["blocks"] == 30 and ran["seed"] == 3 and ran["backend"] == "revm"  # --set applied
    assert ran["venue"]["contracts"] == str(tmp_path / "user" / "contracts")  # runs from anywhere
    assert "InvariantViolation" in (bundle / "traceback.txt").read_text()

    # The replay passes while the module is broken ...
    replay = _pytest(bundle / "test_replay.py", tmp_path)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "1 passed" in replay.stdout
    # ... and fails once the margin rule is fixed (the stock rule restored).
    fixed = (bundle / "scenario.toml").read_text().replace('"NoMaintenanceMargin"', '"StockMargin"')
    (bundle / "scenario.toml").write_text(fixed)
    replay = _pytest(bundle / "test_replay.py", tmp_path)
    assert replay.returncode == 1
    assert "FailureFixed: block 8 finished without the recorded failure" in replay.stdout


def test_an_exception_escaping_a_run_writes_a_bundle_with_the_contracts_error(tmp_path):
    scenario = _broken_scenario(tmp_path / "user")
    result = CliRunner().invoke(cli, ["run", str(scenario), "--out", str(tmp_path / "out"),
                                      "--crash-dir", str(tmp_path / "bundle"),
                                      "--set", 'venue.modules={rates = "OpenInterestLimitRates"}',
                                      "--set", "agents.count=40"])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()[-2:]
    assert lines[0].startswith(f"crash bundle: {tmp_path / 'bundle'} (replay: pytest ")
    # Open interest passes 100 in block 19. The liquidation keeper's index reads positions
    # through Reader.watch, which reports a position whose health reverts as not liquidatable
    # (as Reader.health does), so the first call to fail is the metrics' equity sample of block 20.
    assert lines[1] == ("Error: block 20: "
                        "OpenInterestAboveLimit(size=109925093340000000000)")
    record = json.loads((tmp_path / "bundle" / "crash.json").read_text())
    assert record["error"]["contract_error"] == "OpenInterestAboveLimit"
    assert record["error"]["invariant"] is None and record["check_invariants"] == 0
    assert record["overrides"]["venue.modules"] == {"rates": "OpenInterestLimitRates"}
    assert "protocol/sim/metrics/equity.py" in (tmp_path / "bundle" / "traceback.txt").read_text()
    replay = _pytest(tmp_path / "bundle" / "test_replay.py", tmp_path)
    assert replay.returncode == 0, replay.stdout + replay.stderr


def test_the_python_api_marks_the_block_and_writes_the_bundle(tmp_path):
    scenario = _broken_scenario(tmp_path / "user")
    with pytest.raises(InvariantViolation) as failure:
        run_scenario(scenario, {"blocks": 12}, check_invariants=4, crash_dir=tmp_path / "crash")
    # Checked every 4 blocks: the break of block 8 is seen at the check of block 8.
    assert failure.value.perpsim_crash == CrashPoint(8)
    assert failure.value.crash_bundle == tmp_path / "crash"
    assert f"crash bundle: {tmp_path / 'crash'}" in failure.value.__notes__[0]
    assert json.loads((tmp_path / "crash" / "crash.json").read_text())["check_invariants"] == 4
    # Checked every 7 blocks, the first check after the break is block 14: past this run.
    result = run_scenario(scenario, {"blocks": 12}, check_invariants=7, crash_dir=tmp_path / "later")
    assert result.summary["blocks"] == 12 and not (tmp_path / "later").exists()


def test_a_study_records_the_variant_that_failed(tmp_path):
    scenario = _broken_scenario(tmp_path / "user")
    with pytest.raises(InvariantViolation) as failure:
        run_scenario(scenario, {"blocks": 12, "study_modes": ["cross", "isolated"]}, check_invariants=1,
                     crash_dir=tmp_path / "crash")
    point = failure.value.perpsim_crash
    assert point.variant in ("cross", "isolated") and point.block > 0
    record = json.loads((tmp_path / "crash" / "crash.json").read_text())
    assert (record["variant"], record["block"]) == (point.variant, point.block)
    replay = _pytest(tmp_path / "crash" / "test_replay.py", tmp_path)
    assert replay.returncode == 0, replay.stdout + replay.stderr


def test_a_fuzz_failure_with_a_broken_module_writes_a_replayable_bundle(tmp_path):
    pytest.importorskip("hypothesis")
    contracts = _broken_scenario(tmp_path / "user").parent / "contracts"
    bundle = tmp_path / "crash"
    result = CliRunner().invoke(cli, ["fuzz", "--steps", "2250", "--run-length", "15",  # 150 runs
                                      "--contracts", str(contracts), "--module",
                                      "margin=ThreeQuarterMaintenance", "--mirror", "margin=stock",
                                      "--crash-dir", str(bundle), "--db", str(tmp_path / "db"),
                                      "--seed", "0"])  # a seed whose campaign meets the break
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()[-2:]
    assert lines[0] == f"crash bundle: {bundle} (replay: pytest {bundle / 'test_replay.py'})"
    assert lines[1].startswith("Error: after ") and \
        " steps: InvariantViolation: invariant 'liquidation rule' broken: " in lines[1]
    record = json.loads((bundle / "crash.json").read_text())
    assert record["modules"] == {"margin": "ThreeQuarterMaintenance"}
    assert record["mirrors"] == {"margin": "stock"}
    assert record["contracts"] == str(contracts) and record["backend"] == "revm"
    assert record["seed"] == 0 and record["derandomized"] is False
    assert record["error"]["invariant"] == "liquidation rule"
    steps = record["steps"]
    assert f"after {len(steps)} steps" in lines[1]
    rules = [s for s in steps if not s.startswith("state.spec_invariants(")]
    assert any(s.startswith(("state.open(", "state.open_high_leverage(", "state.grow_into_a_tier(",
                             "state.open_at_the_minimum(", "state.oracle_outage(")) for s in rules), rules  # rules that open
    assert steps[-1] == "state.spec_invariants()"  # the check that failed ends the sequence
    text = (bundle / "test_replay.py").read_text()
    assert "\n".join(f"        {step}" for step in steps) in text  # hypothesis' steps, in order

    replay = _pytest(bundle / "test_replay.py", tmp_path)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    # The failure was saved: --replay runs it again first, and only it.
    again = CliRunner().invoke(cli, ["fuzz", "--replay", "--run-length", "15", "--contracts", str(contracts),
                                     "--module", "margin=ThreeQuarterMaintenance", "--mirror", "margin=stock",
                                     "--crash-dir", str(tmp_path / "again"), "--db", str(tmp_path / "db")])
    assert again.exit_code == 1, again.output
    assert again.output.strip().splitlines()[-1] == lines[1]  # the same shrunk failure
    other = CliRunner().invoke(cli, ["fuzz", "--replay", "--db", str(tmp_path / "db")])
    assert other.exit_code == 1
    assert other.output.strip().splitlines()[-1] == (
        f"Error: nothing to replay: {tmp_path / 'db'} holds no failure of this campaign's venue "
        "(backend, modules, contracts, mirrors)")
    # With the stock margin rule the same steps break nothing: the replay reports the fix.
    (bundle / "test_replay.py").write_text(text.replace("'ThreeQuarterMaintenance'", "'StockMargin'"))
    replay = _pytest(bundle / "test_replay.py", tmp_path)
    assert replay.returncode == 1 and "DID NOT RAISE" in replay.stdout


def test_fuzz_cli_refuses_a_bad_module_choice_in_one_line(tmp_path):
    pytest.importorskip("hypothesis")
    result = CliRunner().invoke(cli, ["fuzz", "--steps", "1", "--module", "margin"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == ["Error: --module margin: expected KIND=CONTRACT"]
    result = CliRunner().invoke(cli, ["fuzz", "--steps", "1", "--module", "margin=NoSuchContract"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: no contract 'NoSuchContract' in the project for the margin module"]
