"""An external reference market with depth: where the venue's flow is hedged, and whose moved
price the oracle reports.

A scenario's price path is the exogenous price of that market (the CEX the oracle reads). Every
trade, liquidation and auto-deleveraging on the venue is hedged there by its signed notional (a
liquidated long sells), which moves the price by the market's depth and shape; the move then
decays back toward the exogenous path with the market's half-life. With feedback on, the oracle
reports the moved price, so liquidations that sell push the price through further liquidation
prices: a cascade. With feedback off the flow is still priced (its impact cost) but the oracle
reports the exogenous path, so the same path can be compared with and without.

The displacement is kept in log space (reported = exogenous x e^d), so no flow takes a price to
zero or below; a move is ``ln(1 + m)`` for the fractional move ``m`` the depth gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Mapping

from protocol.prices._validate import decimal
from protocol.prices.path import quantize

SHAPES = ("linear", "sqrt")
_ONE = Decimal(1)
_HALF = Decimal("0.5")


@dataclass(frozen=True)
class Liquidity:
    """One market's depth outside the venue.

    ``depth``: USD of one-way flow that moves the price by 1%. ``shape``: ``linear`` (a flow of
    k x depth moves it k%) or ``sqrt`` (the square-root law: sqrt(k)%). ``half_life``: blocks in
    which half of a displacement decays back toward the exogenous price (resilience)."""

    depth: Decimal
    shape: str = "linear"
    half_life: Decimal = Decimal(30)

    def __post_init__(self) -> None:
        depth = decimal("depth", self.depth)
        if depth <= 0:
            raise ValueError(f"depth must be > 0 USD per 1%, got {self.depth!r}")
        if self.shape not in SHAPES:
            raise ValueError(f"shape must be one of {', '.join(SHAPES)}, got {self.shape!r}")
        half_life = decimal("half_life", self.half_life)
        if half_life <= 0:
            raise ValueError(f"half_life must be > 0 blocks, got {self.half_life!r}")
        object.__setattr__(self, "depth", depth)
        object.__setattr__(self, "half_life", half_life)

    def move(self, flow_usd: Decimal) -> Decimal:
        """The fractional price move a signed flow causes (+ buys push the price up); a sale
        moves the price down by at most 99%."""
        if flow_usd == 0:
            return Decimal(0)
        ratio = abs(flow_usd) / self.depth
        pct = ratio if self.shape == "linear" else ratio.sqrt()
        move = pct / 100
        return move if flow_usd > 0 else -min(move, Decimal("0.99"))

    @property
    def decay(self) -> Decimal:
        """What is left of a displacement after one block: 0.5 ** (1 / half_life)."""
        return _HALF ** (_ONE / self.half_life)


class ExternalMarket:
    """The reference markets of a scenario: ``quote`` the prices the oracle reports this block,
    then ``absorb`` the block's hedged flow. Markets without a ``Liquidity`` are infinitely
    deep: their reported price is the exogenous one."""

    def __init__(self, liquidity: Mapping[str, Liquidity], feedback: bool = True):
        self.liquidity = dict(liquidity)
        self.feedback = feedback
        self.displacement = {symbol: Decimal(0) for symbol in self.liquidity}

    def quote(self, exogenous: Mapping[str, Decimal]) -> dict[str, Decimal]:
        """The prices the oracle reports: exogenous x e^displacement with feedback, else the
        exogenous prices."""
        if not self.feedback:
            return dict(exogenous)
        with localcontext() as ctx:
            ctx.prec = 34
            return {s: quantize(p * self.displacement[s].exp()) if s in self.displacement else p
                    for s, p in exogenous.items()}

    def absorb(self, flows: Mapping[str, Decimal]) -> dict[str, Decimal]:
        """Decay every displacement by one block, then hedge each market's net signed flow
        (USD, + buys); returns each market's impact cost in USD: |flow| x |price move| / 2, what
        walking the book costs against the price before it."""
        costs: dict[str, Decimal] = {}
        with localcontext() as ctx:
            ctx.prec = 34
            for symbol, liq in self.liquidity.items():
                flow = flows.get(symbol, Decimal(0))
                move = liq.move(flow)
                self.displacement[symbol] = self.displacement[symbol] * liq.decay + (_ONE + move).ln()
                costs[symbol] = impact_cost(flow, move)
        return costs

    def cost_of(self, symbol: str, flow_usd: Decimal) -> Decimal:
        """The impact cost a flow would have on its own in ``symbol``'s market (0 where the
        market is infinitely deep)."""
        liq = self.liquidity.get(symbol)
        return Decimal(0) if liq is None else impact_cost(flow_usd, liq.move(flow_usd))


def impact_cost(flow_usd: Decimal, move: Decimal) -> Decimal:
    """|flow| x |move| / 2: a flow that walks the price linearly from p to p(1 + move) pays on
    average half the move."""
    return abs(flow_usd) * abs(move) / 2
