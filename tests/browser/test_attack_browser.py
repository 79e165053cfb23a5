"""attack.html of a real attack search (the Mango-style manipulator on attack-mango, two budgets,
one attack shape) in headless Chromium: the timeline drawn with its three panels' traces, no
console errors, nothing fetched, no sideways scrolling, the verdict above the table, and the
table's figures as the CLI prints them (tests/headless.py: skips without Chromium, fails under
PERPSIM_REQUIRE_BROWSER=1)."""

from __future__ import annotations

import re
from html import unescape

import pytest
from headless import box, horizontal_overflow

from protocol.sweep.attack import plan_attack, replay, run_attack
from protocol.sweep.attack_page import COLUMNS, cells, write_attack


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    out = tmp_path_factory.mktemp("attack")
    plan = plan_attack("attack-mango", "manipulator", [1e6, 5e6], [1],
                       vary={"venue_leg": (0.3,), "pump_blocks": (1,), "exit": ("close",)})
    result = run_attack(plan, out, workers=2)
    best = result.best()
    assert best is not None
    _, html = write_attack(result, replay(plan, best), out)
    return result, html


def test_attack_page_renders_its_timeline_in_chromium(attacked, chromium, screenshots):
    result, html = attacked
    seen = chromium.render(html, screenshots / "attack.png", full_page=True, evaluate={
        "overflow": horizontal_overflow(), "table": box("#best"), "verdict": box("#verdict"),
        "verdict_text": "() => document.getElementById('verdict').innerText",
        "plots": "() => [...document.querySelectorAll('.js-plotly-plot')].map(d => d.id)",
        "traces": "() => document.getElementById('plot-timeline').data.map(t => t.name)"})
    assert seen.console_errors == [] and seen.external_requests == []
    assert seen.values["plots"] == ["plot-timeline"]
    assert {"oracle (on chain)", "external market", "exogenous path", "venue position (notional)",
            "profit", "pool value"} <= set(seen.values["traces"])
    assert seen.values["overflow"] == 0 and seen.values["table"]["right"] <= seen.viewport[0]
    assert seen.values["verdict"]["bottom"] < seen.values["table"]["top"]
    assert seen.values["verdict_text"] == result.verdict()


def test_attack_page_table_is_the_cli_table(attacked):
    result, html = attacked
    text = html.read_text(encoding="utf-8")
    found = re.search(r'<table id="best">(.*?)</table>', text, re.S)
    assert found is not None
    body = found.group(1)
    header = [unescape(h) for h in re.findall(r"<th>(.*?)</th>", body)]
    rows = [[unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>")[1])]
    assert header == list(COLUMNS)
    assert rows == [[str(c) for c in cells(p)] for p in result.by_budget()]
    assert len(rows) == 2
