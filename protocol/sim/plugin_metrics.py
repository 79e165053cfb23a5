"""A run's plug-in metrics (:class:`protocol.plugins.Metric`): built from the scenario's
``[[metrics]]``, their columns appended to each block's row and their summaries gathered under
``summary["metrics"]``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping, Sequence

from protocol.chain import Receipt
from protocol.plugins import BlockView, Metric, metric_class
from protocol.sim.result import Row
from protocol.sim.scenario import MetricSpec
from protocol.venue import Venue


class PluginMetrics:
    """The scenario's plug-in metrics for one run (none: every call is a no-op)."""

    def __init__(self, specs: Sequence[MetricSpec], venue: Venue):
        self.venue = venue
        self.metrics: list[Metric] = [metric_class(s.type)(s.name, s.params) for s in specs]
        for metric in self.metrics:
            metric.start(venue)

    def record(self, row: Row, block: int, timestamp: int, prices: Mapping[str, Decimal],
               receipts: Sequence[Receipt]) -> Row:
        """``row`` with each metric's ``"{name}.{key}"`` columns for this block added."""
        for metric in self.metrics:
            view = BlockView(block, timestamp, prices, tuple(receipts), self.venue, dict(row))
            for key, value in metric.observe(view).items():
                row[f"{metric.name}.{key}"] = value
        return row

    def summary(self) -> dict[str, Any]:
        return {metric.name: metric.summary() for metric in self.metrics}
