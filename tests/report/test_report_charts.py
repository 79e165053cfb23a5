"""Charts that don't mislead: the run report's plotly figures read from their JSON. LP equity in a
panel of its own (not on a second axis over the traders' range), rates as plain percentages
(borrow annualised, funding per hour, never SI prefixes such as "600µ%"), a crash between two
hourly samples of the book present in the liquidation heatmap, and each "LP return" defined on
hover. Drawn in a browser: tests/browser/test_report_browser.py."""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal
from html import unescape

import pytest
from test_report import BLOCKS, make_run

from protocol.report import kpi, plots
from protocol.report.writer import run_html
from protocol.sim.engine import Simulation
from protocol.sim.loader import load_scenario
from protocol.sim.result import RunResult

# 30-block crash between the hourly samples of the book (positions_every = 60: blocks 120, 180)
CRASH_START, CRASH_BLOCKS = 130, 30
CRASH = {"blocks": 240, "agents.count": 6, "prices.ETH.shocks": [
    {"type": "crash", "drop_pct": 0.35, "start_block": CRASH_START, "over_blocks": CRASH_BLOCKS}]}


def with_lps(run: RunResult) -> RunResult:
    """The synthetic run plus an ``lp`` cohort that gains 0.19% while traders lose 30%."""
    rows = []
    for b, row in enumerate(run.rows):
        row = dict(row)
        row["equity.lp"] = Decimal(1_000_000) * (1 + Decimal("0.0019") * b / (BLOCKS - 1))
        for c in run.cohorts:
            start = run.rows[0][f"equity.{c}"]
            row[f"equity.{c}"] = start * (1 - Decimal("0.30") * b / (BLOCKS - 1))
        rows.append(row)
    summary = dict(run.summary, pool={"lp_return": Decimal("0.0011")},
                   cohorts={**run.summary["cohorts"], "lp": {"agents": 2, "return": Decimal("0.0019")}})
    return dataclasses.replace(run, rows=rows, cohorts=(*run.cohorts, "lp"), summary=summary)


def axis(layout: dict, ref: str) -> dict:
    """``layout.yaxis2`` for the trace reference ``y2``."""
    return layout["yaxis" + ref[1:]]


def test_lp_equity_is_in_its_own_panel_not_on_a_second_axis():
    run = with_lps(make_run())
    fig = plots.equity_plot(run, plots.Clock.of(run)).figure.to_plotly_json()
    layout = fig["layout"]
    refs = {t["name"]: t.get("yaxis", "y") for t in fig["data"]}
    assert refs == {"retail": "y", "whales": "y", "lp (LPs)": "y2"}
    lp_axis, trader_axis = axis(layout, "y2"), axis(layout, "y")
    assert "overlaying" not in lp_axis and "side" not in lp_axis  # before: overlaying y, right side
    low, high = sorted([trader_axis["domain"], lp_axis["domain"]])
    assert low[1] < high[0]  # stacked panels, no shared plotting area
    titles = [a["text"] for a in layout["annotations"]]
    assert titles == ["traders: equity change since start (%)",
                      "LPs: equity change since start (%), their own panel and scale"]
    lp = next(t for t in fig["data"] if t["name"] == "lp (LPs)")
    assert lp["y"][-1] == pytest.approx(0.19) and "not the LP share price" in lp["hovertemplate"]
    for a in (lp_axis, trader_axis):
        assert a["ticksuffix"] == "%" and a["exponentformat"] == "none"


def test_equity_without_lps_is_one_panel():
    run = make_run()
    fig = plots.equity_plot(run, plots.Clock.of(run)).figure.to_plotly_json()
    assert {t.get("yaxis", "y") for t in fig["data"]} == {"y"}
    assert "yaxis2" not in fig["layout"]


