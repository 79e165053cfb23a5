"""Every ``perpsim`` error is one line (``Error: ...``) and a non-zero exit; ``perpsim --debug``
shows the traceback instead. Runs the real command line in a subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "protocol" / "sim" / "scenarios" / "default.toml"

#: The six market settings of issue 16 that used to end in a 32-line traceback from the contract.
ISSUE_SETTINGS = (("liquidation_fee_bps", "600", "[0, 500] bps"),
                  ("taker_fee_bps", "150", "[0, 100] bps"),
                  ("funding_rate_per_hour", "0.5", "[0, 0.036] per hour"),
                  ("borrow_rate_per_year", "100", "[0, 3.1536] per year"),
                  ("liquidation_cooldown", "100000", "[0, 86400] s"),
                  ("min_collateral_usd", "0", "above 0 USD"))


def perpsim(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", "from protocol.cli import main; main()", *args],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


def assert_one_line(result: subprocess.CompletedProcess) -> str:
    """The error line; fails on a zero exit, a traceback or more than one line on stderr."""
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize("key,value,bound", ISSUE_SETTINGS, ids=[s[0] for s in ISSUE_SETTINGS])
def test_each_out_of_bounds_setting_is_one_line(tmp_path, key, value, bound):
    line = assert_one_line(perpsim("run", "default", "--blocks", "2",
                                   "--set", f"markets.ETH.{key}={value}", cwd=tmp_path))
    assert f"markets.ETH.{key}: must be " in line and bound in line and f"got {value}" in line
    assert "ParamOutOfBounds" in line


def test_a_bad_scenario_file_is_one_line_and_debug_shows_the_traceback(tmp_path):
    text, found = re.subn(r"(?m)^liquidation_fee_bps = \d+$", "liquidation_fee_bps = 600",
                          DEFAULT.read_text(), count=1)  # the first market: ETH
    assert found == 1
    line_number = text.splitlines().index("liquidation_fee_bps = 600") + 1
    scenario = tmp_path / "bad.toml"
    scenario.write_text(text)
    line = assert_one_line(perpsim("run", str(scenario), "--blocks", "2", cwd=tmp_path))
    assert f"{scenario}:{line_number}: markets.ETH.liquidation_fee_bps: " in line
    assert "[0, 500] bps, got 600" in line

    debug = perpsim("--debug", "run", str(scenario), "--blocks", "2", cwd=tmp_path)
    assert debug.returncode == 1
    assert debug.stderr.startswith("Traceback") and "liquidation_fee_bps" in debug.stderr.splitlines()[-1]


def test_a_contract_revert_is_one_line_and_debug_shows_the_traceback(tmp_path):
    # 1e40 USD of pool liquidity passes the scenario check, but the pool's assets are int128
    # on chain: the deposit reverts with OpenZeppelin's SafeCast error.
    args = ("run", "default", "--blocks", "2", "--set", "venue.pool_liquidity=1e40")
    result = perpsim(*args, cwd=tmp_path)
    line = assert_one_line(result)
    assert line.startswith("Error: block 0: SafeCastOverflowedIntDowncast(bits=128, value=")
    # the run failed while launching: its crash bundle is written and named on stdout
    assert f"crash bundle: {Path('out/default/crash')}" in result.stdout
    assert (tmp_path / "out/default/crash/test_replay.py").is_file()

    debug = perpsim("--debug", *args, cwd=tmp_path)
    assert debug.returncode == 1 and "Traceback" in debug.stderr
    assert debug.stderr.strip().splitlines()[-1].startswith(
        "protocol.errors.SafeCastOverflowedIntDowncast: ")


def test_missing_files_are_one_line(tmp_path):
    missing = tmp_path / "missing.toml"
    line = assert_one_line(perpsim("run", str(missing), cwd=tmp_path))
    assert str(missing) in line and "No such file or directory" in line
    line = assert_one_line(perpsim("sweep", str(missing), "--seeds", "1", cwd=tmp_path))
    assert str(missing) in line


def test_an_unexpected_exception_is_one_line_naming_its_type(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    line = assert_one_line(perpsim("run", "default", "--blocks", "2", "--out",
                                   str(blocker / "out"), cwd=tmp_path))
    assert line.startswith("Error: NotADirectoryError: ") and str(blocker / "out") in line


def test_usage_errors_keep_clicks_form(tmp_path):
    result = perpsim("run", "default", "--blocks", "0", cwd=tmp_path)
    assert result.returncode == 2
    assert "Usage: " in result.stderr and "Traceback" not in result.stderr
