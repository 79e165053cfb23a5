"""Keeper bots: liquidation within latency after a crash, exact ledgers, gas-price races."""

from __future__ import annotations

from decimal import Decimal

import pytest

from protocol.constants import GWEI
from protocol.keepers import (
    BlockBuilder,
    FundingKeeper,
    LiquidationKeeper,
    OracleKeeper,
    OrderKeeper,
    Strategy,
)
from protocol.margin.types import MarginMode


def open_book(venue):
    """Isolated longs/shorts and cross accounts at many leverages; returns every target."""
    targets = []
    for lev in (2, 5, 8, 12, 20, 30, 50):
        t = venue.trader(f"iso{lev}", usdc=5_000)
        t.deposit(5_000)
        t.open("ETH", size=1, leverage=lev, mode="isolated", margin=Decimal(3000) / lev + 1)
        targets.append((t, "ETH"))
    short = venue.trader("short", usdc=5_000)
    short.deposit(5_000)
    short.open("ETH", size=-1, leverage=50, mode="isolated", margin=61)
    targets.append((short, "ETH"))
    for deposit in (3_000, 600, 320, 200, 160):
        t = venue.trader(f"cross{deposit}", usdc=deposit)
        t.deposit(deposit)
        t.open("ETH", size=1, leverage=20, mode="cross")
        targets.append((t, None))
    hedged = venue.trader("hedged", usdc=1_000)
    hedged.deposit(1_000)
    hedged.open("ETH", size=1, leverage=20, mode="cross")
    hedged.open("BTC", size=-0.05, leverage=20, mode="cross")
    targets.append((hedged, None))
    mixed = venue.trader("mixed", usdc=2_000)
    mixed.deposit(2_000)
    mixed.open("BTC", size=0.01, leverage=20, mode="isolated", margin=31)
    mixed.open("ETH", size=1, leverage=20, mode="cross")
    targets += [(mixed, "BTC"), (mixed, None)]
    return targets


def is_open(venue, trader, market):
    if market is not None:
        return venue.raw_position(trader, market).size != 0
    return any(venue.raw_position(trader, m).size != 0 and venue.raw_position(trader, m).mode == MarginMode.CROSS
               for m in venue.markets)


@pytest.mark.parametrize("latency", [0, 2])
def test_crash_liquidates_all_within_latency(venue, latency):
    targets = open_book(venue)
    assert not any(venue.is_liquidatable(t, m) for t, m in targets)
    bots = [LiquidationKeeper(venue, f"liq{i}", Strategy(latency=latency, gas_price=(i + 1) * GWEI,
                                                        batch_size=4, scan_chunk=5))
            for i in range(2)]
    builder = BlockBuilder(venue, bots)
    builder.run(2)  # quiet blocks: nothing to do
    assert not builder.receipts()
    venue.set_prices({"ETH": 2700, "BTC": 60000})
    crash_block = venue.chain.block_number
    doomed = [(t, m) for t, m in targets if venue.is_liquidatable(t, m)]
    healthy = [(t, m) for t, m in targets if (t, m) not in doomed]
    assert len(doomed) >= 6 and len(healthy) >= 4
    assert any(m is None for _, m in doomed) and any(m is not None for _, m in doomed)
    for _ in range(latency):
        builder.step()
        assert all(is_open(venue, t, m) for t, m in doomed)  # too early for these bots
    result = builder.step()
    assert result.number == crash_block + latency
    assert not any(venue.is_liquidatable(t, m) for t, m in targets)
    assert not any(is_open(venue, t, m) for t, m in doomed)
    assert all(is_open(venue, t, m) for t, m in healthy)
    liquidated = {(e["account"].lower(), e.name) for ld in builder.receipts()
                  for e in ld.receipt.events if e.name in ("PositionLiquidated", "AccountLiquidated")}
    assert {a for a, _ in liquidated} == {t.address.lower() for t, _ in doomed}
    assert all(ld.receipt.block == crash_block + latency for ld in builder.receipts())
    # The highest bidder lands first and takes every target; the other finds nothing left.
    assert bots[1].ledger.wins >= 1 and bots[1].ledger.losses == 0
    assert bots[0].ledger.wins == 0 and bots[0].ledger.losses >= 1
    builder.run(2)  # nothing left to do
    assert sum(b.ledger.txs for b in bots) == len(builder.receipts())


