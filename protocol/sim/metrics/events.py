"""The run's decoded events and its transaction count."""

from __future__ import annotations

from typing import Any, Mapping

from protocol.plugins import BlockView, Metric, RunView
from protocol.sim.result import Row


class EventLog(Metric):
    """No columns; keeps every decoded event of the venue's contracts as a row of
    ``events.csv`` (``events``), numbered by the transaction it came in (from 1, over the run)."""

    namespaced = False

    def begin(self, run: RunView) -> None:
        v = run.venue
        self.names = {c.address.lower(): name for name, c in (
            ("Clearinghouse", v.clearinghouse), ("PriceOracle", v.oracle),
            ("OrderBook", v.order_book), ("LiquidityPool", v.pool), ("MockUSDC", v.usdc))}
        self.events: list[Row] = []
        self.tx_count = 0

    def observe(self, view: BlockView) -> Mapping[str, Any]:
        for receipt in view.receipts:
            self.tx_count += 1
            for event in receipt.events:
                self.events.append({"block": view.block, "tx": self.tx_count, "contract":
                                    self.names.get(event.address.lower(), event.address),
                                    "event": event.name, "args": dict(event.args)})
        return {}

    def summary(self) -> dict[str, Any]:
        return {}


class Transactions(Metric):
    """Column ``transactions`` (the block's); the summary's ``blocks`` and ``transactions``."""

    namespaced = False
    figures = {"transactions": lambda s: s["transactions"]}

    def begin(self, run: RunView) -> None:
        self.blocks = -1  # block 0 is the launch
        self.total = 0

    def observe(self, view: BlockView) -> Mapping[str, Any]:
        count = len(view.receipts)
        self.blocks += 1
        self.total += count
        return {"transactions": count}

    def summary(self) -> dict[str, Any]:
        return {"blocks": self.blocks, "transactions": self.total}
