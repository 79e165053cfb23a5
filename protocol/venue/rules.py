"""A market's own rule modules, as the reference model asks them.

The reference model (:mod:`protocol.margin.model`) carries Python mirrors of the stock rules. A
market that names a module on chain (``marketModules``: a user's contract, or a deployed stock
one) is judged by that module's answers, asked through the chain, so invariants and reference
checks hold a custom rule to its own numbers rather than to the stock rule's.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import astuple
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Optional, cast

from protocol.errors import PerpsimError, Reverted
from protocol.margin.deleveraging import AdlInput, AdlRoundInput, StockAdl
from protocol.margin.liquidation import SliceInput, StockLiquidation
from protocol.margin.model import MarketRules, ModelRevert
from protocol.margin.pricing import ImpactInput, ImpactResult, OraclePricing, PricingRevert
from protocol.margin.rates import RatesInput, RatesMemory, StockRates
from protocol.margin.requirements import StockMargin
from protocol.margin.types import MODULE_INTERFACES

if TYPE_CHECKING:
    from protocol.venue.client import Venue

#: The stock rule's Python mirror of each kind, and the methods a user's mirror must have.
STOCK_MIRRORS = {"rates": StockRates, "margin": StockMargin, "liquidation": StockLiquidation,
                 "pricing": OraclePricing, "adl": StockAdl}
MIRROR_METHODS = {"rates": ("rates",), "margin": ("requirements",),
                  "liquidation": ("slice", "penalty"), "pricing": ("increase", "decrease", "health"),
                  "adl": ("rule", "round_fraction", "close_limit")}


class MirrorError(PerpsimError):
    """A mirror choice that cannot be used: unknown kind, nothing to import, or an object without
    the kind's methods (one line each)."""


class _ChainModule:
    """One module contract, asked what the clearinghouse asks it; a revert is the model's."""

    revert: type[ModelRevert] | type[PricingRevert] = ModelRevert

    def __init__(self, venue: Venue, kind: str, address: str):
        self.contract = venue.chain.at(MODULE_INTERFACES[kind], address)

    def _ask(self, function: str, *args: Any) -> Any:
        try:
            return self.contract.call(function, *args)
        except Reverted as exc:
            raise self.revert(exc.error or "Reverted", *exc.args) from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.contract.address})"


class ChainRates(_ChainModule):
    """``IRatesModule`` on chain, as :class:`protocol.margin.rates.StockRates` is asked."""

    def rates(self, i: RatesInput) -> tuple[int, int]:
        return tuple(self._ask("rates", astuple(i)))


class ChainStatefulRates(ChainRates):
    """``IStatefulRatesModule`` on chain (a market whose ``marketMemory`` says its module is
    stateful), as :class:`protocol.margin.rates.VelocityRates` is asked."""

    def __init__(self, venue: Venue, kind: str, address: str):
        self.contract = venue.chain.at("IStatefulRatesModule", address)

    def stateful_rates(self, i: RatesInput, mem: RatesMemory) -> tuple[int, int, int]:
        return tuple(self._ask("statefulRates", astuple(i), astuple(mem)))


class ChainMargin(_ChainModule):
    """``IMarginModule`` on chain, as :class:`protocol.margin.requirements.StockMargin` is asked."""

    def requirements(self, market: int, notional: int, leverage: int, mmf: int) -> tuple[int, int]:
        return tuple(self._ask("requirements", market, notional, leverage, mmf))


class ChainLiquidation(_ChainModule):
    """``ILiquidationModule`` on chain, as :class:`protocol.margin.liquidation.StockLiquidation`
    is asked."""

    def slice(self, i: SliceInput) -> int:
        return cast(int, self._ask("slice", astuple(i)))

    def penalty(self, market: int, equity_left: int, max_penalty: int,
                keeper_share_bps: int) -> tuple[int, int]:
        return tuple(self._ask("penalty", market, equity_left, max_penalty, keeper_share_bps))


