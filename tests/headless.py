"""Headless Chromium for the HTML tests: open a page, count its plotly plots, collect its console errors,
measure elements and save a screenshot.

Drives the system Chromium (Debian package ``chromium``) through Playwright; nothing is downloaded
(never ``playwright install``). Skip policy: without Chromium or Playwright the browser tests skip with
the reason, unless ``PERPSIM_REQUIRE_BROWSER=1`` (set by ``.ci/run`` once it has installed Chromium),
where they fail instead, so CI cannot go green without having looked at the pages.

    # tests/conftest.py imports the fixtures ``chromium`` and ``screenshots`` (once: two copies of the
    # session fixture would start Playwright twice, which it refuses)
    from headless import box

    def test_page(chromium, screenshots):
        page = chromium.render(html, screenshots / "page.png", evaluate={"kpi": box("#kpis")})
        assert page.console_errors == [] and page.plot_count == 4
        assert page.values["kpi"]["bottom"] <= page.viewport[1]   # above the fold
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REQUIRE_ENV = "PERPSIM_REQUIRE_BROWSER"
SCREENSHOTS_ENV = "PERPSIM_SCREENSHOTS"  # keep the tests' screenshots in this folder
CHROMIUM_NAMES = ("chromium", "chromium-browser")
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run")
DEFAULT_VIEWPORT = (1366, 768)
RENDER_TIMEOUT_MS = 30_000

# Every plotly div (plotly.io.to_html writes class "plotly-graph-div") has become a drawn plot.
PLOTS_DRAWN_JS = """() => document.readyState === 'complete' &&
    [...document.querySelectorAll('.plotly-graph-div')].every(
        d => d.classList.contains('js-plotly-plot') && d.querySelector('svg.main-svg'))"""
PLOT_COUNT_JS = """() => [...document.querySelectorAll('.js-plotly-plot')]
    .filter(d => d.querySelector('svg.main-svg')).length"""


def box(selector: str) -> str:
    """JS giving the page-coordinate bounding box of the first element matching ``selector`` (or null):
    ``{"left", "top", "right", "bottom", "width", "height"}`` in CSS pixels."""
    return f"""() => {{
        const el = document.querySelector({selector!r});
        if (!el) return null;
        const r = el.getBoundingClientRect();
        return {{left: r.left + scrollX, top: r.top + scrollY, right: r.right + scrollX,
                 bottom: r.bottom + scrollY, width: r.width, height: r.height}};
    }}"""


def horizontal_overflow() -> str:
    """JS giving how many CSS pixels the page is wider than the viewport (0 when nothing scrolls sideways)."""
    return "() => Math.max(0, document.documentElement.scrollWidth - document.documentElement.clientWidth)"


@dataclass(frozen=True)
class Rendered:
    """What the browser saw: errors, drawn plots, the values of the requested JS and the screenshot."""

    console_errors: list[str]
    plot_count: int
    external_requests: list[str]
    values: dict[str, Any] = field(default_factory=dict)
    screenshot: Path | None = None
    viewport: tuple[int, int] = DEFAULT_VIEWPORT


def chromium_path() -> str | None:
    """The system Chromium on PATH, or None."""
    for name in CHROMIUM_NAMES:
        if path := shutil.which(name):
            return path
    return None


def browser_required() -> bool:
    return os.environ.get(REQUIRE_ENV) == "1"


def unavailable(reason: str) -> None:
    """Skip (locally) or fail (when ``PERPSIM_REQUIRE_BROWSER=1``) because the browser cannot run."""
    if browser_required():
        pytest.fail(f"{REQUIRE_ENV}=1 but {reason}", pytrace=False)
    pytest.skip(f"{reason} (install the Debian package 'chromium'; CI sets {REQUIRE_ENV}=1)")


class Chromium:
    """One headless Chromium; each ``render`` opens a fresh page (and browser context)."""

    def __init__(self, browser: Any):
        self._browser = browser

    def render(self, html: Path, screenshot: Path | None = None, *,
               viewport: tuple[int, int] = DEFAULT_VIEWPORT, full_page: bool = False,
               clip: Mapping[str, float] | None = None,
               evaluate: Mapping[str, str] | None = None) -> Rendered:
        """Open ``html`` from disk with the network cut off (the file must work offline; any request
        leaving file:// is blocked and listed), wait until every plotly div has drawn its SVG, evaluate
        each JS function in ``evaluate`` and save ``screenshot``: the viewport, the ``full_page``, or
        the page region ``clip`` (``{"x", "y", "width", "height"}`` in page pixels)."""
        width, height = viewport
        context = self._browser.new_context(viewport={"width": width, "height": height})
        errors: list[str] = []
        external: list[str] = []
        try:
            page = context.new_page()
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))

            def block(route):
                external.append(route.request.url)
                route.abort()

            page.route(lambda url: not url.startswith(("file:", "data:", "blob:", "about:")), block)
            page.goto(Path(html).resolve().as_uri(), wait_until="load", timeout=RENDER_TIMEOUT_MS)
            page.wait_for_function(PLOTS_DRAWN_JS, timeout=RENDER_TIMEOUT_MS)
            values = {name: page.evaluate(js) for name, js in (evaluate or {}).items()}
            plot_count = page.evaluate(PLOT_COUNT_JS)
            if screenshot is not None:
                Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshot), full_page=full_page or clip is not None,
                                clip=dict(clip) if clip is not None else None)
        finally:
            context.close()
        return Rendered(console_errors=errors, plot_count=plot_count, external_requests=external,
                        values=values, screenshot=screenshot, viewport=viewport)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Chromium]:
    """The session's headless Chromium (skips, or fails under ``PERPSIM_REQUIRE_BROWSER=1``, without it)."""
    executable = chromium_path()
    if executable is None:
        unavailable("no chromium binary on PATH")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the Python package 'playwright' is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True,
                                             args=list(CHROMIUM_ARGS))
        try:
            yield Chromium(browser)
        finally:
            browser.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> Path:
    """Where tests save screenshots: ``$PERPSIM_SCREENSHOTS`` if set (kept for a look or the
    README), else a temporary folder."""
    if folder := os.environ.get(SCREENSHOTS_ENV):
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("screenshots")
