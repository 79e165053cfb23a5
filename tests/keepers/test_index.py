"""The keepers' event index (protocol.keepers.index): the book it keeps from receipts equals a
full chain scan, it finds every liquidatable target while reading only candidates, an idle block
costs it nothing whatever the size of the book, and keepers using it act exactly as keepers
scanning the chain."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

import pytest

from protocol import MarketConfig, Venue
from protocol.bench.scaling import populate
from protocol.keepers import BlockBuilder, OrderKeeper
from protocol.keepers.index import BookIndex, IndexMismatch, chain_equities
from protocol.report import write_run
from protocol.sim.engine import Simulation, run_study
from protocol.sim.loader import ScenarioError, builtin_scenarios, load_scenario

MARKETS = [MarketConfig(symbol="ETH", max_leverage=50, initial_price=Decimal(3000)),
           MarketConfig(symbol="BTC", max_leverage=20, initial_price=Decimal(60000))]
BUILT_IN = sorted(builtin_scenarios())


@pytest.fixture()
def book():
    """A venue with 60 positions (isolated longs and shorts, every tenth account cross)."""
    venue = Venue.launch(backend="revm", markets=MARKETS)
    populate(venue, 60)
    return venue


def _full_scan(venue) -> list:
    found, start = [], 0
    while start < venue.account_count():
        page, start = venue.liquidatable(start, 7)
        found.extend(page)
    return found


def test_the_index_finds_what_a_full_scan_finds_reading_only_candidates(book):
    index = BookIndex.of(book)
    assert index.liquidatable() == [] == _full_scan(book)
    assert index.reads == 60  # everything read once, when first asked
    assert index.liquidatable() == []
    assert index.reads == 60  # nothing happened: nothing read
    book.set_prices({"ETH": Decimal(3000) * Decimal("0.98"), "BTC": Decimal(60000) * Decimal("1.03")})
    found = index.liquidatable()
    assert found == _full_scan(book) and len(found) > 10
    read = index.reads - 60
    assert len(found) <= read < 60  # the moved ones near liquidation, not the whole book
    index.verify()


def test_an_idle_block_costs_the_index_nothing_at_any_book_size(book):
    index = BookIndex.of(book)
    index.liquidatable()
    before = index.reads
    for _ in range(5):
        book.advance_time(60)
        book.set_prices({"ETH": 3000, "BTC": 60000})
        assert index.liquidatable() == []
    assert index.reads == before


def test_accrual_alone_makes_a_position_due_by_its_deadline():
    """Borrowing at the largest rate drains a 50x long with no price move: the index reads it
    by the deadline its rate bound sets, and finds it liquidatable when the chain does."""
    eth = MarketConfig(symbol="ETH", max_leverage=50, initial_price=Decimal(3000),
                       borrow_rate_per_year=Decimal("3.1536"))  # the largest: 1e11 WAD/s
    venue = Venue.launch(backend="revm", markets=[eth])
    trader = venue.trader("t", usdc=10_000)
    trader.deposit(10_000)
    trader.open("ETH", 10, 50, margin=650)
    index = BookIndex.of(venue)
    assert index.liquidatable() == []
    found_at = None
    for hour in range(1, 400):
        venue.advance_time(3600)
        venue.set_prices({"ETH": 3000})
        found = index.liquidatable()
        assert found == _full_scan(venue), hour
        if found:
            found_at = hour
            break
    assert found_at is not None and index.reads < found_at  # read by deadline, not every hour


def test_the_index_follows_positions_orders_and_lp_requests_and_rebuilds_after_a_rewind(book):
    index = BookIndex.of(book)
    trader = book.trader("orders", usdc=100_000)
    trader.deposit(50_000)
    stop = trader.create_order("ETH", "limit_increase", 1, leverage=5, collateral=1_000,
                               trigger_price=2_900)
    market = trader.create_order("BTC", "market_increase", Decimal("0.1"), leverage=5,
                                 collateral=2_000)
    lp = trader.request_deposit(1_000)
    assert sorted(index.orders) == sorted([stop.order_id, market.order_id])
    assert index.lp_requests == {lp.request_id: trader.address}
    assert index.order_candidates() == [market.order_id]  # the limit waits for 2,900
    book.set_prices({"ETH": 2_890, "BTC": 60_000})
    assert index.order_candidates() == sorted([stop.order_id, market.order_id])
    index.verify()
    token = book.chain.take_snapshot()
    other = book.trader("direct", usdc=10_000)
    other.deposit(5_000)
    other.open("ETH", -2, 10, margin=1_000)
    builder = BlockBuilder(book, [OrderKeeper(book, "ok")])
    builder.run(2)  # the market order and the LP deposit first; the limit order once unlocked
    assert len(builder.receipts()) == 3
    assert index.orders == {} and index.lp_requests == {}
    index.verify()
    book.chain.revert_to(token)
    index.verify()  # rebuilt from the chain
    assert sorted(index.orders) == sorted([stop.order_id, market.order_id])


def test_transactions_inside_a_snapshot_do_not_reach_the_index(book):
    index = BookIndex.of(book)
    index.liquidatable()
    trader = book.trader("inside", usdc=10_000)
    with book.snapshot():
        trader.deposit(5_000)
        trader.open("ETH", 1, 10, margin=500)
        assert (trader.address, 0) not in index.sizes  # the state outside the snapshot
    index.verify()


def test_a_wrong_index_fails_loudly(book):
    index = BookIndex.of(book)
    index.verify()
    key = next(iter(index.sizes))
    index.sizes[key] += 1
    with pytest.raises(IndexMismatch, match="open positions"):
        index.verify()
    index.sizes[key] -= 1
    account = next(iter(index.holdings))
    index.holdings[account] = replace(index.holdings[account],
                                      tokens=index.holdings[account].tokens + 1)
    with pytest.raises(IndexMismatch, match="health|equities"):
        index.verify()


def test_equity_and_health_from_holdings_equal_the_readers_to_the_wei(book):
    """Funding and borrowing accrue for hours on a skewed book; an LP holds shares while the
    pool's value moves; a cross account spans two markets."""
    index = BookIndex.of(book)
    lp = book.trader("lp", usdc=50_000)
    request = lp.request_deposit(20_000)
    book.advance_time(60)
    book.set_prices({"ETH": 3000, "BTC": 60000})
    book.keeper("lp-keeper").execute_lp_request(request.request_id).raise_for_status()
    assert book.lp_shares(lp) > 0
    other = book.trader("other side", usdc=20_000)  # both sides open: funding flows
    other.deposit(20_000)
    other.open("ETH", -2, 10, margin=1_000)
    other.open("BTC", Decimal("0.1"), 10, mode="cross")
    for hour in range(3):
        book.advance_time(3600)
        book.set_prices({"ETH": 3000 - 20 * hour, "BTC": 60000 + 300 * hour})
        accounts = [lp.address] + [a for a, _ in index.targets()]
        assert index.equities(accounts) == chain_equities(book, accounts)
        targets = index.targets()
        chain = [tuple(h[2:]) for h in book.reader.health(book.clearinghouse.address,
                                                          book.encode_targets(targets))]
        assert index.health(targets) == chain
    assert any(m is None for _, m in index.targets())
    assert book.clearinghouse.pending_charges(other.address, 0)[0] < 0  # shorts receive


