"""protocol.report: CSV/JSON/HTML outputs of a synthetic run and study, byte-reproducible, and the
HTML report rendered in headless Chromium (skipped when no chromium binary is installed)."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from protocol.report import write_run, write_study
from protocol.sim.result import LiquidationMark, RunResult, StudyResult

MARKETS = ("ETH", "BTC")
COHORTS = ("retail", "whales")
KEEPERS = ("fast", "slow")
BLOCKS = 12
RUN_FILES = ("timeseries.csv", "events.csv", "liquidations.csv", "summary.json", "report.html")
PNG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]+)">')


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
    marks = [
        LiquidationMark(5, "ETH", rows[5]["price.ETH"], "isolated", "0xabc", Decimal("-1.5"),
                        Decimal(0)),
        LiquidationMark(8, "BTC", rows[8]["price.BTC"], "cross", "0xdef", Decimal("0.25"),
                        Decimal("12.5")),
    ]
    events = [
        {"block": 5, "tx": 0, "contract": "Clearinghouse", "event": "Liquidated",
         "args": {"account": "0xabc", "size": Decimal("-1.5"), "market": 0}},
        {"block": 8, "tx": 1, "contract": "Clearinghouse", "event": "BadDebt",
         "args": {"amount": Decimal("12.5"), "account": "0xdef"}},
    ]
    summary = {"blocks": BLOCKS - 1, "liquidations": 2, "bad_debt": cum_bad,
               "first_liquidation_block": 5, "missing": None,
               "pool": {"end_share_price": rows[-1]["lp_share_price"]},
               "cohorts": {c: {"agents": 3, "return": Decimal("-0.012")} for c in COHORTS}}
    return RunResult(scenario="synthetic", seed=7, backend="pyevm", mode=mode, block_time=12,
                     markets=MARKETS, cohorts=COHORTS, keepers=KEEPERS, rows=rows, events=events,
                     liquidations=marks, summary=summary)


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
    assert liq[0] == ["block", "market", "price", "mode", "account", "size", "bad_debt"]
    assert liq[2] == ["8", "BTC", str(run.rows[8]["price.BTC"]), "cross", "0xdef", "0.25", "12.5"]

    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["bad_debt"] == "12.5" and summary["liquidations"] == 2
    assert summary["missing"] is None and summary["cohorts"]["whales"]["return"] == "-0.012"
    text = (tmp_path / "out" / "summary.json").read_text()
    assert text == json.dumps(summary, sort_keys=True, indent=2) + "\n"


def test_report_html_is_self_contained(tmp_path):
    html = write_run(make_run(), tmp_path).read_text()
    images = PNG.findall(html)
    # 2 price charts + OI, pool, insurance fund, bad debt, keepers, equity
    assert len(images) == len(MARKETS) + 6
    for data, alt in images:
        png = base64.b64decode(data)
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5_000
        assert b"Software" not in png  # no matplotlib version in the bytes
        assert alt.strip()
    from matplotlib.image import imread
    h, w, _ = imread(io.BytesIO(base64.b64decode(images[0][0]))).shape
    assert (w, h) == (800, 360)
    assert '<table id="summary">' in html
    assert "<td>pool.end_share_price</td>" in html and "<td>cohorts.whales.return</td>" in html
    assert "ETH price and liquidations" in html and "1 isolated, 0 cross" in html
    assert not re.search(r'(src|href)="(https?:|//)', html)  # nothing external


def test_run_outputs_are_byte_identical(tmp_path):
    write_run(make_run(), tmp_path / "a")
    write_run(make_run(), tmp_path / "b")
    a, b = snapshot(tmp_path / "a"), snapshot(tmp_path / "b")
    assert sorted(a) == sorted(RUN_FILES)
    assert a == b
    # and a different input does change the report
    write_run(make_run(shock=1), tmp_path / "c")
    assert snapshot(tmp_path / "c")["report.html"] != a["report.html"]


def test_run_without_keepers_or_liquidations(tmp_path):
    run = make_run()
    run.keepers, run.liquidations, run.events = (), [], []
    for row in run.rows:
        for k in KEEPERS:
            del row[f"keeper_profit.{k}"]
    html = write_run(run, tmp_path).read_text()
    assert len(PNG.findall(html)) == len(MARKETS) + 5
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
    assert '<table id="comparison">' in text and len(PNG.findall(text)) == 3
    assert 'href="isolated/report.html"' in text and 'href="cross/report.html"' in text
    write_study(make_study(), tmp_path / "t")
    assert snapshot(tmp_path / "s") == snapshot(tmp_path / "t")


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        if path := shutil.which(name):
            return path
    pytest.skip("chromium not installed (Debian package 'chromium')")


def test_report_renders_in_headless_chromium(tmp_path):
    browser = chromium()
    html = write_run(make_run(), tmp_path / "out")
    cmd = [browser, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
           "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}",
           "--virtual-time-budget=5000", "--dump-dom", html.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    dom = proc.stdout
    assert proc.returncode == 0, proc.stderr[-2000:]
    n = len(MARKETS) + 6
    assert len(re.findall(r'<img src="data:image/png;base64,', dom)) == n
    assert '<table id="summary">' in dom and "<td>cohorts.whales.return</td>" in dom
    body = re.search(r"<body[^>]*>", dom).group(0)
    assert 'data-images-loaded="true"' in body, body
    assert f'data-images-decoded="{n}"' in body, body
