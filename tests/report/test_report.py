"""protocol.report: CSV/JSON/Parquet/HTML outputs of a synthetic run and study, byte-reproducible:
the KPI strip in human units, the plotly charts (and the notes for charts left out), the tables
in collapsible sections, ``RunResult.frame`` and ``perpsim report``. The pages in a real
browser: tests/browser/test_report_browser.py."""

from __future__ import annotations

import csv
import json
import re
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from protocol.cli import main
from protocol.report import write_run, write_study
from protocol.report.frames import load_run
from protocol.report.writer import run_html
from protocol.sim.metrics import max_drawdown
from protocol.sim.result import LiquidationMark, PositionSample, RunResult, StudyResult

MARKETS = ("ETH", "BTC")
COHORTS = ("retail", "whales")
KEEPERS = ("fast", "slow")
BLOCKS = 12
RUN_FILES = ("timeseries.csv", "events.csv", "liquidations.csv", "positions.csv", "run.json",
             "summary.json", "report.html")
PLOT_DIV = re.compile(r'<div id="plot-([a-zA-Z0-9-]+)" class="plotly-graph-div"')
# prices and heatmaps per market + distance, rates, keepers, equity, pool, insurance
RUN_PLOTS = 2 * len(MARKETS) + 6


def make_run(mode: str = "isolated", shock: int = 0) -> RunResult:
    rows = []
    cum_bad = Decimal(0)
    for b in range(BLOCKS):
        liq = 1 if b in (5, 8) else 0
        bad = Decimal("12.5") * liq if b == 8 else Decimal(0)
        cum_bad += bad
        row = {"block": b, "timestamp": 1_700_000_000 + 12 * b}
        for i, m in enumerate(MARKETS):
            row[f"price.{m}"] = Decimal(2000 * (10 * i + 1)) - Decimal("37.25") * b * (1 + shock)
        for m in MARKETS:
            row[f"long_oi.{m}"] = Decimal(100_000 + 1_000 * b)
            row[f"short_oi.{m}"] = Decimal(90_000 - 500 * b)
        row.update({
            "pool_value": Decimal("1000000") + Decimal("250.5") * b,
            "lp_share_price": Decimal("1") + Decimal("0.0001") * b,
            "insurance_fund": Decimal(50_000) - cum_bad,
            "liquidations": liq, "liquidated_notional": Decimal(5_000 * liq),
            "bad_debt": bad, "cum_bad_debt": cum_bad,
            "funding_paid": Decimal("1.5"), "fees_paid": Decimal("3.25"),
        })
        for k, keeper in enumerate(KEEPERS):
            row[f"keeper_profit.{keeper}"] = Decimal("0.75") * b * (k + 1)
        for c, cohort in enumerate(COHORTS):
            row[f"equity.{cohort}"] = Decimal(10_000 * (c + 1)) - Decimal(40 * b)
        row["equity.isolated"] = Decimal(18_000) - Decimal(30 * b)
        row["equity.cross"] = Decimal(12_000) - Decimal(50 * b)
        row["wiped_out"] = b // 6
        row["transactions"] = 3 + b % 2
        rows.append(row)
        for m in MARKETS:
            row[f"funding_rate.{m}"] = Decimal("0.001") * (b % 3)
            row[f"borrow_rate.{m}"] = Decimal("0.0005")
            row[f"skew.{m}"] = row[f"long_oi.{m}"] - row[f"short_oi.{m}"]
            row[f"utilisation.{m}"] = Decimal("0.19")
    marks = [
        LiquidationMark(5, "ETH", rows[5]["price.ETH"], "isolated", "0xabc", Decimal("-1.5"),
                        Decimal(0), side="short", notional=Decimal(5_000), keeper="fast",
                        penalty=Decimal("50"), reward=Decimal("25"), leverage=20,
                        entry_price=Decimal("1900"), cohort="retail", latency=2,
                        gas=Decimal("1.25")),
        LiquidationMark(8, "BTC", rows[8]["price.BTC"], "cross", "0xdef", Decimal("0.25"),
                        Decimal("12.5"), side="long", notional=Decimal(5_000), keeper="slow",
                        penalty=Decimal("40"), reward=Decimal("20"), leverage=None,
                        entry_price=Decimal("20000"), cohort="whales", latency=None),
    ]
    positions = [
        PositionSample(b, "0xabc", m, "isolated", side, Decimal("1.5"), Decimal(3_000),
                       rows[b][f"price.{m}"], rows[b][f"price.{m}"] * (1 + shift),
                       Decimal(abs(shift)))
        for b in (0, 4, 8) for m in MARKETS
        for side, shift in (("long", Decimal("-0.05")), ("short", Decimal("0.1")))]
    events = [
        {"block": 5, "tx": 0, "contract": "Clearinghouse", "event": "Liquidated",
         "args": {"account": "0xabc", "size": Decimal("-1.5"), "market": 0}},
        {"block": 8, "tx": 1, "contract": "Clearinghouse", "event": "BadDebt",
         "args": {"amount": Decimal("12.5"), "account": "0xdef"}},
    ]
    fund = [r["insurance_fund"] for r in rows]
    summary = {"blocks": BLOCKS - 1, "liquidations": 2, "bad_debt": cum_bad,
               "liquidations_long": 1, "liquidations_short": 1,
               "liquidated_notional": sum((r["liquidated_notional"] for r in rows), Decimal(0)),
               "first_liquidation_block": 5, "missing": None,
               "insurance_fund": {"end": fund[-1], "max_drawdown": max_drawdown(fund)},
               "pool": {"end_share_price": rows[-1]["lp_share_price"],
                        "lp_return": (rows[-1]["lp_share_price"] - rows[0]["lp_share_price"])
                        / rows[0]["lp_share_price"]},
               "traders": 6, "wiped_out": rows[-1]["wiped_out"],
               "keepers": {"fast": {"gas_wei": 2305567000000000, "eth_price_usd": Decimal(3000),
                                    "net_profit_usd": rows[-1]["keeper_profit.fast"]},
                           "slow": {"net_profit_usd": rows[-1]["keeper_profit.slow"]}},
               "cohorts": {c: {"agents": 3, "return": Decimal("-0.012")} for c in COHORTS}}
    return RunResult(scenario="synthetic", seed=7, backend="pyevm", mode=mode, block_time=12,
                     markets=MARKETS, cohorts=COHORTS, keepers=KEEPERS, rows=rows, events=events,
                     liquidations=marks, summary=summary, positions=positions)


