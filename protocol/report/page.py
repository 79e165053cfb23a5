"""Self-contained HTML pages: tables plus charts embedded as base64 PNG ``<img>`` tags.

The page carries no external resources. A small inline script marks
``<body data-images-loaded="true">`` once every image has decoded (``naturalWidth > 0``), which
the headless-browser test reads from the dumped DOM.
"""

from __future__ import annotations

import base64
from decimal import Decimal, InvalidOperation
from html import escape
from typing import Any, Iterable, Sequence

from protocol.report.charts import Chart
from protocol.report.values import cell

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 0.9em; }
"""

IMAGES_LOADED_SCRIPT = """
(function () {
  function check() {
    var imgs = Array.prototype.slice.call(document.images);
    var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
    document.body.dataset.imagesDecoded = String(ok);
    document.body.dataset.imagesLoaded = (ok === imgs.length) ? "true" : "false";
  }
  window.addEventListener("load", check);
})();
"""


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or value is None:
        return False
    try:
        return Decimal(str(value)).is_finite()
    except InvalidOperation:
        return False


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], table_id: str, caption: str) -> str:
    """An HTML table of exact values (``str()``, numbers right-aligned)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{escape(cell(v))}</td>' if _is_number(v) else f"<td>{escape(cell(v))}</td>"
            for v in row)
        body.append(f"<tr>{cells}</tr>")
    return (f'<table id="{escape(table_id)}"><caption>{escape(caption)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(body) + "\n</tbody></table>")


def figure(chart: Chart) -> str:
    """A chart as ``<figure>`` with an inline ``data:image/png;base64`` image and caption."""
    data = base64.b64encode(chart.png).decode("ascii")
    return (f'<figure id="chart-{escape(chart.key)}">'
            f'<img src="data:image/png;base64,{data}" alt="{escape(chart.alt)}">'
            f"<figcaption>{escape(chart.title)}</figcaption></figure>")


def document(title: str, sections: Sequence[str]) -> str:
    """A complete HTML5 page with the given body sections."""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n"
        f"<script>{IMAGES_LOADED_SCRIPT}</script>\n</head>\n<body>\n"
        f"<h1>{escape(title)}</h1>\n" + "\n".join(sections) + "\n</body>\n</html>\n")
