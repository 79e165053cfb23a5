"""The headless-browser harness itself (tests/headless.py): it sees plots, errors and blocked requests."""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio
import pytest
from headless import box, horizontal_overflow


def page(tmp_path, body: str, figures: int) -> object:
    plots = "".join(pio.to_html(go.Figure(go.Scatter(x=[0, 1, 2], y=[i, 2, 1])), full_html=False,
                                include_plotlyjs="inline" if i == 0 else False) for i in range(figures))
    html = tmp_path / "page.html"
    html.write_text(f"<!doctype html><html><body>{body}{plots}</body></html>")
    return html


def test_counts_drawn_plots_and_saves_the_screenshot(chromium, tmp_path):
    shot = tmp_path / "shot.png"
    seen = chromium.render(page(tmp_path, '<h1 id="head">KPI</h1>', 3), shot,
                           evaluate={"head": box("#head"), "missing": box("#nope"),
                                     "overflow": horizontal_overflow()})
    assert seen.plot_count == 3
    assert seen.console_errors == [] and seen.external_requests == []
    assert seen.values["missing"] is None and seen.values["overflow"] == 0
    assert 0 < seen.values["head"]["bottom"] < seen.viewport[1]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_reports_console_errors_uncaught_exceptions_and_network(chromium, tmp_path):
    body = ('<script>console.error("boom")</script><script>undefinedFunction()</script>'
            '<img src="https://example.invalid/x.png"><div style="width:5000px">wide</div>')
    seen = chromium.render(page(tmp_path, body, 1), None, evaluate={"overflow": horizontal_overflow()})
    assert seen.plot_count == 1
    assert "boom" in seen.console_errors
    assert any("undefinedFunction" in e for e in seen.console_errors)
    assert seen.values["overflow"] == 5000 + 8 - 1366  # body margin 8px, viewport 1366
    assert seen.external_requests == ["https://example.invalid/x.png"]
    assert seen.screenshot is None


def test_missing_browser_skips_locally_and_fails_when_required(monkeypatch):
    from headless import REQUIRE_ENV, unavailable

    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="no chromium"):
        unavailable("no chromium")
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=f"{REQUIRE_ENV}=1 but no chromium"):
        unavailable("no chromium")


def test_clipped_screenshot_has_the_clip_size(chromium, tmp_path):
    shot = tmp_path / "clip.png"
    chromium.render(page(tmp_path, "", 2), shot, clip={"x": 0, "y": 100, "width": 300, "height": 420})
    header = shot.read_bytes()
    assert int.from_bytes(header[16:20], "big") == 300 and int.from_bytes(header[20:24], "big") == 420
