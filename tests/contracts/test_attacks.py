"""Attacks on the venue, each run against the real contracts on every in-process EVM.

Every test plays an attacker (a compromised oracle updater, a trader with a second address, a
hostile collateral token, an unprivileged caller, ...) and asserts what the attack actually
achieved: the revert it hit, the exact token amounts moved, and SPEC §12's invariants afterwards.
"""

from __future__ import annotations

import math
from dataclasses import replace
from decimal import Decimal

import pytest
from eth_utils import keccak
from venue_fixtures import BTC, ETH, ZERO_FEES, launch, provide_liquidity, redeem_liquidity

from protocol import MarketConfig, Venue, errors
from protocol.constants import WAD
from protocol.keepers import LiquidationKeeper, Strategy
from protocol.margin.types import ModuleKind
from protocol.testing import assert_invariants
from protocol.venue.bounds import ParameterOutOfBounds
from protocol.venue.client import CLOSE_ALL, MAX_UINT

REENTRANCY = keccak(text="ReentrancyGuardReentrantCall()")[:4]


def fresh(base):
    with base.snapshot():
        yield base


@pytest.fixture(scope="module")
def base_venue(backend):
    return launch(backend)  # default fees, 1,000 USD insurance, 10M pool


@pytest.fixture()
def venue(base_venue):
    yield from fresh(base_venue)


@pytest.fixture(scope="module")
def zero_venue(backend):
    """No fees, funding or borrowing (rounding is all that moves value) and no insurance."""
    markets = [MarketConfig(symbol="ETH", max_leverage=50, initial_price=Decimal(3000), **ZERO_FEES),
               MarketConfig(symbol="BTC", max_leverage=20, initial_price=Decimal(60000), **ZERO_FEES)]
    return Venue.launch(backend=backend, markets=markets)


@pytest.fixture()
def zero(zero_venue):
    yield from fresh(zero_venue)


def funded(venue, name, usd, deposit=None):
    trader = venue.trader(name, usdc=usd)
    trader.deposit(usd if deposit is None else deposit)
    return trader


def tokens_of(venue, *actors):
    """Wallet + cross balance + isolated margins of some addresses, in tokens."""
    ch, total = venue.clearinghouse, 0
    for actor in actors:
        address = actor if isinstance(actor, str) else actor.address
        total += venue.usdc.balance_of(address) + ch.cross_balance(address)
        for market in venue.markets:
            total += venue.raw_position(address, market).margin
    return total


def expect_revert(receipt, name):
    assert not receipt.status, f"expected {name}, but the transaction succeeded"
    assert receipt.error.error == name, f"expected {name}, got {receipt.error}"
    return receipt.error


# ====================================================================== 1. oracle manipulation
def push_raw(venue, sender, market, price_wad):
    """One push from ``sender`` (the receipt, not raised)."""
    return venue.oracle.push_prices([(venue.market_id(market), venue.chain.timestamp, price_wad)],
                                    sender=sender)


@pytest.fixture()
def rogue(venue):
    """A compromised updater key: it holds UPDATER_ROLE, nothing else."""
    address = venue.chain.new_account()
    venue.grant_role("UPDATER", address)
    return address


def victim(venue):
    """A 50x long that a 1.7% drop liquidates."""
    alice = funded(venue, "alice", 1_000)
    alice.open("ETH", size=1, leverage=50, mode="isolated", margin=61)
    assert not venue.is_liquidatable(alice, "ETH")
    return alice


def test_unguarded_oracle_lets_one_push_liquidate(venue, rogue):
    """The control experiment: without a guard, one manipulated push liquidates the victim."""
    alice = victim(venue)
    push_raw(venue, rogue, "ETH", 2_900 * WAD).raise_for_status()
    assert venue.is_liquidatable(alice, "ETH")
    venue.keeper("accomplice").liquidate(alice, "ETH")
    assert venue.position(alice, "ETH") is None
    assert_invariants(venue)


def test_deviation_guard_rejects_a_manipulated_push(venue, rogue):
    alice = victim(venue)
    mid = venue.market_id("ETH")
    venue.oracle.set_max_deviation(mid, 100, sender=venue.admin).raise_for_status()  # 1%
    _, _, round_before = venue.oracle.latest(mid)
    error = expect_revert(push_raw(venue, rogue, "ETH", 2_900 * WAD), "PriceDeviation")
    assert error.args == (mid, 2_900 * WAD, 3_000 * WAD, 100)
    # Exactly at the guard passes; one wei beyond it does not.
    expect_revert(push_raw(venue, rogue, "ETH", 2_970 * WAD - 1), "PriceDeviation")
    expect_revert(push_raw(venue, rogue, "ETH", 3_030 * WAD + 1), "PriceDeviation")
    price, _, round_after = venue.oracle.latest(mid)
    assert (price, round_after) == (3_000 * WAD, round_before)
    assert not venue.is_liquidatable(alice, "ETH")
    with pytest.raises(errors.PositionHealthy):
        venue.keeper("accomplice").liquidate(alice, "ETH")
    assert venue.raw_position(alice, "ETH").size == WAD
    assert_invariants(venue)


