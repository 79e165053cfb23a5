"""Market parameters in human units and their on-chain encoding."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Optional

from protocol.constants import WAD
from protocol.venue import presets
from protocol.venue.bounds import (
    BY_FIELD,
    RELATION_BY_FIELD,
    ParameterOutOfBounds,
    bound,
    mmf_below_inverse_leverage,
)
from protocol.venue.units import to_fixed, to_tokens, to_wad


class _DefaultLeverage(int):
    """The default max leverage (50), told apart from an explicit 50: with tiers, the first
    tier's leverage takes its place."""


DEFAULT_MAX_LEVERAGE = _DefaultLeverage(50)
#: The rates, given per hour or year and stored per second in WAD: each must be a whole number
#: of WAD per second (:class:`~protocol.venue.bounds.InexactRate` otherwise).
RATE_FIELDS = ("funding_rate_per_hour", "max_funding_rate_per_hour", "borrow_rate_per_year")
#: The defaults: the exact rates nearest 0.01% an hour (27,777,777,778 WAD per second) and 5% a
#: year (1,585,489,599 WAD per second).
DEFAULT_FUNDING_RATE_PER_HOUR = Decimal("0.0001000000000008")
DEFAULT_BORROW_RATE_PER_YEAR = Decimal("0.049999999994064")


