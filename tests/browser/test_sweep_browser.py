"""sweep.html of real sweeps (the cascade scenario, cut short after its crash) in headless Chromium:
the expected charts drawn, no console errors, nothing fetched, no sideways scrolling, the table's
figures in the CLI's units, "n too small for VaR95" where the seeds are too few, one frontier per
condition, valid order-statistic intervals from enough seeds, screenshots saved (tests/headless.py:
skips without Chromium, fails under PERPSIM_REQUIRE_BROWSER=1)."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from html import unescape

import pytest
from click.testing import CliRunner
from headless import box, horizontal_overflow
from rich.console import Console
from sweep_samples import AXES2, make_result

from protocol.cli import main as cli
from protocol.cli.sweep import _table as cli_table
from protocol.sweep import LocalEngine, parse_axes, run_sweep
from protocol.sweep.report import write_sweep_report

# The cascade's crash starts at block 120 and lasts 10 blocks: 135 blocks hold it and its liquidations.
FIXED = ["blocks=135"]
# The taker fee is a design parameter; the market's liquidity feedback a condition (a frontier each).
GRIDS = {
    "one-axis": ["markets.ETH.taker_fee_bps=2,10,20"],
    "two-axes": ["markets.ETH.taker_fee_bps=2,20", "liquidity.feedback=true,false"],
}
SEEDS = 2  # too few for VaR95: the page says so
FRONTIER = "bad_debt_mean,fees_paid_mean"
PLOTS = {"one-axis": ["plot-trend", "plot-frontier", "plot-distributions"],
         "two-axes": ["plot-heatmap-bad_debt_mean", "plot-heatmap-lp_return_mean", "plot-frontier-1",
                      "plot-frontier-2", "plot-distributions"]}
CLI_COLUMNS = {"VaR95 bad debt $": "VaR95 bad debt (USD)", "bad debt mean $": "bad debt, mean (USD)",
               "LaR95 liq. volume $": "LaR95 liquidation volume (USD)",
               "SaR95 impact $": "SaR95 liquidation impact cost (USD)",
               "insurance max DD": "insurance max drawdown, worst (%)",
               "LP return mean": "LP return, mean (%)", "LP return p5": "LP return, p5 (%)",
               "wiped out": "traders wiped out, mean (%)"}


@pytest.fixture(scope="module", params=list(GRIDS))
def swept(request, tmp_path_factory):
    name = request.param
    out = tmp_path_factory.mktemp(name)
    args = ["sweep", "cascade", "--seeds", str(SEEDS), "--workers", "2", "--backend", "revm",
            "--out", str(out), "--frontier", FRONTIER]
    for setting in [*GRIDS[name], *FIXED]:
        args += ["--set", setting]
    run = CliRunner().invoke(cli, args)
    assert run.exit_code == 0, run.output
    # The same sweep again resumes every run: the result the CLI printed its table from.
    axes = parse_axes([*GRIDS[name], *FIXED])
    result = run_sweep("cascade", [a for a in axes if len(a.values) > 1], [1, 2], LocalEngine(1), out,
                       backend="revm", fixed={a.key: a.values[0] for a in axes if len(a.values) == 1})
    assert result.skipped == len(result.records) and not result.failed
    return name, out / "sweep.html", result


def html_table(html: str) -> tuple[list[str], list[list[str]]]:
    """Header texts and each row's cells (the figure without its interval) of #aggregates."""
    table = re.search(r'<table id="aggregates">(.*?)</table>', html, re.S).group(1)
    header = [unescape(re.sub(r"<[^>]+>", "", h)) for h in re.findall(r"<th>(.*?)</th>", table)]
    rows = [[unescape(re.sub(r'<span class="ci">.*?</span>|<[^>]+>', "", c))
             for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>")[1])]
    return header, rows


def cli_rows(result) -> tuple[list[str], list[list[str]]]:
    console = Console(width=400, record=True, file=io.StringIO())
    table = cli_table(result)
    console.print(table)
    lines = [line for line in console.export_text().splitlines() if line.startswith("│")]
    return [c.header for c in table.columns], [[c.strip() for c in line.strip("│").split("│")]
                                                for line in lines]


def test_sweep_page_renders_with_its_charts_in_chromium(swept, chromium, screenshots):
    name, html, result = swept
    seen = chromium.render(html, screenshots / f"sweep-{name}.png", full_page=True, evaluate={
        "overflow": horizontal_overflow(), "table": box("#aggregates"),
        "plots": "() => [...document.querySelectorAll('.js-plotly-plot')].map(d => d.id)",
        "bands": "() => { const d = document.getElementById('plot-trend');"
                 " return d ? d.data.filter(t => t.fill === 'toself').length : 0 }",
        "pareto": "() => [...document.querySelectorAll('[id^=plot-frontier]')].flatMap(d =>"
                  " d.data.filter(t => (t.name || '').startsWith('Pareto-optimal')).flatMap(t => t.text))",
        "warning": box("#too-few-seeds"),
        "warning_text": "() => document.getElementById('too-few-seeds').innerText",
        "var95_cell": "() => document.querySelector('#aggregates tbody td .too-few').innerText",
        "var95_cell_box": box("#aggregates tbody td .too-few")})
    assert seen.console_errors == [] and seen.external_requests == []
    assert seen.plot_count == len(PLOTS[name]) and seen.values["plots"] == PLOTS[name]
    assert seen.values["overflow"] == 0  # the table fits: no column hides off to the side
    assert seen.values["table"]["right"] <= seen.viewport[0]
    # two seeds: VaR95 is "n too small", shown above the charts and in the table, not a number
    assert seen.values["warning_text"].startswith("n too small for VaR95, LaR95, SaR95, LP return p5: "
                                                  "2 finished seeds per grid point")
    assert seen.values["warning"]["height"] > 10 and seen.values["warning"]["bottom"] < seen.values["table"]["top"]
    assert seen.values["var95_cell"] == "n too small for VaR95" and seen.values["var95_cell_box"]["width"] > 0
    if name == "one-axis":  # one band per figure panel (not VaR95, LaR95: too few seeds), per keeper
        assert seen.values["bands"] == 5 + 1
        # the note's picture: the confidence bands down to the frontier's Pareto table
        top, bottom = chromium.render(html, evaluate={"bands": box("#chart-trend"), "pareto": box("#pareto")}).values.values()
        shot = screenshots / "sweep-bands-frontier.png"
        chromium.render(html, shot, clip={"x": 0, "y": top["top"] - 60, "width": seen.viewport[0],
                                          "height": bottom["bottom"] - top["top"] + 80})
        assert shot.stat().st_size > 50_000
    assert seen.values["pareto"] and all(re.fullmatch(r"taker_fee_bps=\d+", p)
                                         for p in seen.values["pareto"])
    text = html.read_text(encoding="utf-8")
    assert "<td>fixed overrides</td><td>blocks = 135</td>" in text


def test_sweep_page_figures_match_the_cli_table(swept):
    name, html, result = swept
    header, rows = html_table(html.read_text(encoding="utf-8"))
    cli_header, cli_cells = cli_rows(result)
    keys = len(result.axes)
    assert len(rows) == len(cli_cells) == len(result.points)
    for row, cli_row in zip(rows, cli_cells):
        assert row[:keys] == cli_row[:keys]
        for cli_name, page_name in CLI_COLUMNS.items():
            cli_value = cli_row[cli_header.index(cli_name)]
            assert row[header.index(page_name)] == cli_value, (page_name, row, cli_row)
            if not cli_value.startswith("n too small for "):  # a tail quantile from 2 seeds
                assert cli_value.endswith("%") == page_name.endswith("(%)")


def test_enough_seeds_show_var95_with_its_order_statistic_interval(tmp_path, chromium, screenshots):
    """72 seeds per point (synthetic runs): VaR95 has a figure and an interval reaching both ways."""
    result = make_result(AXES2, fail=False, seeds=range(72))
    html = write_sweep_report(result, tmp_path)
    seen = chromium.render(html, screenshots / "sweep-enough-seeds.png", full_page=True, evaluate={
        "cell": "() => document.querySelector('#aggregates tbody tr:last-child td:nth-child(4)').innerText",
        "warning": "() => document.getElementById('too-few-seeds')",
        "plots": "() => [...document.querySelectorAll('.js-plotly-plot')].map(d => d.id)"})
    assert seen.console_errors == [] and seen.values["warning"] is None
    # the frontier of VaR95 against fees, one per keeper latency (a condition)
    assert seen.values["plots"] == ["plot-heatmap-var95_bad_debt", "plot-heatmap-lp_return_mean",
                                    "plot-frontier-1", "plot-frontier-2", "plot-distributions"]
    a = result.aggregates[-1]
    # 72 seeds: [X_(64), X_(72)] of 125.5 * 3 * seed, seeds 0..71; the estimate X_(69) is seed 68
    assert (a.var95_bad_debt, a.ci["var95_bad_debt"].low, a.ci["var95_bad_debt"].high) == (
        Decimal("25602.0"), Decimal("23719.5"), Decimal("26731.5"))
    assert seen.values["cell"].split() == ["25,602.00", "23,719.50", "–", "26,731.50"]
