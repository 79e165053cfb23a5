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

Depth may change over the run: a :class:`DepthSchedule` gives it by block (a side each: sales walk
the bids, purchases the asks), and a :class:`Thinning` rule takes a share of it away while the
market moves fast (the return over a window past a threshold), giving it back with a half-life.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import Mapping, Optional, Sequence, Union

from protocol.prices._validate import decimal, fraction, integer
from protocol.prices.path import quantize

SHAPES = ("linear", "sqrt")
_ONE = Decimal(1)
_HALF = Decimal("0.5")


@dataclass(frozen=True)
class DepthSchedule:
    """Depth by block: ``steps`` are ``(block, bid depth, ask depth)``, the first at block 0,
    blocks increasing; each holds until the next. Depths are USD per 1% as ``Liquidity.depth``;
    a sale walks the bids, a purchase the asks."""

    steps: tuple[tuple[int, Decimal, Decimal], ...]
    _blocks: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        steps = tuple(self.steps)
        if not steps:
            raise ValueError("depth schedule must not be empty")
        out: list[tuple[int, Decimal, Decimal]] = []
        for i, (block, bid, ask) in enumerate(steps):
            integer("depth schedule block", block)
            if i == 0 and block != 0:
                raise ValueError(f"depth schedule must start at block 0, got block {block}")
            if i and block <= out[-1][0]:
                raise ValueError(f"depth schedule blocks must increase, got {block} after "
                                 f"{out[-1][0]}")
            bid, ask = decimal("depth", bid), decimal("depth", ask)
            if bid <= 0 or ask <= 0:
                raise ValueError(f"depth must be > 0 USD per 1%, got {min(bid, ask)} at block "
                                 f"{block}")
            out.append((block, bid, ask))
        object.__setattr__(self, "steps", tuple(out))
        object.__setattr__(self, "_blocks", tuple(b for b, _, _ in out))

    @classmethod
    def of(cls, points: Mapping[int, Decimal]) -> "DepthSchedule":
        """A schedule of one depth for both sides from ``{block: depth}``."""
        return cls(tuple((b, d, d) for b, d in sorted(points.items())))

    def at(self, block: int) -> tuple[Decimal, Decimal]:
        """``(bid depth, ask depth)`` in force at ``block``."""
        _, bid, ask = self.steps[max(bisect.bisect_right(self._blocks, block) - 1, 0)]
        return bid, ask


def schedule_from_times(points: Sequence[tuple[Decimal, Decimal, Decimal]], start: Decimal,
                        block_time: Decimal, blocks: int) -> DepthSchedule:
    """A schedule from ``(unix time, bid depth, ask depth)`` points in time order: block ``k``
    (at ``start + k x block_time``) has the depth of the last point at or before it. A point
    must lie at or before block 0, and one at or after the last block (the points must cover
    the run: nothing is carried past the data)."""
    if not points or points[0][0] > start:
        first = "none" if not points else str(points[0][0])
        raise ValueError(f"depth data starts at t={first}, after block 0 (t={start})")
    last_block = start + blocks * block_time
    if points[-1][0] < last_block:
        raise ValueError(f"depth data ends at t={points[-1][0]}, before the last block "
                         f"(t={last_block})")
    times = [t for t, _, _ in points]
    steps: list[tuple[int, Decimal, Decimal]] = []
    for k in range(blocks + 1):
        _, bid, ask = points[bisect.bisect_right(times, start + k * block_time) - 1]
        if not steps or (bid, ask) != steps[-1][1:]:
            steps.append((k, bid, ask))
    return DepthSchedule(tuple(steps))


@dataclass(frozen=True)
class Thinning:
    """Depth that thins when the market moves fast: when the market's own price (the exogenous
    price moved by the venue's flow) has moved more than ``threshold`` (a fraction) over the
    last ``window`` blocks, depth falls to ``factor`` x its level; the depth lost comes back
    with a half-life of ``half_life`` blocks once the move calms."""

    factor: Decimal
    window: int
    threshold: Decimal
    half_life: Decimal

    def __post_init__(self) -> None:
        object.__setattr__(self, "factor", fraction("factor", self.factor, lo=Decimal(0),
                                                    hi=Decimal(1)))
        integer("window", self.window, lo=1)
        threshold = decimal("threshold", self.threshold)
        if threshold <= 0:
            raise ValueError(f"threshold must be > 0 (a fraction: 0.05 is 5%), got "
                             f"{self.threshold!r}")
        half_life = decimal("half_life", self.half_life)
        if half_life <= 0:
            raise ValueError(f"half_life must be > 0 blocks, got {self.half_life!r}")
        object.__setattr__(self, "threshold", threshold)
        object.__setattr__(self, "half_life", half_life)

    @property
    def recovery(self) -> Decimal:
        """What is left of the lost depth after one block: 0.5 ** (1 / half_life)."""
        return _HALF ** (_ONE / self.half_life)


