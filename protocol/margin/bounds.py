"""The hard bounds the contracts put on every parameter, written once.

Each :class:`Bound` names a parameter as Python spells it (a ``MarketConfig`` field or a venue
setting), as the contract reports it (the ``bytes32`` of ``ParamOutOfBounds``), its range in the
contract's integer units, the scale from Python's units, the function that enforces it and the
custom error it reverts with. :class:`Relation` covers the two bounds that compare two
parameters. ``MarketConfig``, the deployment plan, the reference model and the CLI read this
table; ``tests/contracts/test_bounds.py`` checks every row against the contracts (the edge accepted, one
step beyond refused with the named error), so the table cannot drift from them.

Standard library only, like the rest of the reference model; ``protocol.venue.bounds`` re-exports
it for the client's side.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Optional, Union

from protocol.constants import BPS, SECONDS_PER_HOUR, SECONDS_PER_YEAR, WAD
from protocol.constants import SECONDS_PER_DAY as DAY
from protocol.exceptions import PerpsimError

Number = Union[int, float, Decimal, str, Fraction]

CONFIGURE_MARKET = "Clearinghouse.configureMarket"
SET_MARKET_TIERS = "Clearinghouse.setMarketTiers"
SET_IMPACT_CONFIG = "ImpactPricing.setImpactConfig"
SET_PNL_FACTORS = "Clearinghouse.setPnlFactors"
SET_RISK_CHANGE_DELAY = "Clearinghouse.setRiskChangeDelay"
SET_DEFAULT_MAX_PRICE_AGE = "PriceOracle.setDefaultMaxPriceAge"
SET_CLOSE_GRACE_PERIOD = "PriceOracle.setCloseGracePeriod"
SET_MAX_DEVIATION = "PriceOracle.setMaxDeviation"
SET_MARKET_ORDER_TIMEOUT = "OrderBook.setMarketOrderTimeout"
SET_MIN_EXECUTION_GAS = "OrderBook.setMinExecutionGas"


@dataclass(frozen=True)
class Bound:
    """One parameter's closed range ``[low, high]`` in the contract's units.

    ``per_unit`` is how many contract units make one Python unit (``WAD / 3600`` for a funding
    rate given per hour and stored per second in WAD); ``None`` means the collateral token's
    smallest unit, which depends on the token's decimals. ``high`` ``None``: no upper bound but
    the field's type."""

    field: str
    param: str
    low: int
    high: Optional[int]
    setter: str
    error: str
    description: str
    unit: str = ""
    per_unit: Optional[Fraction] = Fraction(1)

    def raw_contains(self, raw: int) -> bool:
        """Whether the contract accepts ``raw`` (its own units)."""
        return self.low <= raw and (self.high is None or raw <= self.high)

    def contains(self, value: Number) -> bool:
        """Whether ``value`` (Python's units) is within the bound. A collateral amount is judged
        without the token's decimals: any amount above 0 encodes to at least one smallest unit
        (the encoder refuses finer amounts)."""
        exact = _fraction(value)
        if self.per_unit is None:
            return exact > 0 if self.low > 0 else exact >= 0
        raw = exact * self.per_unit
        return self.low <= raw and (self.high is None or raw <= self.high)

    @property
    def minimum(self) -> Optional[Decimal]:
        """The smallest accepted value in Python's units (``None`` for a collateral amount,
        whose smallest unit depends on the token)."""
        return None if self.per_unit is None else _decimal(Fraction(self.low) / self.per_unit)

    @property
    def maximum(self) -> Optional[Decimal]:
        """The largest accepted value in Python's units, ``None`` when unbounded."""
        if self.high is None or self.per_unit is None:
            return None
        return _decimal(Fraction(self.high) / self.per_unit)

    def step(self, decimals: Optional[int] = None) -> Decimal:
        """One contract unit in Python's units: the smallest step past an edge (a collateral
        amount's needs the token's ``decimals``)."""
        if self.per_unit is None:
            if decimals is None:
                raise ValueError(f"{self.field}: the step of a collateral amount needs decimals")
            return Decimal(1).scaleb(-decimals)
        return _decimal(1 / self.per_unit)

    def describe(self) -> str:
        """The range in Python's units, e.g. ``[0, 500] bps``."""
        unit = f" {self.unit}" if self.unit else ""
        if self.per_unit is None:
            return f"above 0{unit}" if self.low > 0 else f">= 0{unit}"
        high = "no limit" if self.maximum is None else _plain(self.maximum)
        return f"[{_plain(self.minimum)}, {high}]{unit}"

    def refusal(self, value: object) -> "ParameterOutOfBounds":
        """The exception for ``value`` outside this bound."""
        where = "" if self.per_unit is None else "in "
        return ParameterOutOfBounds(self.field, value,
                                    f"must be {where}{self.describe()}, got {value}", self)

    def check(self, value: Number) -> None:
        """Raise :class:`ParameterOutOfBounds` unless ``value`` is within the bound."""
        if not self.contains(value):
            raise self.refusal(value)

    def raw(self, value: Number) -> int:
        """``value`` in the contract's units, exactly; :class:`InexactRate` when it is not a
        whole number of them (a rate per hour or year is stored per second: 0.0001 an hour is
        27,777,777,777.7... WAD per second), so nothing is ever truncated on the way."""
        if self.per_unit is None:
            raise ValueError(f"{self.field}: a collateral amount's units depend on the token")
        exact = _fraction(value) * self.per_unit
        if exact.denominator != 1:
            raise InexactRate(self, value, exact)
        return exact.numerator

    def nearest_exact(self, value: Number) -> Decimal:
        """The value nearest ``value`` that is a whole number of contract units (the lower one
        on a tie), in Python's units."""
        if self.per_unit is None:
            raise ValueError(f"{self.field}: a collateral amount's units depend on the token")
        exact = _fraction(value) * self.per_unit
        low = exact.numerator // exact.denominator
        raw = low if exact - low <= Fraction(1, 2) else low + 1
        return _decimal(raw / self.per_unit)


