"""One chart on a page: :class:`Plot` (a plotly figure, or a note saying why it was left out),
the palette every page draws with, and the plotly options each chart is rendered with.

A chart's toolbar saves it as a PNG at twice its size (the camera icon, plotly's own export in
the browser): the pages' charts are the figures for papers too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import plotly.graph_objects as go

#: Longs and shorts, wherever a page tells them apart.
LONG, SHORT = "#1a9850", "#d73027"
#: Series colours in order (plotly's default ten).
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
#: plotly.js options of every chart: no logo, resizing with the page, a PNG at twice the size.
CONFIG = {"displaylogo": False, "responsive": True,
          "toImageButtonOptions": {"format": "png", "scale": 2}}


@dataclass(frozen=True)
class Plot:
    """A chart for a page: ``key`` (its element id is ``plot-KEY``), ``title``, ``figure``
    (None when there is nothing to show) and ``note`` (why, or a remark under the chart)."""

    key: str
    title: str
    figure: Optional[go.Figure] = None
    note: str = ""


def div(item: Plot) -> str:
    """The chart as a ``<div id="plot-KEY">`` drawn by the page's inlined plotly.js."""
    assert item.figure is not None
    html: str = item.figure.to_html(full_html=False, include_plotlyjs=False, div_id=f"plot-{item.key}",
                                    config=CONFIG, default_width="100%")
    return html