def make_study() -> StudyResult:
    runs = {"isolated": make_run("isolated"), "cross": make_run("cross", shock=1)}
    comparison = {"liquidations": {"isolated": 2, "cross": 3},
                  "bad_debt": {"isolated": Decimal("12.5"), "cross": Decimal("40.0")}}
    return StudyResult(scenario="synthetic", runs=runs, comparison=comparison)


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_run_files_and_columns(tmp_path):
    run = make_run()
    html = write_run(run, tmp_path / "out")
    assert html == tmp_path / "out" / "report.html"
    for name in RUN_FILES:
        assert (tmp_path / "out" / name).is_file(), name

    ts = read_csv(tmp_path / "out" / "timeseries.csv")
    assert ts[0] == list(run.rows[0])
    assert len(ts) == BLOCKS + 1
    assert ts[3][ts[0].index("price.ETH")] == str(run.rows[2]["price.ETH"])  # exact, via str()
    assert ts[1][ts[0].index("lp_share_price")] == "1.0000"
    assert ts[2][ts[0].index("lp_share_price")] == "1.0001"

    ev = read_csv(tmp_path / "out" / "events.csv")
    assert ev[0] == ["block", "tx", "contract", "event", "args"]
    assert ev[1][:4] == ["5", "0", "Clearinghouse", "Liquidated"]
    assert json.loads(ev[1][4]) == {"account": "0xabc", "market": "0", "size": "-1.5"}
    assert list(json.loads(ev[1][4])) == ["account", "market", "size"]  # sorted keys

    liq = read_csv(tmp_path / "out" / "liquidations.csv")
    assert liq[0] == ["block", "market", "price", "mode", "account", "size", "bad_debt", "side",
                      "notional", "keeper", "penalty", "reward", "leverage", "entry_price",
                      "cohort", "latency", "gas"]
    assert liq[1] == ["5", "ETH", str(run.rows[5]["price.ETH"]), "isolated", "0xabc", "-1.5", "0",
                      "short", "5000", "fast", "50", "25", "20", "1900", "retail", "2", "1.25"]
    assert liq[2] == ["8", "BTC", str(run.rows[8]["price.BTC"]), "cross", "0xdef", "0.25", "12.5",
                      "long", "5000", "slow", "40", "20", "", "20000", "whales", "", ""]

    pos = read_csv(tmp_path / "out" / "positions.csv")
    assert pos[0] == ["block", "account", "market", "mode", "side", "size", "notional", "price",
                      "liquidation_price", "distance"]
    assert len(pos) == 1 + len(run.positions)
    info = json.loads((tmp_path / "out" / "run.json").read_text())
    assert info == {"scenario": "synthetic", "seed": 7, "backend": "pyevm", "mode": "isolated",
                    "block_time": 12, "markets": list(MARKETS), "cohorts": list(COHORTS),
                    "keepers": list(KEEPERS), "spot_check_every": 0,
                    # what it ran: unknown for a RunResult built here
                    "overrides": {}, "modules": {}, "contracts": None, "contracts_sha256": None,
                    "perpsim_version": "", "commit": None, "variant": None, "preset": None,
                    "scenario_file": None}
    assert not (tmp_path / "out" / "scenario.toml").exists()

    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["bad_debt"] == "12.5" and summary["liquidations"] == 2
    assert summary["missing"] is None and summary["cohorts"]["whales"]["return"] == "-0.012"
    text = (tmp_path / "out" / "summary.json").read_text()
    assert text == json.dumps(summary, sort_keys=True, indent=2) + "\n"


