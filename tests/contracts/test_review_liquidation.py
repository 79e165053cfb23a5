"""Issue 23, findings 1 and 7 of the review, on every EVM (pyevm, revm and anvil).

Finding 1, stale markets and bad debt: a cross account liquidated while one of its markets is
stale keeps its debt as a negative cross balance (no write-off while it holds cross positions);
what its stale positions realise later pays the debt first, and what is still owed when the last
cross position closes is written off then (SPEC §6, decision A).

Finding 7, a liquidation module that takes everything: a slice the module's penalty would leave
with no margin is liquidated whole (SPEC §2.1), and one bad target never reverts a batch
(SPEC §6, decision G).

Amounts are tokens of the 6-decimal collateral (1 USD = 10**6) unless named WAD."""

from __future__ import annotations

from decimal import Decimal

import pytest

from protocol import MarketConfig, Venue, errors
from protocol.constants import WAD
from protocol.keepers import LiquidationKeeper, Strategy
from protocol.margin.liquidation import StockLiquidation
from protocol.margin.model import MarketRules, Model, ModelRevert
from protocol.margin.types import ModuleKind
from protocol.testing import assert_invariants
from protocol.testing.invariants import InvariantViolation, load_state

USD = 10**6
CROSS = 2**256 - 1
NO_RATES = dict(funding_rate_per_hour=Decimal(0), max_funding_rate_per_hour=Decimal(0),
                borrow_rate_per_year=Decimal(0))
MARKETS = [
    # A partial threshold ETH's large positions pass (finding 7), none of finding 1's.
    MarketConfig(symbol="ETH", max_leverage=50, initial_price=Decimal(3000),
                 partial_threshold_usd=Decimal(50_000), liquidation_cooldown=600, **NO_RATES),
    MarketConfig(symbol="BTC", max_leverage=20, initial_price=Decimal(60000), **NO_RATES),
    MarketConfig(symbol="SOL", max_leverage=20, initial_price=Decimal(100), **NO_RATES),
]
ETH, BTC, SOL = 0, 1, 2
INSURANCE = 1_000


@pytest.fixture(scope="module")
def base(chain_backend):
    return Venue.launch(backend=chain_backend, markets=MARKETS, insurance=INSURANCE)


@pytest.fixture()
def venue(base):
    with base.snapshot():
        yield base


def funded(venue, name, deposit):
    trader = venue.trader(name, usdc=deposit)
    trader.deposit(deposit)
    return trader


def state(venue, *accounts):
    ch = venue.clearinghouse
    return {"pool": ch.pool_assets(), "insurance": ch.insurance_fund(),
            **{a.name: ch.cross_balance(a.address) for a in accounts}}


# ====================================================================== finding 1
def stale_debt(venue):
    """The review's account: cross long 10 ETH and 0.1 BTC, isolated long 10 SOL. BTC rallies to
    75,000 (+1,500), its feed stops (120 s heartbeat), ETH falls to 2,800 (-2,000) and the
    account is liquidated: ETH closes, BTC stays open. Returns (trader, keeper, receipt)."""
    venue.oracle.set_max_price_age(BTC, 120, sender=venue.admin).raise_for_status()
    trader = funded(venue, "t", 1_150)
    trader.open("SOL", size=10, leverage=10, mode="isolated", margin=150)  # fee 0.5
    trader.open("ETH", size=10, leverage=50, mode="cross")  # fee 15
    trader.open("BTC", size=0.1, leverage=20, mode="cross")  # fee 3
    assert venue.clearinghouse.cross_balance(trader.address) == 982 * USD
    venue.set_prices({"BTC": 75_000})
    venue.advance_time(121)
    venue.set_prices({"ETH": 2_800, "SOL": 100})  # BTC is now stale
    keeper = venue.keeper("k")
    before = state(venue, trader)
    model = load_state(venue).model
    expected = model.liquidate_account(keeper.address.lower(), trader.address.lower())
    receipt = keeper.liquidate(trader)
    # The debt stays on the account; nothing was written off, nobody paid for it yet.
    assert [(e["market"], e["sizeClosed"], e["realizedPnl"]) for e in receipt.events_named("PositionLiquidated")] \
        == [(ETH, -10 * WAD, -2_000 * USD)]
    event = receipt.events_named("AccountLiquidated")[0]
    assert (event["positions"], event["penalty"], event["keeperReward"], event["badDebt"]) == (1, 0, 0, 0)
    assert not receipt.events_named("BadDebt")
    assert state(venue, trader) == {"pool": before["pool"] + 2_000 * USD,  # ETH's loss, no draw
                                    "insurance": before["insurance"], "t": -1_018 * USD}
    assert venue.clearinghouse.cross_markets(trader.address) == 1 << BTC
    assert (expected["penalty"], expected["reward"], expected["bad_debt"], expected["positions"]) == \
        (0, 0, 0, 1)
    assert model.cross_balance[trader.address.lower()] == -1_018 * USD
    return trader, keeper, receipt


