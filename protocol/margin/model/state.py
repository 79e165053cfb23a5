"""The reference model's values: a market's parameters and state, a position, the rules a market
names, a settlement; and :class:`ModelRevert`, the contract's refusal by name."""


from __future__ import annotations

from dataclasses import dataclass, field

from protocol.exceptions import PerpsimError
from protocol.margin.deleveraging import AdlRule, StockAdl
from protocol.margin.liquidation import LiquidationRule, StockLiquidation
from protocol.margin.pricing import OraclePricing, PricingRule
from protocol.margin.rates import RatesRule, StockRates
from protocol.margin.requirements import MarginRequirementsRule, StockMargin
from protocol.margin.types import MarginMode

ISOLATED, CROSS = MarginMode.ISOLATED, MarginMode.CROSS
CLOSE_ALL = 2**256 - 1  # Clearinghouse.CLOSE_ALL
CROSS_ACCOUNT = 2**256 - 1  # Clearinghouse.CROSS_ACCOUNT: a liquidation target's cross account


class ModelRevert(PerpsimError):
    """The contract would revert with the custom error ``name``."""

    def __init__(self, name: str, *args: object):
        super().__init__(name, *args)
        self.name = name


@dataclass
class MarketParams:
    """``Clearinghouse.MarketConfig``, in the same field order."""

    mmf: int
    funding_factor: int
    max_funding_rate: int
    borrow_rate: int
    max_leverage: int
    taker_fee_bps: int
    liquidation_fee_bps: int
    keeper_share_bps: int
    reserve_factor_bps: int
    partial_liquidation_bps: int
    liquidation_cooldown: int
    min_collateral: int
    max_long_oi: int
    max_short_oi: int
    partial_threshold: int
    open_buffer_bps: int = 10


@dataclass
class MarketState:
    """``Clearinghouse.MarketState``, in the same field order."""

    long_size: int = 0
    short_size: int = 0
    borrow_index: int = 0
    long_funding: int = 0
    short_funding: int = 0
    last_update: int = 0
    long_entry: int = 0
    short_entry: int = 0
    borrow_weight: int = 0


@dataclass
class MarketMemory:
    """``MarketMemory`` (``VenueState.marketMemory``): the mark price (0 while the market does not
    track memory, and until its first accrual after it began to), its EMA's time constant (0:
    not set, the default), whether the rates rule is stateful, and that rule's word."""

    mark_price: int = 0
    mark_window: int = 0
    stateful_rates: bool = False
    rates_state: int = 0

    @property
    def tracks(self) -> bool:
        """``StoredConfig.tracksMemory``: the market's accruals step this memory while its rates
        rule is stateful or once its mark window is set; any other market's leave it alone."""
        return self.stateful_rates or self.mark_window != 0


@dataclass
class Position:
    """``Clearinghouse.Position``, in the same field order."""

    size: int = 0
    entry_notional: int = 0
    leverage: int = 0
    mode: int = 0
    funding_index: int = 0
    borrow_index: int = 0
    pending_impact: int = 0  # WAD base units (``IPricingModule``)
    margin: int = 0


@dataclass
class MarketRules:
    """A market's rule modules (Python mirrors of the contracts it names on chain)."""

    rates: RatesRule = field(default_factory=StockRates)
    margin: MarginRequirementsRule = field(default_factory=StockMargin)
    liquidation: LiquidationRule = field(default_factory=StockLiquidation)
    pricing: PricingRule = field(default_factory=OraclePricing)
    adl: AdlRule = field(default_factory=StockAdl)


@dataclass
class Settlement:
    pnl: int = 0
    funding: int = 0
    borrowing: int = 0
    held: int = 0  # of the price impact paid in ``pnl``, the tokens held for the trader


#: The rules of a market that names no module: the stock ones.
STOCK_RULES = MarketRules()
