"""The one presentation stack of the run, study and sweep pages: the page shell
(:mod:`~protocol.pages.shell`: style, plotly.js inlined once, tables, collapsible sections),
charts (:mod:`~protocol.pages.figures`: :class:`~protocol.pages.figures.Plot`, the palette) and
human units (:mod:`~protocol.pages.units`). Formatting only: the files keep exact values.
"""
