"""report.html and a study page of real runs, opened in headless Chromium (tests/headless.py): every
chart draws, nothing errs or leaves the file, the KPI strip sits above the fold of a 1366x768
screen, percentages are drawn as plain decimals (no "600µ%"), LPs have a panel of their own and
the LP return says on hover what it is, and screenshots are saved (the folder is printed;
PERPSIM_SCREENSHOTS picks it, and PERPSIM_UPDATE_DOCS=1 also writes docs/img/report.png,
heatmap.png, rates.png and equity.png for the README).
The ``chromium`` and ``screenshots`` fixtures come from tests/headless.py through tests/conftest.py."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from headless import box, horizontal_overflow

from protocol.report import write_run, write_study
from protocol.sim.engine import Simulation, run_study
from protocol.sim.loader import load_scenario

DOCS = Path(__file__).resolve().parents[2] / "docs" / "img"
PLOT_DIV = re.compile(r'<div id="plot-([a-zA-Z0-9-]+)" class="plotly-graph-div"')
KPI_KEYS = ("bad_debt", "liquidations", "liquidated_notional", "insurance_drawdown", "lp_return",
            "keeper_profit", "wiped_out")
# a 35% crash over 30 blocks between two hourly samples of the book (blocks 120 and 180): the
# liquidations, keepers at work, and the book sampled through the crash for the heatmap
CRASH = {"blocks": 240, "agents.count": 6, "prices.ETH.shocks": [
    {"type": "crash", "drop_pct": 0.35, "start_block": 130, "over_blocks": 30}]}
# a tick label with an SI prefix on a percentage ("600µ%", "1.5k%")
SI_PERCENT = re.compile(r"[0-9.][yzafpnµumkMGTPE]%$")
# The pages are what is under test here, and they are built from the run's numbers, which are the
# same on every EVM (tests/contracts/test_differential.py, tests/sim/test_sim.py): one EVM, the fast one.
BACKEND = "revm"


@pytest.fixture()
def shots(screenshots) -> Path:
    print(f"\nscreenshots: {screenshots}")
    return screenshots


@pytest.fixture(scope="module")
def crash_report(tmp_path_factory) -> tuple[Path, object]:
    result = Simulation(load_scenario("crash", CRASH), backend=BACKEND).run()
    return write_run(result, tmp_path_factory.mktemp("crash")), result


def test_report_renders_headline_first(chromium, crash_report, shots):
    html, result = crash_report
    assert result.liquidations and result.positions  # the run gives the charts something to show
    expected = 2 * len(result.markets) + 6
    assert len(PLOT_DIV.findall(html.read_text())) == expected
    shot = shots / "report.png"
    seen = chromium.render(html, shot, evaluate={
        "kpis": box("#kpis"), "heatmap": box("#plot-heatmap-ETH .heatmaplayer image"),
        "heatmap_plot": box("#plot-heatmap-ETH"),
        "cards": "() => [...document.querySelectorAll('#kpis .kpi')].map(k => k.id)",
        "lp_tooltip": "() => document.querySelector('#kpi-lp_return').title",
        "rate_ticks": "() => [...document.querySelectorAll('#plot-rates .ytick text')]"
                      ".map(t => t.textContent)",
        "equity_axes": "() => { const p = document.getElementById('plot-equity'); return "
                       "{traces: p._fullData.map(t => [t.name, t.yaxis]), overlaying: "
                       "p._fullLayout.yaxis2 && p._fullLayout.yaxis2.overlaying}; }",
        "rates_plot": box("#plot-rates"), "equity_plot": box("#plot-equity"),
        "overflow": horizontal_overflow()})
    assert seen.console_errors == [] and seen.external_requests == []
    assert seen.plot_count == expected
    assert seen.values["cards"] == [f"kpi-{k}" for k in KPI_KEYS]
    assert 0 < seen.values["kpis"]["bottom"] <= seen.viewport[1]  # above the fold
    assert seen.values["heatmap"] is not None and seen.values["heatmap"]["width"] > 300
    assert seen.values["overflow"] == 0
    assert "change in the LP share price" in seen.values["lp_tooltip"]
    ticks = seen.values["rate_ticks"]
    assert ticks and not [t for t in ticks if SI_PERCENT.search(t)], ticks
    assert all(t.endswith("%") or "$" in t for t in ticks), ticks
    axes = seen.values["equity_axes"]
    assert {axis for name, axis in axes["traces"] if name.endswith("(LPs)")} == {"y2"}
    assert {axis for name, axis in axes["traces"] if not name.endswith("(LPs)")} == {"y"}
    assert not axes["overlaying"]  # a panel of its own, not a second axis over the traders'
    for key in ("rates", "equity", "heatmap"):
        region = seen.values[f"{key}_plot"]
        chromium.render(html, shots / f"{key}.png", clip={
            "x": 0, "y": region["top"], "width": seen.viewport[0], "height": region["height"]})
    full = shots / "report-full.png"
    chromium.render(html, full, full_page=True)
    assert shot.read_bytes()[:8] == full.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("PERPSIM_UPDATE_DOCS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        for name in ("report", "heatmap", "rates", "equity"):
            shutil.copyfile(shots / f"{name}.png", DOCS / f"{name}.png")


def test_study_page_renders_both_variants(chromium, tmp_path, shots):
    study = run_study(load_scenario("isolated-vs-cross", {
        "blocks": 120, "agents.count": 4, "prices.ETH.shocks": [
            {"type": "flash_crash", "drop_pct": 0.15, "at_block": 40, "recover_blocks": 20}],
        "prices.BTC.shocks": [
            {"type": "crash", "drop_pct": 0.2, "start_block": 80, "over_blocks": 20}]}),
                      backend=BACKEND)
    html = write_study(study, tmp_path)
    expected = 1 + len(next(iter(study.runs.values())).markets)
    seen = chromium.render(html, shots / "study.png", evaluate={
        "table": box("#comparison"),
        "legend": "() => [...document.querySelectorAll('#plot-study .legendtext')]"
                  ".map(t => t.textContent)",
        "overflow": horizontal_overflow()})
    assert seen.console_errors == [] and seen.external_requests == []
    assert seen.plot_count == expected
    assert seen.values["legend"] == list(study.runs)  # one line per variant, one legend entry
    assert 0 < seen.values["table"]["top"] < seen.viewport[1]
    assert seen.values["overflow"] == 0