def kpi_values(html: str) -> dict[str, str]:
    return dict(re.findall(r'<div class="kpi" id="kpi-([a-z_]+)"[^>]*>.*?<div class="value">([^<]*)</div>',
                           html))


def test_report_headline_first_in_human_units(tmp_path):
    html = write_run(make_run(), tmp_path).read_text()
    # the KPI strip comes before any chart, the raw tables after every chart, collapsed
    assert html.index('id="kpis"') < html.index('class="plotly-graph-div"')
    assert html.rindex('class="plotly-graph-div"') < html.index('<details id="details-summary">')
    assert kpi_values(html) == {
        "bad_debt": "$12.50", "liquidations": "1 / 1", "liquidated_notional": "$10,000",
        "insurance_drawdown": "0.03%", "lp_return": "0.11%", "keeper_profit": "$24.75",
        "wiped_out": "1 of 6"}
    # blocks as simulated (11 after block 0) with the time they span; no empty mode row
    assert "11 blocks (2 min) of 12 s" in html
    assert "<td>keepers › fast › gas</td><td>2,305,567 gwei ($6.92)</td>" in html
    assert '<td>cohorts › whales › return</td><td class="num">-1.20%</td>' in html
    assert '<td>bad debt</td><td class="num">$12.50</td>' in html
    run = make_run(mode=None)
    assert "<td>margin mode</td>" not in run_html(run)


def test_report_charts_are_inline_plotly(tmp_path):
    html = write_run(make_run(), tmp_path).read_text()
    keys = PLOT_DIV.findall(html)
    assert keys == ["price-ETH", "heatmap-ETH", "price-BTC", "heatmap-BTC", "distance", "rates",
                    "keepers", "equity", "pool", "insurance"]
    assert len(keys) == RUN_PLOTS
    assert "Plotly.newPlot" in html and "plotly.js v" in html  # the library itself is inlined
    markup = re.sub(r"<script>.*?</script>", "", html, flags=re.S)
    assert not re.search(r'(src|href)="(https?:|//)', markup)  # nothing external
    assert "<script src" not in html
    # liquidation markers say the side and carry the notional
    assert "longs liquidated (1)" in html and "shorts liquidated (1)" in html
    # keepers: PnL per liquidation is the reward less gas (25 - 1.25), or the reward alone
    keepers = re.search(r'id="plot-keepers".*?</script>', html, re.S).group(0)
    assert '"y":[23.75]' in keepers and '"y":[20.0]' in keepers


def test_run_outputs_are_byte_identical(tmp_path):
    write_run(make_run(), tmp_path / "a")
    write_run(make_run(), tmp_path / "b")
    a, b = snapshot(tmp_path / "a"), snapshot(tmp_path / "b")
    assert sorted(a) == sorted(RUN_FILES)
    assert a == b
    # and a different input does change the report
    write_run(make_run(shock=1), tmp_path / "c")
    assert snapshot(tmp_path / "c")["report.html"] != a["report.html"]


