"""Issue 23, section 1, findings 8-10: auto-deleveraging is a keeper role and goes in rank order,
splitting a capped close never pays more than closing at once, and an LP deposit or redemption
cannot lose value to the profit cap (it is refused while the cap binds).

The venue: a 1M pool, zero fees (so every amount below is exact and known), ETH and BTC with the
default reserve factor of 100%. Every test runs on pyevm, revm and anvil (``chain_backend``)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from venue_fixtures import ZERO_FEES, execute_lp_request, funded

from protocol import MarketConfig, Venue, errors
from protocol.constants import WAD
from protocol.testing import assert_invariants

USDC = 10**6
MAX_UINT = 2**256 - 1
CLOSE_ALL = MAX_UINT
MARKETS = [MarketConfig(symbol="ETH", max_leverage=50, initial_price=Decimal(3000), **ZERO_FEES),
           MarketConfig(symbol="BTC", max_leverage=20, initial_price=Decimal(60000), **ZERO_FEES)]


@pytest.fixture(scope="module")
def base(chain_backend):
    return Venue.launch(backend=chain_backend, markets=MARKETS, pool_liquidity=1_000_000)


@pytest.fixture()
def venue(base):
    with base.snapshot():
        yield base


def adl_keeper(venue, name="adl"):
    """A keeper holding the Clearinghouse's ADL_KEEPER_ROLE."""
    return venue.keeper(name, adl=True)


def two_winners(venue):
    """Two 450k longs in two markets, each +120%: 540k of profit each, 1.08M pending against
    a 1M pool whose cap is 900k: every profit is paid 900 / 1,080 = 5/6."""
    alice = funded(venue, "alice", 100_000, deposit=100_000)
    bob = funded(venue, "bob", 100_000, deposit=100_000)
    alice.open("ETH", size=150, leverage=10, mode="isolated", margin=45_000)  # score 3.72
    bob.open("BTC", size=Decimal("7.5"), leverage=10, mode="cross")  # score 3.40
    venue.set_prices({"ETH": 6_600, "BTC": 132_000})
    return alice, bob


def paid(receipts) -> int:
    """Profit (tokens) the pool paid over some closes."""
    return sum(e["realizedPnl"] for r in receipts for e in r.events
               if e.name in ("PositionDecreased", "AutoDeleveraged", "PositionLiquidated"))


