"""The parameter bounds table (``protocol.venue.bounds``) against the real contracts.

For every row: the contract accepts the edge value and reads it back, refuses one contract unit
beyond with the row's named error, and Python refuses the same value first (``MarketConfig``,
the deployment plan or the reference model, whichever reads the row). A further test finds every
bound written in the contracts' source, so a bound added on either side alone fails here."""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal, localcontext
from pathlib import Path

import pytest
from venue_fixtures import launch

from protocol.chain.abi import load_artifact
from protocol.deploy import venue_plan
from protocol.margin.model import Model, ModelRevert
from protocol.venue import MarketConfig
from protocol.venue.bounds import (
    BOUNDS,
    RELATIONS,
    Bound,
    ParameterOutOfBounds,
    bound,
    contract_table,
    markdown_table,
)

ROOT = Path(__file__).resolve().parents[2]
MARKET_FIELDS = {f for f in MarketConfig.__dataclass_fields__}
PLAN_FIELDS = ("max_price_age", "close_grace_period", "market_order_timeout")
#: The one bound in the contracts that is not a parameter: the collateral token's decimals
#: (the Clearinghouse's constructor refuses a token with more than 18).
NOT_PARAMETERS = {"decimals"}


@pytest.fixture(scope="module")
def base(backend):
    return launch(backend)


def _struct_fields(contract: str, function: str) -> list[str]:
    """The field names of ``function``'s struct argument, from the compiled ABI."""
    item = next(i for i in load_artifact(contract).raw["abi"]
                if i.get("type") == "function" and i["name"] == function)
    struct = next(p for p in item["inputs"] if p["type"] == "tuple")
    return [c["name"] for c in struct["components"]]


def _param(error) -> str:
    return error.args[0].rstrip(b"\0").decode()


def _apply(venue, row: Bound, raw: int):
    """Send ``raw`` (contract units) for ``row`` straight to its contract, bypassing Python's
    validation; returns (receipt, read back value or None when refused)."""
    ch, admin = venue.clearinghouse, venue.admin
    if row.setter == "Clearinghouse.configureMarket":
        names = _struct_fields("Clearinghouse", "configureMarket")
        values = list(venue.markets["ETH"].encode(venue.decimals))
        values[names.index("mmf")] = 1  # the smallest mmf fits every leverage
        if row.param == "mmf":
            values[names.index("maxLeverage")] = 1  # mmf's top edge is 1 / max_leverage
        values[names.index(row.param)] = raw
        receipt = ch.configure_market(0, b"ETH".ljust(32, b"\0"), tuple(values), sender=admin)
        return receipt, receipt.status and ch.market_config(0)[names.index(row.param)]
    if row.setter == "Clearinghouse.setMarketTiers":
        leverage = venue.markets["ETH"].max_leverage
        if row.param == "tierCount":
            lower_bounds = [i * 10**21 for i in range(raw)]
        else:  # the first tier starts at 0; the second at raw
            lower_bounds = [0, raw] if raw else [0]
        receipt = ch.set_market_tiers(0, lower_bounds, [leverage] * len(lower_bounds), sender=admin)
        if row.param == "tierCount":
            return receipt, receipt.status and ch.market_tier(0, 0)[3]
        return receipt, receipt.status and ch.market_tier(0, len(lower_bounds) - 1)[0]
    if row.setter == "ImpactPricing.setImpactConfig":
        impact = venue.chain.deploy(load_artifact("ImpactPricing"), ch.address, admin, sender=admin)
        names = _struct_fields("ImpactPricing", "setImpactConfig")
        values = list(MarketConfig(symbol="ETH").impact_encoded())
        values[names.index(row.param)] = raw
        receipt = impact.set_impact_config(0, tuple(values), sender=admin)
        return receipt, receipt.status and impact.impact_config(0)[names.index(row.param)]
    if row.setter == "Clearinghouse.setPnlFactors":
        factors = {"maxPnlFactorTraders": 9_000, "maxPnlFactorAdl": 10_000, "minPnlFactorAfterAdl": 1}
        factors[row.param] = raw
        receipt = ch.set_pnl_factors(*factors.values(), sender=admin)
        order = list(factors)
        return receipt, receipt.status and ch.solvency()[3 + order.index(row.param)]
    if row.setter == "Clearinghouse.setRiskChangeDelay":
        receipt = ch.set_risk_change_delay(raw, sender=admin)
        return receipt, receipt.status and receipt.events_named("RiskChangeDelaySet")[0]["delay"]
    if row.setter == "PriceOracle.setDefaultMaxPriceAge":
        receipt = venue.oracle.set_default_max_price_age(raw, sender=admin)
        return receipt, receipt.status and venue.oracle.default_max_price_age()
    if row.setter == "PriceOracle.setCloseGracePeriod":
        receipt = venue.oracle.set_close_grace_period(raw, sender=admin)
        return receipt, receipt.status and venue.oracle.close_grace_period()
    if row.setter == "PriceOracle.setMaxDeviation":
        receipt = venue.oracle.set_max_deviation(0, raw, sender=admin)
        return receipt, receipt.status and receipt.events_named("MaxDeviationSet")[0]["maxDeviationBps"]
    if row.setter == "OrderBook.setMarketOrderTimeout":
        receipt = venue.order_book.set_market_order_timeout(raw, sender=admin)
        return receipt, receipt.status and venue.order_book.market_order_timeout()
    if row.setter == "OrderBook.setMinExecutionGas":
        receipt = venue.order_book.set_min_execution_gas(3, raw, sender=admin)  # LP redemptions
        return receipt, receipt.status and venue.order_book.min_execution_gas(3)
    raise AssertionError(f"no way to send {row.setter}: teach _apply the new setter")


