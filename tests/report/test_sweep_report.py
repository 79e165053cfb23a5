"""protocol.sweep.report and friends: sweep.html, bootstrap intervals and the Pareto front from
synthetic SweepResults (no simulation runs; tests/browser/test_sweep_browser.py renders real sweeps)."""

from __future__ import annotations

import random
import re
from decimal import Decimal
from html import unescape

import pytest
from click.testing import CliRunner
from sweep_samples import AXES2, make_result, metrics

from protocol.cli import main as cli
from protocol.sweep.aggregate import STATISTICS, aggregate, keeper_statistic
from protocol.sweep.frontier import objective, pareto_front, parse_frontier
from protocol.sweep.grid import Axis, points
from protocol.sweep.report import money, percent, write_sweep_report
from protocol.sweep.run import RunRecord
from protocol.sweep.sweep import SweepResult

PLOT_DIV = re.compile(r'<div id="plot-([a-z0-9_-]+)" class="plotly-graph-div"')


def table_rows(html: str, table_id: str) -> list[list[str]]:
    """Each row's cells; a figure cell as ``value|interval``."""
    body = re.search(rf'<table id="{table_id}">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    return [[unescape(re.sub(r"<[^>]+>", "", c.replace('<span class="ci">', "|")))
             for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", body)]


def test_sweep_report_two_axes(tmp_path):
    result = make_result(AXES2)
    path = write_sweep_report(result, tmp_path / "sweep")
    assert path == tmp_path / "sweep" / "sweep.html"
    html = path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "perpsim sweep: eth_crash" in html
    assert "markets.ETH.max_leverage = 10, 50; keepers.latency = 0, 2" in html
    assert "<td>fixed overrides</td><td>blocks = 240; venue.instant_trading = true</td>" in html
    assert "5 (seeds 0–4)" in html and "12.3 s" in html
    # VaR95 from 5 seeds has no honest figure: the mean bad debt is mapped instead, and with
    # VaR95 as an objective there is no frontier
    assert PLOT_DIV.findall(html) == ["heatmap-bad_debt_mean", "heatmap-lp_return_mean", "distributions"]
    assert ('<p class="warn" id="too-few-seeds">n too small for VaR95, LaR95, SaR95, LP return p5: '
            "4–5 finished seeds per grid point; a 95% order-statistic interval of a tail quantile "
            "needs at least 72 (run with --seeds 72 or more).") in html
    assert ("Not charted, too few seeds: VaR95 bad debt, LaR95 liquidation volume, SaR95 "
            "liquidation impact cost, LP return, p5.") in html
    assert ("A frontier needs at least two grid points with both objectives under the same "
            "conditions. n too small for VaR95: 4 seeds, a 95% interval needs at least 72; n too "
            "small for VaR95: 5 seeds, a 95% interval needs at least 72. Run more seeds, or compare means: "
            "--frontier bad_debt_mean,fees_paid_mean.") in html
    assert html.count("<script>/**\n* plotly.js v") == 1  # inlined once (the pages' one shell)
    page = html.replace(re.search(r"<script[^>]*>/\*\*\n\* plotly.js v.*?</script>", html, re.S).group(0), "")
    assert not re.search(r"<(script|img|link)[^>]*(src|href)=", page)  # nothing to fetch
    rows = table_rows(html, "aggregates")
    assert len(rows) == 4
    last = rows[-1]
    assert last[:3] == ["50", "2", "4 (1)"]  # params, runs (failed)
    a = result.aggregates[-1]
    # VaR95 of bad debt at point 3 over seeds 0, 1, 2, 4: not the worst seed, but why there is none
    assert last[3] == "n too small for VaR95" and a.var95_bad_debt is None
    assert 'title="n too small for VaR95: 4 seeds, a 95% interval needs at least 72"' in html
    # the mean bad debt: 125.5 * 3 * (0 + 1 + 2 + 4) / 4
    assert last[4] == f"658.88|{money(a.ci['bad_debt_mean'].low)} – {money(a.ci['bad_debt_mean'].high)}"
    # the insurance drawdown is a fraction of the fund, shown as % (worst of seeds 0..4 but 3: 7 x 4.25%)
    assert last[7].startswith("29.75%|")
    assert last[-1].startswith("fast: 6.12|") and "slow: 3.00|3.00 – 3.00" in last[-1]
    failed = re.search(r'<table id="failed">(.*?)</table>', html, re.S).group(1)
    assert "k3s3" in failed and "ValueError: pool &lt;empty&gt; &amp; drained" in failed
    assert "second line</td>" not in failed
    assert "<details><summary>traceback</summary><pre>Traceback" in failed


def test_every_figure_has_its_interval_in_the_table(tmp_path):
    result = make_result(AXES2, fail=False)
    html = write_sweep_report(result, tmp_path).read_text(encoding="utf-8")
    for row, a in zip(table_rows(html, "aggregates"), result.aggregates):
        figures = row[3:-1]
        assert len(figures) == len(STATISTICS)
        for stat, f in zip(STATISTICS, figures):  # 5 seeds: a tail quantile says so
            if stat.quantile is not None:
                assert f == f"n too small for {stat.short}"
            else:
                assert re.fullmatch(r"-?[\d,]+\.\d\d%?\|-?[\d,]+\.\d\d%? – -?[\d,]+\.\d\d%?", f)
        assert figures[[s.name for s in STATISTICS].index("fees_paid_mean")].startswith(
            money(a.fees_paid_mean) + "|")


def test_sweep_report_is_byte_identical(tmp_path):
    a = write_sweep_report(make_result(AXES2), tmp_path / "a").read_bytes()
    b = write_sweep_report(make_result(AXES2), tmp_path / "b").read_bytes()
    assert a == b


def test_three_axes_heatmap_cells_are_the_worst_over_the_third(tmp_path):
    axes = [*AXES2, Axis("pool.fee", (0.001, 0.003))]
    result = make_result(axes, fail=False, seeds=range(72))  # enough seeds for VaR95
    assert "too-few-seeds" not in write_sweep_report(result, tmp_path).read_text(encoding="utf-8")
    result = make_result(axes, seeds=range(73))  # the failed run leaves 72 at the last point
    html = write_sweep_report(result, tmp_path).read_text(encoding="utf-8")
    assert "VaR95 bad debt (USD) (worst over pool.fee)" in html
    assert len(table_rows(html, "aggregates")) == 8
    # cell (leverage 50, latency 2): the larger VaR95 of its two pool.fee points
    worst = max(a.var95_bad_debt for a in result.aggregates
                if a.params["markets.ETH.max_leverage"] == 50 and a.params["keepers.latency"] == 2)
    heat = re.search(r'<div id="plot-heatmap-var95_bad_debt".*?"text":(\[\[.*?\]\])', html, re.S).group(1)
    assert f'"{money(worst)}"]]' in heat


@pytest.mark.parametrize("axes, plots", [
    ([Axis("markets.ETH.taker_fee_bps", (2, 5, 10))], ["trend", "frontier", "distributions"]),
    ([], ["distributions"]),
])
def test_one_axis_draws_bands_and_no_axis_says_so(tmp_path, axes, plots):
    html = write_sweep_report(make_result(axes), tmp_path, frontier=("bad_debt_mean", "fees_paid_mean")
                              ).read_text(encoding="utf-8")
    assert PLOT_DIV.findall(html) == plots
    assert "heatmap" not in "".join(PLOT_DIV.findall(html))
    assert len(table_rows(html, "aggregates")) == max(len(points(axes)), 1)
    if axes:  # a band (filled to itself) per figure panel and per keeper
        trend = re.search(r'<div id="plot-trend".*?</script>', html, re.S).group(0)
        # six figures but VaR95 and LaR95 (too few seeds), two keepers
        assert trend.count('"fill":"toself"') == 5 + 2
    else:
        assert "none (seeds only)" in html
        assert "No swept axis (seeds only): nothing to chart across the grid." in html
        assert "A frontier needs at least two grid points with both objectives under the same conditions." in html


def test_point_with_every_run_failed_and_no_failures(tmp_path):
    axes = [Axis("keepers.latency", (0, 1))]
    result = make_result(axes, fail=False)
    html = write_sweep_report(result, tmp_path).read_text(encoding="utf-8")
    assert "No failed runs." in html
    broken = [r if r.params != {"keepers.latency": 1} else
              RunRecord(r.key, r.params, r.seed, "error", error="boom") for r in result.records]
    result = SweepResult(axes, result.points, broken, aggregate(result.points, broken), 0,
                         [r for r in broken if r.status != "ok"])
    html = write_sweep_report(result, tmp_path).read_text(encoding="utf-8")
    rows = table_rows(html, "aggregates")
    assert len(rows) == 2 and rows[1][:2] == ["1", "0 (5)"]
    # keeper latency is a condition, not a design choice: nothing is Pareto-optimal
    assert "Every swept key is a condition, so no design choice is compared" in html


def test_bootstrap_intervals_hold_the_estimate_and_are_reproducible():
    result = make_result(AXES2, fail=False)
    shuffled = list(result.records)
    random.Random(3).shuffle(shuffled)
    again = aggregate(result.points, shuffled)
    for a, b in zip(result.aggregates, again):
        assert a.ci == b.ci and a.row() == b.row()
        assert a.var95_bad_debt is None and "var95_bad_debt" not in a.ci  # 5 seeds
        for stat in a.statistics():
            interval, value = a.ci[stat.name], a.value(stat.name)
            assert interval.low <= value <= interval.high, stat.name
        samples = [Decimal(r.metrics["insurance_max_drawdown"]) for r in result.records
                   if r.params == a.params]
        assert a.ci["insurance_max_drawdown"].high == max(samples)  # a worst case cannot be beaten


def test_more_seeds_narrow_the_interval_and_one_seed_has_none():
    def width(seeds) -> Decimal:
        a = make_result([], fail=False, seeds=seeds).aggregates[0]
        return a.ci["lp_return_mean"].high - a.ci["lp_return_mean"].low

    one = make_result([], fail=False, seeds=[4]).aggregates[0]
    assert one.ci["lp_return_mean"].low == one.ci["lp_return_mean"].high == one.lp_return_mean
    # seeds 0..4 eight times over: the same spread from eight times the runs (interval ~ 1/sqrt(n))
    assert 0 < width([s % 5 for s in range(40)]) < width(range(5)) / 2


def front_of(points_xy: dict[str, tuple[int, int]]) -> list[str]:
    axes = [Axis("name", tuple(points_xy))]
    records = [RunRecord(n, {"name": n}, 1, "ok", {**metrics(0, 1), "bad_debt": str(x), "fees_paid": str(y)})
               for n, (x, y) in points_xy.items()]
    aggs = aggregate(points(axes), records)
    front = pareto_front(aggs, objective("bad_debt_mean"), objective("fees_paid_mean"))
    return [a.params["name"] for a in front]


def test_pareto_front_keeps_what_nothing_beats_on_both():
    # (VaR95 bad debt: lower is better, fees: higher is better)
    assert front_of({"a": (0, 10), "b": (5, 20), "c": (5, 15), "d": (10, 20), "e": (0, 5)}) == ["a", "b"]
    assert front_of({"a": (3, 10), "b": (3, 10)}) == ["a", "b"]  # ties dominate neither
    assert front_of({"a": (3, 10), "b": (3, 11)}) == ["b"]  # one beyond: dominated


def test_frontier_objectives_are_checked(tmp_path):
    assert parse_frontier("lp_return_mean, keeper_profit_mean.fast") == (
        "lp_return_mean", "keeper_profit_mean.fast")
    assert objective("keeper_profit_mean.fast") == keeper_statistic("fast")
    for bad in ("var95_bad_debt", "var95_bad_debt,var95_bad_debt", "var95_bad_debt,fees"):
        with pytest.raises(ValueError):
            parse_frontier(bad)
    run = CliRunner().invoke(cli, ["sweep", "default", "--frontier", "var95_bad_debt,fees",
                                   "--out", str(tmp_path)])
    assert run.exit_code == 2 and "frontier objective 'fees'" in run.output
    assert "Traceback" not in run.output and not (tmp_path / "runs.jsonl").exists()
    html = write_sweep_report(make_result(AXES2), tmp_path, frontier=("lp_return_mean", "wiped_out_share_mean"))
    assert "Frontier: LP return, mean against traders wiped out, mean" in html.read_text(encoding="utf-8")


def test_formatting():
    assert money(Decimal("1234.565")) == "1,234.56"  # half-even
    assert money(Decimal("-0.001")) == "0.00"
    assert money(None) == ""
    assert percent(Decimal("0.0123")) == "1.23%"
    assert percent(Decimal("-0.05")) == "-5.00%"
    assert percent(Decimal("-0.00001")) == "0.00%"