def test_rates_are_plain_percentages_borrow_annualised():
    run = make_run()
    fig = plots.rates_plot(run, plots.Clock.of(run)).figure.to_plotly_json()
    layout = fig["layout"]
    titles = [a["text"] for a in layout["annotations"]]
    assert titles == ["funding rate (% per hour, + longs pay)", "borrow rate (% a year, annualised)",
                      "skew: long − short (USD)", "utilisation: open interest / pool (%)"]
    by_axis: dict[str, list] = {}
    for t in fig["data"]:
        by_axis.setdefault(t["yaxis"] if "yaxis" in t else "y", []).append(t)
    funding, borrow, skew, utilisation = (by_axis[r] for r in ("y", "y2", "y3", "y4"))
    # 0.0005% per hour recorded: 4.38% a year on the axis, both in the hover
    assert [t["y"][0] for t in borrow] == [pytest.approx(0.0005 * 24 * 365)] * 2
    assert "% per hour" in borrow[0]["hovertemplate"] and "% a year" in borrow[0]["hovertemplate"]
    assert [t["y"][1] for t in funding] == [pytest.approx(0.001)] * 2  # as recorded, per hour
    assert [t["y"][0] for t in utilisation] == [pytest.approx(19.0)] * 2
    for ref in ("yaxis", "yaxis2", "yaxis4"):  # before: no exponentformat, so plotly's SI "600µ"
        assert layout[ref]["ticksuffix"] == "%" and layout[ref]["exponentformat"] == "none", ref
    assert layout["yaxis3"]["tickprefix"] == "$" and layout["yaxis3"]["exponentformat"] == "none"


def test_each_lp_return_is_defined_on_hover():
    html = unescape(run_html(with_lps(make_run())))
    card = re.search(r'<div class="kpi" id="kpi-lp_return" title="([^"]+)">', html)
    assert card and card.group(1) == kpi.LP_RETURN_SHARE and "share price" in card.group(1)
    assert f'<td title="{kpi.LP_RETURN_SHARE}">pool › LP return</td><td class="num">0.11%</td>' in html
    assert (f'<td title="{kpi.LP_RETURN_COHORT}">cohorts › lp › return</td>'
            '<td class="num">0.19%</td>') in html
    assert '<td>cohorts › whales › return</td>' in html  # traders' returns need no definition


@pytest.fixture(scope="module")
def crash() -> RunResult:
    return Simulation(load_scenario("crash", CRASH), backend="revm").run()


def test_a_crash_between_hourly_samples_reaches_the_heatmap(crash):
    """The book is sampled in every block in which a price moved more than 0.5%, so the heatmap
    has the crash block by block (before: blocks 120 and 180 only)."""
    during = [m for m in crash.liquidations
              if m.market == "ETH" and CRASH_START < m.block <= CRASH_START + CRASH_BLOCKS]
    assert len(during) >= 3
    sampled = {p.block for p in crash.positions if p.market == "ETH"}
    crash_blocks = range(CRASH_START + 1, CRASH_START + CRASH_BLOCKS)
    assert len(sampled & set(crash_blocks)) >= CRASH_BLOCKS - 2
    clock = plots.Clock.of(crash)
    heatmap = plots.heatmap_plot(crash, "ETH", clock).figure.to_plotly_json()["data"][0]
    columns = {b: i for i, b in enumerate(heatmap["customdata"][0])}
    # column edges: each sample holds until the next, the last (block 240, the run's last) a block
    assert len(heatmap["x"]) == len(columns) + 1
    assert heatmap["x"][-2:] == [pytest.approx(clock.time(240)), pytest.approx(clock.time(241))]
    for mark in during:
        # the liquidated position, in the book sampled one block before its liquidation
        before = [p for p in crash.positions if p.block == mark.block - 1
                  and p.account.lower() == mark.account.lower() and p.market == "ETH"]
        assert before, mark
        column = columns[mark.block - 1]
        assert any(row[column] for row in heatmap["z"])
    assert crash.rows[-1]["block"] % 60 == 0 and {60, 120, 180, 240} <= sampled  # hourly ones kept


def test_study_panels_put_their_unit_on_the_ticks():
    from test_report import make_study

    fig = plots.study_plots(make_study())[0].figure.to_plotly_json()["layout"]
    axes = [fig["yaxis" + (str(k + 1) if k else "")] for k in range(len(plots.STUDY_PANELS))]
    assert [(a.get("ticksuffix", ""), a.get("tickprefix", ""), a["exponentformat"]) for a in axes] == [
        ("", "", "none"), ("%", "", "none"), ("", "$", "none"), ("", "$", "none"), ("", "$", "none"),
        ("", "$", "none")]
