"""Pydantic models of a scenario file's tables, and how their errors read.

Each TOML table is validated by a model (unknown keys refused, TOML types checked strictly:
an integer field takes no float, a number field no string); :func:`check` runs one and turns
a :class:`pydantic.ValidationError` into a :class:`~protocol.sim.locate.ScenarioError` at the
offending key's line. Tables whose keys depend on a ``type`` (agents, keepers, price models,
shocks, metrics) get their model from the type's parameter dataclass (:func:`params_model`), so
a plug-in's parameters are checked the same way. Rules across tables (an agent's leverage
against its markets, shocks against the scenario's length) are :mod:`protocol.sim.loader`'s.

Market parameter bounds are not here: :class:`~protocol.venue.MarketConfig` owns them and its
``ValueError`` is reported at the key it names.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import math
import types
import typing
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal, Optional, Sequence, TypeAlias, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError

from protocol.keepers.strategy import Strategy
from protocol.margin.types import MODULE_INTERFACES
from protocol.prices import liquidity as outside
from protocol.prices.data import FORMATS as DATA_FORMATS
from protocol.prices.data import TIME_UNITS, datetime_seconds, iso_seconds
from protocol.prices.gas import MODELS as GAS_MODELS
from protocol.prices.gas import GasModel
from protocol.prices.liquidity import SHAPES
from protocol.prices.oracle import MODES as ORACLE_MODES
from protocol.prices.oracle import OracleModel
from protocol.sim.locate import Part, ScenarioError, Where
from protocol.sim.scenario import MODES, STUDIES, VenueSpec
from protocol.venue import MarketConfig
from protocol.venue.bounds import bound

BACKENDS = ("revm", "pyevm")


# ---------------------------------------------------------------------------------------------
# TOML value types


def type_name(value: Any) -> str:
    """A TOML value's type as a scenario author knows it."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "table"
    if isinstance(value, (datetime.date, datetime.time)):
        return "datetime"
    return type(value).__name__


