"""``perpsim attack``: the table, attack.csv and attack.html, resuming, and one-line errors.
Short: one seed, two budgets, one attack shape (a few seconds)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from protocol.cli import main as cli

ROOT = Path(__file__).resolve().parents[2]
ARGS = ["attack", "attack-mango", "--agent", "manipulator", "--budget", "1e6,5e6", "--seeds", "1",
        "--vary", "venue_leg=0.3", "--vary", "pump_blocks=1,5", "--vary", "exit=close",
        "--workers", "2"]


def test_attack_prints_the_best_attack_and_writes_its_page(tmp_path):
    out = tmp_path / "a"
    run = CliRunner().invoke(cli, [*ARGS, "--out", str(out)])
    assert run.exit_code == 0, run.output
    assert "best attack: budget $5,000,000" in run.output
    assert "Stopped a larger attack: nothing" in run.output
    assert "4 runs ok, 0 failed, 0 resumed" in run.output
    with (out / "attack.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 and {r["pump_blocks"] for r in rows} == {"1", "5"}
    page = (out / "attack.html").read_text()
    for element in ('id="verdict"', 'id="best"', 'id="plot-timeline"', 'id="actions"'):
        assert element in page
    again = CliRunner().invoke(cli, [*ARGS, "--out", str(out)])
    assert again.exit_code == 0 and "4 resumed" in again.output


def test_a_defence_is_named_in_the_table(tmp_path):
    run = CliRunner().invoke(cli, [*ARGS, "--set", "markets.MNGO.max_long_oi_usd=1000000",
                                   "--out", str(tmp_path / "oi")])
    assert run.exit_code == 0, run.output
    assert "Stopped a larger attack: OI cap" in run.output


def _perpsim(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", "from protocol.cli import main; main()", *args],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_errors_are_one_line(tmp_path):
    for args, expected in (
            (["cascade", "--budget", "1e6"], "cascade has no manipulator agent"),
            (["attack-mango", "--budget", "1e6,lots"], "'lots' is not a number of USD"),
            (["attack-mango", "--agent", "noise", "--budget", "1e6"], "not an attacker")):
        done = _perpsim("attack", *args, "--out", str(tmp_path / "e"), cwd=tmp_path)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 1 and "Traceback" not in done.stderr + done.stdout
        assert len(lines) == 1 and lines[0].startswith("Error: ") and expected in lines[0]