@dataclass(frozen=True)
class Relation:
    """A bound between two parameters, which the contract checks together."""

    field: str
    param: str
    other: str
    rule: str  # in Python's names
    contract_rule: str  # in the contract's names and units
    setter: str
    error: str
    description: str


class ParameterOutOfBounds(PerpsimError, ValueError):
    """A parameter the contracts would refuse. The message starts with the field's name
    (``"liquidation_fee_bps: must be in [0, 500] bps, got 600 ..."``) and names the contract's
    refusal; ``field``, ``value`` and ``bound`` (a :class:`Bound` or :class:`Relation`) carry
    the same for code."""

    def __init__(self, field: str, value: object, message: str, bound: Union[Bound, Relation]):
        self.field, self.value, self.bound = field, value, bound
        super().__init__(f"{field}: {message} (the contract refuses it: {bound.setter} reverts "
                         f"{bound.error} {bound.param})")


class InexactRate(PerpsimError, ValueError):
    """A rate that is not a whole number of the contract's units (WAD per second), which the
    encoding would otherwise truncate. The message starts with the field's name and gives the
    two nearest exact values (``"funding_rate_per_hour: 0.0001 per hour is not a whole number
    of WAD per second (27777777777.777777...); the nearest exact values are 0.0000999999999972
    and 0.0001000000000008 per hour"``); ``field``, ``value``, ``below``, ``above`` (Decimals
    in the field's units) and ``bound`` carry the same for code."""

    def __init__(self, bound: "Bound", value: object, exact: Fraction):
        assert bound.per_unit is not None
        low = exact.numerator // exact.denominator
        self.field, self.value, self.bound = bound.field, value, bound
        self.below = _decimal(low / bound.per_unit)
        self.above = _decimal((low + 1) / bound.per_unit)
        unit = f" {bound.unit}" if bound.unit else ""
        fraction, digits = exact - low, 6
        while fraction * 10**digits < 1:  # enough digits to show it is not whole
            digits += 6
        shown = f"{low}.{fraction.numerator * 10**digits // fraction.denominator:0{digits}d}..."
        super().__init__(f"{bound.field}: {value}{unit} is not a whole number of WAD per second "
                         f"({shown}); the nearest exact values are {self.below:f} and "
                         f"{self.above:f}{unit}")


def _fraction(value: Number) -> Fraction:
    if isinstance(value, bool):
        raise TypeError("a boolean is not a parameter value")
    if isinstance(value, (int, Fraction)):
        return Fraction(value)
    return Fraction(Decimal(str(value)))


def _decimal(value: Fraction) -> Decimal:
    """``value`` exactly (the table's fractions all have terminating decimals)."""
    with localcontext() as context:
        context.prec = 100
        return (Decimal(value.numerator) / Decimal(value.denominator)).normalize()


def _plain(value: Optional[Decimal]) -> str:
    return "-" if value is None else f"{value:f}"


_HOURLY = Fraction(WAD, SECONDS_PER_HOUR)
_YEARLY = Fraction(WAD, SECONDS_PER_YEAR)
_FRACTION_BPS = Fraction(BPS)

