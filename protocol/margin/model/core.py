"""Exact reference model of the Clearinghouse: the same state, the same rules, the same rounding.

It is split along the contracts' seams: this core, a part per library (impact, markets,
solvency, adl, health, collateral, trade, liquidation), and one mirror per rule module (``rates``,
``requirements``, ``liquidation``, ``pricing``), which a market's :class:`MarketRules` names (the
stock rules by default, as on chain). It depends on nothing but the standard library.
Differential tests apply each operation here and on chain and require identical state afterwards.
Operations raise :class:`ModelRevert` carrying the custom error name the contract would revert
with.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable, Optional, TypeVar, TypeVarTuple, Unpack

from protocol.margin.deleveraging import AdlRule
from protocol.margin.model.adl import AdlRules
from protocol.margin.model.collateral import CollateralRules
from protocol.margin.model.health import HealthRules
from protocol.margin.model.impact import ImpactRules
from protocol.margin.model.liquidation import LiquidationRules
from protocol.margin.model.markets import MarketsRules
from protocol.margin.model.solvency import SolvencyRules
from protocol.margin.model.state import (
    ISOLATED,
    STOCK_RULES,
    MarketMemory,
    MarketParams,
    MarketRules,
    MarketState,
    ModelRevert,
    Position,
)
from protocol.margin.model.trade import TradeRules
from protocol.margin.requirements import Tier

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

#: What a revert undoes (:meth:`Model._snapshot`'s copy, in its order).
_Snapshot = tuple[list[MarketState], dict[str, int], dict[str, int], dict[tuple[str, int], Position], int,
                  int, int, int, dict[int, int], dict[str, int], int, list[str], dict[int, MarketMemory],
                  tuple[int, int, int, Optional[AdlRule], dict[tuple[str, int], tuple[int, int, bool]]]]


@dataclass
class Model(ImpactRules, MarketsRules, SolvencyRules, AdlRules, HealthRules, CollateralRules,
            TradeRules, LiquidationRules):
    """State of one venue. ``prices[market]`` is (price, timestamp); ``now`` is block.timestamp."""

    scale: int
    max_price_age: int  # every market's heartbeat, unless ``heartbeats`` names its own
    close_grace_period: int = 0
    heartbeats: dict[int, int] = field(default_factory=dict)
    params: list[MarketParams] = field(default_factory=list)
    states: list[MarketState] = field(default_factory=list)
    #: market -> its mark price and rates module's word (``marketMemory``); absent: all 0
    memory: dict[int, MarketMemory] = field(default_factory=dict)
    prices: dict[int, tuple[int, int]] = field(default_factory=dict)
    cross_balance: dict[str, int] = field(default_factory=dict)
    cross_markets: dict[str, int] = field(default_factory=dict)
    positions: dict[tuple[str, int], Position] = field(default_factory=dict)
    rules: dict[int, MarketRules] = field(default_factory=dict)  # market -> modules; stock if absent
    impact_pool: dict[int, int] = field(default_factory=dict)  # market -> WAD base units (``ImpactLogic``)
    #: account -> collateral tokens of negative impact held for it (``heldImpact``)
    held_impact: dict[str, int] = field(default_factory=dict)
    tiers: dict[int, list[Tier]] = field(default_factory=dict)  # market -> maintenance tiers
    last_partial_liquidation: dict[tuple[str, int], int] = field(default_factory=dict)
    pool_assets: int = 0
    open_entry: int = 0  # entry notional of every position in every market
    insurance_fund: int = 0
    funding_reserve: int = 0
    #: The profit cap and auto-deleveraging thresholds, bps of the pool (``Solvency``).
    max_pnl_factor_traders: int = 9_000
    max_pnl_factor_adl: int = 8_500
    min_pnl_factor_after_adl: int = 7_700
    #: What the current profit-cap episode holds back from the cap, WAD (``profitHeld``).
    profit_held: int = 0
    #: Registered accounts in registration order (``Clearinghouse.accounts``): the ADL rank scan.
    accounts: list[str] = field(default_factory=list)
    #: Holders of ``ADL_KEEPER_ROLE``: checked when ``auto_deleverage`` is given its keeper.
    adl_keepers: set[str] = field(default_factory=set)
    paused: bool = False
    now: int = 0
    #: Pending market orders (SPEC §10, ``Clearinghouse.orderLock``): account -> (order id,
    #: market, expires at). Until then the account's own withdrawals, margin moves, leverage
    #: changes and direct trades are refused (the order book's fills are not the account's).
    order_locks: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    #: The auto-deleveraging round (``VenueState.adlRound``): id, fraction (WAD), members not
    #: cut yet (0: none in progress) and the rule whose markets it covers.
    adl_round_id: int = 0
    adl_round_fraction: int = 0
    adl_round_remaining: int = 0
    adl_round_rule: Optional[AdlRule] = None
    #: (account, market) -> (round, size when it began, cut) (``adlRoundEntry``)
    adl_round_entry: dict[tuple[str, int], tuple[int, int, bool]] = field(default_factory=dict)

    # ------------------------------------------------------------------ helpers
    def position(self, account: str, market: int) -> Position:
        return self.positions.get((account, market), Position())

    def isolated_position(self, account: str, market: int) -> Position:
        """The isolated position an isolated-only entry point acts on (``NoPosition``,
        ``NotIsolated`` otherwise, in the contracts' order)."""
        p = self.position(account, market)
        if p.size == 0:
            raise ModelRevert("NoPosition")
        if p.mode != ISOLATED:
            raise ModelRevert("NotIsolated")
        return p

    def _store(self, account: str, market: int, p: Position) -> None:
        if p == Position():
            self.positions.pop((account, market), None)
        else:
            self.positions[(account, market)] = p

    def fresh_price(self, market: int) -> int:
        price, ts = self.prices.get(market, (0, 0))
        if price == 0:
            raise ModelRevert("NoPrice", market)
        if self.now > ts + self.heartbeats.get(market, self.max_price_age):
            raise ModelRevert("StalePrice", market)
        return price

    def close_price(self, market: int) -> int:
        """The price a decrease uses: fresh, or stale by at most the close grace period."""
        price, ts = self.prices.get(market, (0, 0))
        if price == 0:
            raise ModelRevert("NoPrice", market)
        if self.now > ts + self.heartbeats.get(market, self.max_price_age) + self.close_grace_period:
            raise ModelRevert("StalePrice", market)
        return price

    def latest_price(self, market: int) -> int:
        return self.prices.get(market, (0, 0))[0]

    def rules_of(self, market: int) -> MarketRules:
        return self.rules.get(market) or STOCK_RULES

    # ------------------------------------------------------------------ snapshots
    def _atomic(self, action: Callable[[Unpack[Ts]], T], *args: Unpack[Ts]) -> T:
        """Run ``action``; if it raises ``ModelRevert``, undo what it changed, as a revert does."""
        snapshot = self._snapshot()
        try:
            return action(*args)
        except ModelRevert:
            self._restore(snapshot)
            raise

    def _snapshot(self) -> _Snapshot:
        # The round's rule is a module mirror (or a chain module), kept as is, not copied.
        state = copy.deepcopy((self.states, self.cross_balance, self.cross_markets,
                               self.positions, self.pool_assets, self.insurance_fund,
                               self.funding_reserve, self.open_entry, self.impact_pool,
                               self.held_impact, self.profit_held, self.accounts, self.memory))
        adl = (self.adl_round_id, self.adl_round_fraction, self.adl_round_remaining,
               self.adl_round_rule, copy.deepcopy(self.adl_round_entry))
        return (*state, adl)

    def _restore(self, snap: _Snapshot) -> None:
        (self.states, self.cross_balance, self.cross_markets, self.positions,
         self.pool_assets, self.insurance_fund, self.funding_reserve, self.open_entry,
         self.impact_pool, self.held_impact, self.profit_held, self.accounts, self.memory,
         adl) = snap
        (self.adl_round_id, self.adl_round_fraction, self.adl_round_remaining, self.adl_round_rule,
         self.adl_round_entry) = adl
