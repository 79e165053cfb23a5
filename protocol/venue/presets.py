"""Real venue presets: markets configured with the published parameters of GMX v2 and
Hyperliquid, each value with the place it was read.

>>> from protocol.venue.presets import PRESETS, preset
>>> sorted(PRESETS)
['gmx-v2', 'hyperliquid']
>>> preset("hyperliquid").market_values("BTC")["tiers"]
((Decimal('0'), 40), (Decimal('150000000'), 20))

A :class:`Preset` holds, per market symbol, :class:`Setting` rows: the ``MarketConfig`` field,
perpsim's value, the :class:`Source` rows it is converted from (a repository file at a commit
and the key read there, or a documentation page and what it states), the conversion and, when
the value is not the venue's exactly, the deviation. Venue-wide settings (the pnl factors) are
rows of their own. What the venue has and perpsim cannot express is listed in the docstring of
the preset's builder (:func:`gmx_v2`, :func:`hyperliquid`), which is ``Preset.description``.

``MarketConfig.preset(name, symbol, **overrides)`` builds a market from :meth:`Preset.market_values`;
a scenario names a preset with ``venue.preset`` (``perpsim run --preset``), see
:mod:`protocol.sim.loader`. The conversions here are exact (``Fraction``): GMX's factors are
integers with 30 decimals, so a percentage ``p%`` is ``p x 10^28`` and a rate per year or hour is
that integer divided by the seconds, truncated, as ``percentageToFloat(...).div(...)`` computes
it; perpsim stores rates as whole WAD per second, so such a rate is rounded to the nearest whole
WAD per second and the difference recorded.

This module reads no ``MarketConfig`` (``MarketConfig.preset`` reads this module), so that the
two do not import each other.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any, Callable, Mapping, Optional

from protocol.constants import BPS, SECONDS_PER_HOUR, SECONDS_PER_YEAR, WAD
from protocol.exceptions import PerpsimError
from protocol.margin.bounds import bound

#: gmx-synthetics as read: the newest snapshot of github.com/gmx-io/gmx-synthetics at the time
#: (commit of 2026-03-13, "upd TRUMP OI caps").
GMX_REPOSITORY = "github.com/gmx-io/gmx-synthetics"
GMX_COMMIT = "a5c0c8835182cbd84e47dca04b971239311d2f1d"
GMX_MARKETS = f"{GMX_REPOSITORY}/blob/{GMX_COMMIT}/config/markets.ts"
GMX_TOKENS = f"{GMX_REPOSITORY}/blob/{GMX_COMMIT}/config/tokens.ts"
GMX_GENERAL = f"{GMX_REPOSITORY}/blob/{GMX_COMMIT}/config/general.ts"
GMX_LIQUIDATION = f"{GMX_REPOSITORY}/blob/{GMX_COMMIT}/contracts/liquidation/LiquidationUtils.sol"

#: Hyperliquid's documentation pages read for the preset.
HL_DOCS = "https://hyperliquid.gitbook.io/hyperliquid-docs"
HL_MARGIN_TIERS = f"{HL_DOCS}/trading/margin-tiers"
HL_CONTRACT_SPECIFICATIONS = f"{HL_DOCS}/trading/contract-specifications"
HL_LIQUIDATIONS = f"{HL_DOCS}/trading/liquidations"
HL_FUNDING = f"{HL_DOCS}/trading/funding"
HL_FEES = f"{HL_DOCS}/trading/fees"
#: Hyperliquid's announcement of partial liquidations (its announcements channel, post 307, as
#: mirrored at this address), the page read for their threshold, slice and cooldown.
HL_PARTIAL_LIQUIDATIONS = "https://tginsight.xyz/channel/hyperliquid_announcements/post/307"

#: The fields a preset's margin rule sets together: a market's tiers start at its max leverage.
MARGIN_RULE = ("max_leverage", "tiers", "mmf")
#: The venue-wide settings a preset may set (``[venue]`` keys, ``Venue.launch`` keywords).
VENUE_FIELDS = ("max_pnl_factor_traders", "max_pnl_factor_adl", "min_pnl_factor_after_adl")


class UnknownPreset(PerpsimError, ValueError):
    """A preset name, or a market symbol of a preset, that does not exist. The message lists what
    does (``"no preset 'gmx'; presets: gmx-v2, hyperliquid"``, ``"preset gmx-v2 has no market
    'SOL'; markets: BTC, ETH"``); ``preset``, ``symbol`` (``None`` for an unknown preset) and
    ``available`` carry the same for code."""

    def __init__(self, preset: str, symbol: Optional[str], available: tuple[str, ...]):
        self.preset, self.symbol, self.available = preset, symbol, available
        if symbol is None:
            message = f"no preset {preset!r}; presets: {', '.join(available)}"
        else:
            message = f"preset {preset} has no market {symbol!r}; markets: {', '.join(available)}"
        super().__init__(message)


class PresetConflict(PerpsimError, ValueError):
    """An override that does not fit the rest of a preset's market: a ``max_leverage`` given
    without ``tiers`` to a preset whose market has tiers (they start at its own max leverage).
    The message starts with the field's name, so a scenario's error points at its key."""


@dataclass(frozen=True)
class Source:
    """Where a value is published: ``document`` (a repository file at a commit, or a
    documentation page's address), ``key`` (the configuration key, or the row of the page's
    table) and ``text`` (the value as written there)."""

    document: str
    key: str
    text: str


@dataclass(frozen=True)
class Setting:
    """One value of a preset: the ``MarketConfig`` (or venue) ``field``, perpsim's ``value``
    (``None``: left to ``MarketConfig``'s default, which is the venue's rule), the ``sources``
    it is converted from, the conversion ``rule``, and the ``deviation`` from the venue's value
    when there is one ("" when exact)."""

    field: str
    value: Any
    sources: tuple[Source, ...]
    rule: str
    deviation: str = ""


@dataclass(frozen=True)
class Preset:
    """A venue's published parameters for some markets, as perpsim settings.

    ``description`` (the builder's docstring) names the venue's markets, the sources and what
    perpsim cannot express."""

    name: str
    venue: str
    markets: Mapping[str, tuple[Setting, ...]]
    venue_settings: tuple[Setting, ...] = ()
    description: str = field(default="", compare=False)

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(sorted(self.markets))

    def settings(self, symbol: str) -> tuple[Setting, ...]:
        """The market's settings (:class:`UnknownPreset` for a symbol the preset lacks)."""
        try:
            return self.markets[symbol]
        except KeyError:
            raise UnknownPreset(self.name, symbol, self.symbols) from None

    def fields(self, symbol: str) -> tuple[str, ...]:
        """The ``MarketConfig`` fields the preset sets for ``symbol`` (a value left to the
        default counts: the preset says which rule applies)."""
        return tuple(s.field for s in self.settings(symbol))

    def market_values(self, symbol: str, overrides: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
        """``MarketConfig`` keywords for ``symbol`` (not the symbol itself), ``overrides`` over
        the preset's. An override of the margin rule takes the rule's other fields with it: given
        ``tiers`` (and no ``max_leverage``), the tiers' first leverage is the max leverage; given
        ``max_leverage`` without ``tiers`` where the preset has tiers, :class:`PresetConflict`."""
        values = {s.field: s.value for s in self.settings(symbol) if s.value is not None}
        given = dict(overrides or {})
        if "tiers" in given and "max_leverage" not in given:
            values.pop("max_leverage", None)
        if "max_leverage" in given and "tiers" not in given and values.get("tiers"):
            first = values["tiers"][0]
            raise PresetConflict(
                f"max_leverage: {given['max_leverage']} does not fit preset {self.name}'s tiers "
                f"for {symbol}, which start at ({first[0]}, {first[1]}); give tiers too, or "
                f"leave max_leverage to the preset")
        return {**values, **given}

    def venue_values(self) -> dict[str, Any]:
        """The venue-wide settings (``[venue]`` keys) the preset sets."""
        return {s.field: s.value for s in self.venue_settings}


# ---------------------------------------------------------------------------------------------
# conversions, exact


def percentage(text: str) -> Fraction:
    """``"0.5%"`` as the fraction 1/200."""
    if not text.endswith("%"):
        raise ValueError(f"not a percentage: {text!r}")
    return Fraction(text[:-1]) / 100


def gmx_factor(value: Fraction) -> int:
    """A fraction as GMX stores a factor: an integer with 30 decimals (exact here: the values
    read are ``parseUnits`` of their decimal text)."""
    scaled = value * 10**30
    if scaled.denominator != 1:
        raise ValueError(f"{value} has more than 30 decimals")
    return scaled.numerator


def gmx_per_second(factor: int, seconds: int) -> int:
    """``factor.div(seconds)`` as ethers' BigNumber computes it: truncated."""
    return factor // seconds


def bps(value: Fraction) -> int:
    """A fraction in whole basis points (``ValueError`` if it is not a whole number of them)."""
    scaled = value * BPS
    if scaled.denominator != 1:
        raise ValueError(f"{value} is not a whole number of basis points")
    return scaled.numerator


def nearest_wad(gmx_per_second_30: int) -> int:
    """A GMX per-second factor (30 decimals) as whole WAD per second, rounded to the nearest
    (half up): perpsim stores rates so."""
    exact = Fraction(gmx_per_second_30, 10**12)
    low = exact.numerator // exact.denominator
    return low + 1 if exact - low >= Fraction(1, 2) else low


def per_hour(wad_per_second: int) -> Decimal:
    """Whole WAD per second as a rate per hour, exactly."""
    return _decimal(Fraction(wad_per_second * SECONDS_PER_HOUR, WAD))


def per_year(wad_per_second: int) -> Decimal:
    """Whole WAD per second as a rate per year (365 days), exactly."""
    return _decimal(Fraction(wad_per_second * SECONDS_PER_YEAR, WAD))


def _decimal(value: Fraction) -> Decimal:
    """A fraction with a terminating decimal expansion, exactly."""
    digits = 0
    while (value * 10**digits).denominator != 1:
        digits += 1
        if digits > 60:
            raise ValueError(f"{value} has no short decimal expansion")
    return Decimal((value * 10**digits).numerator).scaleb(-digits)


def _wad_deviation(gmx: int, wad: int) -> str:
    """How far a rate rounded to whole WAD per second is from GMX's, in WAD per second."""
    exact = Fraction(gmx, 10**12)
    if exact == wad:
        return ""
    return (f"GMX's {gmx // 10**12:,}.{gmx % 10**12:012d} WAD per second rounded to {wad:,} "
            f"({_decimal(wad - exact):+f})")


# ---------------------------------------------------------------------------------------------
# GMX v2


def _gmx(key: str, text: str, market: str = "", document: str = GMX_MARKETS) -> Source:
    """A key of config/markets.ts: the market's own entry, or the shared config it spreads."""
    return Source(document, f"arbitrum, {market}: {key}" if market else key, text)


def _gmx_market(market: str, reserve: str, open_interest: int, index: str,
                index_decimals: int) -> tuple[Setting, ...]:
    """One arbitrum market of gmx-synthetics (``market`` as GMX labels it), from its own keys
    and what it spreads: ``baseMarketConfig``, ``fundingRateConfig_Low`` and
    ``borrowingRateConfig_LowerMax_WithHigherOptimal`` (both ETH/USD and BTC/USD spread these)."""
    own = market
    min_collateral = percentage("0.5%")
    min_collateral_liquidation = percentage("0.5%")
    # perpsim refuses mmf x max_leverage >= 1 (a position at max leverage would start
    # liquidatable), which GMX's equal factors are: the largest accepted mmf is one WAD unit less.
    max_leverage = int(1 / min_collateral)
    mmf_wad = WAD // max_leverage - 1
    funding_factor = gmx_factor(Fraction("2e-8"))
    max_funding = gmx_per_second(gmx_factor(percentage("75%")), SECONDS_PER_YEAR)
    base_borrowing = gmx_per_second(gmx_factor(percentage("45%")), SECONDS_PER_YEAR)
    optimal_usage = gmx_factor(percentage("85%"))
    at_optimal = optimal_usage * base_borrowing // 10**30  # GMX's applyFactor: truncated
    funding_wad = nearest_wad(funding_factor)
    max_funding_wad = nearest_wad(max_funding)
    borrow_wad = nearest_wad(at_optimal)
    return (
        Setting("max_leverage", max_leverage,
                (_gmx("minCollateralFactor", 'percentageToFloat("0.5%")', own),),
                "1 / minCollateralFactor: the least collateral of an open position, 0.5% of its "
                "size"),
        Setting("mmf", _decimal(Fraction(mmf_wad, WAD)),
                (_gmx("minCollateralFactorForLiquidation", 'percentageToFloat("0.5%")', own),),
                "the collateral below which GMX liquidates, as a fraction of size",
                f"{_decimal(min_collateral_liquidation - Fraction(mmf_wad, WAD)):f} below GMX's "
                "0.5%: perpsim needs mmf below 1 / max_leverage = 0.5%, and "
                "0.004999999999999999 is the largest it accepts"),
        Setting("open_buffer_bps", bound("open_buffer_bps").low,
                (_gmx("minCollateralFactor", 'percentageToFloat("0.5%")', own),
                 _gmx("minCollateralFactorForLiquidation", 'percentageToFloat("0.5%")', own)),
                "minCollateralFactor - minCollateralFactorForLiquidation: what an open must leave "
                "above the liquidation line",
                f"GMX's is {bps(min_collateral - min_collateral_liquidation)}; perpsim's bound is "
                f"at least {bound('open_buffer_bps').low} bps"),
        Setting("taker_fee_bps", bps(percentage("0.06%")),
                (_gmx("positionFeeFactorForNegativeImpact", 'percentageToFloat("0.06%")'),),
                "the position fee of a trade that worsens the balance, in bps",
                "perpsim has one taker fee: a trade that improves the balance pays 0.04% on GMX "
                "(positionFeeFactorForPositiveImpact), 6 bps here"),
        Setting("liquidation_fee_bps", bps(percentage("0.20%")),
                (_gmx("liquidationFeeFactor", 'percentageToFloat("0.20%")'),),
                "the fee on a liquidated position's size, in bps"),
        Setting("reserve_factor_bps", bps(percentage(reserve)),
                (_gmx("reserveFactor", f'percentageToFloat("{reserve}")', own),),
                "open interest the pool backs, of its value, in bps"),
        Setting("max_long_oi_usd", Decimal(open_interest),
                (_gmx("maxOpenInterest", f"decimalToFloat({open_interest:_})", own),),
                "USD; markets.ts fills maxOpenInterestForLongs from maxOpenInterest"),
        Setting("max_short_oi_usd", Decimal(open_interest),
                (_gmx("maxOpenInterest", f"decimalToFloat({open_interest:_})", own),),
                "USD; markets.ts fills maxOpenInterestForShorts from maxOpenInterest"),
        Setting("min_collateral_usd", Decimal(1),
                (_gmx("minCollateralUsd", "decimalToFloat(1, 0)"),),
                "USD"),
        Setting("funding_rate_per_hour", per_hour(funding_wad),
                (_gmx("fundingFactor", 'exponentToFloat("2e-8")'),
                 _gmx("fundingExponentFactor", "decimalToFloat(1)")),
                "GMX's funding per second at full skew with exponent 1 (factor x imbalance / open "
                "interest, paid by the larger side on its size, as perpsim's), x 3,600",
                "GMX runs this market's funding adaptively (fundingIncreaseFactorPerSecond is set), "
                "where fundingFactor is not read; perpsim's rule is GMX's fixed one"),
        Setting("max_funding_rate_per_hour", per_hour(max_funding_wad),
                (_gmx("fundingRateConfig_Low.maxFundingFactorPerSecond",
                      'percentageToFloat("75%").div(SECONDS_PER_YEAR)'),),
                "GMX's cap of funding per second, x 3,600",
                _wad_deviation(max_funding, max_funding_wad)),
        Setting("borrow_rate_per_year", per_year(borrow_wad),
                (_gmx("borrowingRateConfig_LowerMax_WithHigherOptimal.optimalUsageFactor",
                      'percentageToFloat("85%")'),
                 _gmx("borrowingRateConfig_LowerMax_WithHigherOptimal.baseBorrowingFactor",
                      'percentageToFloat("45%").div(SECONDS_PER_YEAR)')),
                "GMX's kinked borrowing rate at its optimal usage: optimalUsageFactor x "
                "baseBorrowingFactor per second (its applyFactor, truncated), x 31,536,000",
                _wad_deviation(at_optimal, borrow_wad) + "; GMX's rate follows usage (0 when "
                "nothing is reserved, 90% a year at full usage), perpsim's is constant"),
        Setting("partial_threshold_usd", Decimal(0),
                (Source(GMX_LIQUIDATION, "createLiquidationOrder",
                        "position.sizeInUsd(), // sizeDeltaUsd"),),
                "GMX liquidates a position whole: 0 turns perpsim's partial liquidation off"),
        Setting("impact_factor_positive", Decimal("3e-11"),
                (_gmx("positivePositionImpactFactor", 'exponentToFloat("3e-11")', own),),
                "GMX's factor, per USD^(exponent - 1), as MarketConfig takes it"),
        Setting("impact_factor_negative", Decimal("9e-11"),
                (_gmx("negativePositionImpactFactor", 'exponentToFloat("9e-11")', own),),
                "GMX's factor, per USD^(exponent - 1), as MarketConfig takes it"),
        Setting("impact_exponent_positive", Decimal(1),
                (_gmx("positivePositionImpactExponentFactor", 'exponentToFloat("1e0")'),),
                "the exponent"),
        Setting("impact_exponent_negative", Decimal(2),
                (_gmx("negativePositionImpactExponentFactor", 'exponentToFloat("2e0")'),),
                "the exponent"),
        Setting("max_positive_impact_bps", bps(percentage("0.4%")),
                (_gmx("positiveMaxPositionImpactFactor", 'percentageToFloat("0.4%")'),),
                "the cap of positive impact, of the trade's size, in bps"),
        Setting("max_negative_impact_bps", bps(percentage("0.5%")),
                (_gmx("negativeMaxPositionImpactFactor", 'percentageToFloat("0.5%")'),),
                "the cap of negative impact a decrease pays, of its size, in bps"),
        Setting("max_liquidation_impact_bps", 0,
                (_gmx("maxPositionImpactFactorForLiquidations", "bigNumberify(0)"),),
                "the impact health counts at most, of the size, in bps"),
        Setting("impact_index_decimals", index_decimals,
                (Source(GMX_TOKENS, f"arbitrum, {index}: decimals", str(index_decimals)),),
                "the index token's decimals: the unit of impact amounts"),
    )


def gmx_v2() -> Preset:
    """GMX v2 on Arbitrum, from gmx-synthetics' ``config/markets.ts`` at commit
    a5c0c8835182cbd84e47dca04b971239311d2f1d (2026-03-13): "ETH" is ETH/USD [WETH-USDC], "BTC"
    is BTC/USD [WBTC.e-USDC], each market's own keys over ``baseMarketConfig``,
    ``fundingRateConfig_Low`` and ``borrowingRateConfig_LowerMax_WithHigherOptimal``; the index
    tokens' decimals from ``config/tokens.ts``; whole-position liquidation from
    ``contracts/liquidation/LiquidationUtils.sol``. ``Preset.settings`` gives each value's key.

    Deviations: mmf one WAD unit below GMX's 0.5% (perpsim needs it below 1 / max_leverage);
    open_buffer_bps 1 where GMX's is 0 (perpsim's least); the taker fee is the 0.06% of a trade
    that worsens the balance; the capped funding rate and the borrowing rate rounded to whole WAD
    per second (below 2e-10 WAD per second each).

    Not expressed (perpsim has no such parameter; the values are those of both markets):

    - adaptive funding: fundingIncreaseFactorPerSecond 75%/year/3 h, fundingDecreaseFactorPerSecond
      75%/year/48 h, thresholdForStableFunding 4%, thresholdForDecreaseFunding 0,
      minFundingFactorPerSecond 1%/year; perpsim's funding is GMX's fixed rule
      (fundingFactor x imbalance / open interest, capped), the adaptive one a module a market
      may take (``GmxAdaptiveRates``, SPEC §7);
    - kinked borrowing: the rate follows usage (reserved / pool), usage x baseBorrowingFactor up
      to optimalUsageFactor 85%, rising to aboveOptimalUsageBorrowingFactor 90%/year at full
      usage; perpsim charges the rate at 85% usage at any usage; ``config/general.ts``'s
      skipBorrowingFeeForSmallerSide (true) spares the smaller side, perpsim charges both;
    - positionFeeFactorForPositiveImpact 0.04% (the fee of a trade that improves the balance);
      the fee receiver's 37% share of position, borrowing and liquidation fees
      (``config/general.ts``);
    - openInterestReserveFactor (ETH 270%, BTC 345%), the reserve an increase is checked against
      (perpsim checks increases and withdrawals against one reserve factor, reserveFactor's);
      reserves per side against that side's pool token (perpsim: one pool);
    - minCollateralFactorForOpenInterestMultiplier 6e-11 (the collateral factor rising with open
      interest);
    - maxPnlFactorForWithdrawals 70% (perpsim checks withdrawals against the traders' cap, 90%;
      maxPnlFactorForDeposits is that 90%);
    - pool caps: maxLongTokenPoolAmount (ETH 32,000 WETH, BTC 2,200 WBTC.e),
      maxShortTokenPoolAmount (100,000,000 and 110,000,000 USDC), maxPoolUsdForDeposit
      (90,000,000 and 72,000,000 USD), maxCollateralSum;
    - the impact pool's distribution (positionImpactPoolDistributionRate 0) and its floor
      minPositionImpactPoolAmount (1,627 ETH, 44 BTC); USE_OPEN_INTEREST_IN_TOKENS_FOR_BALANCE is
      a DataStore flag the configuration does not set, left at perpsim's default (USD);
    - swaps (swap fees, swap impact, atomic swap and withdrawal fees): perpsim has no swaps;
    - per-side values (longs and shorts are equal in both markets).
    """
    eth = _gmx_market("ETH/USD [WETH-USDC]", "275%", 110_000_000, "WETH", 18)
    btc = _gmx_market("BTC/USD [WBTC.e-USDC]", "350%", 95_000_000, "BTC", 8)
    pnl = (("max_pnl_factor_traders", "maxPnlFactorForTraders", "90%"),
           ("max_pnl_factor_adl", "maxPnlFactorForAdl", "85%"),
           ("min_pnl_factor_after_adl", "minPnlFactorAfterAdl", "77%"))
    venue = tuple(Setting(name, _decimal(percentage(text)),
                          (_gmx(key, f'percentageToFloat("{text}")'),),
                          "a fraction of the pool; GMX's per market and side (equal in both "
                          "markets), perpsim's venue-wide")
                  for name, key, text in pnl)
    return Preset("gmx-v2", "GMX v2 (Arbitrum)", {"ETH": eth, "BTC": btc}, venue,
                  inspect.getdoc(gmx_v2) or "")


# ---------------------------------------------------------------------------------------------
# Hyperliquid


def _hl_market(symbol: str, tiers: tuple[tuple[str, str], ...]) -> tuple[Setting, ...]:
    """One Hyperliquid perp: ``tiers`` as the margin tiers page's table for it (notional
    position value in USDC, max leverage)."""
    bands = tuple((_band_lower(band), int(leverage)) for band, leverage in tiers)
    rows = tuple(Source(HL_MARGIN_TIERS, f"Mainnet Margin Tiers, {symbol}: {band}", leverage)
                 for band, leverage in tiers)
    return (
        Setting("max_leverage", bands[0][1], rows[:1],
                "the first tier's max leverage: the asset's max leverage"),
        Setting("tiers", tuple((Decimal(lower), leverage) for lower, leverage in bands), rows,
                "(notional lower bound in USDC = USD, max leverage) per tier; maintenance per tier "
                "is half the initial margin at its max leverage with the deduction that keeps it "
                "continuous, as perpsim computes tiers"),
        Setting("mmf", None,
                (Source(HL_CONTRACT_SPECIFICATIONS, "Maintenance margin fraction",
                        "Half of maximum initial margin fraction"),),
                "left to MarketConfig's default, 1 / (2 x max_leverage), which is this rule"),
        Setting("partial_threshold_usd", Decimal(100_000),
                (Source(HL_PARTIAL_LIQUIDATIONS, "partial liquidations",
                        "liquidatable positions larger than 100k USDC"),),
                "USD"),
        Setting("partial_liquidation_bps", bps(percentage("20%")),
                (Source(HL_PARTIAL_LIQUIDATIONS, "partial liquidations",
                        "only 20% of the position"),),
                "the slice of one partial liquidation, in bps"),
        Setting("liquidation_cooldown", 30,
                (Source(HL_PARTIAL_LIQUIDATIONS, "partial liquidations",
                        "a cooldown period of 30 seconds"),),
                "seconds",
                "during Hyperliquid's cooldown a liquidation takes the whole position; "
                "perpsim waits (but below 2/3 of maintenance, when both take it whole)"),
    )


def _band_lower(band: str) -> int:
    """A margin tiers row's lower bound in USDC: ``"0-100M"`` -> 0, ``">100M"`` -> 100,000,000."""
    text = band[1:] if band.startswith(">") else band.split("-")[0]
    units = {"k": 10**3, "M": 10**6}
    if text[-1:] in units:
        return int(Fraction(text[:-1]) * units[text[-1]])
    return int(text)


def hyperliquid() -> Preset:
    """Hyperliquid's mainnet perps, from its documentation: max leverage and margin tiers from
    "Margin tiers" (https://hyperliquid.gitbook.io/hyperliquid-docs/trading/margin-tiers: BTC
    40x up to 150M USDC of notional, 20x above; ETH 25x up to 100M, 15x above); maintenance as
    half the initial margin at max leverage from "Contract specifications"
    (.../trading/contract-specifications), perpsim's default rule; partial liquidation (20% of
    a position above 100k USDC, then a 30 s cooldown) from Hyperliquid's announcement of it
    (https://tginsight.xyz/channel/hyperliquid_announcements/post/307, its announcements
    channel's post 307). ``Preset.settings`` gives each value's row.

    Deviation: during Hyperliquid's cooldown a liquidation takes the whole position, perpsim's
    waits for it (below 2/3 of maintenance both take the whole position).

    Not expressed (perpsim's defaults stay):

    - funding ("Funding", .../trading/funding): hourly, from the premium of the book over the
      oracle plus an interest rate, capped at 4% an hour; perpsim's stock funding follows the
      open-interest skew (its cap is at most 3.6% an hour), so funding_rate_per_hour and
      max_funding_rate_per_hour keep perpsim's defaults;
    - fees ("Fees", .../trading/fees): maker and taker rates by 14-day volume tier, staking
      discounts, maker rebates; perpsim charges one taker fee (its default 5 bps);
    - liquidation ("Liquidations", .../trading/liquidations): liquidations go to the book with
      no clearance fee, and a backstop liquidation below 2/3 of maintenance keeps the
      maintenance margin for the liquidator vault; perpsim's penalty is liquidation_fee_bps of
      the notional (its default, 1%);
    - maximum market and limit order values ("Contract specifications"); open-interest caps
      (per asset, not published as numbers); perpsim's max_long_oi_usd / max_short_oi_usd keep
      their defaults;
    - Hyperliquid has no liquidity pool backing positions (HLP is a vault trading on the book):
      the pool's parameters (reserve factor, pnl factors, borrowing) have no counterpart and keep
      perpsim's defaults, borrowing included (Hyperliquid charges none).
    """
    eth = _hl_market("ETH", (("0-100M", "25"), (">100M", "15")))
    btc = _hl_market("BTC", (("0-150M", "40"), (">150M", "20")))
    return Preset("hyperliquid", "Hyperliquid (mainnet)", {"ETH": eth, "BTC": btc}, (),
                  inspect.getdoc(hyperliquid) or "")


#: The presets by name: ``venue.preset`` and ``perpsim run --preset`` take these.
BUILDERS: dict[str, Callable[[], Preset]] = {"gmx-v2": gmx_v2, "hyperliquid": hyperliquid}
PRESETS: dict[str, Preset] = {name: build() for name, build in BUILDERS.items()}


def preset(name: str) -> Preset:
    """The preset called ``name`` (:class:`UnknownPreset` listing the presets otherwise)."""
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        raise UnknownPreset(str(name), None, tuple(PRESETS)) from None