def got(value: Any) -> str:
    shown = repr(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return f"{type_name(value)} {shown}"


def _finite(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PydanticCustomError("number_type", "expected number, got {got}", {"got": got(value)})
    if isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError("finite_number", "must be finite, got {value}", {"value": value})
    return value


def _low_high(value: tuple[float, float]) -> tuple[float, float]:
    low, high = value
    if high < low:
        raise PydanticCustomError("range_order", f"need low <= high, got [{low:g}, {high:g}]")
    return value


Int = StrictInt
Str = StrictStr
Bool = StrictBool
#: A TOML integer or float, as a float.
Real = Annotated[float, BeforeValidator(lambda v: float(_finite(v)))]
#: A TOML integer or float, exact (``Decimal(str(value))``: 0.1 stays 0.1).
Num = Annotated[Decimal, BeforeValidator(lambda v: Decimal(str(_finite(v))))]
#: ``[low, high]``: the range an agent draws its own value from.
Range = Annotated[tuple[Real, Real], AfterValidator(_low_high)]
NonEmpty = Field(min_length=1)
# Subscripted with types made at run time (values to the checker, not type expressions).
_Annotated: Any = Annotated
_tuple: Any = tuple


class Table(BaseModel):
    """A TOML table: unknown keys refused, values not coerced (TOML already typed them)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# ---------------------------------------------------------------------------------------------
# parameter dataclasses -> models


def field_type(hint: Any, name: str = "") -> Any:
    """The strict pydantic type of a parameter dataclass's field hint."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            inner = field_type(rest[0], name)
            return Optional[inner] if type(None) in args else inner
        return Any  # a union the loader cannot type: left to the dataclass
    if hint is float:
        return Real
    if hint is bool:
        return Bool
    if hint is int:
        return Int
    if hint is Decimal:
        return Num
    if hint is str:
        return Literal[MODES] if name == "mode" else Str
    if origin is Literal:
        return hint
    if origin is tuple:
        if args == (float, float):
            return Range
        if len(args) == 2 and args[1] is Ellipsis:
            return _Annotated[_tuple[field_type(args[0]), ...], NonEmpty]
        return _tuple[tuple(field_type(a) for a in args)]
    return Any


def _literal(options: Sequence[str]) -> Any:
    return Literal[tuple(options)]


@functools.lru_cache(maxsize=None)
def params_model(params: type, base: type[BaseModel] = Table,
                 skip: tuple[str, ...] = ()) -> type[BaseModel]:
    """A model for a table that holds ``base``'s keys and the fields of the ``params``
    dataclass (except ``skip``); a field with a default may be left out (its default
    applies), one without is required."""
    hints = typing.get_type_hints(params, include_extras=False)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(params):
        if f.name in skip or f.name in base.model_fields:
            continue
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        kind = field_type(hints[f.name], f.name)
        fields[f.name] = (kind, ...) if required else (Optional[kind], None)
    return create_model(f"{params.__name__}Table", __base__=base, **fields)


# ---------------------------------------------------------------------------------------------
# tables


def _within(field: str) -> Any:
    """The range of a venue-wide parameter, read from the one bounds table."""
    limits = bound(field)
    return Field(ge=limits.minimum, le=limits.maximum)


class PnlFactors(Table):
    max_pnl_factor_traders: Annotated[Num, _within("max_pnl_factor_traders")] = VenueSpec.max_pnl_factor_traders
    max_pnl_factor_adl: Annotated[Num, _within("max_pnl_factor_adl")] = VenueSpec.max_pnl_factor_adl
    min_pnl_factor_after_adl: Annotated[Num, _within("min_pnl_factor_after_adl")] = VenueSpec.min_pnl_factor_after_adl

    @model_validator(mode="after")
    def _whole_bps(self) -> "PnlFactors":
        for key in PnlFactors.model_fields:
            value = getattr(self, key)
            if value * 10_000 != int(value * 10_000):
                raise ValueError(f"{key}: must be a whole number of basis points; got {value}")
        if self.min_pnl_factor_after_adl >= self.max_pnl_factor_adl:
            raise ValueError(f"min_pnl_factor_after_adl: must be below max_pnl_factor_adl "
                             f"({self.max_pnl_factor_adl}); got {self.min_pnl_factor_after_adl}")
        return self


_MODULE_FIELDS: dict[str, Any] = {kind: (Optional[Str], None) for kind in MODULE_INTERFACES}
Modules = create_model("Modules", __base__=Table, **_MODULE_FIELDS)


def _venue_model() -> type[BaseModel]:
    """``[venue]``: the pnl factors, the modules, their contracts and mirrors, and every other
    field of :class:`~protocol.sim.scenario.VenueSpec` (the keywords of ``Venue.launch``),
    typed from the dataclass, which checks their values (the loader places its errors)."""
    hints = typing.get_type_hints(VenueSpec)
    special: dict[str, Any] = {"modules": (Modules, Modules()), "contracts": (Optional[Str], None),
                               "mirrors": (Modules, Modules())}
    launched: dict[str, Any] = {f.name: (field_type(hints[f.name]), f.default) for f in dataclasses.fields(VenueSpec)
                if f.name not in special and f.name not in PnlFactors.model_fields}
    return create_model("Venue", __base__=PnlFactors, **launched, **special)


if TYPE_CHECKING:
    class Venue(PnlFactors):
        """``[venue]`` as :func:`_venue_model` makes it at run time; here what the loader reads
        by name (the launch keywords it passes on as they are)."""

        modules: BaseModel = Modules()
        mirrors: BaseModel = Modules()
        contracts: Optional[str] = None
else:
    Venue = _venue_model()


def _tiers(value: Any) -> Any:
    if not (isinstance(value, list) and all(
            isinstance(x, list) and len(x) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in x)
            for x in value)):
        raise PydanticCustomError("tiers", "expected [[lower bound USD, max leverage], ...]")
    return tuple((Decimal(str(bound)), int(leverage)) for bound, leverage in value)


def _market_model() -> type[BaseModel]:
    """Every ``MarketConfig`` field but the symbol, typed; its bounds are MarketConfig's."""
    hints = typing.get_type_hints(MarketConfig)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(MarketConfig):
        if f.name == "symbol":
            continue
        kind = field_type(hints[f.name])
        if hints[f.name] is int:
            kind = Int  # MarketConfig bounds it
        fields[f.name] = (Optional[kind], None)
    fields["tiers"] = (Optional[Annotated[tuple, BeforeValidator(_tiers)]], None)
    fields["initial_price"] = (Annotated[Num, Field(gt=0)], ...)
    return create_model("Market", __base__=Table, **fields)


if TYPE_CHECKING:
    Market: TypeAlias = Table  # made at run time by _market_model (MarketConfig's fields)
else:
    Market = _market_model()

if TYPE_CHECKING:
    # Literal types of names defined elsewhere, made at run time (the checker sees str).
    ShapeName: TypeAlias = str
    DataFormatName: TypeAlias = str
    TimeUnitName: TypeAlias = str
    GasModelName: TypeAlias = str
    OracleModeName: TypeAlias = str
    BackendName: TypeAlias = str
    ModeName: TypeAlias = str
    StudyName: TypeAlias = str
else:
    ShapeName = _literal(SHAPES)
    DataFormatName = _literal(DATA_FORMATS)
    TimeUnitName = _literal(TIME_UNITS)
    GasModelName = _literal(GAS_MODELS)
    OracleModeName = _literal(ORACLE_MODES)
    BackendName = _literal(BACKENDS)
    ModeName = _literal(MODES)
    StudyName = _literal(STUDIES)


def _depth(value: Any) -> Any:
    """A depth: a number, a table of block or time -> number, or a file name."""
    if isinstance(value, str):
        if not value.strip():
            raise PydanticCustomError("blank", "must not be empty")
        return value
    if isinstance(value, dict):
        if not value:
            raise PydanticCustomError("blank", "must not be empty")
        return {key: Decimal(str(_finite(v))) for key, v in value.items()}
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PydanticCustomError("depth", "expected a number (USD per 1%), a table of block or "
                                  "time -> depth, or a depth snapshot file; got {got}",
                                  {"got": got(value)})
    return Decimal(str(_finite(value)))


class ThinningSpec(Table):
    """``[liquidity.SYM.thinning]``: a :class:`~protocol.prices.liquidity.Thinning`'s keys, its
    window and half life in blocks; the dataclass checks their values."""

    factor: Num
    window_blocks: Annotated[Int, Field(ge=1)]
    threshold: Num
    half_life_blocks: Num


class LiquiditySpec(Table):
    """``[liquidity.SYM]``: a :class:`~protocol.prices.liquidity.Liquidity`'s keys, typed (its
    half life in blocks); the dataclass checks their values (the loader places its errors).
    ``depth`` is a number, a table of block (or ISO date-time) -> depth, or a file of depth
    snapshots (the loader turns the last two into a schedule)."""

    depth: Annotated[Any, BeforeValidator(_depth)]
    shape: ShapeName = outside.Liquidity.shape
    half_life_blocks: Num = outside.Liquidity.half_life
    thinning: Optional[ThinningSpec] = None


class Liquidity(Table):
    """``[liquidity]``: ``feedback`` and one table per market."""

    model_config = ConfigDict(extra="allow", frozen=True)
    __pydantic_extra__: dict[str, LiquiditySpec] = Field(init=False)
    feedback: Bool = True


Outage = tuple[Int, Int]


def _outage(value: Any) -> Any:
    if not (isinstance(value, list) and len(value) == 2
            and all(isinstance(x, int) and not isinstance(x, bool) for x in value)):
        raise PydanticCustomError("outage", "expected [first block, last block]")
    start, end = value
    if not 1 <= start <= end:
        raise PydanticCustomError("outage", "need 1 <= first <= last, got {item}",
                                  {"item": value})
    return (start, end)


class Oracle(Table):
    """``[oracle.SYM]``: the keys of :class:`~protocol.prices.oracle.OracleModel`, typed; the
    model checks their values (the loader places its errors)."""

    mode: OracleModeName = OracleModel.mode
    deviation_bps: Int = OracleModel.deviation_bps
    heartbeat: Optional[Int] = OracleModel.heartbeat
    delay_blocks: Int = OracleModel.delay_blocks
    max_deviation_bps: Int = OracleModel.max_deviation_bps
    outages: list[Annotated[tuple[Any, ...], BeforeValidator(_outage)]] = []


class Correlated(Table):
    symbols: Annotated[list[Str], NonEmpty]
    starts: Optional[list[Num]] = None
    drifts: Optional[list[Real]] = None
    volatilities: list[Annotated[Real, Field(ge=0)]]
    correlation: list[list[Real]]

    @model_validator(mode="after")
    def _lengths(self) -> "Correlated":
        n = len(self.symbols)
        if len(set(self.symbols)) != n:
            raise ValueError("symbols: must be distinct")
        for key in ("starts", "drifts", "volatilities"):
            values = getattr(self, key)
            if values is not None and len(values) != n:
                raise ValueError(f"{key}: expected {n} values, got {len(values)}")
        for i, x in enumerate(self.starts or ()):
            if x <= 0:
                raise ValueError(f"starts: starts[{i}] must be > 0, got {x}")
        return self


class Kind(BaseModel):
    """The ``type`` (or ``model``) that picks a table's model, read before the rest."""

    model_config = ConfigDict(extra="allow")
    type: Str


class PriceModelKind(BaseModel):
    """The price model's name: ``model``, or its synonym ``type``."""

    model_config = ConfigDict(extra="allow")
    model: Str = "gbm"
    type: Optional[Str] = None


class SinglePrice(Table):
    """``[prices.<SYMBOL>]`` keys besides the model's own parameters."""

    model: Str = "gbm"
    type: Optional[Str] = None
    start: Optional[Annotated[Num, Field(gt=0)]] = None
    shocks: list[dict[str, Any]] = []


class CsvPrice(SinglePrice):
    """``model = "csv"``: a file of prices to replay."""

    file: Str


def _moment(value: Any) -> Decimal:
    """A point in time: a TOML date-time or date (no offset: UTC), ISO 8601 text, or unix
    seconds; as unix seconds."""
    if isinstance(value, (datetime.datetime, datetime.date)):
        return datetime_seconds(value)
    if isinstance(value, str):
        seconds = iso_seconds(value)
        if seconds is None:
            raise PydanticCustomError("moment", "expected an ISO 8601 date-time or unix "
                                      "seconds, got {got}", {"got": got(value)})
        return seconds
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PydanticCustomError("moment", "expected a date-time or unix seconds, got {got}",
                                  {"got": got(value)})
    return Decimal(str(_finite(value)))


Moment = Annotated[Decimal, BeforeValidator(_moment)]


class Columns(Table):
    """``columns = { time = ..., open = ..., ... }``: the named columns of a ``columns`` file."""

    time: Str = "timestamp"
    open: Optional[Str] = None
    high: Optional[Str] = None
    low: Optional[Str] = None
    close: Optional[Str] = None
    price: Optional[Str] = None
    symbol: Optional[Str] = None


class HistoryPrice(SinglePrice):
    """``model = "history"``: candles to replay, bar by bar (:mod:`protocol.prices.history`);
    ``start`` and ``end`` here are times (the window), not prices."""

    file: Str
    format: DataFormatName
    start: Optional[Moment] = None
    end: Optional[Moment] = None
    bridge: Bool = True
    columns: Optional[Columns] = None
    symbol: Optional[Str] = None
    time_unit: Optional[TimeUnitName] = None
    interval: Optional[Annotated[Num, Field(gt=0)]] = None


def _targets(value: Any) -> Any:
    if isinstance(value, dict):
        pins = {}
        for block, price in value.items():
            if not block.isdigit():
                raise ValueError(f"targets keys must be block numbers, got {block!r}")
            pins[int(block)] = Decimal(str(_finite(price)))
        return pins
    return Decimal(str(_finite(value)))


class BridgePrice(SinglePrice):
    """``model = "bridge"``: ``targets`` one price or a table of block -> price."""

    targets: Annotated[Any, BeforeValidator(_targets)]
    volatility: Optional[Real] = None


class Spike(Table):
    """``[[gas.spikes]]``: the keys of :class:`~protocol.prices.gas.GasSpike`."""

    start_block: Int
    blocks: Int
    multiplier: Num


def _schedule(value: Any) -> Any:
    if not isinstance(value, dict):
        raise PydanticCustomError("schedule", "expected a table of block = gwei")
    steps = []
    for block, fee in value.items():
        if not block.isdigit():
            raise PydanticCustomError("schedule", "keys must be block numbers, got {key}",
                                      {"key": repr(block)})
        if isinstance(fee, bool) or not isinstance(fee, (int, float)):
            raise PydanticCustomError("schedule", "block {key}: expected a number of gwei",
                                      {"key": block})
        steps.append((int(block), Decimal(str(fee))))
    return tuple(sorted(steps))


class Gas(Table):
    """``[gas]``: the keys of :class:`~protocol.prices.gas.GasModel`, typed; the model checks
    their values (the loader places its errors)."""

    model: GasModelName = GasModel.model
    base_fee_gwei: Num = GasModel.base_fee_gwei
    schedule: Annotated[Any, BeforeValidator(_schedule)] = ()
    target_gas: Int = GasModel.target_gas
    change_denominator: Int = GasModel.change_denominator
    spikes: list[Spike] = []


class Shock(Table):
    type: Str


class Population(Table):
    """``[[agents]]`` keys besides the agent type's parameters."""

    type: Str
    count: Annotated[Int, Field(ge=0)]
    label: Optional[Annotated[Str, AfterValidator(lambda s: _non_blank(s))]] = None


def _non_blank(text: str) -> str:
    if not text.strip():
        raise PydanticCustomError("blank", "must not be empty")
    return text


class KeeperKeys(Table):
    """``[[keepers]]`` keys besides its :class:`~protocol.keepers.Strategy`'s: its type, name,
    bid (its tip above the base fee) and fee ceiling in gwei (the strategy's ``gas_price`` and
    ``max_fee`` are in wei)."""

    type: Str
    name: Optional[Annotated[Str, AfterValidator(_non_blank)]] = None
    gas_price_gwei: Optional[Annotated[Num, Field(ge=0)]] = None
    max_fee_gwei: Optional[Annotated[Num, Field(ge=0)]] = None


#: ``[[keepers]]``: the keys above and every :class:`~protocol.keepers.Strategy` field, typed from
#: the dataclass, which checks their values itself (the loader places its errors).
Keeper = params_model(Strategy, KeeperKeys, skip=("gas_price", "max_fee"))


class MetricTable(Table):
    """``[[metrics]]`` keys besides a metric's own parameters."""

    type: Str
    name: Optional[Annotated[Str, AfterValidator(_non_blank)]] = None


class Top(Table):
    """The top level of a scenario file; the tables whose keys depend on others (markets'
    symbols, agent and keeper types) stay raw here and are checked by the loader."""

    name: Optional[Str] = None
    description: Str = ""
    seed: Annotated[Int, Field(ge=0)] = 1
    blocks: Annotated[Int, Field(ge=1)] = 1440
    block_time: Annotated[Int, Field(ge=1)] = 60
    backend: BackendName = "revm"
    equity_every: Annotated[Int, Field(ge=1)] = 10
    positions_every: Annotated[Int, Field(ge=1)] = 60
    verify_index: Annotated[Int, Field(ge=0)] = 0
    spot_check_every: Annotated[Int, Field(ge=0)] = 240
    mode: Optional[ModeName] = None
    study_modes: list[ModeName] = []
    study: Optional[StudyName] = None
    venue: Venue = Venue()
    markets: dict[str, Market] = {}
    prices: dict[str, dict[str, Any]] = {}
    liquidity: Optional[Liquidity] = None
    oracle: dict[str, Oracle] = {}
    gas: Optional[Gas] = None
    agents: list[dict[str, Any]] = []
    keepers: Optional[list[dict[str, Any]]] = None
    metrics: list[dict[str, Any]] = []

    @model_validator(mode="after")
    def _one_study(self) -> "Top":
        if len(set(self.study_modes)) != len(self.study_modes):
            raise ValueError("study_modes: modes must be distinct")
        if self.study and self.study_modes:
            raise ValueError("study: a scenario runs one study: study or study_modes, not both")
        return self


# ---------------------------------------------------------------------------------------------
# errors


def _model_at(model: Any, loc: Sequence[Part]) -> Any:
    """The model class that validates the table at ``loc`` under ``model`` (for the list of
    its keys), or None."""
    skip = 0  # parts that index a list or a dict rather than name a field
    for part in loc:
        if skip:
            skip -= 1
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is not None:
            hint = field.annotation
        else:
            extra = typing.get_type_hints(model).get("__pydantic_extra__")
            if extra is None:
                return None
            hint = typing.get_args(extra)[1]
        model, skip = _unwrap(hint)
    return model


def _unwrap(hint: Any) -> tuple[Any, int]:
    """The model inside ``hint`` and how many list indexes or dict keys lead to it."""
    depth = 0
    while True:
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin is Annotated:
            hint = args[0]
        elif origin in (Union, types.UnionType):
            hint = next(a for a in args if a is not type(None))
        elif origin in (list, dict, tuple):
            hint, depth = (args[-1] if args else Any), depth + 1
        else:
            return hint, depth


def message(error: Any, model: type[BaseModel]) -> str:
    """One pydantic error as the loader words it."""
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        table = _model_at(model, error["loc"][:-1])
        keys = ", ".join(table.model_fields) if table is not None else ""
        return "unknown key" + (f"; valid keys: {keys}" if keys else "")
    expected = {"int_type": "integer", "int_from_float": "integer", "string_type": "string",
                "bool_type": "boolean", "float_type": "number", "list_type": "array",
                "tuple_type": "array", "dict_type": "table", "model_type": "table",
                "model_attributes_type": "table", "decimal_type": "number"}
    if kind in expected:
        return f"expected {expected[kind]}, got {got(value)}"
    bounds = {"greater_than_equal": (">=", "ge"), "greater_than": (">", "gt"),
              "less_than_equal": ("<=", "le"), "less_than": ("<", "lt")}
    if kind in bounds:
        sign, key = bounds[kind]
        limit = ctx[key]
        if isinstance(limit, str) and limit.startswith("Decimal("):
            limit = limit[len("Decimal('"):-len("')")]
        return f"must be {sign} {limit}, got {value}"
    if kind == "literal_error":
        return f"must be one of {ctx['expected']}; got {value!r}"
    if kind == "too_short" and ctx.get("min_length") == 1:
        return "must not be empty"
    if kind in ("too_short", "too_long"):
        return f"expected {ctx.get('min_length', ctx.get('max_length'))} values, got {ctx.get('actual_length')}"
    if kind == "value_error":
        return str(ctx["error"])
    msg: str = error["msg"]
    return msg


def check(where: Where, model: type[BaseModel], data: Any, parts: Sequence[Part] = ()) -> Any:
    """``model`` validated from the raw TOML ``data`` at ``parts``; the first problem in the
    file (by line) as a ``ScenarioError``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [_error(where, e, model, tuple(parts)) for e in exc.errors()]
        raise min(errors, key=lambda e: e.line if e.line is not None else 0) from None


def _error(where: Where, error: Any, model: type[BaseModel], parts: tuple[Part, ...]) -> ScenarioError:
    loc = tuple(error["loc"])
    text = message(error, model)
    if error["type"] == "value_error":
        # a model validator's "key: message" is about that key of its table
        key, sep, rest = text.partition(": ")
        table = _model_at(model, loc)
        if sep and isinstance(table, type) and issubclass(table, BaseModel) \
                and key in table.model_fields:
            loc, text = (*loc, key), rest
    return where.error((*parts, *loc), text)
