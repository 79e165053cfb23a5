"""Issue 23, finding 5: a rates module's answer is checked, funding toward an empty side is not
charged, the admin can always replace a failing module and the pool's value never depends on
one. Every test runs on pyevm, revm and anvil (``chain_backend``)."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest
from venue_fixtures import BTC, ETH, funded

from protocol import MarketConfig, Venue, errors
from protocol.constants import WAD
from protocol.margin.model import MarketParams, MarketState, Model, ModelRevert, Position
from protocol.margin.rates import StockRates
from protocol.margin.types import MarginMode, ModuleKind
from protocol.venue.bounds import InexactRate, bound

ROOT = Path(__file__).resolve().parents[2]
ZERO = "0x" + "00" * 20
ETH_ID = 0
#: HyperliquidRates.INTEREST: 0.01% per 8 hours in WAD per second, rounded down.
INTEREST = 10**14 // (8 * 3600)


#: ProgrammableRates.Mode
ANSWER, REVERT, DIVIDE_BY_ZERO, ASSERT, SHORT_ANSWER = range(5)


@pytest.fixture(scope="module")
def base(chain_backend):
    venue = Venue.launch(backend=chain_backend, markets=[ETH, BTC], insurance=1_000)
    venue.hyper = venue.chain.deploy("HyperliquidRates", sender=venue.admin)
    venue.prog = venue.chain.deploy("ProgrammableRates", sender=venue.admin)
    return venue


@pytest.fixture()
def venue(base):
    with base.snapshot():
        yield base


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def state(venue, market=ETH_ID) -> dict:
    names = ("longSize", "shortSize", "borrowIndex", "longFunding", "shortFunding", "lastUpdate",
             "longEntry", "shortEntry", "borrowWeight")
    return dict(zip(names, venue.clearinghouse.market_state(market)))


def borrow_rate(venue, market=ETH_ID) -> int:
    return venue.clearinghouse.market_config(market)[3]


def borrow_growth(rate: int, seconds: int) -> int:
    """``MarginMath.borrowIndexGrowth``: index steps of 1e-15, rounded up."""
    return ceil_div(rate * seconds, 1_000)


def borrowing_tokens(entry: int, growth: int, scale: int) -> int:
    """What a position of ``entry`` notional owes over ``growth`` index steps, in tokens (up)."""
    return ceil_div(ceil_div(entry * growth, 10**15), scale)


def set_rates(venue, module, market=ETH_ID):
    return venue.clearinghouse.set_market_module(market, ModuleKind.RATES, module,
                                                 sender=venue.admin).raise_for_status()


def long_only(venue, name="alice", size=1, leverage=10, margin=400):
    """A trader long ``size`` ETH under the stock rule, then the admin makes HyperliquidRates
    ETH's rates rule; the market has no short. Returns (trader, the open's receipt, the
    module's receipt): the module's rates apply from the second of the latter on."""
    alice = funded(venue, name, 10_000, deposit=10_000)
    opened = alice.open("ETH", size=size, leverage=leverage, mode="isolated", margin=margin)
    return alice, opened, set_rates(venue, venue.hyper.address)


def tick(venue, seconds: int) -> None:
    """``seconds`` later, with the prices pushed again (unchanged), so none is stale."""
    venue.advance_time(seconds)
    venue.set_prices({"ETH": 3000, "BTC": 60000})


def owed_borrowing(venue, entry: int, *accruals: tuple[int, int]) -> int:
    """Borrowing (tokens) a position of ``entry`` notional owes over the market's ``accruals``
    ((from, to) seconds; each accrual's growth rounded up, then the charge rounded up)."""
    rate = borrow_rate(venue)
    return borrowing_tokens(entry, sum(borrow_growth(rate, b - a) for a, b in accruals), venue.scale)


def expected_pool_value(venue, failing=()) -> int:
    """``poolValue`` at the entry prices (no trader PnL): pool assets + every market's pending
    borrowing, accrued to now, except for the ``failing`` markets (a failing rates module):
    those count their stored index."""
    pending = 0
    for market in (0, 1):
        s = state(venue, market)
        index = s["borrowIndex"]
        if market not in failing:
            index += borrow_growth(borrow_rate(venue, market), venue.chain.timestamp - s["lastUpdate"])
        pending += ((s["longEntry"] + s["shortEntry"]) * index - s["borrowWeight"]) // 10**15
    return venue.clearinghouse.pool_assets() + pending // venue.scale


# ---------------------------------------------------------------------- finding 5: the freeze
def test_a_close_with_the_short_side_empty_charges_no_funding(venue):
    alice, opened, moduled = long_only(venue)
    before = state(venue)
    venue.advance_time(3600)
    receipt = alice.close("ETH")
    closed = receipt.events_named("PositionDecreased")[0]
    assert receipt.timestamp - moduled.timestamp >= 3600
    # The interest leg points at the shorts, who are not there: nobody is charged, no index moves.
    assert closed["fundingPaid"] == 0
    after = state(venue)
    assert (after["longFunding"], after["shortFunding"]) == (before["longFunding"], before["shortFunding"])
    assert after["lastUpdate"] == receipt.timestamp
    assert closed["borrowingPaid"] == owed_borrowing(
        venue, 3000 * WAD, (opened.timestamp, moduled.timestamp), (moduled.timestamp, receipt.timestamp))
    assert closed["realizedPnl"] == 0


def test_a_liquidation_with_the_short_side_empty_goes_through(venue):
    alice, opened, moduled = long_only(venue, size=1, leverage=50, margin=62)
    margin = venue.raw_position(alice, "ETH").margin
    venue.advance_time(60)
    venue.set_price("ETH", 2_960)
    receipt = venue.keeper("k").liquidate(alice, "ETH")
    liq = receipt.events_named("PositionLiquidated")[0]
    owed = owed_borrowing(venue, 3000 * WAD, (opened.timestamp, moduled.timestamp),
                          (moduled.timestamp, receipt.timestamp))
    equity = margin - venue.tokens(40) - owed  # no funding: nobody to receive it
    assert (liq["realizedPnl"], liq["penalty"], liq["badDebt"]) == (-venue.tokens(40), equity, 0)
    assert liq["keeperReward"] == equity * 5_000 // 10_000


def test_the_admin_replaces_the_module_with_the_short_side_empty(venue):
    _, _, moduled = long_only(venue)
    before = state(venue)
    venue.advance_time(3600)
    receipt = set_rates(venue, ZERO)
    assert receipt.events_named("MarketModuleSet")[0]["module"] == ZERO
    assert not receipt.events_named("RatesModuleFailed")  # the module answered: it accrued
    growth = borrow_growth(borrow_rate(venue), receipt.timestamp - moduled.timestamp)
    assert state(venue) == {**before, "lastUpdate": receipt.timestamp,
                            "borrowIndex": before["borrowIndex"] + growth}


def test_the_pools_value_with_the_short_side_empty(venue):
    long_only(venue)
    venue.advance_time(3600)
    assert venue.pool.total_assets() == venue.clearinghouse.pool_value() \
        == expected_pool_value(venue)


def test_an_lp_request_with_the_short_side_empty_executes(venue):
    long_only(venue)
    venue.advance_time(3600)
    lp = venue.trader("lp2", usdc=100_000)
    request = lp.request_deposit(100_000)
    venue.advance_time(1)
    venue.set_prices({"ETH": 3000, "BTC": 60000})
    executed = venue.keeper("k").execute_lp_request(request.request_id)
    failed = [venue.chain.registry.decode_error(e["reason"]) for e in executed.events_named("LpRequestFailed")]
    assert not failed
    assert executed.events_named("LpRequestExecuted")[0]["out"] == venue.lp_shares(lp) > 0


def test_an_empty_market_with_an_interest_leg_can_be_traded(venue):
    """Both sides empty: the interest leg has neither payer nor receiver."""
    moduled = set_rates(venue, venue.hyper.address)
    before = state(venue)
    venue.advance_time(600)
    alice = funded(venue, "alice", 10_000, deposit=10_000)
    opened = alice.open("ETH", size=1, leverage=10, mode="isolated", margin=400)
    after = state(venue)
    assert (after["longFunding"], after["shortFunding"]) == (before["longFunding"], before["shortFunding"])
    assert after["borrowIndex"] - before["borrowIndex"] == borrow_growth(
        borrow_rate(venue), opened.timestamp - moduled.timestamp)


def test_the_interest_leg_is_charged_only_while_both_sides_hold_positions(venue):
    """Longs 2, shorts 0 for an hour: nothing moves. Then a short of 1: the longs pay premium +
    interest, the short receives it all, to the second. Then the longs close: the short receives
    nothing more (the payers are gone)."""
    alice, opened, moduled = long_only(venue, size=2, margin=800)
    tick(venue, 3600)
    bob = funded(venue, "bob", 10_000, deposit=10_000)
    before = state(venue)
    shorted = bob.open("ETH", size=-1, leverage=10, mode="isolated", margin=400)
    assert (state(venue)["longFunding"], state(venue)["shortFunding"]) == (
        before["longFunding"], before["shortFunding"])  # [module set, short opened): not charged
    tick(venue, 3600)
    closed = alice.close("ETH")
    factor, max_rate = venue.clearinghouse.market_config(ETH_ID)[1:3]
    rate = min(factor * (2 - 1) // (2 + 1), max_rate) + INTEREST  # skew premium + interest
    seconds = closed.timestamp - shorted.timestamp
    payer_delta = 3000 * seconds * rate  # ceil(price x seconds x rate / 1e18): exact here
    after = state(venue)
    assert after["longFunding"] - before["longFunding"] == payer_delta
    assert before["shortFunding"] - after["shortFunding"] == payer_delta * 2  # 2 longs, 1 short
    paid = closed.events_named("PositionDecreased")[0]["fundingPaid"]
    assert paid == ceil_div(2 * payer_delta, venue.scale)  # 2 ETH x the index, up to tokens
    tick(venue, 3600)  # longs empty: the interest leg has no payer
    received = bob.close("ETH").events_named("PositionDecreased")[0]["fundingPaid"]
    assert received == -(2 * payer_delta // venue.scale)
    assert state(venue)["shortFunding"] == after["shortFunding"]
    assert paid + received in (0, 1)  # the pool keeps at most the rounding


# ---------------------------------------------------------------------- bounds of an answer
def both_sides(venue):
    """alice long 1 ETH and bob short 2 ETH, under the stock rule."""
    alice = funded(venue, "alice", 10_000, deposit=10_000)
    bob = funded(venue, "bob", 10_000, deposit=10_000)
    alice.open("ETH", size=1, leverage=10, mode="isolated", margin=400)
    bob.open("ETH", size=-2, leverage=10, mode="cross")
    return alice, bob


def answer(venue, funding: int, borrow: int):
    venue.prog.transact(venue.admin, "setAnswer", funding, borrow).raise_for_status()
    return set_rates(venue, venue.prog.address)


@pytest.mark.parametrize("funding, borrow", [(10**13, 10**11), (-10**13, 0)], ids=["max", "min"])
def test_a_rates_answer_at_the_bounds_is_applied(venue, funding, borrow):
    both_sides(venue)
    moduled = answer(venue, funding, borrow)
    before = state(venue)
    venue.advance_time(60)
    updated = venue.keeper("k").update_funding("ETH")
    seconds = updated.timestamp - moduled.timestamp
    after = state(venue)
    payer_delta = 3000 * seconds * abs(funding)
    if funding > 0:  # 1 long pays 2 shorts: each short gets half
        moves = (payer_delta, -(payer_delta // 2))
    else:  # 2 shorts pay 1 long: the long gets twice
        moves = (-(payer_delta * 2), payer_delta)
    assert (after["longFunding"] - before["longFunding"],
            after["shortFunding"] - before["shortFunding"]) == moves
    assert after["borrowIndex"] - before["borrowIndex"] == borrow_growth(borrow, seconds)


@pytest.mark.parametrize("funding, borrow, value", [
    (10**13 + 1, 0, 10**13 + 1),
    (-(10**13 + 1), 10**11, 2**256 - (10**13 + 1)),  # a negative rate as its two's complement
    (10**13, 10**11 + 1, 10**11 + 1),
], ids=["funding", "negative funding", "borrowing"])
def test_a_rates_answer_one_past_the_bounds_is_refused(venue, funding, borrow, value):
    alice, _ = both_sides(venue)
    answer(venue, funding, borrow)
    venue.advance_time(60)
    with pytest.raises(errors.ModuleResultOutOfBounds) as refused:
        venue.keeper("k").update_funding("ETH")
    assert refused.value.args == (ModuleKind.RATES, value)
    with pytest.raises(errors.ModuleResultOutOfBounds) as refused:
        alice.close("ETH")
    assert refused.value.args == (ModuleKind.RATES, value)
    assert venue.pool.total_assets() == venue.clearinghouse.pool_value() \
        == expected_pool_value(venue, failing=(ETH_ID,))
    frozen = state(venue)
    replaced = set_rates(venue, ZERO)
    event = replaced.events_named("RatesModuleFailed")[0]
    assert venue.chain.registry.decode_error(event["reason"]).args == (ModuleKind.RATES, value)
    assert (event["market"], event["since"]) == (ETH_ID, frozen["lastUpdate"])
    assert state(venue) == {**frozen, "lastUpdate": replaced.timestamp}  # nothing accrued
    alice.close("ETH")  # the stock rule again


# ---------------------------------------------------------------------- a failing module
def selector(signature: str) -> bytes:
    from eth_utils import keccak

    return keccak(text=signature)[:4]


def word(value: int) -> bytes:
    return value.to_bytes(32, "big")


#: (mode, the revert data trading on the market fails with)
FAILURES = {
    "custom error": (REVERT, selector("RatesUnavailable(uint256,uint256)") + word(ETH_ID) + word(WAD)),
    "division by zero": (DIVIDE_BY_ZERO, selector("Panic(uint256)") + word(0x12)),
    "assert": (ASSERT, selector("Panic(uint256)") + word(0x01)),
    "short answer": (SHORT_ANSWER, selector("ModuleResultOutOfBounds(uint8,uint256)") + word(0) + word(32)),
}


@pytest.mark.parametrize("failure", FAILURES)
def test_a_failing_rates_module_stops_its_market_not_the_pool(venue, failure):
    mode, data = FAILURES[failure]
    ch, pool = venue.clearinghouse, venue.pool
    alice = funded(venue, "alice", 10_000, deposit=10_000)
    bob = funded(venue, "bob", 10_000, deposit=10_000)
    carol = funded(venue, "carol", 10_000, deposit=10_000)
    opened = alice.open("ETH", size=1, leverage=10, mode="isolated", margin=400)
    shorted = bob.open("ETH", size=-1, leverage=10, mode="cross")
    carol.open("BTC", size=0.1, leverage=10, mode="isolated", margin=700)
    lp = venue.trader("lp2", usdc=200_000)
    deposit = lp.request_deposit(100_000)
    tick(venue, 1)
    venue.keeper("k").execute_lp_request(deposit.request_id).events_named("LpRequestExecuted")[0]
    venue.prog.transact(venue.admin, "setMode", mode).raise_for_status()
    failed_from = set_rates(venue, venue.prog.address)  # the stock rule accrued up to here
    frozen = state(venue)
    tick(venue, 3600)

    # Trading on ETH fails with the module's reason, BTC trades on.
    for attempt in (lambda: alice.close("ETH"), lambda: venue.keeper("k").update_funding("ETH"),
                    lambda: bob.open("ETH", size=-1, leverage=10, mode="cross")):
        with pytest.raises(errors.Reverted) as refused:
            attempt()
        assert refused.value.data == data
    carol.close("BTC")

    # The pool's value counts what ETH had accrued: totalAssets, maxWithdraw, LP requests work.
    value = expected_pool_value(venue, failing=(ETH_ID,))
    assert ch.pool_value() == pool.total_assets() == value
    shares = venue.lp_shares(lp)
    most = min(pool.convert_to_assets(shares), ch.max_pool_withdrawal())
    assert pool.max_withdraw_by_request(lp.address) == most > 0
    executor = venue.keeper("executor")  # an EOA with direct access (revm refuses a call from code)
    venue.grant_role("EXECUTOR_ROLE", executor.address)
    assert pool.max_withdraw(lp.address, sender=executor.address) == most
    redeem = lp.request_redeem(shares // 2)
    more = lp.request_deposit(50_000)
    tick(venue, 1)
    for request in (redeem, more):
        preview = pool.call("previewRedeem" if request is redeem else "previewDeposit",
                            shares // 2 if request is redeem else venue.tokens(50_000))
        executed = venue.keeper("k").execute_lp_request(request.request_id)
        assert executed.events_named("LpRequestExecuted")[0]["out"] == preview

    # The admin replaces it: nothing accrued over the failing seconds, and the event says why.
    replaced = set_rates(venue, ZERO)
    event = replaced.events_named("RatesModuleFailed")[0]
    assert (event["market"], event["module"].lower(), event["since"], event["reason"]) == (
        ETH_ID, venue.prog.address.lower(), failed_from.timestamp, data)
    assert state(venue) == {**frozen, "lastUpdate": replaced.timestamp}
    receipt = alice.close("ETH")
    closed = receipt.events_named("PositionDecreased")[0]
    assert closed["borrowingPaid"] == owed_borrowing(
        venue, 3000 * WAD, (opened.timestamp, shorted.timestamp),
        (shorted.timestamp, failed_from.timestamp), (replaced.timestamp, receipt.timestamp))
    assert closed["fundingPaid"] == 0  # 1 long, 1 short: no skew under the stock rule


# ---------------------------------------------------------------------- the reference model
class PyHyperliquidRates(StockRates):
    """``HyperliquidRates``' mirror."""

    def rates(self, i):
        funding, borrow = super().rates(i)
        return funding + INTEREST, borrow


class PyProgrammableRates:
    """``ProgrammableRates``' mirror: its answer, or the revert each failing mode makes (a
    short answer is the venue's own refusal)."""

    def __init__(self, mode: int = ANSWER, funding: int = 0, borrow: int = 0):
        self.mode, self.funding, self.borrow = mode, funding, borrow

    def rates(self, i):
        if self.mode == REVERT:
            raise ModelRevert("RatesUnavailable", i.market, i.long_size)
        if self.mode in (DIVIDE_BY_ZERO, ASSERT):
            raise ModelRevert("Panic", 0x12 if self.mode == DIVIDE_BY_ZERO else 0x01)
        if self.mode == SHORT_ANSWER:
            raise ModelRevert("ModuleResultOutOfBounds", ModuleKind.RATES, 32)
        return self.funding, self.borrow


def load_model(venue, accounts) -> Model:
    ch = venue.clearinghouse
    model = Model(scale=venue.scale, max_price_age=venue.oracle.max_price_age(0),
                  close_grace_period=venue.oracle.close_grace_period())
    for market in (0, 1):
        model.params.append(MarketParams(*ch.market_config(market)))
        model.states.append(MarketState(*ch.market_state(market)))
        price, ts, _ = venue.oracle.latest(market)
        model.prices[market] = (price, ts)
    model.pool_assets, model.insurance_fund = ch.pool_assets(), ch.insurance_fund()
    model.set_pnl_factors(*ch.solvency()[3:])
    for account in accounts:
        model.cross_balance[account] = ch.cross_balance(account)
    return model


def test_the_reference_model_mirrors_each_rates_rule(venue):
    """The same steps on chain and in the model: a module with an interest leg and one side
    empty, both sides, an answer out of bounds, a reverting module, the admin's replacements;
    the same state, the same refusals and the same pool value after each."""
    ch = venue.clearinghouse
    alice = funded(venue, "alice", 10_000, deposit=10_000)
    bob = funded(venue, "bob", 10_000, deposit=10_000)
    accounts = [alice.address, bob.address]
    model = load_model(venue, accounts)

    def module(address, mirror):
        model.now = venue.chain.timestamp
        failure = model.set_rates_module(ETH_ID, mirror)
        receipt = set_rates(venue, address)
        failed = receipt.events_named("RatesModuleFailed")
        assert bool(failed) == (failure is not None)
        if failed:
            error = venue.chain.registry.decode_error(failed[0]["reason"])
            assert (error.error, *error.args) == (failure.name, *failure.args[1:])

    def step(chain_call, model_call):
        model.now = venue.chain.timestamp
        try:
            model_call()
            expected = None
        except ModelRevert as exc:
            expected = exc
        receipt = chain_call()
        if expected is None:
            receipt.raise_for_status()
        else:
            assert receipt.error.error == expected.name and receipt.error.args == expected.args[1:]

    def later(seconds):
        tick(venue, seconds)
        for market in (0, 1):
            model.prices[market] = tuple(venue.oracle.latest(market)[:2])

    def same():
        model.now = venue.chain.timestamp
        for market in (0, 1):
            assert MarketState(*ch.market_state(market)) == model.states[market]
            for account in accounts:
                assert Position(*ch.position(account, market)) == model.position(account, market)
        assert [ch.cross_balance(a) for a in accounts] == [model.cross_balance[a] for a in accounts]
        assert (ch.pool_assets(), ch.pool_value()) == (model.pool_assets, model.pool_value())

    isolated, cross = int(MarginMode.ISOLATED), int(MarginMode.CROSS)
    tx = ch.transact
    module(venue.hyper.address, PyHyperliquidRates())
    later(600)
    step(lambda: tx(alice.address, "increasePosition", alice.address, ETH_ID, 2 * WAD, 10, isolated,
                    venue.tokens(800)),
         lambda: model.increase(alice.address, ETH_ID, 2 * WAD, 10, isolated, venue.tokens(800)))
    later(3600)
    step(lambda: tx(venue.admin, "updateFunding", ETH_ID), lambda: model.update_funding(ETH_ID))
    same()
    step(lambda: tx(bob.address, "increasePosition", bob.address, ETH_ID, -WAD, 10, cross, 0),
         lambda: model.increase(bob.address, ETH_ID, -WAD, 10, cross, 0))
    later(3600)
    step(lambda: tx(alice.address, "decreasePosition", alice.address, ETH_ID, 2**256 - 1),
         lambda: model.decrease(alice.address, ETH_ID, 2**256 - 1))
    same()
    prog = PyProgrammableRates(ANSWER, -(10**13 + 1), 0)
    venue.prog.transact(venue.admin, "setAnswer", prog.funding, prog.borrow).raise_for_status()
    module(venue.prog.address, prog)
    later(60)
    step(lambda: tx(venue.admin, "updateFunding", ETH_ID), lambda: model.update_funding(ETH_ID))
    same()
    venue.prog.transact(venue.admin, "setMode", REVERT).raise_for_status()
    prog.mode = REVERT
    later(60)
    module(venue.prog.address, prog)  # set again: its accrual is skipped
    later(60)
    step(lambda: tx(bob.address, "decreasePosition", bob.address, ETH_ID, 2**256 - 1),
         lambda: model.decrease(bob.address, ETH_ID, 2**256 - 1))
    same()
    module(ZERO, None)  # the reverting module skipped
    later(60)
    step(lambda: tx(bob.address, "decreasePosition", bob.address, ETH_ID, 2**256 - 1),
         lambda: model.decrease(bob.address, ETH_ID, 2**256 - 1))
    same()


# ---------------------------------------------------------------------- exact rates
#: Each rate's field, its period in seconds and its place in ``MarketConfig.encode``.
RATES = {"funding_rate_per_hour": (3600, 1), "max_funding_rate_per_hour": (3600, 2),
         "borrow_rate_per_year": (365 * 24 * 3600, 3)}


def in_units(raw: int, seconds: int) -> Decimal:
    """``raw`` WAD per second as a rate per ``seconds`` (exact: ``seconds`` / 1e18 terminates)."""
    return (Decimal(raw) * seconds).scaleb(-18)


def test_the_default_rates_are_the_exact_rates_nearest_one_bp_an_hour_and_five_percent_a_year():
    config = MarketConfig(symbol="ETH")
    assert config.encode(6)[1:4] == (27_777_777_778, 27_777_777_778, 1_585_489_599)
    assert config.funding_rate_per_hour == config.max_funding_rate_per_hour == in_units(27_777_777_778, 3600) \
        == bound("funding_rate_per_hour").nearest_exact("0.0001") == Decimal("0.0001000000000008")
    assert config.borrow_rate_per_year == in_units(1_585_489_599, 365 * 24 * 3600) \
        == bound("borrow_rate_per_year").nearest_exact("0.05") == Decimal("0.049999999994064")


@pytest.mark.parametrize("field", RATES)
def test_an_exact_rate_is_taken_and_one_wei_off_is_refused_by_name(field):
    seconds, index = RATES[field]
    unit = bound(field).unit
    for raw in (1, 1_585_489_599, 27_777_777_778, 10**11 - 1):  # within every rate's bounds
        exact = in_units(raw, seconds)
        assert MarketConfig(symbol="ETH", **{field: exact}).encode(6)[index] == raw
        for off in (exact + Decimal("1e-18"), exact - Decimal("1e-18")):
            with pytest.raises(InexactRate) as refused:
                MarketConfig(symbol="ETH", **{field: off})
            error = refused.value
            assert isinstance(error, ValueError) and (error.field, error.value) == (field, off)
            below, above = (exact, in_units(raw + 1, seconds)) if off > exact else \
                (in_units(raw - 1, seconds), exact)
            assert (error.below, error.above) == (below, above)
            whole = raw if off > exact else raw - 1
            assert str(error).startswith(f"{field}: {off} {unit} is not a whole number of WAD per "
                                         f"second ({whole}.")
            assert str(error).endswith(f"); the nearest exact values are {below.normalize():f} and "
                                       f"{above.normalize():f} {unit}")
            assert "\n" not in str(error)


def test_the_encoding_never_truncates():
    config = MarketConfig(symbol="ETH")
    object.__setattr__(config, "borrow_rate_per_year", Decimal("0.05"))  # past the constructor
    with pytest.raises(InexactRate, match=r"^borrow_rate_per_year: 0.05 per year is not a whole number "
                                          r"of WAD per second \(1585489599.188229\.\.\.\); the nearest "
                                          r"exact values are 0.049999999994064 and 0.0500000000256 per year$"):
        config.encode(6)


def test_every_builtin_scenario_has_exact_rates():
    from protocol.sim.loader import builtin_scenarios, load_scenario

    for name in builtin_scenarios():
        for market in load_scenario(name).markets:
            for field, (seconds, index) in RATES.items():
                assert in_units(market.encode(6)[index], seconds) == getattr(market, field)


def test_a_scenario_with_an_inexact_rate_is_refused_at_its_line(tmp_path):
    from protocol.sim.loader import ScenarioError, load_scenario

    text = (ROOT / "protocol" / "sim" / "scenarios" / "funding-squeeze.toml").read_text()
    lines = ["funding_rate_per_hour = 0.002" if x.startswith("funding_rate_per_hour") else x
             for x in text.splitlines()]  # the rate the scenario meant before rates were exact
    path = tmp_path / "squeeze.toml"
    path.write_text("\n".join(lines))
    line = lines.index("funding_rate_per_hour = 0.002") + 1
    with pytest.raises(ScenarioError) as refused:
        load_scenario(path)
    assert str(refused.value) == (
        f"{path}:{line}: markets.ETH.funding_rate_per_hour: 0.002 per hour is not a whole number of "
        "WAD per second (555555555555.555555...); the nearest exact values are 0.001999999999998 "
        "and 0.0020000000000016 per hour")


@pytest.mark.parametrize("setting", ["markets.ETH.funding_rate_per_hour=0.0001",
                                     "markets.BTC.borrow_rate_per_year=0.05"])
def test_the_cli_refuses_an_inexact_rate_in_one_line(tmp_path, setting):
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", "from protocol.cli import main; main()", "run",
                             "default", "--blocks", "2", "--set", setting],
                            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    assert result.returncode == 1 and "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    key, value = setting.split("=")
    default = ROOT / "protocol" / "sim" / "scenarios" / "default.toml"
    assert len(lines) == 1 and lines[0].startswith(f"Error: {default}:override: {key}: {value} per ")
    assert "is not a whole number of WAD per second" in lines[0]
    assert lines[0].endswith(" per hour (set by override)" if "hour" in key else " per year (set by override)")
    assert ("the nearest exact values are 0.0000999999999972 and 0.0001000000000008 per hour" in lines[0]
            or "the nearest exact values are 0.049999999994064 and 0.0500000000256 per year" in lines[0])


def test_a_market_change_with_an_inexact_rate_is_refused_before_any_transaction(venue):
    before = venue.chain.block_number
    for attempt in (venue.preview_market_change, venue.change_market):
        with pytest.raises(InexactRate, match="^funding_rate_per_hour: 0.0001 per hour "):
            attempt("ETH", funding_rate_per_hour=Decimal("0.0001"))
    assert venue.chain.block_number == before
    exact = Decimal("0.0000999999999972")
    venue.change_market("ETH", funding_rate_per_hour=exact)
    assert venue.clearinghouse.market_config(ETH_ID)[1] == 27_777_777_777