def keeper_session(venue):
    """Sixteen blocks of an oracle falling into a book, with liquidation, order and funding
    keepers; returns the bots with their starting cross balances and ether."""
    ch = venue.clearinghouse
    orderers = [venue.trader(f"orderer{i}", usdc=10_000) for i in range(3)]
    for trader in orderers:
        trader.deposit(5_000)
    liq = LiquidationKeeper(venue, "liq", Strategy(gas_price=3 * GWEI, batch_size=3))
    rival = LiquidationKeeper(venue, "rival", Strategy(gas_price=2 * GWEI, batch_size=2))
    orders = OrderKeeper(venue, "orders", Strategy(gas_price=5 * GWEI))
    funding = FundingKeeper(venue, "funding", Strategy(gas_price=GWEI, poll_interval=3))
    start = venue.chain.block_number
    oracle = OracleKeeper(venue, lambda b: {"ETH": max(2700, 3000 - 20 * (b - start)), "BTC": 60000},
                          strategy=Strategy(gas_price=100 * GWEI))
    bots = [liq, rival, orders, funding]
    rewards_before = {b: ch.cross_balance(b.address) for b in bots}
    eth_before = {b: venue.chain.balance(b.address) for b in bots}
    open_book(venue)
    for trader in orderers:  # one pending market order per account (SPEC §10)
        trader.create_order("ETH", "market_increase", size=0.5, leverage=5, collateral=400,
                            execution_fee=10**16)
    BlockBuilder(venue, [oracle, *bots]).run(16)
    return oracle, bots, rewards_before, eth_before


def test_ledgers_match_chain(venue):
    ch = venue.clearinghouse
    oracle, bots, rewards_before, eth_before = keeper_session(venue)
    liq, rival, orders, funding = bots
    assert liq.ledger.wins >= 1 and liq.ledger.rewards_tokens > 0
    assert rival.ledger.losses >= 1 and rival.ledger.gas_wei > 0
    assert orders.ledger.wins == 3 and orders.ledger.fees_wei > 0
    assert funding.ledger.txs == 6 * len(venue.markets)
    assert not venue.orders()
    for bot in bots:
        led = bot.ledger
        assert led.txs == led.wins + led.losses
        assert led.gas_wei > 0
        assert led.rewards_tokens == ch.cross_balance(bot.address) - rewards_before[bot]
        assert led.gas_wei - led.fees_wei == eth_before[bot] - venue.chain.balance(bot.address)
        assert led.net_profit_usd(Decimal(3000)) == (
            led.rewards_usd + led.fees_usd(Decimal(3000)) - led.gas_usd(Decimal(3000)))
    assert oracle.ledger.txs == 16 and oracle.ledger.losses == 0


def test_ledgers_are_identical_on_both_evms():
    """Gas included: every keeper's ledger, and every ether balance it leaves, is the same to
    the wei on revm as on pyevm (both are always installed, whatever --backend selects)."""
    from venue_fixtures import launch

    outcomes = []
    for backend in ("pyevm", "revm"):
        venue = launch(backend)
        oracle, bots, _, _ = keeper_session(venue)
        outcomes.append([(vars(bot.ledger), venue.chain.balance(bot.address))
                         for bot in (oracle, *bots)])
    assert outcomes[0] == outcomes[1]
    assert all(ledger["gas_wei"] > 0 for ledger, _ in outcomes[0])