class ChainPricing(_ChainModule):
    """``IPricingModule`` on chain, as :class:`protocol.margin.impact_pricing.ImpactPricing` is asked."""

    revert = PricingRevert

    def increase(self, t: ImpactInput) -> ImpactResult:
        return ImpactResult(*self._ask("increaseImpact", astuple(t)))

    def decrease(self, t: ImpactInput, liquidation: bool = False) -> ImpactResult:
        return ImpactResult(*self._ask("decreaseImpact", astuple(t), liquidation))

    def health(self, t: ImpactInput) -> int:
        return cast(int, self._ask("healthImpact", astuple(t)))


class ChainAdl(_ChainModule):
    """``IAdlModule`` on chain, as :class:`protocol.margin.deleveraging.StockAdl` is asked. Two
    are equal when they are the same contract (a round covers the markets of one module)."""

    def rule(self, market: int) -> int:
        return cast(int, self._ask("rule", market))

    def round_fraction(self, r: AdlRoundInput) -> int:
        return cast(int, self._ask("roundFraction", astuple(r)))

    def close_limit(self, p: AdlInput) -> tuple[int, bool]:
        return tuple(self._ask("closeLimit", astuple(p)))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChainAdl) and other.contract.address.lower() == self.contract.address.lower()

    def __hash__(self) -> int:
        return hash(self.contract.address.lower())


_MIRRORS = {"rates": ChainRates, "margin": ChainMargin, "liquidation": ChainLiquidation,
            "pricing": ChainPricing, "adl": ChainAdl}


def mirror(kind: str, name: str) -> object:
    """The Python mirror ``name`` of a module of ``kind``: ``"stock"`` (the stock rule's: a
    module meant to implement it, e.g. a cheaper one), ``"package.module:Class"`` or
    ``"path/to/file.py:Class"`` (a class
    whose instances have the kind's methods, :data:`MIRROR_METHODS`, built without arguments)."""
    if kind not in STOCK_MIRRORS:
        raise MirrorError(f"unknown module kind {kind!r}; kinds: {', '.join(STOCK_MIRRORS)}")
    if name == "stock":
        return STOCK_MIRRORS[kind]()
    module, _, attribute = name.partition(":")
    if not attribute:
        raise MirrorError(f"mirror {name!r} for {kind}: expected \"stock\", \"package.module:Class\" "
                          f"or \"file.py:Class\"")
    try:
        found = _import(module)
        for part in attribute.split("."):
            found = getattr(found, part)
        instance = found()
    except Exception as exc:
        raise MirrorError(f"mirror {name!r} for {kind}: {type(exc).__name__}: {exc}") from None
    missing = [m for m in MIRROR_METHODS[kind] if not callable(getattr(instance, m, None))]
    if missing:
        raise MirrorError(f"mirror {name!r} for {kind} has no {', '.join(missing)}")
    return instance


def _import(module: str) -> Any:
    """A module by its dotted name, or a ``.py`` file by its path."""
    if not module.endswith(".py"):
        return importlib.import_module(module)
    spec = importlib.util.spec_from_file_location(Path(module).stem, module)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {module}")
    found = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(found)
    return found


def mirrors(choices: Optional[Mapping[str, str]]) -> dict[str, object]:
    """:func:`mirror` of every ``kind -> name`` of ``choices``."""
    return {kind: mirror(kind, name) for kind, name in (choices or {}).items()}


def market_rules(venue: Venue, market: int,
                 mirrors: Optional[Mapping[str, object]] = None) -> Optional[MarketRules]:
    """The market's modules as the model's :class:`MarketRules`: where it names a module, the
    user's mirror of that kind if ``mirrors`` has one, else the module asked through the chain;
    the stock rule where it names none. None when it names none at all."""
    addresses = venue.clearinghouse.market_modules(market)
    if all(int(address, 16) == 0 for address in addresses):
        return None
    rules = MarketRules()
    for (kind, on_chain), address in zip(_MIRRORS.items(), addresses):  # marketModules' order
        if int(address, 16):
            chosen = (mirrors or {}).get(kind)
            if chosen is None and kind == "rates" and venue.clearinghouse.market_memory(market).stateful_rates:
                on_chain = ChainStatefulRates
            setattr(rules, kind, chosen if chosen is not None else on_chain(venue, kind, address))
    return rules