def test_a_stale_liquidation_keeps_the_debt_on_the_account(venue):
    stale_debt(venue)
    assert_invariants(venue, deep=True)


def test_every_view_and_keeper_reports_the_indebted_stale_account(venue):
    trader, _, _ = stale_debt(venue)
    ch, reader = venue.clearinghouse, venue.reader
    count = ch.account_count()
    # Nothing can be closed on a stale price: not liquidatable, but watched.
    assert ch.is_account_liquidatable(trader.address) is False
    with pytest.raises(errors.StalePrice):
        ch.account_health(trader.address)
    assert ch.account_liquidation_health(trader.address) == \
        (-1_018 * WAD, 7_500 * WAD // 40, 0)  # BTC's MM at its last price, no fresh market
    assert (trader.address, None) not in venue.liquidatable()[0]
    assert (trader.address, None) in venue.at_risk(threshold_bps=15_000)[0]
    found, _ = reader.at_risk(ch.address, 0, count, 10_000)  # at MM itself: liquidatable only
    assert (trader.address.lower(), CROSS) not in [(a.lower(), m) for a, m in found]
    health = reader.health(ch.address, venue.encode_targets([(trader, None)]))[0]
    assert health[2:] == (-1_018 * WAD, 7_500 * WAD // 40, False)
    every_block = LiquidationKeeper(venue, "scan")  # on the event index
    assert every_block.scan(venue.chain.block_number) == []
    scanning = LiquidationKeeper(venue, "chain", Strategy(scan="chain"))
    assert scanning.scan(venue.chain.block_number) == []
    watching = LiquidationKeeper(venue, "watch", Strategy(full_scan_interval=5, scan="chain"))
    assert watching.scan(venue.chain.block_number) == []
    assert watching.watchlist == [(trader.address, None)]
    # An indebted account cannot take anything out, move margin or open.
    with pytest.raises(errors.InsufficientBalance) as info:
        trader.withdraw(Decimal("0.000001"))
    assert info.value.args == (-1_018 * USD, 1)
    with pytest.raises(errors.InsufficientBalance):
        trader.add_margin("SOL", 1)
    with pytest.raises(errors.InsufficientBalance):
        trader.open("ETH", size=1, leverage=10, mode="isolated", margin=300)
    with pytest.raises(errors.StalePrice):  # a cross open values every cross position
        trader.open("ETH", size=1, leverage=10, mode="cross")
    # The feed returns: the keeper sees it at once, through its watchlist.
    venue.set_prices({"BTC": 60_000, "ETH": 2_800, "SOL": 100})
    assert ch.account_health(trader.address)[:2] == (-1_018 * WAD, 6_000 * WAD // 40)
    assert ch.is_account_liquidatable(trader.address) is True
    with pytest.raises(errors.InsufficientFreeCollateral):  # the debt counts in its equity
        trader.open("ETH", size=1, leverage=10, mode="cross")
    assert ch.account_liquidation_health(trader.address) == \
        (-1_018 * WAD, 6_000 * WAD // 40, 1 << BTC)
    assert watching.scan(venue.chain.block_number) == [(trader.address, None)]
    assert every_block.scan(venue.chain.block_number) == [(trader.address, None)]
    assert scanning.scan(venue.chain.block_number) == [(trader.address, None)]
    health = reader.health(ch.address, venue.encode_targets([(trader, None)]))[0]
    assert health[2:] == (-1_018 * WAD, 6_000 * WAD // 40, True)
    assert_invariants(venue)


@pytest.mark.parametrize("how", ["remove margin", "close", "liquidation"])
def test_isolated_margin_returned_pays_the_debt_first(venue, how):
    trader, keeper, _ = stale_debt(venue)
    if how == "remove margin":
        receipt = trader.remove_margin("SOL", 40)  # 109.5 left covers the transfer rule's 100
        returned = 40 * USD
    elif how == "close":
        receipt = trader.close("SOL")  # 149.5 of margin less the 0.5 fee
        returned = 149 * USD
    else:
        venue.set_prices({"SOL": 87, "ETH": 2_800})  # equity 19.5 < MM 21.75
        receipt = keeper.liquidate(trader, "SOL")
        event = receipt.events_named("PositionLiquidated")[0]
        assert (event["penalty"], event["badDebt"]) == (8_700_000, 0)  # 1% of 870
        returned = 10_800_000
    assert not receipt.events_named("BadDebt")
    assert venue.clearinghouse.cross_balance(trader.address) == -1_018 * USD + returned
    assert_invariants(venue)


def test_the_owner_close_settles_the_debt_and_withdraws_only_the_rest(venue):
    """The review's round trip: before, the insurance fund and the pool absorbed the debt
    (1,018) and the owner then withdrew 1,645.25 (SOL's 149 and BTC's 1,496.25); now he
    withdraws what is left after the debt."""
    trader, _, _ = stale_debt(venue)
    trader.close("SOL")
    venue.set_prices({"BTC": 75_000, "ETH": 2_800, "SOL": 100})  # the feed returns
    before = state(venue, trader)
    receipt = trader.close("BTC")
    closed = receipt.events_named("PositionDecreased")[0]
    assert (closed["realizedPnl"], closed["fee"]) == (1_500 * USD, 3_750_000)
    assert not receipt.events_named("BadDebt")
    after = state(venue, trader)
    assert after == {"pool": before["pool"] - 1_500 * USD + 3_750_000,
                     "insurance": before["insurance"], "t": 627_250_000}  # -869 + 1,500 - 3.75
    assert venue.clearinghouse.cross_markets(trader.address) == 0
    with pytest.raises(errors.InsufficientBalance) as info:
        trader.withdraw(Decimal("627.250001"))
    assert info.value.args == (627_250_000, 627_250_001)
    trader.withdraw(Decimal("627.25"))
    assert venue.usdc.balance_of(trader.address) == 627_250_000
    assert_invariants(venue, deep=True)


def test_the_debt_left_when_the_owner_closes_the_last_cross_position_is_written_off(venue):
    trader, _, _ = stale_debt(venue)
    trader.close("SOL")
    venue.set_prices({"BTC": 66_000, "ETH": 2_800, "SOL": 100})  # +600 on BTC: less than owed
    before = state(venue, trader)
    receipt = trader.close("BTC")  # -869 + 600 - 3.30 fee = -272.30
    debt = receipt.events_named("BadDebt")
    assert [(d["account"].lower(), d["amount"], d["fromInsurance"], d["fromPool"]) for d in debt] == \
        [(trader.address.lower(), 272_300_000, 272_300_000, 0)]
    assert state(venue, trader) == {"pool": before["pool"] - 600 * USD + 3_300_000,
                                    "insurance": before["insurance"] - 272_300_000, "t": 0}
    with pytest.raises(errors.InsufficientBalance):
        trader.withdraw(Decimal("0.000001"))
    assert_invariants(venue, deep=True)


def test_the_debt_left_when_a_later_liquidation_closes_the_last_position_is_written_off(venue):
    trader, keeper, _ = stale_debt(venue)
    trader.close("SOL")
    venue.set_prices({"BTC": 60_000, "ETH": 2_800, "SOL": 100})  # BTC's profit is gone
    assert venue.liquidatable()[0] == [(trader.address, None)]
    before = state(venue, trader)
    receipt = keeper.liquidate_batch([(trader, None)])
    event = receipt.events_named("AccountLiquidated")[0]
    assert (event["positions"], event["penalty"], event["badDebt"]) == (1, 0, 869 * USD)
    assert [(d["amount"], d["fromInsurance"], d["fromPool"]) for d in receipt.events_named("BadDebt")] \
        == [(869 * USD, 869 * USD, 0)]
    assert state(venue, trader) == {"pool": before["pool"], "insurance": before["insurance"] - 869 * USD,
                                    "t": 0}
    assert venue.clearinghouse.cross_markets(trader.address) == 0
    assert_invariants(venue, deep=True)


def test_no_cross_balance_below_zero_without_a_cross_position():
    from protocol.testing.invariants import check_cross_debts

    model = Model(scale=10**12, max_price_age=3600)
    model.cross_balance = {"a": -1, "b": -5, "c": 7}
    model.cross_markets = {"b": 1}
    with pytest.raises(InvariantViolation) as info:
        check_cross_debts(model, ["a", "b", "c"])
    assert info.value.name == "no debt without a cross position"
    assert info.value.details == {"account": "a", "balance": -1}
    check_cross_debts(model, ["b", "c"])


# ====================================================================== finding 7
class TakeAll(StockLiquidation):
    """Mirror of contracts/testing/MisbehavingModules.sol's TakeAllLiquidation."""

    def __init__(self, leave: int = 0):
        self.leave = leave

    def penalty(self, market, equity_left, max_penalty, keeper_share_bps):
        taken = equity_left - self.leave if equity_left > self.leave else 0
        return taken, taken * keeper_share_bps // 10_000


class Broken(StockLiquidation):
    """Mirror of RevertingLiquidation (either failing mode)."""

    def slice(self, i):
        raise ModelRevert("LiquidationRuleBroken")

    def penalty(self, *args):
        raise ModelRevert("LiquidationRuleBroken")


class Greedy(StockLiquidation):
    """Mirror of GreedyLiquidation."""

    def penalty(self, market, equity_left, max_penalty, keeper_share_bps):
        return max(equity_left, 0) + max_penalty + 1, 0


def set_module(venue, market: int, artifact: str, **setters):
    module = venue.chain.deploy(artifact, sender=venue.admin)
    for fn, value in setters.items():
        module.transact(venue.admin, fn, value).raise_for_status()
    venue.clearinghouse.set_market_module(market, ModuleKind.LIQUIDATION, module.address,
                                          sender=venue.admin).raise_for_status()
    return module


def whale(venue, mode: str):
    """30 ETH long at 20x (90k notional, above ETH's 50k partial threshold); at 2,870 it is
    below maintenance (equity 755 < 861) and above 2/3 of it: the stock rule takes a 20% slice,
    whose PnL (-780) leaves 3,875 before the penalty."""
    trader = funded(venue, "whale", 4_700)
    if mode == "isolated":
        trader.open("ETH", size=30, leverage=20, mode="isolated", margin=4_700)  # fee 45
    else:
        trader.open("ETH", size=30, leverage=20, mode="cross")
    return trader


def model_with(venue, rules):
    model = load_state(venue).model
    for market, liquidation in rules.items():
        model.rules[market] = MarketRules(liquidation=liquidation)
    return model


def liquidate_the_whale(venue, mode: str, leave: int):
    """The whale under ``TakeAllLiquidation`` leaving ``leave`` token units, liquidated at
    2,870 by a keeper: (trader, keeper, market or None for the cross account, the reference
    model's expected outcome, the receipt)."""
    set_module(venue, ETH, "TakeAllLiquidation", **({"setLeave": leave} if leave else {}))
    trader = whale(venue, mode)
    venue.set_price("ETH", 2_870)
    keeper = venue.keeper("k")
    market = "ETH" if mode == "isolated" else None
    model = model_with(venue, {ETH: TakeAll(leave)})
    expected = model.liquidate_position(keeper.address.lower(), trader.address.lower(), ETH) \
        if market else model.liquidate_account(keeper.address.lower(), trader.address.lower())
    return trader, keeper, market, expected, keeper.liquidate(trader, market)


@pytest.mark.parametrize("mode", ["isolated", "cross"])
def test_a_penalty_that_takes_everything_left_liquidates_the_whole_position(venue, mode):
    trader, keeper, market, expected, receipt = liquidate_the_whale(venue, mode, leave=0)
    closed = receipt.events_named("PositionLiquidated")
    assert [e["sizeClosed"] for e in closed] == [-30 * WAD]  # whole, not the 6 ETH slice
    # What is left after the whole close (4,655 - 3,900 = 755) is all the module's penalty.
    penalty = (closed[0] if market else receipt.events_named("AccountLiquidated")[0])["penalty"]
    assert penalty == expected["penalty"] == 755 * USD
    assert venue.clearinghouse.cross_balance(keeper.address) == expected["reward"] == 377_500_000
    assert venue.raw_position(trader, "ETH").size == 0
    assert venue.clearinghouse.cross_balance(trader.address) == 0
    assert_invariants(venue)


@pytest.mark.parametrize("mode", ["isolated", "cross"])
def test_a_penalty_that_leaves_one_token_unit_takes_the_slice(venue, mode):
    trader, keeper, market, expected, receipt = liquidate_the_whale(venue, mode, leave=1)
    closed = receipt.events_named("PositionLiquidated")
    assert [(e["sizeClosed"], e["penalty"]) for e in closed] == [(-6 * WAD, 3_875 * USD - 1)]
    assert expected["penalty"] == 3_875 * USD - 1 and expected["closed"] == 6 * WAD
    raw = venue.raw_position(trader, "ETH")
    left = raw.margin if market else venue.clearinghouse.cross_balance(trader.address)
    assert (raw.size, left) == (24 * WAD, 1)  # exactly one token unit stays
    assert venue.clearinghouse.cross_balance(keeper.address) == (3_875 * USD - 1) // 2
    assert_invariants(venue)


def test_a_batch_with_a_take_all_target_liquidates_it_whole_and_the_others(venue):
    set_module(venue, ETH, "TakeAllLiquidation")
    big = whale(venue, "isolated")
    small = funded(venue, "small", 61)
    small.open("ETH", size=1, leverage=50, mode="isolated", margin=61)  # fee 1.5
    venue.set_price("ETH", 2_870)
    keeper = venue.keeper("k")
    targets = venue.encode_targets([(big, "ETH"), (small, "ETH")])
    assert list(venue.clearinghouse.simulate.liquidate_batch(targets,
                                                             sender=keeper.address)) == [True, True]
    receipt = keeper.liquidate_batch([(big, "ETH"), (small, "ETH")])
    assert [e["sizeClosed"] for e in receipt.events_named("PositionLiquidated")] == [-30 * WAD, -WAD]
    # small: 59.5 - 130 < 0: nothing left to take, 70.5 of bad debt.
    assert venue.clearinghouse.cross_balance(keeper.address) == 377_500_000
    assert_invariants(venue)


def _isolated_victim(venue, name, symbol, size, margin, leverage=50):
    trader = funded(venue, name, margin)
    trader.open(symbol, size=size, leverage=leverage, mode="isolated", margin=margin)
    return trader


BAD = ["module reverts", "module reverts (cross)", "module out of bounds", "module burns its gas",
       "stale price", "healthy", "missing"]


@pytest.mark.parametrize("bad", BAD)
def test_one_bad_target_never_reverts_a_batch(venue, bad):
    """Two liquidatable ETH positions around one target that cannot be liquidated: the batch
    goes through, done[i] says which, the keeper is paid for both good ones (4.75 each: 61 of
    margin less the 1.5 fee and the 50 loss at 2,950, all of it the penalty, half the keeper's)
    and the bad one is untouched."""
    keeper = venue.keeper("k")
    first = _isolated_victim(venue, "first", "ETH", 1, 61)
    second = _isolated_victim(venue, "second", "ETH", 1, 61)
    rules = {}
    if bad.startswith("module"):
        artifact, mirror, setters = {
            "module reverts": ("RevertingLiquidation", Broken(), {"setMode": 1}),
            "module reverts (cross)": ("RevertingLiquidation", Broken(), {"setMode": 1}),
            "module out of bounds": ("GreedyLiquidation", Greedy(), {}),
            "module burns its gas": ("RevertingLiquidation", None, {"setMode": 2}),
        }[bad]
        set_module(venue, SOL, artifact, **setters)
        rules[SOL] = mirror
        # 30 SOL at 20x: 158.5 after the fee; at 97 equity 68.5 < maintenance 72.75.
        victim = funded(venue, "victim", 160)
        cross = bad.endswith("(cross)")
        victim.open("SOL", size=30, leverage=20, mode="cross" if cross else "isolated",
                    margin=0 if cross else 160)
        target = (victim, None if cross else "SOL")
        venue.set_prices({"ETH": 2_950, "SOL": 97})
    elif bad == "stale price":
        venue.oracle.set_max_price_age(BTC, 120, sender=venue.admin).raise_for_status()
        victim = _isolated_victim(venue, "victim", "BTC", Decimal("0.1"), 300, leverage=20)
        venue.set_price("BTC", 57_500)
        venue.advance_time(121)
        venue.set_prices({"ETH": 2_950})
        target = (victim, "BTC")
    elif bad == "healthy":
        victim = _isolated_victim(venue, "victim", "SOL", 10, 200, leverage=10)
        venue.set_prices({"ETH": 2_950})
        target = (victim, "SOL")
    else:
        victim = venue.trader("nobody")
        venue.set_prices({"ETH": 2_950})
        target = (victim, "ETH")
    ch = venue.clearinghouse
    symbol = target[1]
    before = (ch.cross_balance(victim.address), ch.cross_markets(victim.address),
              [ch.position(victim.address, m) for m in (ETH, BTC, SOL)])
    batch = [(first, "ETH"), target, (second, "ETH")]
    encoded = venue.encode_targets(batch)
    assert list(ch.simulate.liquidate_batch(encoded, sender=keeper.address)) == [True, False, True]
    if None not in rules.values():  # the model mirrors every module but the gas burner
        model = model_with(venue, rules)
        done = model.liquidate_batch(keeper.address.lower(),
                                     [(a.lower(), m) for a, m in encoded])
        assert done == [True, False, True]
    receipt = keeper.liquidate_batch(batch)
    assert [e["account"].lower() for e in receipt.events_named("PositionLiquidated")] == \
        [first.address.lower(), second.address.lower()]
    assert ch.cross_balance(keeper.address) == 2 * 4_750_000
    assert (ch.cross_balance(victim.address), ch.cross_markets(victim.address),
            [ch.position(victim.address, m) for m in (ETH, BTC, SOL)]) == before
    # Alone, each still reverts with its reason.
    alone = ch.liquidate_account(victim.address, sender=keeper.address) if symbol is None else \
        ch.liquidate_position(victim.address, venue.market_id(symbol), sender=keeper.address)
    assert alone.status is False and alone.error.error == {
        "module reverts": "LiquidationRuleBroken", "module reverts (cross)": "LiquidationRuleBroken",
        "module out of bounds": "ModuleResultOutOfBounds", "stale price": "StalePrice",
        "healthy": "PositionHealthy", "missing": "NoPosition"}.get(bad, alone.error.error)
    assert_invariants(venue)