@dataclass(frozen=True)
class MarketConfig:
    """One perpetual market. Rates are per second unless named per hour/year.

    ``mmf`` defaults to 1 / (2 x max_leverage) (Hyperliquid's rule). ``partial_threshold_usd`` 0
    disables partial liquidation. A value outside the contracts' bounds (the table in
    :mod:`protocol.venue.bounds`) raises :class:`~protocol.venue.bounds.ParameterOutOfBounds`
    (a ``ValueError``) naming the field, the bound and the value. The contracts store the rates
    per second in WAD, so a rate must be a whole number of WAD per second: 0.0001 an hour is
    not (27,777,777,777.7...), and raises :class:`~protocol.venue.bounds.InexactRate` (a
    ``ValueError``) naming the nearest exact values, 0.0000999999999972 and 0.0001000000000008
    (``bound("funding_rate_per_hour").nearest_exact(value)`` gives the nearer). The defaults
    are the exact rates nearest 0.01% an hour and 5% a year.
    """

    symbol: str
    max_leverage: int = DEFAULT_MAX_LEVERAGE  # with tiers and no max_leverage: the first tier's
    mmf: Optional[Decimal] = None
    taker_fee_bps: int = 5
    liquidation_fee_bps: int = 100
    keeper_share_bps: int = 5_000
    reserve_factor_bps: int = 10_000
    partial_liquidation_bps: int = 2_000
    liquidation_cooldown: int = 60
    funding_rate_per_hour: Decimal = DEFAULT_FUNDING_RATE_PER_HOUR
    max_funding_rate_per_hour: Decimal = DEFAULT_FUNDING_RATE_PER_HOUR
    borrow_rate_per_year: Decimal = DEFAULT_BORROW_RATE_PER_YEAR
    min_collateral_usd: Decimal = Decimal("1")
    max_long_oi_usd: Decimal = Decimal("100000000")
    max_short_oi_usd: Decimal = Decimal("100000000")
    partial_threshold_usd: Decimal = Decimal("1000000")
    initial_price: Optional[Decimal] = None
    #: Maintenance-margin tiers (Hyperliquid): (lower bound of notional in USD, max leverage)
    #: pairs, the first (0, max_leverage), bounds rising, leverage never rising.
    tiers: tuple[tuple[Decimal, int], ...] = ()
    #: Price impact (GMX v2.2, the ``ImpactPricing`` module; docs/SPEC.md §5.1): impact = F(diff
    #: before) - F(diff after), F(x) = factor x x^exponent, diff the long/short open-interest
    #: imbalance in USD (entry value; size x price with ``impact_open_interest_in_tokens``).
    #: Factors are GMX's, per USD^(exponent - 1) (at most 30 decimals); exponents in [1, 3], at
    #: most 18 decimals (GMX's mainnet uses 2.2 and the like). An increase holds its impact as
    #: the position's pending impact; a decrease realises it with its own, the total's negative
    #: part capped at ``max_negative_impact_bps`` of the size decreased, the positive part at
    #: ``max_positive_impact_bps`` (at most the negative cap) and by the impact pool. Health
    #: counts a position's impact down to ``max_liquidation_impact_bps`` of its size (GMX's
    #: maxPositionImpactFactorForLiquidations). Both factors 0 (the default) is no impact: the
    #: stock pricing rule.
    impact_factor_positive: Decimal = Decimal(0)
    impact_factor_negative: Decimal = Decimal(0)
    impact_exponent_positive: Decimal = Decimal(2)
    impact_exponent_negative: Decimal = Decimal(2)
    max_negative_impact_bps: int = 100  # of the size decreased
    max_liquidation_impact_bps: int = 50  # what health counts at most, of the position's size
    max_positive_impact_bps: int = 50  # of the trade's size; at most max_negative_impact_bps applies
    #: The index token's decimals: impact amounts (pending impact, the impact pool) are whole
    #: units of it, as on GMX (9 for SOL).
    impact_index_decimals: int = 18
    #: Measure the imbalance on size x price instead of entry value (GMX's
    #: USE_OPEN_INTEREST_IN_TOKENS_FOR_BALANCE).
    impact_open_interest_in_tokens: bool = False
    #: An open or increase must leave maintenance plus this much of the position's notional
    #: (bps) after its fee and price impact, so the next block's accrual cannot liquidate it
    #: (SPEC §5).
    open_buffer_bps: int = 10

    def __post_init__(self) -> None:
        unset = type(self.max_leverage) is _DefaultLeverage
        object.__setattr__(self, "max_leverage", int(self.max_leverage))
        if self.tiers:
            tiers = tuple((Decimal(str(b)), int(lev)) for b, lev in self.tiers)
            object.__setattr__(self, "tiers", tiers)
            if unset:
                object.__setattr__(self, "max_leverage", tiers[0][1])
            if tiers[0] != (Decimal(0), self.max_leverage):
                raise ValueError(f"tiers: the first must be (0, max_leverage={self.max_leverage}), "
                                 f"got {tiers[0]}")
            lower_bounds = bound("tier_lower_bound_usd")
            for lower, _ in tiers:
                if not lower_bounds.contains(lower):
                    raise ParameterOutOfBounds("tiers", lower, f"a lower bound must be in "
                                               f"{lower_bounds.describe()}, got {lower}", lower_bounds)
            for (b0, l0), (b1, l1) in zip(tiers, tiers[1:]):
                if b1 <= b0 or l1 > l0 or l1 < 1:
                    raise ValueError(f"tiers: bounds must rise and leverage never rise; "
                                     f"({b0}, {l0}) then ({b1}, {l1})")
        for name in ("impact_factor_positive", "impact_factor_negative"):
            value = Decimal(str(getattr(self, name)))
            object.__setattr__(self, name, value)
            if value < 0 or value.scaleb(30) >= 2**128:
                raise ValueError(f"{name}: must be in [0, 2^128 / 1e30), got {value}")
            if value.scaleb(30) != value.scaleb(30).to_integral_value():
                raise ValueError(f"{name}: must have at most 30 decimals, got {value}")
        for name in ("impact_exponent_positive", "impact_exponent_negative"):
            value = Decimal(str(getattr(self, name)))
            object.__setattr__(self, name, value)
            if value.scaleb(18) != value.scaleb(18).to_integral_value():
                raise ValueError(f"{name}: must have at most 18 decimals, got {value}")
        self._check_bounds()

    def _check_bounds(self) -> None:
        """Refuse, naming the field, any value the contracts' bounds (``protocol.venue.bounds``)
        would refuse."""
        for field in dataclasses.fields(self):
            limit = BY_FIELD.get(field.name)
            if limit is None or field.name == "mmf":
                continue
            value = getattr(self, field.name)
            if field.name == "tiers":
                if not limit.contains(len(value)):
                    raise ParameterOutOfBounds("tiers", len(value), f"at most {limit.high} "
                                               f"tiers, got {len(value)}", limit)
            elif not limit.contains(value):
                raise limit.refusal(value)
            elif field.name in RATE_FIELDS:
                limit.raw(value)  # InexactRate unless a whole number of WAD per second
        mmf = self.mmf_wad()
        if not BY_FIELD["mmf"].raw_contains(mmf):
            raise BY_FIELD["mmf"].refusal(self.maintenance_fraction)
        if not mmf_below_inverse_leverage(mmf, self.max_leverage):
            relation = RELATION_BY_FIELD["mmf"]
            raise ParameterOutOfBounds(
                "mmf", self.maintenance_fraction,
                f"must be below 1 / max_leverage = {Decimal(1) / self.max_leverage} (a position "
                f"at max leverage would start liquidatable), got {self.maintenance_fraction}",
                relation)

    @classmethod
    def preset(cls, name: str, symbol: str, **overrides: Any) -> "MarketConfig":
        """The market ``symbol`` as the venue preset ``name`` configures it
        (:mod:`protocol.venue.presets`: "gmx-v2", "hyperliquid"; ETH and BTC), ``overrides``
        replacing fields. Each value's source and what the venue has that perpsim cannot
        express are in the preset (``presets.preset(name).settings(symbol)``, its
        ``description``). An unknown preset or symbol raises
        :class:`~protocol.venue.presets.UnknownPreset` listing what exists; ``max_leverage``
        without ``tiers`` where the preset has tiers raises
        :class:`~protocol.venue.presets.PresetConflict`."""
        return cls(symbol=symbol, **presets.preset(name).market_values(symbol, overrides))

    @classmethod
    def gmx_v2(cls, symbol: str = "ETH", **overrides: Any) -> "MarketConfig":
        """``MarketConfig.preset("gmx-v2", symbol, **overrides)``: arbitrum's ETH/USD
        [WETH-USDC] or BTC/USD [WBTC.e-USDC] market as gmx-synthetics configures it."""
        return cls.preset("gmx-v2", symbol, **overrides)

    @property
    def has_impact(self) -> bool:
        return bool(self.impact_factor_positive or self.impact_factor_negative)

    def impact_encoded(self) -> tuple[int, int, int, int, int, int, int, int, bool]:
        """``ImpactPricing.ImpactConfig`` as an ABI tuple: factors in 30 decimals (GMX's),
        exponents in WAD."""
        return (to_fixed(self.impact_factor_positive, 30), to_fixed(self.impact_factor_negative, 30),
                to_wad(self.impact_exponent_positive), to_wad(self.impact_exponent_negative),
                self.max_positive_impact_bps, self.max_negative_impact_bps,
                self.max_liquidation_impact_bps, self.impact_index_decimals,
                bool(self.impact_open_interest_in_tokens))

    def tiers_encoded(self) -> tuple[list[int], list[int]]:
        """``setMarketTiers`` arguments: lower bounds in WAD USD, max leverages."""
        return [to_wad(b) for b, _ in self.tiers], [lev for _, lev in self.tiers]

    @property
    def maintenance_fraction(self) -> Decimal:
        if self.mmf is not None:
            return Decimal(str(self.mmf))
        return Decimal(1) / (2 * self.max_leverage)

    def mmf_wad(self) -> int:
        value = self.maintenance_fraction * WAD
        return int(value.to_integral_value(rounding="ROUND_CEILING"))

    def symbol_bytes(self) -> bytes:
        """The symbol as the contract's ``bytes32``."""
        return self.symbol.encode().ljust(32, b"\0")[:32]

    def encode(self, decimals: int) -> tuple[int, int, int, int, int, int, int, int, int, int, int, int, int, int, int, int]:
        """The ``Clearinghouse.MarketConfig`` struct as an ABI tuple (the symbol goes apart).
        The rates convert exactly (``InexactRate`` otherwise, as at construction)."""
        funding, max_funding, borrow = (bound(name).raw(getattr(self, name)) for name in RATE_FIELDS)
        return (
            self.mmf_wad(),
            funding,
            max_funding,
            borrow,
            self.max_leverage,
            self.taker_fee_bps,
            self.liquidation_fee_bps,
            self.keeper_share_bps,
            self.reserve_factor_bps,
            self.partial_liquidation_bps,
            self.liquidation_cooldown,
            to_tokens(self.min_collateral_usd, decimals),
            to_wad(self.max_long_oi_usd),
            to_wad(self.max_short_oi_usd),
            to_wad(self.partial_threshold_usd),
            self.open_buffer_bps,
        )


DEFAULT_MARKETS = (
    MarketConfig(symbol="ETH", initial_price=Decimal(3000)),
    MarketConfig(symbol="BTC", initial_price=Decimal(60000)),
)
