"""What every agent shares: a funded wallet, its own seeded RNG, a local book of what it holds,
and a record of what it tried and what the venue refused.

Agents decide from the prices they are shown and from their own book, as a trader watching a
screen does; they do not read the chain every block (that would cost one view call per position
per block). The engine tells them when a keeper liquidated them.

Agents are scheduled, not polled: after acting, an agent says when it next wants to act
(:meth:`Agent.next_block`) and which prices should wake it sooner (:meth:`Agent.triggers`); the
engine (:mod:`protocol.sim.schedule`) asks nothing of an agent with nothing to do. An agent that
declares neither is asked every block.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, ClassVar, Mapping, Optional

from protocol.errors import Reverted
from protocol.prices.liquidity import ExternalMarket, OutsideFill
from protocol.venue import Trader, Venue

#: market -> (wake at or below this price, wake at or above it); None: no bound on that side.
Triggers = Mapping[str, tuple[Optional[Decimal], Optional[Decimal]]]


@dataclass(frozen=True)
class Context:
    """What an agent sees in one block: the external market's prices (which the oracle
    follows), the venue, and the external market itself (``external``, for the participants
    that trade it: None where a run has none, as in a test that builds a context by hand).

    ``path_at``: the scenario's exogenous prices at any block of the run (a block before 0 or
    after the last is read as the first or the last), for informed agents
    (:mod:`protocol.agents.intent`): the past is public, the future is what their signal
    peeks at. The engine sets it; None in a context built by hand."""

    block: int
    prices: Mapping[str, Decimal]
    venue: Venue
    external: Optional[ExternalMarket] = None
    path_at: Optional[Callable[[int], Mapping[str, Decimal]]] = None


@dataclass
class Holding:
    """An agent's own record of one open position (what it asked for; the chain is the truth)."""

    market: str
    size: Decimal  # signed
    entry: Decimal
    margin: Decimal  # isolated margin put up, 0 for cross
    leverage: int
    mode: str
    opened_at: int

    @property
    def side(self) -> int:
        return 1 if self.size > 0 else -1


@dataclass
class Activity:
    """Counts of what an agent did: transactions sent, refused by error name, liquidations."""

    sent: int = 0
    refused: Counter[Optional[str]] = field(default_factory=Counter)  # None: a revert naming nothing
    liquidated: int = 0
    opened: int = 0
    closed: int = 0


@dataclass(frozen=True)
class NoParams:
    """The parameters of an agent (or any plug-in) that takes none."""