def test_keepers_on_the_index_act_as_keepers_scanning_the_chain():
    """The crash scenario, small, with both keepers scanning the chain or reading the index:
    the same liquidations, orders and numbers, block by block."""
    sc = load_scenario("crash", {"agents.count": 8})

    def keepers(scan):
        return tuple(replace(k, strategy=replace(k.strategy, scan=scan)) for k in sc.keepers)

    chain = Simulation(sc.with_(keepers=keepers("chain"))).run()
    index = Simulation(sc.with_(keepers=keepers("index"))).run()
    assert index.summary["liquidations"] > 5
    assert [m.__dict__ for m in index.liquidations] == [m.__dict__ for m in chain.liquidations]
    assert index.rows == chain.rows


@pytest.mark.parametrize("name", ["default", "crash"])
def test_metrics_from_the_index_equal_the_chains_at_every_sample(name, tmp_path):
    """Every equity sample checked against ``Reader.equities``, and every block the index's
    book, health and liquidatable targets against a full chain scan."""
    sc = load_scenario(name, {"agents.count": 5, "spot_check_every": 1, "verify_index": 1})
    result = Simulation(sc).run()
    assert result.summary["liquidations"] > 0 and len(result.positions) > 100
    write_run(result, tmp_path)
    assert json.loads((tmp_path / "run.json").read_text())["spot_check_every"] == 1


@pytest.mark.parametrize("name", BUILT_IN)
def test_every_built_in_scenario_runs_with_its_index_verified(name):
    sc = load_scenario(name, {"agents.count": 4, "verify_index": 2, "spot_check_every": 10})
    if sc.study or sc.study_modes:
        run_study(sc)
    else:
        Simulation(sc).run()


def test_verify_index_is_a_scenario_key_that_refuses_negatives():
    with pytest.raises(ScenarioError, match="verify_index"):
        load_scenario("default", {"verify_index": -1})


@pytest.mark.parametrize("overrides", [
    {"venue.modules": {"rates": "HyperliquidRates"}},
    {"venue.modules": {"margin": "TenPercentMoreMargin"}},
    {"markets.ETH.tiers": [[0, 50], [200_000, 20], [1_000_000, 10]]},
    {"markets.ETH.impact_factor_positive": 0.000000001,
     "markets.ETH.impact_factor_negative": 0.000000002,
     "markets.ETH.impact_exponent_positive": 2, "markets.ETH.impact_exponent_negative": 2},
], ids=["rates module", "margin module", "tiers", "price impact"])
def test_the_index_holds_with_modules_tiers_and_impact(overrides):
    """Where the valuation mirror stops (modules, held impact) the chain answers; tiers are
    mirrored: the crash still verifies block by block and its equities sample by sample."""
    sc = load_scenario("crash", {"agents.count": 4, "verify_index": 3, "spot_check_every": 1,
                                 **overrides})
    assert Simulation(sc).run().summary["liquidations"] > 0