def test_guarded_walk_needs_many_visible_updates(venue, rogue):
    """Within the guard the updater can still walk the price, but only ``bps`` per update, and
    every step is a PriceUpdated event with a new round: the liquidation takes many pushes."""
    alice = victim(venue)
    liq = venue.position(alice, "ETH").liquidation_price
    mid, bps = venue.market_id("ETH"), 25
    venue.oracle.set_max_deviation(mid, bps, sender=venue.admin).raise_for_status()
    price, _, first_round = venue.oracle.latest(mid)
    target = 2_900 * WAD
    steps = []
    while price > target:
        step = max(target, price - price * bps // 10_000)  # the largest move the guard allows
        receipt = push_raw(venue, rogue, "ETH", step).raise_for_status()
        event = receipt.events_named("PriceUpdated")[0]
        assert event["price"] == step and event["round"] == first_round + len(steps) + 1
        assert (price - step) * 10_000 <= price * bps
        steps.append(step)
        price = step
    minimum = math.ceil(math.log(2_900 / 3_000) / math.log(1 - bps / 10_000))
    assert len(steps) >= minimum >= 14
    assert venue.oracle.latest(mid)[2] == first_round + len(steps)
    # The walk was visible long before it reached the victim's liquidation price.
    warnings = [p for p in steps if Decimal(p) / WAD > liq]
    assert len(warnings) >= 3
    assert venue.is_liquidatable(alice, "ETH")
    assert_invariants(venue)


# ====================================================================== 2. stale oracle
def test_stale_price_stops_trading_and_liquidation_but_not_closing(venue):
    alice = funded(venue, "alice", 5_000)
    bob = funded(venue, "bob", 5_000, deposit=62)
    alice.open("ETH", size=1, leverage=50, mode="isolated", margin=61)
    bob.open("ETH", size=1, leverage=50, mode="cross")
    venue.set_prices({"ETH": 2_900, "BTC": 60_000})
    assert venue.is_liquidatable(alice, "ETH") and venue.is_liquidatable(bob)
    keeper = venue.keeper("k")
    venue.advance_time(3_601)  # past maxPriceAge = 3600: the price is stale
    with pytest.raises(errors.StalePrice):
        alice.open("ETH", size=0.1, leverage=10, mode="isolated", margin=100)
    with pytest.raises(errors.StalePrice):
        keeper.liquidate(alice, "ETH")
    with pytest.raises(errors.StalePrice):
        keeper.liquidate(bob)
    # A batch skips what it cannot liquidate, a stale price included, and changes nothing.
    skipped = keeper.liquidate_batch([(alice, "ETH"), (bob, None)])
    assert not skipped.events_named("PositionLiquidated") and not skipped.events_named("AccountLiquidated")
    with pytest.raises(errors.StalePrice):
        alice.remove_margin("ETH", 1)
    # Adding margin needs no price; closing uses the price within the grace period.
    alice.add_margin("ETH", 200)
    assert venue.raw_position(alice, "ETH").margin > venue.tokens(200)
    with venue.snapshot():
        before = venue.account(alice).cross_balance
        receipt = alice.close("ETH")
        assert receipt.events_named("PositionDecreased")[0]["price"] == 2_900 * WAD
        assert venue.position(alice, "ETH") is None
        assert venue.account(alice).cross_balance > before
        bob.close("ETH")
        assert venue.position(bob, "ETH") is None
        assert_invariants(venue)
    # Past heartbeat + grace nothing closes either.
    venue.advance_time(3_600)
    with pytest.raises(errors.StalePrice):
        alice.close("ETH")
    with pytest.raises(errors.StalePrice):
        bob.close("ETH")
    assert venue.raw_position(alice, "ETH").size == WAD
    # A fresh price brings liquidation back.
    venue.set_prices({"ETH": 2_900, "BTC": 60_000})
    keeper.liquidate(bob)
    assert venue.position(bob, "ETH") is None
    assert_invariants(venue)


# ====================================================================== 3. gap through bankruptcy
@pytest.mark.parametrize("insurance", [1_000, 100, 0])
def test_gap_through_bankruptcy_price_insurance_then_pool(zero, insurance):
    venue = zero
    if insurance:
        venue.fund_insurance(insurance)
    alice = funded(venue, "alice", 100)
    alice.open("ETH", size=1, leverage=50, mode="isolated", margin=60)  # bankrupt at 2940
    ch = venue.clearinghouse
    pool_before, fund_before = ch.pool_assets(), ch.insurance_fund()
    venue.set_price("ETH", 2_800)  # one gap, 140 below the bankruptcy price
    receipt = venue.keeper("k").liquidate(alice, "ETH")
    bad = receipt.events_named("BadDebt")[0]
    liq = receipt.events_named("PositionLiquidated")[0]
    debt = venue.tokens(140)
    from_insurance = min(venue.tokens(insurance), debt)
    assert (bad["account"].lower(), bad["amount"]) == (alice.address.lower(), debt)
    assert (bad["fromInsurance"], bad["fromPool"]) == (from_insurance, debt - from_insurance)
    assert (liq["badDebt"], liq["penalty"], liq["realizedPnl"]) == (debt, 0, -venue.tokens(200))
    assert ch.insurance_fund() - fund_before == -from_insurance
    # The pool books the trader's whole loss (200) and pays what insurance could not.
    assert ch.pool_assets() - pool_before == venue.tokens(200) - (debt - from_insurance)
    assert venue.account(alice).cross_balance == 40  # untouched: isolated
    assert_invariants(venue)


def test_cross_account_gap_bad_debt_waterfall(zero):
    venue = zero
    venue.fund_insurance(50)
    bob = funded(venue, "bob", 100, deposit=60)
    bob.open("ETH", size=1, leverage=50, mode="cross")  # 60 deposited: exactly IM
    ch = venue.clearinghouse
    pool_before = ch.pool_assets()
    venue.set_price("ETH", 2_800)
    receipt = venue.keeper("k").liquidate(bob)
    bad = receipt.events_named("BadDebt")[0]
    assert (bad["amount"], bad["fromInsurance"], bad["fromPool"]) == \
        (venue.tokens(140), venue.tokens(50), venue.tokens(90))
    assert ch.insurance_fund() == 0
    assert ch.pool_assets() - pool_before == venue.tokens(200 - 90)
    assert venue.account(bob).cross_balance == 0
    assert_invariants(venue)


# ====================================================================== 4. self-liquidation
@pytest.mark.parametrize("mode", ["isolated", "cross"])
def test_self_liquidation_pays_less_than_closing(venue, mode):
    mallory = funded(venue, "mallory", 1_000, deposit=1_000 if mode == "isolated" else 62)
    sock = venue.keeper("mallory-keeper")  # a second address mallory controls
    if mode == "isolated":
        mallory.open("ETH", size=1, leverage=50, mode="isolated", margin=61)
    else:
        mallory.open("ETH", size=1, leverage=50, mode="cross")
    venue.set_price("ETH", 2_955)
    assert venue.is_liquidatable(mallory, "ETH" if mode == "isolated" else None)
    start = tokens_of(venue, mallory, sock)
    with venue.snapshot():
        fee = mallory.close("ETH").events_named("PositionDecreased")[0]["fee"]
        closed = tokens_of(venue, mallory, sock)
        assert_invariants(venue)
    with venue.snapshot():
        receipt = sock.liquidate(mallory, "ETH" if mode == "isolated" else None)
        event = receipt.events_named("PositionLiquidated" if mode == "isolated" else "AccountLiquidated")[0]
        liquidated = tokens_of(venue, mallory, sock)
        assert sock.reward_balance > 0
        assert_invariants(venue)
    assert event["penalty"] > 0 and event["keeperReward"] < event["penalty"]
    assert liquidated < closed <= start
    # Exactly: the liquidation loses the non-keeper part of the penalty instead of the taker fee.
    assert closed - liquidated == event["penalty"] - event["keeperReward"] - fee


# ====================================================================== 5. dust positions
def test_dust_opens_and_dust_remainders_revert(venue):
    alice = funded(venue, "alice", 100)
    with pytest.raises(errors.PositionTooSmall) as info:
        alice.open("ETH", size=Decimal("0.0003"), leverage=10, mode="cross")  # 0.90 USD
    assert info.value.args == (900 * 10**15, WAD)
    with pytest.raises(errors.PositionTooSmall):
        alice.open("BTC", size=Decimal("-0.00001"), leverage=10, mode="isolated", margin=5)
    alice.open("ETH", size=Decimal("0.001"), leverage=10, mode="cross")  # 3 USD
    with pytest.raises(errors.PositionTooSmall):
        alice.decrease("ETH", Decimal("0.0007"))  # would leave 0.90 USD
    alice.decrease("ETH", Decimal("0.0006"))  # leaves 1.20 USD
    assert venue.position(alice, "ETH").size == Decimal("0.0004")
    with pytest.raises(errors.PositionTooSmall):
        alice.decrease("ETH", Decimal("0.0001"))
    alice.close("ETH")  # a full close is always allowed
    assert venue.position(alice, "ETH") is None
    assert_invariants(venue)


def test_profit_minded_keeper_skips_dust_targets(venue):
    dust = funded(venue, "dust", 100)
    dust.open("ETH", size=Decimal("0.001"), leverage=3, mode="isolated", margin=Decimal("1.2"))
    whale = funded(venue, "whale", 20_000)
    whale.open("ETH", size=10, leverage=3, mode="isolated", margin=12_000)
    venue.set_price("ETH", 1_810)
    assert venue.is_liquidatable(dust, "ETH") and venue.is_liquidatable(whale, "ETH")
    greedy = LiquidationKeeper(venue, "greedy", Strategy(min_profit_usd=Decimal("0.5")))
    eager = LiquidationKeeper(venue, "eager", Strategy())
    block = venue.chain.block_number
    greedy_targets = [t for i in greedy.tick(block) for t in i.targets]
    eager_targets = [t for i in eager.tick(block) for t in i.targets]
    assert (dust.address, "ETH") in eager_targets and (whale.address, "ETH") in eager_targets
    assert greedy_targets == [(whale.address, "ETH")]
    rewards = dict(zip(eager_targets, eager.estimate_rewards_usd(eager_targets)))
    assert rewards[(dust.address, "ETH")] < Decimal("0.01") < rewards[(whale.address, "ETH")]
    # The skipped dust costs whoever does liquidate it more gas than it pays.
    receipt = venue.keeper("k").liquidate(dust, "ETH")
    assert receipt.events_named("PositionLiquidated")[0]["keeperReward"] < venue.tokens("0.01")
    assert_invariants(venue)


# ====================================================================== 6. reentrancy
@pytest.fixture(scope="module")
def hostile_venue(backend):
    return Venue.launch(backend=backend, markets=[ETH], collateral="ReentrantToken",
                        pool_liquidity=1_000_000)


@pytest.fixture()
def hostile(hostile_venue):
    yield from fresh(hostile_venue)


def hook(venue):
    token = venue.usdc
    return (token.call("hookCalls"), token.call("lastCallOk"), token.call("lastRevertData"))


def test_reentrant_withdraw_during_withdraw_fails(hostile):
    venue, ch, token = hostile, hostile.clearinghouse, hostile.usdc
    attacker = funded(venue, "attacker", 1_000)
    ch.set_operator(token.address, True, sender=attacker.address).raise_for_status()
    payload = ch.abi.function("withdraw").encode((attacker.address, venue.tokens(400)))
    token.transact(attacker.address, "arm", ch.address, payload).raise_for_status()
    with venue.snapshot():  # control: outside a transfer the same call goes through
        token.transact(attacker.address, "fire").raise_for_status()
        assert token.call("lastCallOk") and venue.account(attacker).cross_balance == 600
    wallet = token.call("balanceOf", attacker.address)
    attacker.withdraw(400)
    calls, ok, revert_data = hook(venue)
    assert (calls, ok, revert_data[:4]) == (1, False, REENTRANCY)
    assert token.call("balanceOf", attacker.address) - wallet == venue.tokens(400)  # once only
    assert venue.account(attacker).cross_balance == 600
    assert_invariants(venue)


def test_reentrant_deposit_during_deposit_fails(hostile):
    venue, ch, token = hostile, hostile.clearinghouse, hostile.usdc
    attacker = venue.trader("attacker", usdc=1_000)
    venue.mint(token.address, 500)
    token.transact(attacker.address, "selfApprove", ch.address, MAX_UINT).raise_for_status()
    payload = ch.abi.function("deposit").encode((attacker.address, venue.tokens(500)))
    token.transact(attacker.address, "arm", ch.address, payload).raise_for_status()
    with venue.snapshot():
        token.transact(attacker.address, "fire").raise_for_status()
        assert token.call("lastCallOk") and venue.account(attacker).cross_balance == 500
    attacker.deposit(1_000)
    calls, ok, revert_data = hook(venue)
    assert (calls, ok, revert_data[:4]) == (1, False, REENTRANCY)
    assert venue.account(attacker).cross_balance == 1_000
    assert token.call("balanceOf", token.address) == venue.tokens(500)
    assert_invariants(venue)


def test_reentrant_lp_withdraw_during_pool_withdraw_fails(hostile):
    venue, ch, token, pool = hostile, hostile.clearinghouse, hostile.usdc, hostile.pool
    attacker = venue.trader("attacker", usdc=10_000)
    attacker.provide_liquidity(10_000)
    pool.approve(token.address, MAX_UINT, sender=attacker.address).raise_for_status()
    payload = pool.abi.function("withdraw").encode(
        (venue.tokens(4_000), attacker.address, attacker.address))
    token.transact(attacker.address, "arm", pool.address, payload).raise_for_status()
    with venue.snapshot():
        token.transact(attacker.address, "fire").raise_for_status()
        assert token.call("lastCallOk")
        assert token.call("balanceOf", attacker.address) == venue.tokens(4_000)
    shares, assets = pool.balance_of(attacker.address), ch.pool_assets()
    attacker.withdraw_liquidity(4_000)
    calls, ok, revert_data = hook(venue)
    assert (calls, ok, revert_data[:4]) == (1, False, REENTRANCY)
    assert token.call("balanceOf", attacker.address) == venue.tokens(4_000)
    assert assets - ch.pool_assets() == venue.tokens(4_000)
    burned = shares - pool.balance_of(attacker.address)
    assert burned == pool.preview_withdraw(venue.tokens(4_000))  # one withdrawal's shares
    # Straight at the clearinghouse hook, too: the guard answers before the pool check.
    direct = ch.abi.function("poolWithdraw").encode((attacker.address, venue.tokens(1)))
    token.transact(attacker.address, "arm", ch.address, direct).raise_for_status()
    attacker.withdraw_liquidity(1)
    assert hook(venue)[1:] == (False, hook(venue)[2]) and hook(venue)[2][:4] == REENTRANCY
    assert_invariants(venue)


# ====================================================================== 7. unauthorised calls
def restricted_calls(venue, eve, alice, lp, order_id, lp_request):
    ch, oracle, book, pool = venue.clearinghouse, venue.oracle, venue.order_book, venue.pool
    admin_role = b"\0" * 32
    executor, updater = ch.executor_role(), oracle.updater_role()
    denied = "AccessControlUnauthorizedAccount"
    eth, now = venue.market_id("ETH"), venue.chain.timestamp
    return {
        ch: {
            "configureMarket": ((eth, ETH.symbol_bytes(), ETH.encode(venue.decimals)), denied),
            "setMarketModule": ((eth, ModuleKind.RATES, venue.clearinghouse.address), denied),
            "setMarketTiers": ((eth, [0], [50]), denied),
            "setRiskChangeDelay": ((3_600,), denied),
            "setPnlFactors": ((9_000, 8_500, 7_700), denied),
            "setMarkWindow": ((eth, 100), denied),
            "endAdlRound": ((), "Unauthorized"),
            "releaseHeldImpact": ((eve, 0), denied),
            "setPool": ((eve,), denied),
            "setPaused": ((True,), denied),
            "setInstantTrading": ((False,), denied),
            "grantRole": ((executor, eve), denied),
            "revokeRole": ((executor, book.address), denied),
            "renounceRole": ((admin_role, venue.admin), "AccessControlBadConfirmation"),
            "poolDeposit": ((venue.tokens(1),), "OnlyPool"),
            "poolWithdraw": ((eve, venue.tokens(1)), "OnlyPool"),
            "increasePosition": ((alice, eth, WAD, 10, 1, venue.tokens(400)), "Unauthorized"),
            "decreasePosition": ((alice, eth, CLOSE_ALL), "Unauthorized"),
            "withdraw": ((alice, venue.tokens(1)), "Unauthorized"),
            "addMargin": ((alice, eth, venue.tokens(1)), "Unauthorized"),
            "removeMargin": ((alice, eth, venue.tokens(1)), "Unauthorized"),
            "updateLeverage": ((alice, eth, 5), "Unauthorized"),
            # ADL keepers only (ADL_KEEPER_ROLE), never on their own positions.
            "autoDeleverage": ((alice, eth, CLOSE_ALL), "Unauthorized"),
            # A lock of alice's account (SPEC §10) would freeze her: executors only.
            "setOrderLock": ((alice, 1 | (now + 300) << 64), "Unauthorized"),
        },
        oracle: {
            "pushPrices": (([(eth, now, 1 * WAD)],), denied),
            "setMaxPriceAge": ((eth, 100), denied),
            "setDefaultMaxPriceAge": ((100,), denied),
            "setMaxDeviation": ((eth, 100), denied),
            "setCloseGracePeriod": ((100,), denied),
            "grantRole": ((updater, eve), denied),
            "revokeRole": ((updater, venue.admin), denied),
            "renounceRole": ((updater, venue.admin), "AccessControlBadConfirmation"),
        },
        book: {
            "setMinExecutionFee": ((10**18,), denied),
            "setMarketOrderTimeout": ((60,), denied),
            "setMinExecutionGas": ((0, 200_000), denied),
            "fill": ((book.order(order_id),), "OnlySelf"),
            "cancelOrder": ((order_id,), "NotOrderOwner"),
            "fillLpRequest": ((book.lp_request(lp_request),), "OnlySelf"),
            "cancelLpRequest": ((lp_request,), "NotOrderOwner"),
            "grantRole": ((admin_role, eve), denied),
            "revokeRole": ((admin_role, venue.admin), denied),
            "renounceRole": ((admin_role, venue.admin), "AccessControlBadConfirmation"),
        },
        pool: {
            # Positions are open: nobody but an executor uses the pool directly.
            "withdraw": ((venue.tokens(1), eve, lp), "LpRequestRequired"),
            "redeem": ((10**6, eve, lp), "LpRequestRequired"),
            "deposit": ((venue.tokens(1), eve), "LpRequestRequired"),
            "mint": ((10**6, eve), "LpRequestRequired"),
            "transferFrom": ((lp, eve, 1), "ERC20InsufficientAllowance"),
        },
    }


# Mutating functions anyone may call: they act for msg.sender, or are gated by health or price.
PERMISSIONLESS = {
    "Clearinghouse": {"setOperator", "deposit", "fundInsurance", "updateFunding",
                      "liquidatePosition", "liquidateAccount", "liquidateBatch"},
    "PriceOracle": set(),
    "OrderBook": {"createOrder", "executeOrder", "claimEth", "requestDeposit", "requestRedeem",
                  "executeLpRequest"},
    "LiquidityPool": {"approve", "transfer"},
}


def test_every_restricted_function_refuses_a_stranger(venue):
    alice = funded(venue, "alice", 5_000, deposit=4_000)
    alice.open("ETH", size=1, leverage=10, mode="isolated", margin=400)
    order = alice.create_order("ETH", "limit_increase", size=1, leverage=5, collateral=700,
                               trigger_price=2_500).order_id
    lp = venue.trader("lp2", usdc=1_000)
    provide_liquidity(venue, lp, 1_000)
    lp_request = lp.request_redeem(venue.lp_shares(lp) // 2).request_id
    eve = funded(venue, "eve", 1_000)
    table = restricted_calls(venue, eve.address, alice.address, lp.address, order, lp_request)
    before = (venue.raw_position(alice, "ETH"), venue.account(alice).cross_balance,
              venue.order_book.order(order), venue.pool.balance_of(lp.address),
              venue.order_book.lp_request(lp_request))
    for contract, calls in table.items():
        mutating = {f.name for f in contract.abi.functions.values() if f.mutates}
        covered = set(calls) | PERMISSIONLESS[contract.name]
        assert mutating == covered, f"{contract.name}: unreviewed {mutating - covered}"
        for function, (args, expected) in calls.items():
            receipt = contract.transact(eve.address, function, *args)
            assert not receipt.status, f"{contract.name}.{function} let a stranger through"
            assert receipt.error.error == expected, \
                f"{contract.name}.{function}: {receipt.error} instead of {expected}"
    assert (venue.raw_position(alice, "ETH"), venue.account(alice).cross_balance,
            venue.order_book.order(order), venue.pool.balance_of(lp.address),
            venue.order_book.lp_request(lp_request)) == before
    assert not venue.clearinghouse.is_operator(alice.address, eve.address)
    # The same calls do go through for those they are meant for.
    alice.cancel_order(order)
    venue.clearinghouse.set_operator(eve.address, True, sender=alice.address).raise_for_status()
    venue.clearinghouse.remove_margin(alice.address, 0, venue.tokens(1), sender=eve.address) \
        .raise_for_status()
    assert_invariants(venue)


# ====================================================================== 8. withdraw vs liquidation
@pytest.fixture()
def racing(venue):
    alice = funded(venue, "alice", 1_000)
    alice.open("BTC", size=0.1, leverage=10, mode="cross")  # mmf 2.5% > liquidation fee 1%
    venue.set_prices({"ETH": 3_000, "BTC": 51_200})
    assert venue.is_liquidatable(alice)
    with venue.chain.block():
        yield venue, alice


def test_withdraw_before_liquidation_in_one_block(racing):
    venue, alice = racing
    ch, keeper = venue.clearinghouse, venue.keeper("k")
    wallet = venue.usdc.balance_of(alice.address)
    small = ch.withdraw(alice.address, venue.tokens(1), sender=alice.address)
    liq = ch.liquidate_account(alice.address, sender=keeper.address)
    venue.chain.mine()
    assert small.block == liq.block
    expect_revert(small, "TransferRuleViolated")
    assert liq.status and venue.position(alice, "BTC") is None
    assert venue.usdc.balance_of(alice.address) == wallet
    assert_invariants(venue)


def test_liquidation_before_withdraw_leaves_only_the_remainder(racing):
    venue, alice = racing
    ch, keeper = venue.clearinghouse, venue.keeper("k")
    with venue.snapshot():  # what the liquidation will leave alice (views see the pending block)
        ch.liquidate_account(alice.address, sender=keeper.address).raise_for_status()
        left = ch.cross_balance(alice.address)
    assert 0 < left < venue.tokens(1_000)
    wallet = venue.usdc.balance_of(alice.address)
    liq = ch.liquidate_account(alice.address, sender=keeper.address)
    everything = ch.withdraw(alice.address, venue.tokens(1_000), sender=alice.address)
    greedy = ch.withdraw(alice.address, left + 1, sender=alice.address)
    rest = ch.withdraw(alice.address, left, sender=alice.address)
    venue.chain.mine()
    assert liq.block == everything.block == greedy.block == rest.block
    assert liq.status and rest.status
    expect_revert(everything, "InsufficientBalance")
    expect_revert(greedy, "InsufficientBalance")
    assert venue.usdc.balance_of(alice.address) - wallet == left
    assert ch.cross_balance(alice.address) == 0
    assert_invariants(venue)


def test_isolated_margin_removal_racing_liquidation(venue):
    alice = funded(venue, "alice", 1_000)
    alice.open("ETH", size=1, leverage=50, mode="isolated", margin=200)
    venue.set_price("ETH", 2_820)
    assert venue.is_liquidatable(alice, "ETH")
    ch, keeper = venue.clearinghouse, venue.keeper("k")
    with venue.chain.block():
        grab = ch.remove_margin(alice.address, 0, venue.tokens(5), sender=alice.address)
        liq = ch.liquidate_position(alice.address, 0, sender=keeper.address)
    expect_revert(grab, "TransferRuleViolated")
    assert liq.status and venue.position(alice, "ETH") is None
    assert_invariants(venue)


# ====================================================================== 9. funding drain
MAX_FUNDING = dict(funding_rate_per_hour=Decimal("0.036"), max_funding_rate_per_hour=Decimal("0.036"))


@pytest.fixture(scope="module")
def funding_venue(backend):
    markets = [MarketConfig(symbol="ETH", max_leverage=50, initial_price=Decimal(3000), **MAX_FUNDING)]
    return Venue.launch(backend=backend, markets=markets, pool_liquidity=20_000_000)


@pytest.fixture()
def funding(funding_venue):
    yield from fresh(funding_venue)


def test_max_funding_config_is_at_the_bound(funding):
    config = funding.clearinghouse.market_config(0)
    assert config[1] == config[2] == 10**13  # fundingFactor, maxFundingRate: the hard cap
    with pytest.raises(ParameterOutOfBounds, match="^funding_rate_per_hour: "):
        MarketConfig(symbol="ETH", funding_rate_per_hour=Decimal("0.0361"))
    over = list(MarketConfig(symbol="ETH").encode(6))
    over[1] = 10**13 + 1  # past Python's check, straight to the contract
    with pytest.raises(errors.ParamOutOfBounds):
        funding.clearinghouse.configure_market(0, b"ETH".ljust(32, b"\0"), tuple(over),
                                               sender=funding.admin).raise_for_status()


def test_extreme_skew_funding_is_zero_sum(funding):
    venue = funding
    whale = funded(venue, "whale", 2_000_000)
    whale.open("ETH", size=100, leverage=50, mode="cross")  # 300k long
    minnow = funded(venue, "minnow", 10)
    minnow.open("ETH", size=Decimal("-0.00034"), leverage=1, mode="cross")  # 1.02 USD short
    keeper = venue.keeper("funding")
    for _ in range(6):  # three days, a fresh price and an accrual every 12 hours
        venue.advance_time(12 * 3600)
        venue.set_price("ETH", 3000)
        keeper.update_funding("ETH")
        assert_invariants(venue)
    funding_short, _ = venue.clearinghouse.pending_charges(minnow.address, 0)
    assert funding_short < -200_000 * WAD  # the dust short is owed ~ 3.6%/h x 300k x 72h
    paid = whale.close("ETH").events_named("PositionDecreased")[0]["fundingPaid"]
    received = -minnow.close("ETH").events_named("PositionDecreased")[0]["fundingPaid"]
    assert 0 < received <= paid
    assert paid - received <= 2  # rounding only, and it favours the protocol
    assert paid >= venue.tokens(300_000 * 0.036 * 72 * 0.99)
    assert venue.clearinghouse.funding_reserve() == paid - received
    minnow.withdraw(venue.account(minnow).cross_balance)  # the money is really there
    assert_invariants(venue)


def test_month_of_max_funding_never_overflows(funding):
    """A 9M long against a 1 USD short for 30 days without anyone liquidating: the small side's
    index grows ~9e6 times faster than the payer's; accrual, views and settlement still work."""
    venue = funding
    whale = funded(venue, "whale", 30_000_000, deposit=400_000)
    whale.open("ETH", size=3_000, leverage=50, mode="isolated", margin=400_000)
    minnow = funded(venue, "minnow", 10)
    minnow.open("ETH", size=Decimal("-0.00034"), leverage=1, mode="cross")
    keeper = venue.keeper("funding")
    for _ in range(30):
        venue.advance_time(24 * 3600)
        venue.set_price("ETH", 3000)
        keeper.update_funding("ETH")
    state = venue.clearinghouse.market_state(0)
    assert state[4] < 0 and state[3] > 0  # shortFunding ran far negative, longFunding positive
    assert abs(state[4]) < 2**111
    assert_invariants(venue)
    owed, _ = venue.clearinghouse.pending_charges(minnow.address, 0)
    charged, _ = venue.clearinghouse.pending_charges(whale.address, 0)
    assert 0 < -owed <= charged


# ====================================================================== 10. LP bank run
@pytest.fixture(scope="module")
def run_venue(backend):
    # No borrowing: the pool's value holds still over the second an LP request waits, so its
    # boundaries can be probed exactly.
    still = dict(borrow_rate_per_year=Decimal(0))
    return Venue.launch(backend=backend, markets=[replace(ETH, **still), replace(BTC, **still)],
                        pool_liquidity=0)


@pytest.fixture()
def bank_run(run_venue):
    yield from fresh(run_venue)


def test_lp_bank_run_during_a_crash(bank_run):
    venue = bank_run
    ch, pool = venue.clearinghouse, venue.pool
    lps = [venue.trader(f"lp{i}", usdc=500_000) for i in range(2)]
    for lp in lps:
        lp.provide_liquidity(500_000)  # no position open yet: directly
    shorts = [funded(venue, f"short{i}", 100_000) for i in range(3)]
    for s in shorts:
        s.open("ETH", size=-60, leverage=5, mode="cross")  # 540k short OI in all
    venue.set_prices({"ETH": 2_400, "BTC": 60_000})  # -20%: the shorts are 108k up
    # What the pool must keep: the most the shorts can still win, their entry notional.
    oi = venue.clearinghouse.market_state(0)[7]  # shortEntry
    assert oi >= 180 * 3_000 * WAD
    # Nobody leaves directly while positions are open, and maxWithdraw says so.
    assert pool.max_withdraw(lps[0].address, sender=lps[0].address) == 0
    with pytest.raises(errors.LpRequestRequired):
        lps[0].withdraw_liquidity(1)
    # The first LP gets its share of the reduced pool value out, through a request.
    first = pool.max_withdraw_by_request(lps[0].address)
    assert first == pool.preview_redeem(venue.lp_shares(lps[0])) < venue.tokens(500_000)
    done = redeem_liquidity(venue, lps[0], venue.lp_shares(lps[0])).events_named("LpRequestExecuted")
    assert done[0]["out"] == first and venue.lp_shares(lps[0]) == 0
    # maxWithdraw tells the truth: what the reserve rule lets go, below the second LP's share.
    allowed = ch.pool_assets() - oi // venue.scale
    second = pool.max_withdraw_by_request(lps[1].address)
    assert 0 < second == allowed < pool.preview_redeem(venue.lp_shares(lps[1]))
    most = pool.max_redeem_by_request(lps[1].address)
    held = venue.lp_shares(lps[1])
    failed = redeem_liquidity(venue, lps[1], most + 1).events_named("LpRequestFailed")
    assert failed and venue.lp_shares(lps[1]) == held  # refused, shares back
    paid = pool.preview_redeem(most)
    done = redeem_liquidity(venue, lps[1], most).events_named("LpRequestExecuted")
    assert done[0]["out"] == paid <= allowed
    assert allowed - paid <= 1  # the shares' value rounds down, by less than a token
    assert ch.pool_assets() * venue.scale - oi == (allowed - paid) * venue.scale  # kept: oi
    # Every winner is paid in full.
    for s in shorts:
        event = s.close("ETH").events_named("PositionDecreased")[0]
        assert event["realizedPnl"] == venue.tokens(60 * 600)
    assert all(venue.position(s, "ETH") is None for s in shorts)
    for s in shorts:
        s.withdraw(venue.account(s).cross_balance)
    # Now the second LP can leave with the rest, directly: no position is open.
    lps[1].withdraw_liquidity(venue.usd(pool.max_withdraw(lps[1].address, sender=lps[1].address)))
    assert_invariants(venue)


# ====================================================================== 11. rounding dust
def test_rounding_dust_loops_never_pay_the_attacker(zero, backend):
    venue = zero
    rounds = 60 if backend == "revm" else 20
    mallory = venue.trader("mallory", usdc=100)
    ch, mid = venue.clearinghouse, venue.market_id("ETH")
    start = tokens_of(venue, mallory)
    mallory.deposit(50)
    odd_prices = [3000 * WAD + 1, 3000 * WAD - 7, 2999 * WAD + 333, 3001 * WAD - 1]
    for i in range(rounds):
        price = odd_prices[i % len(odd_prices)]
        venue.oracle.push_prices([(mid, venue.chain.timestamp, price)], sender=venue.admin) \
            .raise_for_status()
        ch.deposit(mallory.address, 1, sender=mallory.address).raise_for_status()
        ch.withdraw(mallory.address, 1, sender=mallory.address).raise_for_status()
        size = (WAD // 2999 + 100 + i) * (1 if i % 2 else -1)  # just above the 1 USD minimum
        ch.increase_position(mallory.address, mid, size, 2, 1, venue.tokens(1) + 1,
                             sender=mallory.address).raise_for_status()
        ch.add_margin(mallory.address, mid, 1, sender=mallory.address).raise_for_status()
        ch.remove_margin(mallory.address, mid, 1, sender=mallory.address).raise_for_status()
        ch.increase_position(mallory.address, mid, size // abs(size) * 3, 2, 1, 1,
                             sender=mallory.address).raise_for_status()  # 3 wei more size
        ch.decrease_position(mallory.address, mid, 7, sender=mallory.address) \
            .raise_for_status()
        ch.decrease_position(mallory.address, mid, CLOSE_ALL, sender=mallory.address) \
            .raise_for_status()
        mallory.open("ETH", size=Decimal("0.001"), leverage=10, mode="cross")
        mallory.close("ETH")
        assert tokens_of(venue, mallory) <= start
    mallory.withdraw(venue.account(mallory).cross_balance)
    assert venue.usdc.balance_of(mallory.address) <= start
    state = assert_invariants(venue)
    assert state.held == venue.usdc.balance_of(ch.address)


# ====================================================================== found by these attacks
def test_an_insolvent_pool_pays_out_nothing_until_recapitalised(funding):
    """Funding owed by a long nobody liquidated for three days is credited in full to the
    short; the long's shortfall is bad debt beyond the insurance fund and the pool, so the
    pool goes negative and the short's balance exceeds what exists. The circuit breaker keeps
    it from leaving until the pool is recapitalised."""
    venue, ch = funding, funding.clearinghouse
    whale = funded(venue, "whale", 400_000)
    whale.open("ETH", size=3_000, leverage=50, mode="isolated", margin=400_000)
    minnow = funded(venue, "minnow", 10)
    minnow.open("ETH", size=Decimal("-0.00034"), leverage=1, mode="cross")
    for _ in range(3):  # three days with no liquidation (keepers down)
        venue.advance_time(24 * 3600)
        venue.set_price("ETH", 3000)
    venue.keeper("late").liquidate(whale, "ETH")
    minnow.close("ETH")
    assert_invariants(venue)
    deficit = -ch.pool_assets()
    credited = ch.cross_balance(minnow.address)
    assert deficit > 0 and credited > venue.usdc.balance_of(ch.address)
    with pytest.raises(errors.PoolInsolvent):
        minnow.withdraw(1)
    rescue = venue.usd(deficit + venue.tokens(1))
    venue.trader("rescuer", usdc=rescue).provide_liquidity(rescue)
    assert ch.pool_assets() >= 0
    minnow.withdraw(venue.usd(credited))
    assert_invariants(venue)


def test_pool_pays_winners_after_lp_run_and_further_crash(bank_run):
    venue, ch, pool = bank_run, bank_run.clearinghouse, bank_run.pool
    lp = venue.trader("lp", usdc=1_000_000)
    lp.provide_liquidity(1_000_000)
    shorts = [funded(venue, f"short{i}", 100_000) for i in range(3)]
    for s in shorts:
        s.open("ETH", size=-60, leverage=5, mode="cross")  # 540k short OI <= 1M reserve
    venue.set_prices({"ETH": 2_400, "BTC": 60_000})
    # Withdrawing down to today's notional would leave too little for a further fall.
    at_today = ch.pool_assets() - 180 * 2_400 * WAD // venue.scale
    shares = pool.preview_withdraw(at_today)
    assert redeem_liquidity(venue, lp, shares).events_named("LpRequestFailed")
    allowed = ch.pool_assets() - 180 * 3_000 * WAD // venue.scale  # the entry notional
    assert pool.max_withdraw_by_request(lp.address) == allowed
    most = pool.max_redeem_by_request(lp.address)
    assert redeem_liquidity(venue, lp, most).events_named("LpRequestExecuted")[0]["out"] <= allowed
    venue.set_prices({"ETH": 500, "BTC": 60_000})  # shorts now 450k up in all
    for s in shorts:  # all three are paid: the pool kept their entry notional
        assert s.close("ETH").events_named("PositionDecreased")[0]["realizedPnl"] > 0
    assert_invariants(venue)