#: Every bound the contracts enforce on a parameter, in the order they check them.
BOUNDS: tuple[Bound, ...] = (
    # Clearinghouse.configureMarket (AdminLogic._checkBounds)
    Bound("max_leverage", "maxLeverage", 1, 200, CONFIGURE_MARKET, "ParamOutOfBounds",
          "The highest leverage a position may open with.", "x"),
    Bound("mmf", "mmf", 1, WAD - 1, CONFIGURE_MARKET, "ParamOutOfBounds",
          "Maintenance margin fraction; above 0 and below 1 / max_leverage (see RELATIONS).",
          "", Fraction(WAD)),
    Bound("taker_fee_bps", "takerFeeBps", 0, 100, CONFIGURE_MARKET, "ParamOutOfBounds",
          "Fee on every trade's notional.", "bps"),
    Bound("liquidation_fee_bps", "liquidationFeeBps", 0, 500, CONFIGURE_MARKET,
          "ParamOutOfBounds", "Penalty on a liquidated notional.", "bps"),
    Bound("keeper_share_bps", "keeperShareBps", 0, BPS, CONFIGURE_MARKET, "ParamOutOfBounds",
          "The keeper's share of the liquidation penalty.", "bps"),
    Bound("reserve_factor_bps", "reserveFactorBps", 1, 5 * BPS, CONFIGURE_MARKET,
          "ParamOutOfBounds", "Open interest the pool backs, of its assets (up to 5x).", "bps"),
    Bound("partial_liquidation_bps", "partialLiquidationBps", 1, BPS, CONFIGURE_MARKET,
          "ParamOutOfBounds", "The slice of a large position one partial liquidation closes.",
          "bps"),
    Bound("max_funding_rate_per_hour", "maxFundingRate", 0, 10**13, CONFIGURE_MARKET,
          "ParamOutOfBounds", "Cap of the funding rate (3.6% an hour; stored per second, WAD).",
          "per hour", _HOURLY),
    Bound("funding_rate_per_hour", "fundingFactor", 0, 10**13, CONFIGURE_MARKET,
          "ParamOutOfBounds", "Funding rate at full skew (stored per second, WAD).",
          "per hour", _HOURLY),
    Bound("borrow_rate_per_year", "borrowRate", 0, 10**11, CONFIGURE_MARKET, "ParamOutOfBounds",
          "Borrowing fee on notional (315.36% a year; stored per second, WAD).", "per year",
          _YEARLY),
    Bound("min_collateral_usd", "minCollateral", 1, None, CONFIGURE_MARKET, "ParamOutOfBounds",
          "Smallest margin of a position, and smallest notional (at least one token unit).",
          "USD", None),
    Bound("liquidation_cooldown", "liquidationCooldown", 0, DAY, CONFIGURE_MARKET,
          "ParamOutOfBounds", "Wait between two partial liquidations of one position.", "s"),
    Bound("open_buffer_bps", "openBufferBps", 1, 1_000, CONFIGURE_MARKET, "ParamOutOfBounds",
          "Margin an open must leave above maintenance, of the position's notional (never 0).",
          "bps"),
    # Clearinghouse.setMarketTiers
    Bound("tiers", "tierCount", 0, 16, SET_MARKET_TIERS, "InvalidTiers",
          "Maintenance tiers per market.", "tiers"),
    Bound("tier_lower_bound_usd", "lowerBound", 0, 2**96 - 1, SET_MARKET_TIERS, "InvalidTiers",
          "A tier's lower bound of notional (stored as uint96 WAD USD).", "USD", Fraction(WAD)),
    # ImpactPricing.setImpactConfig
    Bound("impact_exponent_positive", "exponentPositive", WAD, 3 * WAD, SET_IMPACT_CONFIG,
          "ImpactConfigOutOfBounds", "Exponent of the impact that narrows the imbalance (stored "
          "in WAD; fractional, as GMX's 2.2).", "", Fraction(WAD)),
    Bound("impact_exponent_negative", "exponentNegative", WAD, 3 * WAD, SET_IMPACT_CONFIG,
          "ImpactConfigOutOfBounds", "Exponent of the impact that widens the imbalance (stored "
          "in WAD).", "", Fraction(WAD)),
    Bound("max_positive_impact_bps", "maxPositiveImpactBps", 0, BPS, SET_IMPACT_CONFIG,
          "ImpactConfigOutOfBounds", "Cap of positive impact per trade, of its size (at most "
          "max_negative_impact_bps applies).", "bps"),
    Bound("max_negative_impact_bps", "maxNegativeImpactBps", 0, BPS, SET_IMPACT_CONFIG,
          "ImpactConfigOutOfBounds", "Cap of the negative impact a decrease realises, of the "
          "size decreased.", "bps"),
    Bound("max_liquidation_impact_bps", "maxLiquidationImpactBps", 0, BPS, SET_IMPACT_CONFIG,
          "ImpactConfigOutOfBounds", "Cap of the negative impact health counts, of the "
          "position's size.", "bps"),
    Bound("impact_index_decimals", "indexDecimals", 0, 18, SET_IMPACT_CONFIG,
          "ImpactConfigOutOfBounds", "Decimals of the index token: the unit of impact amounts.",
          "decimals"),
    # venue-wide
    Bound("max_pnl_factor_traders", "maxPnlFactorTraders", 0, BPS, SET_PNL_FACTORS,
          "ParamOutOfBounds", "Profit cap, of the pool's assets (0: no cap).", "of the pool",
          _FRACTION_BPS),
    Bound("max_pnl_factor_adl", "maxPnlFactorAdl", 2, BPS, SET_PNL_FACTORS, "ParamOutOfBounds",
          "Pnl factor above which auto-deleveraging starts (the contract refuses 0 itself, and 1 "
          "leaves no floor of at least 1 bps below it).", "of the pool", _FRACTION_BPS),
    Bound("min_pnl_factor_after_adl", "minPnlFactorAfterAdl", 1, BPS - 1, SET_PNL_FACTORS,
          "ParamOutOfBounds", "Pnl factor auto-deleveraging stops at; below max_pnl_factor_adl.",
          "of the pool", _FRACTION_BPS),
    Bound("risk_change_delay", "riskChangeDelay", 0, 30 * DAY, SET_RISK_CHANGE_DELAY,
          "ParamOutOfBounds", "Wait before a risk-increasing market change applies.", "s"),
    Bound("max_price_age", "maxPriceAge", 1, DAY, SET_DEFAULT_MAX_PRICE_AGE, "ParamOutOfBounds",
          "Age at which a price stops trading and liquidation.", "s"),
    Bound("close_grace_period", "closeGracePeriod", 0, DAY, SET_CLOSE_GRACE_PERIOD,
          "ParamOutOfBounds", "Extra age during which closes still go through.", "s"),
    Bound("max_deviation_bps", "maxDeviationBps", 0, BPS, SET_MAX_DEVIATION, "ParamOutOfBounds",
          "Largest move of one oracle update (0: unchecked).", "bps"),
    Bound("market_order_timeout", "marketOrderTimeout", 1, DAY, SET_MARKET_ORDER_TIMEOUT,
          "ParamOutOfBounds", "Age at which an unexecuted market order expires.", "s"),
    Bound("min_execution_gas", "minExecutionGas", 100_000, 10_000_000, SET_MIN_EXECUTION_GAS,
          "ParamOutOfBounds", "Gas an order or LP request execution must start with, per kind "
          "of request (less reverts InsufficientExecutionGas).", "gas"),
)