def _edges(row: Bound) -> list[tuple[int, int]]:
    """(edge, one beyond) pairs in contract units."""
    pairs = [(row.low, row.low - 1)] if row.low > 0 else []
    if row.high is not None:
        pairs.append((row.high, row.high + 1))
    return pairs


def _python_value(row: Bound, raw: int, decimals: int):
    """``raw`` in the units Python takes ``row`` in."""
    if row.field == "tiers":
        return tuple((Decimal(i * 1000), 50) for i in range(raw))
    if row.per_unit is None:
        return Decimal(raw).scaleb(-decimals)
    with localcontext() as context:
        context.prec = 100
        return (Decimal(raw) * row.per_unit.denominator / row.per_unit.numerator).normalize()


def _python_refuses(row: Bound, value) -> None:
    """Whichever Python layer reads ``row`` refuses ``value`` with its named exception."""
    if row.field == "tier_lower_bound_usd":
        with pytest.raises(ParameterOutOfBounds) as refused:
            MarketConfig(symbol="ETH", tiers=((0, 50), (value, 50)))
        assert refused.value.field == "tiers" and refused.value.bound is row
        assert f"got {value}" in str(refused.value)
    elif row.field in MARKET_FIELDS:
        extra = {"max_leverage": 1} if row.field == "mmf" else {}
        with pytest.raises(ParameterOutOfBounds) as refused:
            MarketConfig(symbol="ETH", **extra, **{row.field: value})
        assert refused.value.field == row.field and refused.value.bound is row
        assert str(refused.value).startswith(f"{row.field}: ")
        shown = len(value) if row.field == "tiers" else value
        assert row.error in str(refused.value) and f"got {shown}" in str(refused.value)
    elif row.field in PLAN_FIELDS:
        with pytest.raises(ParameterOutOfBounds, match=f"^{row.field}: "):
            venue_plan([], **{row.field: value})
    elif row.setter == "Clearinghouse.setPnlFactors":
        factors = {"max_traders": 9_000, "max_adl": 10_000, "min_after_adl": 1}
        key = {"maxPnlFactorTraders": "max_traders", "maxPnlFactorAdl": "max_adl",
               "minPnlFactorAfterAdl": "min_after_adl"}[row.param]
        factors[key] = int(value * 10_000)
        with pytest.raises(ModelRevert) as refused:
            Model(scale=10**12, max_price_age=3600).set_pnl_factors(**factors)
        assert refused.value.name == row.error and refused.value.args[1] in (
            {row.param} | {r.param for r in RELATIONS if r.other == row.field})
    if row.field != "tiers":
        with pytest.raises(ParameterOutOfBounds):
            row.check(value)


@pytest.mark.parametrize("row", BOUNDS, ids=[b.field for b in BOUNDS])
def test_the_contract_takes_the_edge_and_refuses_one_beyond(base, row):
    decimals = base.decimals
    for edge, beyond in _edges(row):
        with base.snapshot():
            receipt, stored = _apply(base, row, edge)
            assert receipt.status, f"{row.field} = {edge} refused: {receipt.error}"
            assert stored == edge
        with base.snapshot():
            receipt, _ = _apply(base, row, beyond)
            assert not receipt.status, f"{row.field} = {beyond} accepted"
            assert receipt.error.error == row.error
            if row.param == "tierCount":
                assert receipt.error.args[0] == beyond
            elif row.error == "InvalidTiers":
                assert receipt.error.args[0] == 1  # the tier's index
            else:
                # a relation with another parameter may refuse first, under its own name
                names = {row.param} | {r.param for r in RELATIONS if r.other == row.field}
                assert _param(receipt.error) in names
        # Python takes the edge and refuses one beyond in its own units
        if row.field != "tiers":
            assert row.contains(_python_value(row, edge, decimals))
        _python_refuses(row, _python_value(row, beyond, decimals))


@pytest.mark.parametrize("row", [b for b in BOUNDS if b.setter == "Clearinghouse.configureMarket"],
                         ids=lambda b: b.field)