class Agent:
    """The one base of every agent, built-in or plug-in: subclass, declare ``Params`` (a
    dataclass of its parameters) and implement :meth:`act`.

    The engine builds ``count`` of them as ``cls(name, trader, rng, params)`` (``trader`` a
    funded :class:`~protocol.venue.Trader`, ``rng`` the agent's own seeded ``random.Random``,
    ``params`` a ``Params``) and mints ``capital`` USD to each before the first block. It calls
    ``act(ctx)`` (:class:`Context`: ``block``, ``prices``, ``venue``) in block 1 and then
    whenever the agent is due: every block, unless it overrides ``next_block(block)`` (the next
    block it wants, or None) and ``triggers()`` (prices that wake it); a keeper's action on its
    positions wakes it for the next block. The helpers ``open``, ``close`` and ``_send`` keep the
    agent's book and count refusals. ``kind`` labels its cohort (each built-in names its own; a
    plug-in that does not is a ``plugin``)."""

    Params: ClassVar[type] = NoParams
    kind = "plugin"
    capital: Decimal = Decimal(0)

    def __init__(self, name: str, trader: Trader, rng: random.Random, params: Any = None):
        self.name = name
        self.trader = trader
        self.rng = rng
        self.params = self.Params() if params is None else params
        self.holdings: dict[str, Holding] = {}
        self.activity = Activity()
        #: what it holds on the external market: base units by market, and the USD its trades
        #: there paid (-) or received (+)
        self.outside_units: dict[str, Decimal] = {}
        self.outside_cash = Decimal(0)

    @property
    def address(self) -> str:
        return self.trader.address

    def act(self, ctx: Context) -> None:
        """Decide and send this block's transactions (possibly none)."""

    def next_block(self, block: int) -> Optional[int]:
        """The next block this agent wants to act in, asked right after it acted in ``block``:
        a later block, or None to wait for a price trigger or a keeper's action on its
        positions (a liquidation, auto-deleveraging, an order that closed a position), each of
        which wakes it. The default, ``block + 1``, asks it every block."""
        return block + 1

    def triggers(self) -> Triggers:
        """Prices that wake this agent before its next block (asked after each act): market ->
        ``(low, high)``, wake once the price it is shown is at or below ``low`` or at or above
        ``high``. None on both sides, or no entry: no trigger."""
        return {}

    def on_liquidated(self, market: Optional[str]) -> None:
        """A keeper liquidated ``market`` (isolated) or, with None, the whole cross account."""
        self.activity.liquidated += 1
        if market is None:
            for symbol in [m for m, h in self.holdings.items() if h.mode == "cross"]:
                del self.holdings[symbol]
        else:
            self.holdings.pop(market, None)

    def on_position_closed(self, market: str) -> None:
        """A keeper executed an order that closed ``market`` (a stop-loss, say)."""
        self.holdings.pop(market, None)

    def on_liquidated_size(self, market: str, closed: Decimal) -> None:
        """A keeper liquidated ``closed`` base units (unsigned) of the position in ``market``: a
        slice (the book keeps the rest) or all of it, :meth:`on_liquidated`."""
        holding = self.holdings.get(market)
        if holding is not None and closed < abs(holding.size):
            holding.size -= closed if holding.size > 0 else -closed
        else:
            self.on_liquidated(market)

    def on_deleveraged(self, market: str, left: Decimal) -> None:
        """Auto-deleveraging left ``left`` base units (signed) of the position in ``market``;
        0: it closed it, :meth:`on_position_closed`."""
        if left == 0:
            self.on_position_closed(market)
        elif market in self.holdings:
            self.holdings[market].size = left

    # ------------------------------------------------------------------ helpers
    def _send(self, action: Callable[[], object]) -> Optional[str]:
        """Send one transaction; a revert is an outcome to count, not an error. Returns the
        custom error's name, or None if it went through."""
        self.activity.sent += 1
        try:
            action()
        except Reverted as exc:
            self.activity.refused[exc.error] += 1
            return exc.error
        return None

    def open(self, ctx: Context, market: str, size: Decimal, leverage: int, mode: str,
             margin: Decimal = Decimal(0)) -> bool:
        """Open a position at the oracle price and record it in the book."""
        size = quantize_size(size)
        if size == 0 or market in self.holdings:
            return False
        ok = self._send(lambda: self.trader.open(market, size, leverage, mode,
                                                 margin=margin if mode == "isolated" else 0)) is None
        if ok:
            self.activity.opened += 1
            self.holdings[market] = Holding(market, size, ctx.prices[market],
                                            margin if mode == "isolated" else Decimal(0),
                                            leverage, mode, ctx.block)
        return ok

    def trade_outside(self, ctx: Context, market: str, usd: Decimal) -> Optional[OutsideFill]:
        """Buy (``usd`` > 0) or sell USD ``usd`` of ``market`` on the external market that the
        oracle reads, and record it in :attr:`outside_units` and :attr:`outside_cash`. None
        when the run has no external market to trade, or the sale would take the price to
        nothing."""
        if ctx.external is None or usd == 0:
            return None
        try:
            fill = ctx.external.trade(market, usd)
        except ValueError:
            return None
        self.outside_units[market] = self.outside_units.get(market, Decimal(0)) + fill.units
        self.outside_cash -= fill.usd
        return fill

    def outside_value(self, prices: Mapping[str, Decimal]) -> Decimal:
        """What the agent's external-market book is worth at ``prices``: its cash from trades
        there plus its units marked at the price."""
        return self.outside_cash + sum((u * prices[m] for m, u in self.outside_units.items()),
                                       Decimal(0))

    def close(self, market: str) -> bool:
        error = self._send(lambda: self.trader.close(market))
        if error is None:
            self.activity.closed += 1
        if error in (None, "NoPosition"):  # NoPosition: liquidated before the engine said so
            self.holdings.pop(market, None)
        return error is None


def blocks_until(rng: random.Random, probability: float) -> Optional[int]:
    """Blocks that pass before an event of ``probability`` per block first happens (0: in the
    first block), drawn at once: a Poisson clock in discrete time, the same law as one
    ``rng.random() < probability`` per block but a single draw. None: never (probability 0)."""
    if probability <= 0:
        return None
    if probability >= 1:
        return 0
    return int(math.log(1.0 - rng.random()) / math.log1p(-probability))


def quantize_size(size: Decimal) -> Decimal:
    """Sizes to 8 decimals (well inside 18-decimal fixed point), rounded towards zero."""
    return size.quantize(Decimal("1e-8"), rounding="ROUND_DOWN")


def usd(x: Decimal) -> Decimal:
    """USD amounts to cents, rounded down (so a deposit never exceeds the wallet)."""
    return x.quantize(Decimal("0.01"), rounding="ROUND_DOWN")


def uniform(rng: random.Random, bounds: tuple[float, float]) -> Decimal:
    low, high = bounds
    return Decimal(repr(round(rng.uniform(low, high), 6)))


def randint(rng: random.Random, bounds: tuple[int, int]) -> int:
    return rng.randint(int(bounds[0]), int(bounds[1]))