#: Bounds between two parameters.
RELATIONS: tuple[Relation, ...] = (
    Relation("mmf", "mmf", "max_leverage", "mmf x max_leverage < 1", "mmf x maxLeverage < 1e18",
             CONFIGURE_MARKET, "ParamOutOfBounds",
             "A position opened at max leverage starts above maintenance."),
    Relation("min_pnl_factor_after_adl", "minPnlFactorAfterAdl", "max_pnl_factor_adl",
             "min_pnl_factor_after_adl < max_pnl_factor_adl",
             "minPnlFactorAfterAdl < maxPnlFactorAdl", SET_PNL_FACTORS, "ParamOutOfBounds",
             "Auto-deleveraging stops below where it starts."),
)

BY_FIELD: dict[str, Bound] = {b.field: b for b in BOUNDS}
RELATION_BY_FIELD: dict[str, Relation] = {r.field: r for r in RELATIONS}


def bound(field: str) -> Bound:
    """The bound on ``field`` (``KeyError`` naming it if there is none)."""
    try:
        return BY_FIELD[field]
    except KeyError:
        raise KeyError(f"no bound on {field!r}") from None


def mmf_below_inverse_leverage(mmf_wad: int, max_leverage: int) -> bool:
    """``mmf x max_leverage < 1`` in the contract's units (the first of :data:`RELATIONS`)."""
    return mmf_wad * max_leverage < WAD


def contract_table() -> str:
    """The table in the contracts' own names and units, as docs/SPEC.md §2.2 shows it."""
    rows = ["| parameter | range (contract units) | checked by | error |", "|---|---|---|---|"]
    for b in BOUNDS:
        high = "-" if b.high is None else f"{b.high:,}"
        rows.append(f"| `{b.param}` | [{b.low:,}, {high}] | `{b.setter}` | `{b.error}` |")
    for r in RELATIONS:
        rows.append(f"| `{r.param}` | {r.contract_rule} | `{r.setter}` | `{r.error}` |")
    return "\n".join(rows)


def markdown_table() -> str:
    """The table as Markdown, as README's "Parameter bounds" section shows it."""
    rows = ["| parameter | range | refused by | error |", "|---|---|---|---|"]
    for b in BOUNDS:
        rows.append(f"| `{b.field}` | {b.describe()} | `{b.setter}` | `{b.error}` `{b.param}` |")
    for r in RELATIONS:
        rows.append(f"| `{r.field}` | {r.rule} | `{r.setter}` | `{r.error}` `{r.param}` |")
    return "\n".join(rows)
