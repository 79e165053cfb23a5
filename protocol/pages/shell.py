"""Self-contained HTML pages (the run report, the study page, the sweep page): interactive
plotly charts, tables and collapsible sections in one shell with one style.

plotly.js is inlined once in the page's head, so the file opens offline and carries no external
resources. An inline script sets ``<body data-plots="N">`` once plotly has drawn every chart,
which the headless-browser tests read.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from html import escape
from typing import Any, Iterable, Sequence

from plotly.offline import get_plotlyjs

from protocol.pages.figures import Plot, div
from protocol.values import cell

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto;
       padding: 0.8em 1.5em 3em; max-width: 84em; color: #222; }
h1 { font-size: 1.45em; margin: 0.2em 0 0.1em; }
p.meta { color: #555; margin: 0 0 0.8em; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(10.5em, 1fr)); gap: 0.6em;
        margin: 0.6em 0 1.2em; }
.kpi { border: 1px solid #d9dee5; border-radius: 8px; padding: 0.55em 0.8em; background: #f7f9fb; }
.kpi .label { font-size: 0.78em; color: #555; text-transform: uppercase; letter-spacing: 0.03em; }
.kpi .value { font-size: 1.45em; font-weight: 600; font-variant-numeric: tabular-nums;
              margin: 0.1em 0; white-space: nowrap; }
.kpi .note { font-size: 0.75em; color: #777; }
.kpi[title], td[title] { cursor: help; }
td[title] { text-decoration: underline dotted #999; }
figure img { max-width: 100%; height: auto; }
.plot { margin: 0.8em 0 1.4em; }
p.empty { color: #777; font-style: italic; }
details { margin: 0.6em 0; border: 1px solid #e3e6ea; border-radius: 6px; padding: 0.3em 0.8em; }
summary { cursor: pointer; font-weight: 600; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
caption { text-align: left; color: #555; padding: 0.2em 0; }
figure { margin: 1.5em 0; }
figcaption { color: #555; font-size: 0.9em; }
p.none { color: #555; font-style: italic; }
p.warn { border-left: 4px solid #d62728; background: #fff4f4; padding: 0.5em 0.75em; }
#aggregates { width: 100%; font-size: 0.8em; table-layout: auto; }
#aggregates th { vertical-align: bottom; font-weight: 600; }
#aggregates td.num { white-space: nowrap; }
.ci { display: block; color: #777; font-size: 0.85em; white-space: normal; }
.too-few { color: #a33; font-style: italic; white-space: normal; }
td.err { max-width: 30em; overflow-wrap: anywhere; }
details pre { white-space: pre-wrap; font-size: 0.8em; background: #f6f6f6; padding: 0.5em; }
"""

PLOTS_DRAWN_SCRIPT = """
window.addEventListener("load", function () {
  var plots = document.querySelectorAll(".js-plotly-plot");
  var drawn = Array.prototype.filter.call(plots, function (p) {
    return p.querySelector(".main-svg") !== null; }).length;
  document.body.dataset.plots = String(drawn);
});
"""


@lru_cache(maxsize=1)
def plotly_js() -> str:
    """The pinned plotly.js bundle, to inline (about 4.6 MB)."""
    bundle: str = get_plotlyjs()
    return bundle


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or value is None:
        return False
    try:
        return Decimal(str(value).replace(",", "").replace("$", "").replace("%", "")).is_finite()
    except InvalidOperation:
        return False


@dataclass(frozen=True)
class Tip:
    """A table cell's ``text`` with a ``tooltip`` (its definition, shown on hover)."""

    text: str
    tooltip: str


def _td(value: Any) -> str:
    title = ""
    if isinstance(value, Tip):
        title, value = f' title="{escape(value.tooltip)}"', value.text
    num = ' class="num"' if _is_number(value) else ""
    return f"<td{num}{title}>{escape(cell(value))}</td>"


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], table_id: str, caption: str) -> str:
    """An HTML table (``str()`` of each cell, numbers right-aligned; a :class:`Tip` cell carries
    a tooltip)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = "".join(_td(v) for v in row)
        body.append(f"<tr>{cells}</tr>")
    return (f'<table id="{escape(table_id)}"><caption>{escape(caption)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(body) + "\n</tbody></table>")


def details(title: str, body: str, section_id: str, open_: bool = False) -> str:
    """A collapsible section."""
    return (f'<details id="{escape(section_id)}"{" open" if open_ else ""}>'
            f"<summary>{escape(title)}</summary>{body}</details>")


def plot(item: Plot) -> str:
    """A chart as a ``<div>`` drawn by the inlined plotly.js, or its note when left out."""
    if item.figure is None:
        return f'<p class="empty" id="empty-{escape(item.key)}">{escape(item.note)}</p>'
    note = f'<p class="empty">{escape(item.note)}</p>' if item.note else ""
    return f'<div class="plot">{div(item)}{note}</div>'


def plots(items: Sequence[Plot]) -> list[str]:
    """Charts first, then one line for each chart left out."""
    drawn = [plot(p) for p in items if p.figure is not None]
    return drawn + [plot(p) for p in items if p.figure is None]


def document(title: str, sections: Sequence[str], meta: str = "", changes: str = "") -> str:
    """A complete HTML5 page with the given body sections (plotly.js inlined when they hold
    plotly charts); ``meta`` and ``changes`` (what the run changed) are lines under the title."""
    scripts = (f"<script>{plotly_js()}</script>\n<script>{PLOTS_DRAWN_SCRIPT}</script>\n"
               if any('class="plotly-graph-div"' in section for section in sections) else "")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n{scripts}</head>\n<body>\n"
        f"<h1>{escape(title)}</h1>\n" + (f'<p class="meta">{escape(meta)}</p>\n' if meta else "")
        + (f'<p class="meta" id="changes">{escape(changes)}</p>\n' if changes else "")
        + "\n".join(sections) + "\n</body>\n</html>\n")