@dataclass(frozen=True)
class Liquidity:
    """One market's depth outside the venue.

    ``depth``: USD of one-way flow that moves the price by 1%, or a :class:`DepthSchedule` of it
    by block. ``shape``: ``linear`` (a flow of k x depth moves it k%) or ``sqrt`` (the
    square-root law: sqrt(k)%). ``half_life``: blocks in which half of a displacement decays back
    toward the exogenous price (resilience). ``thinning``: a :class:`Thinning` rule, or None."""

    depth: Union[Decimal, DepthSchedule]
    shape: str = "linear"
    half_life: Decimal = Decimal(30)
    thinning: Optional[Thinning] = None

    def __post_init__(self) -> None:
        if not isinstance(self.depth, DepthSchedule):
            depth = decimal("depth", self.depth)
            if depth <= 0:
                raise ValueError(f"depth must be > 0 USD per 1%, got {self.depth!r}")
            object.__setattr__(self, "depth", depth)
        if self.shape not in SHAPES:
            raise ValueError(f"shape must be one of {', '.join(SHAPES)}, got {self.shape!r}")
        half_life = decimal("half_life", self.half_life)
        if half_life <= 0:
            raise ValueError(f"half_life must be > 0 blocks, got {self.half_life!r}")
        if self.thinning is not None and not isinstance(self.thinning, Thinning):
            raise ValueError(f"thinning must be a Thinning rule, got {self.thinning!r}")
        object.__setattr__(self, "half_life", half_life)

    @property
    def constant(self) -> bool:
        """Whether depth is one number all run (no schedule, no thinning)."""
        return not isinstance(self.depth, DepthSchedule) and self.thinning is None

    def depth_at(self, block: int, flow_usd: Decimal) -> Decimal:
        """The scheduled depth a flow meets at ``block`` (before thinning): the ask side for a
        purchase, the bid side for a sale."""
        if not isinstance(self.depth, DepthSchedule):
            return self.depth
        bid, ask = self.depth.at(block)
        return ask if flow_usd > 0 else bid

    def move(self, flow_usd: Decimal, depth: Optional[Decimal] = None) -> Decimal:
        """The fractional price move a signed flow causes (+ buys push the price up) against
        ``depth`` (default: the depth at block 0); a sale moves the price down by at most 99%."""
        if flow_usd == 0:
            return Decimal(0)
        if depth is None:
            depth = self.depth_at(0, flow_usd)
        ratio = abs(flow_usd) / depth
        pct = ratio if self.shape == "linear" else ratio.sqrt()
        move = pct / 100
        return move if flow_usd > 0 else -min(move, Decimal("0.99"))

    @property
    def decay(self) -> Decimal:
        """What is left of a displacement after one block: 0.5 ** (1 / half_life)."""
        return _HALF ** (_ONE / self.half_life)


@dataclass(frozen=True)
class OutsideFill:
    """A participant's own trade on the external market (:meth:`ExternalMarket.trade`): ``usd``
    signed notional (+ bought), ``units`` signed base units, ``price`` the average fill (the
    quote walked by the block's earlier outside flow and this trade), ``cost`` its impact cost
    in USD against the quote."""

    symbol: str
    usd: Decimal
    units: Decimal
    price: Decimal
    cost: Decimal


