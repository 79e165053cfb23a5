"""stress.html of a real stress test (two built-in scenarios standing in for crises, a few
traders, two seeds) in headless Chromium: both charts drawn, no console errors, nothing fetched,
no sideways scrolling, the verdict above the table, the table's figures as the CLI prints them
and "n too small" for VaR95 from two seeds (tests/headless.py: skips without Chromium, fails
under PERPSIM_REQUIRE_BROWSER=1)."""

from __future__ import annotations

import re
from html import unescape

import pytest
from headless import box, horizontal_overflow

from protocol.sweep import LocalEngine
from protocol.sweep.stress import plan_stress, run_stress
from protocol.sweep.stress_page import COLUMNS, cells, write_stress


@pytest.fixture(scope="module")
def stressed(tmp_path_factory):
    out = tmp_path_factory.mktemp("stress")
    plan = plan_stress("default", ["crash", "cascade"], [1, 2],
                       overrides={"agents.count": 3, "blocks": 760})
    result = run_stress(plan, LocalEngine(2), out)
    _, html = write_stress(result, out)
    return result, html


def test_stress_page_renders_with_its_charts_in_chromium(stressed, chromium, screenshots):
    result, html = stressed
    seen = chromium.render(html, screenshots / "stress.png", full_page=True, evaluate={
        "overflow": horizontal_overflow(), "table": box("#stress"), "verdict": box("#verdict"),
        "verdict_text": "() => document.getElementById('verdict').innerText",
        "plots": "() => [...document.querySelectorAll('.js-plotly-plot')].map(d => d.id)",
        "points": "() => document.getElementById('plot-bad_debt').data.map(t => t.y.length)"})
    assert seen.console_errors == [] and seen.external_requests == []
    assert seen.values["plots"] == ["plot-bad_debt", "plot-lp_return"]
    assert seen.values["points"] == [2, 2]  # one point per seed and crisis
    assert seen.values["overflow"] == 0 and seen.values["table"]["right"] <= seen.viewport[0]
    assert seen.values["verdict"]["bottom"] < seen.values["table"]["top"]
    assert seen.values["verdict_text"] == result.verdict()


def test_stress_page_table_is_the_cli_table(stressed):
    result, html = stressed
    text = html.read_text(encoding="utf-8")
    table = re.search(r'<table id="stress">(.*?)</table>', text, re.S).group(1)
    header = [unescape(h) for h in re.findall(r"<th>(.*?)</th>", table)]
    rows = [[unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>")[1])]
    assert header == list(COLUMNS)
    assert rows == [[str(c) for c in cells(r)] for r in result.rows]
    assert [r[3] for r in rows] == ["n too small", "n too small"]  # VaR95 from 2 seeds
    assert 'id="too-few-seeds"' in text
