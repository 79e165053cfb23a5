"""The venue's flow into the external market: every fill, liquidation and auto-deleveraging,
read from a block's events as signed USD notional (+ the trader bought, so the hedge buys)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterable, Sequence

from protocol.chain import Receipt
from protocol.venue.units import from_wad

#: Event -> its signed size field: fills, then the forced closes (liquidations and ADL).
FILLS = {"PositionIncreased": "sizeDelta", "PositionDecreased": "sizeDelta"}
FORCED = {"PositionLiquidated": "sizeClosed", "AutoDeleveraged": "sizeDelta"}


@dataclass
class BlockFlow:
    """One block's hedged flow per market symbol: ``net`` (all of it) and ``forced``
    (liquidations and ADL only), signed USD; ``forced_volume`` is the forced flow's gross USD."""

    net: dict[str, Decimal] = field(default_factory=dict)
    forced: dict[str, Decimal] = field(default_factory=dict)
    forced_volume: Decimal = Decimal(0)


def block_flow(receipts: Iterable[Receipt], symbols: Sequence[str]) -> BlockFlow:
    """Sum the fills and forced closes of a block's receipts by market."""
    flow = BlockFlow({s: Decimal(0) for s in symbols}, {s: Decimal(0) for s in symbols})
    for receipt in receipts:
        for event in receipt.events:
            key = FILLS.get(event.name) or FORCED.get(event.name)
            if key is None:
                continue
            symbol = symbols[event["market"]]
            usd = from_wad(event[key]) * from_wad(event["price"])
            flow.net[symbol] += usd
            if event.name in FORCED:
                flow.forced[symbol] += usd
                flow.forced_volume += abs(usd)
    return flow
