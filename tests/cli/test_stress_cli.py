"""``perpsim stress``: the README's command, shortened (one trader per population), through every
crisis of the library with five seeds and the GMX v2 preset; the table it prints and writes, the
verdict, resuming, and its one-line errors."""

from __future__ import annotations

import csv
from decimal import Decimal

import pytest
from click.testing import CliRunner

from protocol.cli import main as cli
from protocol.sweep import LocalEngine
from protocol.sweep.stress import crisis_names, plan_stress, run_stress

SHORT = ["--set", "agents.count=1"]


@pytest.fixture(scope="module")
def stressed(tmp_path_factory):
    out = tmp_path_factory.mktemp("stress")
    args = ["stress", "default", "--preset", "gmx-v2", "--seeds", "5", "--crises", "all",
            "--workers", "2", "--backend", "revm", "--out", str(out), *SHORT]
    first = CliRunner().invoke(cli, args)
    again = CliRunner().invoke(cli, args)
    return out, first, again


def test_every_crisis_runs_five_seeds_with_the_preset(stressed):
    out, first, _ = stressed
    assert first.exit_code == 0, first.output
    names = crisis_names()
    assert len(names) >= 5
    with (out / "stress.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["crisis"] for r in rows] == names
    assert all((r["runs"], r["failed"]) == ("5", "0") for r in rows)
    assert f"{5 * len(names)} runs ok, 0 failed, 0 resumed" in first.output
    plan = plan_stress("default", names, [1, 2, 3, 4, 5], preset="gmx-v2",
                       overrides={"agents.count": 1}, backend="revm")
    result = run_stress(plan, LocalEngine(1), out)  # every run stored: nothing runs again
    assert result.skipped == len(plan.runs)
    for row, line in zip(result.rows, rows):
        assert Decimal(line["bad_debt_mean"]) == row.bad_debt_mean
        assert line["bound"] == row.bound and line["var95_bad_debt.note"] == row.var95_note
    assert result.verdict() in " ".join(first.output.split())
    assert (out / "stress.html").read_text(encoding="utf-8").count('<tr><td>') == len(names)


def test_the_same_command_resumes_every_run(stressed):
    _, _, again = stressed
    assert again.exit_code == 0, again.output
    total = 5 * len(crisis_names())
    assert f"{total} runs ok, 0 failed, {total} resumed" in again.output


@pytest.mark.parametrize("args, says", [
    (["--crises", "1999-01-01"], "Error: unknown crisis '1999-01-01'; the crises: crisis-"),
    (["--crises", "2025-10-10,"], "Error: --crises '2025-10-10,': an empty name"),
    (["--set", "agents.count=-1"], "Error: "),
])
def test_bad_input_ends_in_one_line(tmp_path, args, says):
    result = CliRunner().invoke(cli, ["stress", "default", "--out", str(tmp_path), *args])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(says), result.output


def test_an_unknown_preset_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(cli, ["stress", "default", "--preset", "dydx"])
    assert result.exit_code == 2 and "'dydx' is not one of" in result.output