def test_gas_auction_one_winner(venue):
    alice = venue.trader("alice", usdc=1_000)
    alice.deposit(1_000)
    alice.open("ETH", size=1, leverage=20, mode="isolated", margin=160)
    bids = (2 * GWEI, 7 * GWEI, 4 * GWEI)
    bots = [LiquidationKeeper(venue, f"k{i}", Strategy(gas_price=bid)) for i, bid in enumerate(bids)]
    eth_before = [b.keeper.eth_balance for b in bots]
    venue.set_price("ETH", 2860)
    assert venue.is_liquidatable(alice, "ETH")
    result = BlockBuilder(venue, bots).step()
    assert [ld.intent.gas_price for ld in result.landed] == sorted(bids, reverse=True)
    assert [ld.won for ld in result.landed] == [True, False, False]
    winner = bots[1]
    assert [b.ledger.wins for b in bots] == [0, 1, 0]
    assert [b.ledger.losses for b in bots] == [1, 0, 1]
    assert winner.ledger.rewards_tokens > 0 and winner.keeper.reward_balance == winner.ledger.rewards_usd
    for bot, before in zip(bots, eth_before):
        assert bot.ledger.gas_wei > 0
        assert before - bot.keeper.eth_balance == bot.ledger.gas_wei
        if bot is not winner:
            assert bot.ledger.rewards_tokens == 0 and bot.keeper.reward_balance == 0
    assert venue.raw_position(alice, "ETH").size == 0


def test_min_profit_keeper_skips_targets_worth_less_than_its_gas(venue):
    trader = venue.trader("thin", usdc=1_000)
    trader.deposit(1_000)
    trader.open("ETH", size=1, leverage=50, mode="isolated", margin=61)
    venue.set_price("ETH", 2_960)
    [target] = venue.liquidatable()[0]
    frugal = LiquidationKeeper(venue, "frugal", Strategy(min_profit_usd=Decimal(50)))
    eager = LiquidationKeeper(venue, "eager", Strategy(min_profit_usd=Decimal("0.01")))
    reward = eager.estimate_rewards_usd([target])[0]
    assert Decimal(1) < reward < Decimal(50)
    BlockBuilder(venue, [frugal, eager]).step()
    assert frugal.ledger.txs == 0 and eager.ledger.wins == 1
    assert venue.position(trader, "ETH") is None


def test_keepers_bid_their_tip_above_the_base_fee_and_wait_past_their_ceiling(venue):
    """With a network base fee a keeper's bid is base fee + tip: the auction still orders the
    tips, and each pays the whole bid for its gas. A keeper whose ceiling the fee passes holds
    its target (it stays due) and sends it once the fee falls back."""
    alice = venue.trader("alice", usdc=1_000)
    alice.deposit(1_000)
    alice.open("ETH", size=1, leverage=20, mode="isolated", margin=160)
    patient = LiquidationKeeper(venue, "patient", Strategy(gas_price=5 * GWEI, max_fee=40 * GWEI))
    eager = LiquidationKeeper(venue, "eager", Strategy(gas_price=1 * GWEI))
    venue.set_price("ETH", 2860)
    builder = BlockBuilder(venue, [patient, eager])
    for bot in (patient, eager):
        bot.base_fee = 50 * GWEI  # a spike: the patient keeper's 55 gwei passes its 40
    assert patient.priced_out and not eager.priced_out and eager.bid == 51 * GWEI
    before = eager.keeper.eth_balance
    [landed] = builder.step().landed
    assert landed.intent.bot is eager and landed.intent.gas_price == 51 * GWEI and landed.won
    assert before - eager.keeper.eth_balance == landed.receipt.gas_used * 51 * GWEI
    assert (patient.ledger.txs, patient.ledger.waited) == (0, 1)

    bob = venue.trader("bob", usdc=1_000)
    bob.deposit(1_000)
    bob.open("ETH", size=1, leverage=20, mode="isolated", margin=160)
    venue.set_price("ETH", 2720)
    lone = BlockBuilder(venue, [patient])
    patient.base_fee = 36 * GWEI  # 41 gwei: still over
    assert lone.step().landed == () and patient.ledger.waited == 2
    patient.base_fee = 35 * GWEI  # exactly its ceiling: it goes, the held target still due
    [landed] = lone.step().landed
    assert landed.intent.gas_price == 40 * GWEI and landed.won
    assert venue.raw_position(bob, "ETH").size == 0


def test_a_ceiling_below_the_tip_is_refused():
    with pytest.raises(ValueError) as info:
        Strategy(gas_price=5 * GWEI, max_fee=4 * GWEI)
    assert str(info.value) == "max_fee: must be >= gas_price (5000000000 wei), got 4000000000"