class ExternalMarket:
    """The reference markets of a scenario: ``quote`` the prices the oracle reports this block,
    then ``absorb`` the block's hedged flow. Markets without a ``Liquidity`` are infinitely
    deep: their reported price is the exogenous one.

    Participants may trade these markets themselves (:meth:`trade`, an arbitrageur's hedge, a
    manipulator's pump): their flow joins the venue's hedged flow when the block is absorbed, so
    the oracle shows the move from the next block on, as it shows the venue's own.

    ``start``: the exogenous prices of block 0, where a thinning rule's first windows look back
    to (without it, to the first block quoted)."""

    def __init__(self, liquidity: Mapping[str, Liquidity], feedback: bool = True,
                 start: Optional[Mapping[str, Decimal]] = None):
        self.liquidity = dict(liquidity)
        self.feedback = feedback
        self.displacement = {symbol: Decimal(0) for symbol in self.liquidity}
        #: the block being simulated (``quote`` sets it; 0 before the first)
        self.block = 0
        #: each thinning market's share of its depth left (1: none taken)
        self.thinned = {s: _ONE for s, liq in self.liquidity.items() if liq.thinning is not None}
        self.quoted: dict[str, Decimal] = {}  # the last quote, that outside trades fill against
        self.pending: dict[str, Decimal] = {}  # this block's outside flow, USD signed
        self._seen: dict[str, deque[Decimal]] = {
            s: deque([] if start is None or s not in start else [start[s]],
                     maxlen=self.liquidity[s].thinning.window + 1)  # type: ignore[union-attr]
            for s in self.thinned}

    def quote(self, exogenous: Mapping[str, Decimal], block: Optional[int] = None
              ) -> dict[str, Decimal]:
        """The prices the oracle reports at ``block`` (default: the block after the last one
        quoted): exogenous x e^displacement with feedback, else the exogenous prices. Thinning
        rules see the market's price now."""
        self.block = self.block + 1 if block is None else block
        if self.thinned:
            self._thin(exogenous)
        if not self.feedback:
            self.quoted = dict(exogenous)
            return dict(exogenous)
        with localcontext() as ctx:
            ctx.prec = 34
            self.quoted = {s: quantize(p * self.displacement[s].exp()) if s in self.displacement
                           else p for s, p in exogenous.items()}
            return dict(self.quoted)

    def trade(self, symbol: str, usd: Decimal) -> OutsideFill:
        """Buy (``usd`` > 0) or sell USD ``usd`` of ``symbol`` on the external market in the
        block last quoted. The fill walks the book from where the block's earlier outside trades
        left it; the price moves for everyone when the block is absorbed. A market with no
        ``Liquidity`` fills at the quote. Raises ValueError for a symbol not quoted or a
        sale that would take the price to 1% of the quote or below."""
        if symbol not in self.quoted:
            raise ValueError(f"no external market {symbol!r} quoted")
        quote = self.quoted[symbol]
        with localcontext() as ctx:
            ctx.prec = 34
            if symbol not in self.liquidity or usd == 0:
                return OutsideFill(symbol, usd, usd / quote, quote, Decimal(0))
            before = self.pending.get(symbol, Decimal(0))
            start, end = self._move(symbol, before), self._move(symbol, before + usd)
            if end <= Decimal("-0.99"):
                raise ValueError(f"a sale of {-usd} USD of {symbol} takes its price down 99%")
            self.pending[symbol] = before + usd
            price = quote * (_ONE + (start + end) / 2)
            return OutsideFill(symbol, usd, usd / price, price, impact_cost(usd, end - start))

    def fill_price(self, symbol: str, usd: Decimal) -> Decimal:
        """The average price a trade of ``usd`` (:meth:`trade`) would fill at now, without
        trading. Raises ValueError as :meth:`trade` does."""
        quote = self.quoted.get(symbol)
        if quote is None:
            raise ValueError(f"no external market {symbol!r} quoted")
        if symbol not in self.liquidity or usd == 0:
            return quote
        with localcontext() as ctx:
            ctx.prec = 34
            before = self.pending.get(symbol, Decimal(0))
            start, end = self._move(symbol, before), self._move(symbol, before + usd)
            if end <= Decimal("-0.99"):
                raise ValueError(f"a sale of {-usd} USD of {symbol} takes its price down 99%")
            return quote * (_ONE + (start + end) / 2)

    def _thin(self, exogenous: Mapping[str, Decimal]) -> None:
        with localcontext() as ctx:
            ctx.prec = 34
            for s, left in self.thinned.items():
                rule = self.liquidity[s].thinning
                assert rule is not None
                price = exogenous[s] * self.displacement[s].exp()  # the market's own price
                seen = self._seen[s]
                seen.append(price)
                moved = abs(price / seen[0] - _ONE)  # over the window, or since the start
                if left != _ONE:
                    left = _ONE - (_ONE - left) * rule.recovery
                if moved > rule.threshold:
                    left = min(left, rule.factor)
                self.thinned[s] = left

    def depth(self, symbol: str, flow_usd: Decimal) -> Decimal:
        """The depth a flow meets in ``symbol``'s market this block: the scheduled depth of its
        side, thinned."""
        liq = self.liquidity[symbol]
        depth = liq.depth_at(self.block, flow_usd)
        left = self.thinned.get(symbol, _ONE)
        if left == _ONE:
            return depth
        with localcontext() as ctx:
            ctx.prec = 34
            return depth * left

    def _move(self, symbol: str, flow_usd: Decimal) -> Decimal:
        liq = self.liquidity[symbol]
        if liq.constant:
            return liq.move(flow_usd)  # the arithmetic of constant depth, unchanged
        return liq.move(flow_usd, self.depth(symbol, flow_usd))

    def absorb(self, flows: Mapping[str, Decimal]) -> dict[str, Decimal]:
        """Decay every displacement by one block, then hedge each market's net signed flow
        (USD, + buys) together with the block's outside trades (:meth:`trade`); returns the
        impact cost in USD of each market's hedged flow on its own: |flow| x |price move| / 2,
        what walking the book costs against the price before it."""
        costs: dict[str, Decimal] = {}
        pending, self.pending = self.pending, {}
        with localcontext() as ctx:
            ctx.prec = 34
            for symbol, liq in self.liquidity.items():
                flow = flows.get(symbol, Decimal(0))
                move = self._move(symbol, flow)
                costs[symbol] = impact_cost(flow, move)
                outside = pending.get(symbol)
                if outside:
                    move = self._move(symbol, flow + outside)
                self.displacement[symbol] = self.displacement[symbol] * liq.decay + (_ONE + move).ln()
        return costs

    def cost_of(self, symbol: str, flow_usd: Decimal) -> Decimal:
        """The impact cost a flow would have on its own in ``symbol``'s market (0 where the
        market is infinitely deep)."""
        if symbol not in self.liquidity:
            return Decimal(0)
        return impact_cost(flow_usd, self._move(symbol, flow_usd))


def impact_cost(flow_usd: Decimal, move: Decimal) -> Decimal:
    """|flow| x |move| / 2: a flow that walks the price linearly from p to p(1 + move) pays on
    average half the move."""
    return abs(flow_usd) * abs(move) / 2