def test_charts_with_nothing_to_show_are_left_out_with_a_note(tmp_path):
    run = make_run()
    run.keepers, run.liquidations, run.events, run.positions = (), [], [], []
    for row in run.rows:
        for k in KEEPERS:
            del row[f"keeper_profit.{k}"]
        row["cum_bad_debt"] = row["bad_debt"] = Decimal(0)
    html = write_run(run, tmp_path).read_text()
    assert PLOT_DIV.findall(html) == ["price-ETH", "price-BTC", "rates", "equity", "pool",
                                      "insurance"]
    for note in ("No open ETH positions with a liquidation price were sampled.",
                 "No open positions were sampled.", "This run had no keepers.",
                 "No liquidations in this run.", "No bad debt in this run, so no bad-debt line."):
        assert note in html
    assert read_csv(tmp_path / "liquidations.csv")[1:] == []
    assert read_csv(tmp_path / "events.csv") == [["block", "tx", "contract", "event", "args"]]


def test_study(tmp_path):
    html = write_study(make_study(), tmp_path / "s")
    assert html == tmp_path / "s" / "study.html"
    for mode in ("isolated", "cross"):
        for name in RUN_FILES:
            assert (tmp_path / "s" / mode / name).is_file()
    assert read_csv(tmp_path / "s" / "comparison.csv") == [
        ["metric", "isolated", "cross"], ["liquidations", "2", "3"],
        ["bad_debt", "12.5", "40.0"]]
    text = html.read_text()
    assert '<table id="comparison">' in text
    assert '<td>bad_debt</td><td class="num">$12.50</td><td class="num">$40.00</td>' in text
    # one panel chart with both variants, plus each market's price for both
    assert PLOT_DIV.findall(text) == ["study", "study-price-ETH", "study-price-BTC"]
    assert text.count('"legendgroup":"isolated"') == text.count('"legendgroup":"cross"') > 0
    assert 'href="isolated/report.html"' in text and 'href="cross/report.html"' in text
    write_study(make_study(), tmp_path / "t")
    assert snapshot(tmp_path / "s") == snapshot(tmp_path / "t")


def test_frame_gives_pandas_tables():
    run = make_run()
    rows = run.frame()
    assert isinstance(rows, pd.DataFrame) and len(rows) == BLOCKS
    assert rows["block"].tolist() == list(range(BLOCKS))
    assert rows["cum_bad_debt"].iloc[-1] == 12.5
    liq = run.frame("liquidations")
    assert liq["side"].tolist() == ["short", "long"] and liq["keeper"].tolist() == ["fast", "slow"]
    assert liq["latency"].iloc[0] == 2 and pd.isna(liq["latency"].iloc[1])
    assert len(run.frame("positions")) == len(run.positions)
    assert run.frame("events")["event"].tolist() == ["Liquidated", "BadDebt"]
    with pytest.raises(ValueError, match="table: must be one of rows, liquidations"):
        run.frame("trades")


def test_parquet_tables_keep_exact_values(tmp_path):
    run = make_run()
    write_run(run, tmp_path, format="parquet")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(["timeseries.parquet", "events.parquet", "liquidations.parquet",
                            "positions.parquet", "run.json", "summary.json", "report.html"])
    ts = pd.read_parquet(tmp_path / "timeseries.parquet")
    assert ts["price.ETH"].tolist() == [str(r["price.ETH"]) for r in run.rows]
    liq = pd.read_parquet(tmp_path / "liquidations.parquet")
    assert liq["penalty"].tolist() == ["50", "40"] and pd.isna(liq["latency"].iloc[1])
    with pytest.raises(ValueError, match="format: must be one of csv, parquet"):
        write_run(run, tmp_path / "x", format="xlsx")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_perpsim_report_rebuilds_the_page_from_files(tmp_path, fmt):
    original = write_run(make_run(), tmp_path, format=fmt).read_text()
    (tmp_path / "report.html").unlink()
    result = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert result.exit_code == 0, result.output
    rebuilt = (tmp_path / "report.html").read_text()
    assert kpi_values(rebuilt) == kpi_values(original)
    assert PLOT_DIV.findall(rebuilt) == PLOT_DIV.findall(original)
    assert load_run(tmp_path).liquidations[0].keeper == "fast"


def test_perpsim_report_refuses_a_folder_that_is_not_a_run(tmp_path):
    result = CliRunner().invoke(main, ["report", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {tmp_path}: not a run folder (no run.json; perpsim run writes one)"
