"""protocol.sweep.report: sweep.html from a synthetic SweepResult (no simulation runs)."""

from __future__ import annotations

import base64
import re
from decimal import Decimal

import pytest

from protocol.sweep.aggregate import aggregate
from protocol.sweep.grid import Axis, points
from protocol.sweep.report import money, percent, write_sweep_report
from protocol.sweep.run import RunRecord
from protocol.sweep.sweep import SweepResult

SEEDS = range(5)
PNG = re.compile(r'<figure id="chart-([a-z0-9]+)"><img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
TRACEBACK = ('Traceback (most recent call last):\n  File "engine.py", line 1, in run\n'
             "ValueError: pool <empty> & drained\nsecond line of the message")


def metrics(i: int, seed: int) -> dict:
    return {
        "bad_debt": str(Decimal("125.5") * i * seed),
        "liquidated_notional": str(Decimal(10_000 * (i + 1) + 1_000 * seed)),
        "liquidations": seed,
        "insurance_max_drawdown": str(Decimal("40.25") * (seed + i)),
        "lp_return": str(Decimal("0.012") - Decimal("0.004") * seed + Decimal("0.001") * i),
        "keeper_profit": {"fast": str(Decimal("3.5") * seed), "slow": str(Decimal(i))},
        "wiped_out_share": str(Decimal("0.05") * (seed % 3)),
        "transactions": 100 + seed,
    }


def make_result(axes: list[Axis], fail: bool = True) -> SweepResult:
    grid = points(axes)
    records = []
    for i, params in enumerate(grid):
        for seed in SEEDS:
            key = f"k{i}s{seed}"
            if fail and i == len(grid) - 1 and seed == 3:
                records.append(RunRecord(key, dict(params), seed, "error",
                                         error="ValueError: pool <empty> & drained\nsecond line",
                                         traceback=TRACEBACK, seconds=0.5))
            else:
                records.append(RunRecord(key, dict(params), seed, "ok", metrics(i, seed),
                                         seconds=1.25))
    failed = [r for r in records if r.status != "ok"]
    return SweepResult(axes, grid, records, aggregate(grid, records), skipped=3, failed=failed,
                       wall_seconds=12.345)


AXES2 = [Axis("markets.ETH.max_leverage", (10, 50)), Axis("keepers.latency", (0, 2))]


def test_sweep_report_two_axes(tmp_path):
    result = make_result(AXES2)
    path = write_sweep_report(result, tmp_path / "sweep", scenario="eth_crash")
    assert path == tmp_path / "sweep" / "sweep.html"
    html = path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert "perpsim sweep: eth_crash" in html
    # header
    assert "markets.ETH.max_leverage = 10, 50" in html and "keepers.latency = 0, 2" in html
    assert "5 (seeds 0–4)" in html and "12.3 s" in html
    # aggregates table: one row per grid point
    table = re.search(r'<table id="aggregates">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    rows = re.findall(r"<tr>(.*?)</tr>", table)
    assert len(rows) == 4
    assert "keeper profit mean: fast (USD)" in html and "keeper profit mean: slow (USD)" in html
    last = re.findall(r"<td[^>]*>(.*?)</td>", rows[-1])
    assert last[:4] == ["50", "2", "4", "1"]  # params, runs, failed
    # var95 of bad debt at point 3 over seeds 0,1,2,4 -> 125.5*3*4
    assert last[4] == "1,506.00"
    assert any(c.endswith("%") for c in last)
    # charts: heatmap + distributions, real PNGs
    charts = dict(PNG.findall(html))
    assert set(charts) == {"var95", "distributions"}
    for data in charts.values():
        assert base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n")
    # failed section: key, first line of the error (escaped), traceback collapsed
    failed = re.search(r'<table id="failed">(.*?)</table>', html, re.S).group(1)
    assert "k3s3" in failed
    assert "ValueError: pool &lt;empty&gt; &amp; drained" in failed
    assert "second line</td>" not in failed
    assert "<details><summary>traceback</summary><pre>Traceback" in failed
    assert "http://" not in html.replace("http://www.w3.org", "") and "src=\"http" not in html


def test_sweep_report_is_byte_identical(tmp_path):
    a = write_sweep_report(make_result(AXES2), tmp_path / "a", scenario="eth_crash").read_bytes()
    b = write_sweep_report(make_result(AXES2), tmp_path / "b", scenario="eth_crash").read_bytes()
    assert a == b
    again = write_sweep_report(make_result(AXES2), tmp_path / "a", scenario="eth_crash")
    assert again.read_bytes() == a


def test_sweep_report_three_axes_takes_max(tmp_path):
    axes = [*AXES2, Axis("pool.fee", (0.001, 0.003))]
    html = write_sweep_report(make_result(axes), tmp_path).read_text(encoding="utf-8")
    assert "VaR95 bad debt (USD) (max over pool.fee)" in html
    table = re.search(r'<table id="aggregates">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    assert len(re.findall(r"<tr>", table)) == 8


@pytest.mark.parametrize("axes, expected", [
    ([Axis("keepers.latency", (0, 1, 2))], {"var95", "distributions"}),
    ([], {"distributions"}),
])
def test_sweep_report_one_and_zero_axes(tmp_path, axes, expected):
    html = write_sweep_report(make_result(axes), tmp_path).read_text(encoding="utf-8")
    assert set(dict(PNG.findall(html))) == expected
    table = re.search(r'<table id="aggregates">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    assert len(re.findall(r"<tr>", table)) == max(len(points(axes)), 1)
    if not axes:
        assert "none (seeds only)" in html


def test_point_with_every_run_failed_and_no_failures(tmp_path):
    axes = [Axis("keepers.latency", (0, 1))]
    result = make_result(axes, fail=False)
    html = write_sweep_report(result, tmp_path).read_text(encoding="utf-8")
    assert "No failed runs." in html
    # drop every ok run of the second point: it still gets a row, with its failures
    broken = [r if r.params != {"keepers.latency": 1} else
              RunRecord(r.key, r.params, r.seed, "error", error="boom") for r in result.records]
    result = SweepResult(axes, result.points, broken, aggregate(result.points, broken), 0,
                         [r for r in broken if r.status != "ok"])
    html = write_sweep_report(result, tmp_path).read_text(encoding="utf-8")
    table = re.search(r'<table id="aggregates">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    rows = re.findall(r"<tr>(.*?)</tr>", table)
    assert len(rows) == 2
    assert re.findall(r"<td[^>]*>(.*?)</td>", rows[1])[:3] == ["1", "0", "5"]
    assert "n/a" in html or "chart-var95" in html


def test_formatting():
    assert money(Decimal("1234.565")) == "1,234.56"  # half-even
    assert money(Decimal("-0.001")) == "0.00"
    assert money(None) == ""
    assert percent(Decimal("0.0123")) == "1.23%"
    assert percent(Decimal("-0.05")) == "-5.00%"