def test_marketconfig_encodes_each_edge_to_the_contracts_edge(row):
    names = _struct_fields("Clearinghouse", "configureMarket")
    for edge, _ in _edges(row):
        value = _python_value(row, edge, 6)
        extra = {"max_leverage": 1} if row.field == "mmf" else {}
        config = MarketConfig(symbol="ETH", **extra, **{row.field: value})
        assert config.encode(6)[names.index(row.param)] == edge


def test_marketconfig_takes_sixteen_tiers_and_refuses_seventeen():
    sixteen = tuple((Decimal(i * 1000), 50) for i in range(16))
    assert len(MarketConfig(symbol="ETH", tiers=sixteen).tiers) == 16
    with pytest.raises(ParameterOutOfBounds, match=r"^tiers: at most 16 tiers, got 17"):
        MarketConfig(symbol="ETH", tiers=sixteen + ((Decimal(10**6), 50),))


def test_mmf_must_stay_below_one_over_max_leverage(venue):
    names = _struct_fields("Clearinghouse", "configureMarket")
    top = -(-10**18 // 50) - 1  # the largest mmf with mmf x 50 < 1
    values = list(venue.markets["ETH"].encode(venue.decimals))
    for mmf, ok in ((top, True), (top + 1, False)):
        values[names.index("mmf")] = mmf
        receipt = venue.clearinghouse.configure_market(0, b"ETH".ljust(32, b"\0"), tuple(values),
                                                       sender=venue.admin)
        assert receipt.status is ok
        if not ok:
            assert (receipt.error.error, _param(receipt.error)) == ("ParamOutOfBounds", "mmf")
    assert MarketConfig(symbol="ETH", mmf=Decimal(top) / 10**18).mmf_wad() == top
    with pytest.raises(ParameterOutOfBounds, match=r"^mmf: must be below 1 / max_leverage = 0.02"):
        MarketConfig(symbol="ETH", mmf=Decimal("0.02"))


def test_the_adl_floor_must_stay_below_its_trigger(venue):
    ch = venue.clearinghouse
    assert ch.set_pnl_factors(9_000, 8_500, 8_499, sender=venue.admin).status
    refused = ch.set_pnl_factors(9_000, 8_500, 8_500, sender=venue.admin)
    assert (refused.error.error, _param(refused.error)) == ("ParamOutOfBounds", "minPnlFactorAfterAdl")
    with pytest.raises(ModelRevert) as model_refused:
        Model(scale=10**12, max_price_age=3600).set_pnl_factors(9_000, 8_500, 8_500)
    assert model_refused.value.args == ("ParamOutOfBounds", "minPnlFactorAfterAdl")


def test_every_bound_in_the_contracts_is_in_the_table():
    """Every ``ParamOutOfBounds("x", ...)`` and ``ImpactConfigOutOfBounds("x", ...)`` written in
    contracts/ names a row of the table, and every row names one: a bound added on one side
    alone fails here."""
    source = "\n".join(p.read_text() for p in (ROOT / "contracts").rglob("*.sol"))
    in_contracts = set(re.findall(r'(?:ParamOutOfBounds|ImpactConfigOutOfBounds)\("(\w+)"', source))
    in_table = {b.param for b in BOUNDS if b.error != "InvalidTiers"} | {r.param for r in RELATIONS}
    assert in_contracts - NOT_PARAMETERS == in_table
    # setMarketTiers' two bounds: the tier count and the uint96 lower bounds
    assert f"count > {bound('tiers').high}) revert IClearinghouse.InvalidTiers" in source
    assert "bound > type(uint96).max) revert IClearinghouse.InvalidTiers" in source
    assert bound("tier_lower_bound_usd").high == 2**96 - 1


def test_every_market_field_the_contract_bounds_is_validated():
    """The ``MarketConfig`` fields with a row are exactly the market rows of the table."""
    market_setters = {"Clearinghouse.configureMarket", "Clearinghouse.setMarketTiers",
                      "ImpactPricing.setImpactConfig"}
    fields = {b.field for b in BOUNDS if b.setter in market_setters} - {"tier_lower_bound_usd"}
    assert fields <= MARKET_FIELDS


def test_the_readme_table_is_the_python_table():
    readme = (ROOT / "README.md").read_text()
    assert markdown_table() in readme


def test_a_refusal_names_the_field_the_bound_and_the_value():
    with pytest.raises(ValueError) as refused:
        MarketConfig(symbol="ETH", liquidation_fee_bps=600)
    assert str(refused.value) == (
        "liquidation_fee_bps: must be in [0, 500] bps, got 600 (the contract refuses it: "
        "Clearinghouse.configureMarket reverts ParamOutOfBounds liquidationFeeBps)")
    assert replace(MarketConfig(symbol="ETH"), liquidation_fee_bps=500).liquidation_fee_bps == 500


def test_the_spec_table_is_the_python_table():
    spec = (ROOT / "docs" / "SPEC.md").read_text()
    assert contract_table() in spec