def close_in_pieces(trader, market, size: int, pieces: int):
    """Close ``size`` (whole base units) of ``trader``'s position in equal pieces, one
    transaction (one block) each, back to back."""
    return [trader.decrease(market, size // pieces) for _ in range(pieces)]


# ====================================================================== 8. auto-deleveraging
def test_the_owner_cannot_close_its_own_position_through_adl(venue):
    """With the trigger holding, an owner used to close through ADL with no fee. ADL is a
    keeper role now, and never on the keeper's own position (nor one it operates)."""
    alice, bob = two_winners(venue)
    ch = venue.clearinghouse
    assert venue.solvency().adl_allowed
    receipt = ch.auto_deleverage(alice.address, 0, CLOSE_ALL, sender=alice.address)
    assert receipt.error is not None and receipt.error.error == "Unauthorized", receipt.events
    assert [a.lower() for a in receipt.error.args] == [alice.address.lower()] * 2
    # Holding the role does not let an owner (or its operator) deleverage its own position.
    venue.grant_role("ADL_KEEPER", alice.address)
    receipt = ch.auto_deleverage(alice.address, 0, CLOSE_ALL, sender=alice.address)
    assert receipt.error.error == "Unauthorized"
    operator = adl_keeper(venue, "operator")
    ch.set_operator(operator.address, True, sender=alice.address).raise_for_status()
    receipt = ch.auto_deleverage(alice.address, 0, CLOSE_ALL, sender=operator.address)
    assert receipt.error.error == "Unauthorized"
    assert venue.raw_position(alice, "ETH").size == 150 * WAD


def test_a_stranger_cannot_deleverage(venue):
    """A stranger used to deleverage a 2x position while the top-ranked 10x one stayed open."""
    alice, bob = two_winners(venue)
    dave = funded(venue, "dave", 100_000, deposit=100_000)
    venue.set_prices({"ETH": 3_000, "BTC": 60_000})
    dave.open("ETH", size=10, leverage=2, mode="isolated", margin=15_000)
    venue.set_prices({"ETH": 6_600, "BTC": 132_000})
    eve = venue.keeper("eve")  # no role
    receipt = venue.clearinghouse.auto_deleverage(dave.address, 0, CLOSE_ALL, sender=eve.address)
    assert receipt.error is not None and receipt.error.error == "Unauthorized", receipt.events
    assert venue.raw_position(dave, "ETH").size == 10 * WAD


def test_adl_goes_in_rank_order_checked_on_chain(venue):
    """The highest score first: deleveraging a lower-ranked position reverts naming the one
    above it, with its score; ``adl_candidates`` lists them in the chain's order."""
    alice, bob = two_winners(venue)
    dave = funded(venue, "dave", 100_000, deposit=100_000)
    venue.set_prices({"ETH": 3_000, "BTC": 60_000})
    dave.open("ETH", size=10, leverage=2, mode="isolated", margin=15_000)
    venue.set_prices({"ETH": 6_600, "BTC": 132_000})
    ch, keeper = venue.clearinghouse, adl_keeper(venue)
    ranked = [(c.account, c.market, c.raw_score) for c in venue.adl_candidates("ETH") + venue.adl_candidates("BTC")]
    ranked.sort(key=lambda c: -c[2])
    alice_score = 22 * WAD // 10 * 990_000 * WAD // (585_000 * WAD)
    bob_score = 22 * WAD // 10 * 990_000 * WAD // (640_000 * WAD)
    dave_score = 22 * WAD // 10 * 66_000 * WAD // (51_000 * WAD)
    assert ranked == [(alice.address, "ETH", alice_score), (bob.address, "BTC", bob_score),
                      (dave.address, "ETH", dave_score)]
    receipt = ch.auto_deleverage(dave.address, 0, CLOSE_ALL, sender=keeper.address)
    assert receipt.error is not None and receipt.error.error == "AdlNotHighestRanked", receipt.events
    assert (receipt.error.args[0].lower(), receipt.error.args[1:]) == (alice.address.lower(), (0, alice_score))
    receipt = ch.auto_deleverage(bob.address, 1, WAD, sender=keeper.address)  # second
    assert receipt.error.error == "AdlNotHighestRanked" and receipt.error.args[1:] == (0, alice_score)
    event = keeper.auto_deleverage(alice, "ETH").events_named("AutoDeleveraged")[0]
    assert event["score"] == alice_score and event["sizeDelta"] == -150 * WAD
    receipt = ch.auto_deleverage(dave.address, 0, CLOSE_ALL, sender=keeper.address)
    assert receipt.error.error == "AdlNotHighestRanked"
    assert (receipt.error.args[0].lower(), receipt.error.args[1:]) == (bob.address.lower(), (1, bob_score))
    assert keeper.auto_deleverage(bob, "BTC", size=1).events_named("AutoDeleveraged")
    assert_invariants(venue)


def test_positions_adl_cannot_close_do_not_block_the_rank(venue):
    """Only positions ADL could close now rank: a winner on a side whose losers net it to a
    loss (closing it would raise the pnl factor: AdlFactorNotLowered) is passed over."""
    alice = funded(venue, "alice", 200_000, deposit=200_000)
    erin = funded(venue, "erin", 10_000, deposit=10_000)
    frank = funded(venue, "frank", 100_000, deposit=100_000)
    alice.open("ETH", size=150, leverage=10, mode="isolated", margin=100_000)  # score 4.05
    erin.open("BTC", size=Decimal("0.1"), leverage=20, mode="isolated", margin=300)  # 8.07
    venue.set_price("BTC", 70_000)
    frank.open("BTC", size=3, leverage=10, mode="cross")
    venue.set_prices({"ETH": 9_000, "BTC": 66_000})  # erin +600, frank -12k: BTC longs net a loss
    ch, keeper = venue.clearinghouse, adl_keeper(venue)
    s = venue.solvency()
    assert s.pending_profit == 900_000 and s.adl_allowed
    assert venue.adl_candidates("BTC") == []  # its side is not in profit
    with venue.snapshot():
        receipt = ch.auto_deleverage(erin.address, 1, CLOSE_ALL, sender=keeper.address)
        assert receipt.error is not None and receipt.error.error == "AdlFactorNotLowered"
    receipt = keeper.auto_deleverage(alice, "ETH", size=10)
    assert receipt.events_named("AutoDeleveraged")


def test_a_cross_account_with_a_stale_market_is_passed_over(venue):
    alice = funded(venue, "alice", 200_000, deposit=200_000)
    bob = funded(venue, "bob", 100_000, deposit=100_000)
    alice.open("ETH", size=150, leverage=10, mode="isolated", margin=150_000)  # score 3.16
    bob.open("BTC", size=Decimal("7.5"), leverage=10, mode="cross")  # score 3.40
    bob.open("ETH", size=Decimal("0.01"), leverage=10, mode="cross")
    venue.set_prices({"ETH": 6_600, "BTC": 132_000})
    ch, keeper = venue.clearinghouse, adl_keeper(venue)
    with venue.snapshot():
        receipt = ch.auto_deleverage(alice.address, 0, WAD, sender=keeper.address)
        assert receipt.error is not None and receipt.error.error == "AdlNotHighestRanked"
        assert receipt.error.args[0].lower() == bob.address.lower() and receipt.error.args[1] == 1
    venue.advance_time(3_601)
    venue.set_price("ETH", 6_600)  # BTC's last price is now past its heartbeat
    assert keeper.auto_deleverage(alice, "ETH", size=1).events_named("AutoDeleveraged")


def test_the_rank_check_costs_a_bounded_amount_per_registered_account(venue):
    """The on-chain rank scan reads every registered account: with both markets' longs in
    profit, an account with no position adds at most 7,500 gas (measured 7,366: 2.5k for the
    account, 2.4k per market with a side in profit), one with a lower-ranked profitable
    isolated position at most 15,500 (measured 14,979)."""
    alice, bob = two_winners(venue)
    ch, keeper = venue.clearinghouse, adl_keeper(venue)

    def gas():
        with venue.snapshot():
            receipt = ch.auto_deleverage(alice.address, 0, WAD, sender=keeper.address)
            assert receipt.status, receipt.error
            return receipt.gas_used

    base = gas()
    for i in range(10):
        funded(venue, f"empty{i}", 100, deposit=100)
    empty = gas()
    venue.set_prices({"ETH": 3_000, "BTC": 60_000})
    for i in range(10):
        funded(venue, f"small{i}", 1_000, deposit=1_000).open("ETH", size=Decimal("0.1"), leverage=2,
                                                             mode="isolated", margin=150)
    venue.set_prices({"ETH": 6_600, "BTC": 132_000})
    small = gas()
    assert 0 < empty - base <= 10 * 7_500, empty - base
    assert 0 < small - empty <= 10 * 15_500, small - empty


# ====================================================================== 9. split capped closes
@pytest.mark.parametrize("pieces", [1, 2, 10])
def test_splitting_a_capped_close_pays_what_closing_at_once_pays(venue, pieces):
    """150 ETH closed at once, in 2 or in 10 pieces (one block each): paid 540k x 5/6 = 450k
    every time, and 450k again to bob afterwards."""
    alice, bob = two_winners(venue)
    receipts = close_in_pieces(alice, "ETH", 150, pieces)
    assert paid(receipts) == 450_000 * USDC
    assert venue.raw_position(alice, "ETH").size == 0
    assert paid([bob.close("BTC")]) == 450_000 * USDC
    assert venue.clearinghouse.pool_assets() == 100_000 * USDC  # 900k paid: the cap, no more
    assert_invariants(venue)


@pytest.mark.parametrize("first", ["alice", "bob"])
def test_two_winners_are_paid_the_same_fraction_in_either_order(venue, first):
    alice, bob = two_winners(venue)
    order = [alice, bob] if first == "alice" else [bob, alice]
    amounts = [paid([t.close("ETH" if t is alice else "BTC")]) for t in order]
    assert amounts == [450_000 * USDC, 450_000 * USDC]
    ch = venue.clearinghouse
    assert ch.pool_assets() == 100_000 * USDC
    profit, budget, held = ch.profit_budget()
    assert (profit, budget, held) == (0, 90_000 * WAD, 0)  # the last close ended the episode


def carol_in_the_rally(venue):
    """A cross account long 10 ETH (+36k at the rally) and short 1 BTC (-72k): under water,
    liquidatable, first in the ADL rank (no value left) and in profit on its ETH leg. Pending
    profit 540k + 36k + 540k = 1.116M against the 900k budget: every close is paid 25/31."""
    alice, bob = two_winners(venue)
    venue.set_prices({"ETH": 3_000, "BTC": 60_000})
    carol = funded(venue, "carol", 7_000, deposit=7_000)
    carol.open("ETH", size=10, leverage=20, mode="cross")
    carol.open("BTC", size=-1, leverage=20, mode="cross")
    venue.set_prices({"ETH": 6_600, "BTC": 132_000})
    assert venue.solvency().pending_profit == 1_116_000 and venue.is_liquidatable(carol)
    return alice, bob, carol


def test_a_decrease_a_liquidation_and_an_adl_are_paid_the_same_fraction(venue):
    alice, bob, carol = carol_in_the_rally(venue)
    carol_paid = 36_000 * 25 * USDC // 31  # 29,032.258064
    with venue.snapshot():  # a decrease: 31 ETH, +111.6k, paid 25/31 of it
        assert paid([alice.decrease("ETH", 31)]) == 90_000 * USDC
    with venue.snapshot():  # a liquidation: carol's ETH leg
        receipt = venue.keeper("k").liquidate(carol)
        capped = receipt.events_named("ProfitCapped")[0]
        assert (capped["full"], capped["paid"]) == (36_000 * USDC, carol_paid)
    keeper = adl_keeper(venue)
    receipt = venue.clearinghouse.auto_deleverage(alice.address, 0, WAD, sender=keeper.address)
    assert receipt.error.error == "AdlNotHighestRanked"  # carol has no value left: she ranks first
    assert receipt.error.args[1:] == (0, MAX_UINT)
    event = keeper.auto_deleverage(carol, "ETH").events_named("AutoDeleveraged")[0]
    assert event["realizedPnl"] == carol_paid
    assert_invariants(venue)


def test_the_pool_never_pays_more_than_the_cap(venue):
    """Pieces, two users, a decrease and ADL in any mix: no close is paid more than the budget
    before it, and the winners of the episode share exactly the 900k budget the cap set when
    it first bound."""
    alice, bob = two_winners(venue)
    ch, keeper = venue.clearinghouse, adl_keeper(venue)
    actions = [lambda: alice.decrease("ETH", 50), lambda: bob.decrease("BTC", 2),
               lambda: keeper.auto_deleverage(alice, "ETH", size=40),
               lambda: alice.decrease("ETH", 60), lambda: bob.close("BTC")]
    amounts = []
    for action in actions:
        budget = ch.profit_budget()[1]
        amounts.append(paid([action()]))
        assert amounts[-1] * 10**12 <= budget
    assert amounts == [x * USDC for x in (150_000, 120_000, 120_000, 180_000, 330_000)]
    assert ch.pool_assets() == 100_000 * USDC
    assert_invariants(venue)


def test_a_loss_is_paid_in_full_while_the_cap_binds(venue):
    """Losses are never capped: a loser closing mid-episode pays its whole loss into the pool,
    and f = 90% of it joins the budget the winners share (SPEC §8.1)."""
    dave = funded(venue, "dave", 100_000, deposit=100_000)
    dave.open("ETH", size=-5, leverage=10, mode="isolated", margin=30_000)
    alice, bob = two_winners(venue)  # ETH 6,600: dave's short is down 18,000
    ch = venue.clearinghouse
    assert venue.solvency().capped and ch.profit_budget()[1] == 900_000 * WAD
    receipt = dave.close("ETH")
    assert [e["realizedPnl"] for e in receipt.events_named("PositionDecreased")] == [-18_000 * USDC]
    assert not receipt.events_named("ProfitCapped")
    assert venue.account(dave).cross_balance == 100_000 - 30_000 + 12_000
    assert ch.pool_assets() == 1_018_000 * USDC
    assert ch.profit_budget()[1] == 916_200 * WAD
    assert paid([alice.close("ETH")]) == 458_100 * USDC  # half the pending profit, half the budget
    assert_invariants(venue)


def test_when_the_episode_ends_profit_is_paid_in_full_again(venue):
    """Prices fall mid-episode until the budget covers every pending profit: the next
    profitable close is paid in full and the episode's hold is released. A new episode starts
    from the cap of the pool as it is then."""
    alice, bob = two_winners(venue)
    ch = venue.clearinghouse
    assert paid([alice.decrease("ETH", 75)]) == 225_000 * USDC  # capped: 5/6 of 270k
    assert ch.profit_budget() == (810_000 * WAD, 675_000 * WAD, 22_500 * WAD)
    venue.set_prices({"ETH": 5_000, "BTC": 120_000})  # alice +150k, bob +450k: 600k <= 675k
    assert not venue.solvency().capped
    receipt = bob.close("BTC")
    assert paid([receipt]) == 450_000 * USDC and not receipt.events_named("ProfitCapped")
    assert ch.profit_budget() == (150_000 * WAD, 292_500 * WAD, 0)  # 0.9 x 325k
    venue.set_price("ETH", 7_000)  # alice +300k against 292.5k: a new episode
    assert paid([alice.close("ETH")]) == 292_500 * USDC
    assert_invariants(venue)


def test_fees_and_borrowing_of_a_piece_do_not_fund_the_next(chain_backend):
    """With a taker fee and borrowing, each piece pays them into the pool; the episode keeps
    them for the LPs, so pieces are paid no more profit than one close (within dust)."""
    fees = [MarketConfig(symbol="ETH", max_leverage=50, initial_price=Decimal(3000), taker_fee_bps=10,
                         funding_rate_per_hour=Decimal(0), max_funding_rate_per_hour=Decimal(0),
                         borrow_rate_per_year=Decimal("0.500000000003712")), MARKETS[1]]  # nearest exact 50%
    venue = Venue.launch(backend=chain_backend, markets=fees, pool_liquidity=1_000_000)
    alice, bob = two_winners(venue)
    venue.advance_time(3_600)
    venue.set_prices({"ETH": 6_600, "BTC": 132_000})
    profit, budget, _ = venue.clearinghouse.profit_budget()
    assert (profit, budget) == (1_080_000 * WAD, 900_405 * WAD)  # 0.9 x (1M + alice's 450 fee)
    results = {}
    for pieces in (1, 2, 10):
        with venue.snapshot():
            results[pieces] = paid(close_in_pieces(alice, "ETH", 150, pieces))
    assert results[1] == 540_000 * USDC * 900_405 // 1_080_000  # 450,202.5
    for pieces in (2, 10):
        assert results[1] - pieces <= results[pieces] <= results[1], results


# ====================================================================== 10. LPs and the cap
def test_a_deposit_into_a_capped_pool_is_refused_not_diluted(venue):
    """The reproduction: 1M deposited while winners are owed more than the cap used to be
    worth 836k at once (their profit, counted at 900k, was then counted at 1.08M)."""
    two_winners(venue)
    s = venue.solvency()
    assert s.capped and (s.pending_profit, s.budget) == (1_080_000, 900_000)
    executor = venue.keeper("executor").address  # an EOA executor (EVMs refuse calls from code)
    venue.grant_role("EXECUTOR", executor)
    assert venue.pool.direct_access(executor)
    assert venue.pool.max_deposit(executor, sender=executor) == 0  # the executor's truth
    lp = venue.trader("lp2", usdc=1_000_000)
    request = lp.request_deposit(1_000_000)
    receipt = execute_lp_request(venue, request)
    executed = receipt.events_named("LpRequestExecuted")
    if executed:
        value = venue.pool.preview_redeem(venue.lp_shares(lp))
        assert value >= venue.tokens(1_000_000) - 1, f"1M deposited is worth {value / USDC:,.6f}"
    failed = receipt.events_named("LpRequestFailed")[0]
    reason = venue.chain.registry.decode_error(failed["reason"])
    assert isinstance(reason, errors.ProfitCapBinds)
    assert reason.args == (1_080_000 * WAD, 900_000 * WAD)
    assert venue.usdc.balance_of(lp.address) == venue.tokens(1_000_000)  # escrow back
    assert_invariants(venue)


def one_eth_long(venue, price):
    """1 ETH long: its profit is its price less 3,000, to the wei. The cap is 900k."""
    alice = funded(venue, "alice", 10_000, deposit=10_000)
    alice.open("ETH", size=1, leverage=10, mode="cross")
    venue.set_price("ETH", price)
    return alice


@pytest.mark.parametrize("above", [0, 1])
def test_a_deposit_at_the_cap_boundary(venue, above):
    """Pending profit exactly at the budget: the deposit runs and is worth what it paid. One
    wei above: refused."""
    one_eth_long(venue, Decimal(903_000) + Decimal(above) / WAD)
    assert venue.clearinghouse.solvency()[0] == 900_000 * WAD + above
    lp = venue.trader("lp2", usdc=1_000_000)
    receipt = execute_lp_request(venue, lp.request_deposit(1_000_000))
    if above:
        reason = venue.chain.registry.decode_error(receipt.events_named("LpRequestFailed")[0]["reason"])
        assert isinstance(reason, errors.ProfitCapBinds), receipt.events
        assert reason.args == (900_000 * WAD + 1, 900_000 * WAD)
    else:
        assert receipt.events_named("LpRequestExecuted")
        value = venue.pool.preview_redeem(venue.lp_shares(lp))
        assert venue.tokens(1_000_000) - 1 <= value <= venue.tokens(1_000_000)


def test_a_redemption_may_not_make_the_cap_bind(venue):
    """An LP leaving shrinks the cap: at most what keeps pending profit within the budget may
    leave (maxRedeemByRequest says exactly how much), and nothing while the cap binds."""
    lp = venue.trader("lp2", usdc=3_000_000)
    lp.provide_liquidity(3_000_000)  # nothing open yet: directly; the pool holds 4M, lp2 3/4
    one_eth_long(venue, 3_153_000)  # 3.15M pending: the 3.6M budget covers it while 3.5M stay
    pool, ch = venue.pool, venue.clearinghouse
    assert ch.max_pool_withdrawal() == 500_000 * USDC
    shares = pool.max_redeem_by_request(lp.address)
    unit = pool.convert_to_shares(1) + 1  # shares worth a little more than a token unit
    assert pool.preview_redeem(shares) <= 500_000 * USDC < pool.preview_redeem(shares + unit)
    assert shares < venue.lp_shares(lp)  # lp2's 637.5k may not all leave
    failed = execute_lp_request(venue, lp.request_redeem(shares + unit)).events_named("LpRequestFailed")
    assert failed, "a redemption that makes the cap bind went through"
    reason = venue.chain.registry.decode_error(failed[0]["reason"])
    assert isinstance(reason, errors.ERC4626ExceededMaxRedeem) and reason.args[2] == shares
    expected = pool.preview_redeem(shares)
    executed = execute_lp_request(venue, lp.request_redeem(shares)).events_named("LpRequestExecuted")
    assert executed[0]["out"] == expected
    profit, budget, held = ch.profit_budget()
    assert profit == 3_150_000 * WAD and 0 <= budget - profit < 10**12 and held == 0
    assert ch.max_pool_withdrawal() <= 1  # what the redemption's rounding left behind
    venue.set_price("ETH", 3_153_001)  # now it binds: nothing may leave
    assert ch.max_pool_withdrawal() == 0
    failed = execute_lp_request(venue, lp.request_redeem(10**6)).events_named("LpRequestFailed")
    reason = venue.chain.registry.decode_error(failed[0]["reason"])
    assert isinstance(reason, errors.ERC4626ExceededMaxRedeem) and reason.args[2] == 0
    assert_invariants(venue)


def test_direct_erc4626_path_with_no_position_open(venue):
    """After an episode, with every position closed, the pool is direct again and the cap has
    nothing to hold back: a deposit and a redemption run at once, exactly."""
    alice, bob = two_winners(venue)
    alice.close("ETH")
    bob.close("BTC")
    ch = venue.clearinghouse
    assert ch.open_entry() == 0 and ch.profit_budget() == (0, 90_000 * WAD, 0)
    lp = venue.trader("lp2", usdc=1_000_000)
    lp.provide_liquidity(1_000_000)
    value = venue.pool.preview_redeem(venue.lp_shares(lp))
    assert venue.tokens(1_000_000) - 1 <= value <= venue.tokens(1_000_000)
    assert venue.pool.max_withdraw(lp.address, sender=lp.address) == value
    lp.withdraw_liquidity(500_000)
    assert_invariants(venue)
