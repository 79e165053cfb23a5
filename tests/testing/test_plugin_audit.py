"""The auditor's plugin: the ``perpsim`` marker and ``venue_factory`` (custom markets and launch
options), the admin helpers on ``Venue``, the ``--perpsim-gas`` report and decoded call traces
(``--perpsim-trace``, ``receipt.trace``, ``exc.trace``). Plugin behaviour is checked by running
pytest inside pytest (``pytester``) on the real contracts."""

from __future__ import annotations

import json
from decimal import Decimal

import pyrevm  # noqa: F401  in-process inner runs drop the modules they import, and a PyO3
import pytest  # module cannot be imported twice: imported here, it outlives them

from protocol import MarketConfig, Venue
from protocol.chain.trace import CallTrace
from protocol.errors import Reverted
from protocol.testing.gas_report import DEPLOY, GasReport
from protocol.venue.bounds import ParameterOutOfBounds

pytest_plugins = ["pytester"]

QUIET = ("-p", "no:cacheprovider", "-q")
SOL = MarketConfig(symbol="SOL", max_leverage=20, taker_fee_bps=7, initial_price=Decimal(150))


def run_inner(pytester, backend: str, *args: str):
    return pytester.runpytest("--perpsim-backend", backend, *QUIET, *args)


# ====================================================================== marker and factory
def test_the_marker_launches_the_venue_with_its_markets_and_options(pytester, backend):
    pytester.makepyfile(test_marked="""
        import json
        from decimal import Decimal
        from pathlib import Path

        import pytest

        from protocol import MarketConfig

        SOL = MarketConfig(symbol="SOL", max_leverage=20, taker_fee_bps=7,
                           initial_price=Decimal(150))

        def read_back(venue):
            ch = venue.clearinghouse
            return {"count": ch.call("marketCount"),
                    "symbol": ch.call("marketSymbol", 0).rstrip(b"\\0").decode(),
                    "config": list(ch.call("marketConfig", 0)),
                    "price": str(venue.price(list(venue.markets)[0])),
                    "instant": ch.call("instantTrading"),
                    "pool": str(venue.pool_value()), "insurance": str(venue.insurance_fund()),
                    "max_age": venue.oracle.call("defaultMaxPriceAge")}

        @pytest.mark.perpsim(markets=[SOL], instant_trading=False, pool_liquidity=123_456,
                             insurance=789, max_price_age=600)
        def test_marked(venue):
            Path("marked.json").write_text(json.dumps(read_back(venue)))
            venue.trader("someone", usdc=1)  # changed, then reverted before the next test

        @pytest.mark.perpsim(markets=[SOL], instant_trading=False, pool_liquidity=123_456,
                             insurance=789, max_price_age=600)
        def test_same_options_share_a_clean_venue(venue):
            assert venue.usdc.call("totalSupply") == venue.tokens(123_456 + 789)

        def test_unmarked(venue):
            Path("unmarked.json").write_text(json.dumps(read_back(venue)))
    """)
    result = run_inner(pytester, backend, "--strict-markers", "-W",
                       "error::pytest.PytestUnknownMarkWarning")
    result.assert_outcomes(passed=3)
    marked = json.loads((pytester.path / "marked.json").read_text(), parse_float=Decimal)
    for amount in ("price", "pool", "insurance"):
        marked[amount] = Decimal(marked[amount])
    assert marked == {"count": 1, "symbol": "SOL", "config": list(SOL.encode(6)), "price": 150,
                      "instant": False, "pool": 123_456, "insurance": 789, "max_age": 600}
    unmarked = json.loads((pytester.path / "unmarked.json").read_text())
    assert (unmarked["count"], unmarked["symbol"], unmarked["instant"], unmarked["max_age"]) == \
        (2, "ETH", True, 3600)
    assert Decimal(unmarked["pool"]) == 10_000_000 and Decimal(unmarked["insurance"]) == 0


def test_the_marker_refuses_an_unknown_keyword_naming_it(pytester, backend):
    pytester.makepyfile(test_bad="""
        import pytest

        @pytest.mark.perpsim(market=[])
        def test_typo(venue):
            pass

        @pytest.mark.perpsim(instant_trading=False)
        def test_fine(venue):
            assert not venue.clearinghouse.call("instantTrading")
    """)
    result = run_inner(pytester, backend)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.perpsim: unknown keyword 'market'; keywords: "
                                 "markets, pool_liquidity, *"])
    assert "Traceback" not in result.stdout.str()


def test_venue_factory_builds_fresh_venues_on_the_tests_backend(pytester, backend):
    pytester.makepyfile(test_factory=f"""
        from decimal import Decimal

        import pytest
        from protocol import MarketConfig

        def test_two_venues(venue_factory):
            sol = venue_factory(markets=[MarketConfig(symbol="SOL", max_leverage=20,
                                                      initial_price=Decimal(150))],
                                pool_liquidity=5_000, min_execution_fee=7)
            doge = venue_factory(markets=[MarketConfig(symbol="DOGE", max_leverage=5,
                                                       initial_price=Decimal("0.25"))])
            assert sol.chain is not doge.chain and sol.chain.name == doge.chain.name == "{backend}"
            assert sol.clearinghouse.call("marketSymbol", 0).rstrip(b"\\0") == b"SOL"
            assert sol.clearinghouse.call("marketConfig", 0)[4] == 20
            assert doge.clearinghouse.call("marketConfig", 0)[4] == 5
            assert doge.price("DOGE") == Decimal("0.25")
            assert sol.pool_value() == 5_000 and doge.pool_value() == 10_000_000
            assert sol.order_book.call("minExecutionFee") == 7

        def test_unknown_keyword(venue_factory):
            with pytest.raises(TypeError, match="venue_factory: unknown keyword 'liquidity'"):
                venue_factory(liquidity=5)
    """)
    run_inner(pytester, backend).assert_outcomes(passed=2)


# ====================================================================== admin helpers
def test_configure_market_changes_fields_or_replaces_the_config(venue):
    ch, eth = venue.clearinghouse, venue.market_id("ETH")
    before = ch.market_config(eth)
    receipt = venue.configure_market("ETH", max_leverage=20, taker_fee_bps=9)
    changed = venue.markets["ETH"]
    assert (changed.max_leverage, changed.taker_fee_bps) == (20, 9)
    assert ch.market_config(eth) == changed.encode(venue.decimals) != before
    assert receipt.events_named("MarketConfigured")
    whole = MarketConfig(symbol="ETH", max_leverage=10, liquidation_fee_bps=50)
    venue.configure_market(whole)
    assert ch.market_config(eth) == whole.encode(venue.decimals)
    assert venue.markets["ETH"] == whole
    stranger = venue.trader("eve")
    with pytest.raises(Reverted) as refused:
        venue.configure_market("ETH", max_leverage=30, sender=stranger)
    assert refused.value.error == "AccessControlUnauthorizedAccount"
    # Out of the contract's bounds: refused in Python, naming the bound, before anything is sent
    with pytest.raises(ParameterOutOfBounds, match=r"max_leverage: must be in \[1, 200\]"):
        venue.configure_market("ETH", max_leverage=500)
    assert ch.market_config(eth) == whole.encode(venue.decimals)
    with pytest.raises(KeyError, match="unknown market 'SOL'"):
        venue.configure_market("SOL", max_leverage=5)


def test_a_snapshot_restores_the_market_configs_it_changed(venue):
    original = venue.markets["BTC"]
    with venue.snapshot():
        venue.configure_market("BTC", max_leverage=5)
        assert venue.markets["BTC"].max_leverage == 5
    assert venue.markets["BTC"] == original
    assert venue.clearinghouse.market_config(1) == original.encode(venue.decimals)


def test_pause_and_unpause(venue):
    alice = venue.trader("alice", usdc=5_000)
    alice.deposit(5_000)
    assert venue.paused is False
    venue.pause()
    assert venue.paused is True and venue.clearinghouse.paused() is True
    with pytest.raises(Reverted) as paused:
        alice.open("ETH", size=1, leverage=5, mode="cross")
    assert paused.value.error == "TradingPaused"
    with pytest.raises(Reverted) as refused:
        venue.unpause(sender=alice)
    assert refused.value.error == "AccessControlUnauthorizedAccount" and venue.paused is True
    venue.unpause()
    assert venue.paused is False
    alice.open("ETH", size=1, leverage=5, mode="cross")
    with pytest.raises(Reverted) as refused:
        venue.pause(sender=alice.address)
    assert refused.value.error == "AccessControlUnauthorizedAccount" and venue.paused is False


def test_grant_and_revoke_roles_by_name(venue):
    ch, oracle = venue.clearinghouse, venue.oracle
    alice = venue.trader("alice", usdc=5_000)
    alice.deposit(5_000)
    alice.open("ETH", size=1, leverage=5, mode="cross")
    eve = venue.trader("eve")
    executor = ch.executor_role()
    assert not venue.has_role("EXECUTOR", eve)
    venue.grant_role("EXECUTOR", eve)
    assert ch.has_role(executor, eve.address) and venue.has_role("EXECUTOR_ROLE", eve)
    # an executor may act for any account, as the order book does
    ch.decrease_position(alice.address, 0, 10**17, sender=eve.address).raise_for_status()
    assert venue.raw_position(alice, "ETH").size == 9 * 10**17
    venue.revoke_role("executor", eve)
    assert not ch.has_role(executor, eve.address)
    with pytest.raises(Reverted) as refused:
        venue.grant_role("EXECUTOR", eve, sender=eve)
    assert refused.value.error == "AccessControlUnauthorizedAccount"
    assert not ch.has_role(executor, eve.address)
    venue.grant_role("UPDATER", eve)  # the oracle's role: eve may push prices
    assert oracle.has_role(oracle.updater_role(), eve.address)
    oracle.push_prices([(0, venue.chain.timestamp, 2_900 * 10**18)],
                       sender=eve.address).raise_for_status()
    assert venue.price("ETH") == 2_900
    venue.grant_role("ADMIN", eve, contract="order_book")
    assert venue.order_book.has_role(b"\0" * 32, eve.address)
    assert not ch.has_role(b"\0" * 32, eve.address)
    venue.revoke_role(b"\0" * 32, eve, contract="order_book")
    assert not venue.has_role("ADMIN", eve, contract="order_book")


def test_role_names_the_contracts_do_not_define_are_refused_with_the_known_ones(venue):
    assert venue.roles() == {"DEFAULT_ADMIN_ROLE": ["oracle", "clearinghouse", "order_book"],
                             "UPDATER_ROLE": ["oracle"], "EXECUTOR_ROLE": ["clearinghouse"],
                             "ADL_KEEPER_ROLE": ["clearinghouse"]}
    with pytest.raises(ValueError, match="no contract of this venue defines KEEPER_ROLE; roles: "
                                         "DEFAULT_ADMIN_ROLE .*EXECUTOR_ROLE \\(clearinghouse\\)"):
        venue.grant_role("KEEPER", venue.admin)
    with pytest.raises(ValueError, match="DEFAULT_ADMIN_ROLE is defined by oracle, "
                                         "clearinghouse, order_book: pass contract="):
        venue.grant_role("ADMIN", venue.admin)
    with pytest.raises(ValueError, match="PriceOracle does not define EXECUTOR_ROLE"):
        venue.grant_role("EXECUTOR", venue.admin, contract="oracle")


# ====================================================================== gas report
def test_the_gas_report_counts_every_transaction_of_every_chain(chain_backend):
    """The listener sits at the chain layer: a venue launched on any backend is counted, each
    transaction once, by contract and function, with its receipt's gas."""
    with GasReport().listening() as report:
        venue = Venue.launch(backend=chain_backend, markets=[SOL], pool_liquidity=1_000)
        keeper = venue.keeper("k")
        receipts = []
        for seconds in (0, 60, 3_600):
            venue.advance_time(seconds)
            receipts.append(keeper.update_funding("SOL"))
        failed = venue.clearinghouse.set_paused(True, sender=keeper.address)
    venue.chain.close()
    stats = report.stats[("Clearinghouse", "updateFunding")]
    gases = [r.gas_used for r in receipts]
    assert (stats.calls, stats.min, stats.max, stats.total) == (3, min(gases), max(gases),
                                                                sum(gases))
    assert report.stats[("Clearinghouse", "setPaused")].total == failed.gas_used > 0
    assert not failed.status
    assert report.stats[("Clearinghouse", DEPLOY)].calls == 1
    assert report.stats[("PriceOracle", "pushPrices")].calls == 1
    assert report.stats[("LiquidityPool", "deposit")].calls == 1


def _report_rows(output: str, contract: str) -> dict[str, list[int]]:
    """``function -> [calls, min, mean, max]`` from the contract's table of a gas report."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:5] ==
                 [contract, "calls", "min", "mean", "max"])
    rows = {}
    for line in lines[start + 2:]:
        if not line.startswith("  "):
            break
        name, *numbers = line.split()
        rows[name] = [int(n) for n in numbers]
    return rows


def test_perpsim_gas_prints_a_report_per_contract_function(pytester, backend):
    pytester.makepyfile(test_gas="""
        import json
        from pathlib import Path

        def test_funding_updates(venue, keeper):
            gases = []
            for seconds in (0, 60, 3_600, 60):
                venue.advance_time(seconds)
                gases.append(keeper.update_funding("BTC").gas_used)
            Path("gas.json").write_text(json.dumps(gases))
    """)
    result = run_inner(pytester, backend, "--perpsim-gas")
    result.assert_outcomes(passed=1)
    gases = json.loads((pytester.path / "gas.json").read_text())
    output = result.stdout.str()
    assert "perpsim gas report" in output
    rows = _report_rows(output, "Clearinghouse")
    assert rows["updateFunding"] == [4, min(gases), sum(gases) // 4, max(gases)]
    assert min(gases) < max(gases)  # the accrual after an hour costs more than in the same block
    assert rows["(deploy)"][0] == 1 and rows["configureMarket"][0] == 2  # the launch: ETH, BTC
    assert _report_rows(output, "PriceOracle")["pushPrices"][0] == 1


def test_without_the_option_there_is_no_gas_report(pytester, backend):
    pytester.makepyfile(test_plain="def test_x(venue):\n    venue.set_price('ETH', 3_001)\n")
    result = run_inner(pytester, backend)
    result.assert_outcomes(passed=1)
    assert "perpsim gas report" not in result.stdout.str()


# ====================================================================== traces
def healthy_position(venue: Venue):
    bob = venue.trader("bob", usdc=5_000)
    bob.deposit(5_000)
    bob.open("ETH", size=1, leverage=5, mode="isolated", margin=700)
    return bob


def test_a_failed_liquidation_has_a_decoded_trace(chain_backend):
    venue = Venue.launch(backend=chain_backend)
    try:
        bob = healthy_position(venue)
        keeper = venue.keeper("k")
        with pytest.raises(Reverted) as refused:
            keeper.liquidate(bob, "ETH")
        trace = refused.value.trace
        receipt = refused.value.receipt
        assert isinstance(trace, CallTrace) and venue.chain.trace(receipt).render() == trace.render()
        root = trace.root
        assert (root.contract, root.function, root.kind) == ("Clearinghouse", "liquidatePosition",
                                                              "CALL")
        assert root.arguments == f"account={bob.address}, market=0"
        assert root.gas_used == receipt.gas_used and not root.success
        assert root.error.error == "PositionHealthy"
        assert root.error.args == (bob.address.lower(), 0)
        if chain_backend == "revm":
            assert not trace.complete and root.children == ()
            assert trace.reverted_at is root
            assert "nested calls not recorded on revm" in trace.render()
            return
        assert trace.complete
        (logic,) = root.children
        assert (logic.contract, logic.function, logic.kind) == ("LiquidationLogic",
                                                                "liquidatePosition", "DELEGATECALL")
        assert logic.error.error == "PositionHealthy" and trace.reverted_at is logic
        (oracle,) = logic.children
        assert (oracle.contract, oracle.function, oracle.kind, oracle.arguments) == \
            ("PriceOracle", "freshPrice", "STATICCALL", "market=0")
        assert oracle.success and oracle.returned == str(3_000 * 10**18)
        lines = trace.render().splitlines()
        assert lines[0] == f"[{receipt.gas_used}] Clearinghouse::liquidatePosition(account=" \
                           f"{bob.address}, market=0)"
        assert lines[1].startswith("├─ [") and lines[1].endswith(
            "] LiquidationLogic::liquidatePosition(…) [delegatecall]")
        assert lines[2].startswith("│  ├─ [") and lines[2].endswith(
            "] PriceOracle::freshPrice(market=0) [staticcall]")
        assert lines[3] == "│  │  └─ ← 3000000000000000000000"
        assert lines[4] == f"│  └─ ← [revert] PositionHealthy(account={bob.address}, market=0)"
        assert lines[5] == f"└─ ← [revert] PositionHealthy(account={bob.address}, market=0)"
        assert len(lines) == 6
    finally:
        venue.chain.close()


def test_revm_rebuilds_the_nested_calls_from_eip3155_steps_when_asked():
    """With ``record_traces`` revm's tree has pyevm's calls, functions, arguments the callees
    loaded, and gas, exactly; nested revert data is not in the steps and says so."""
    traces = {}
    for backend in ("pyevm", "revm"):
        venue = Venue.launch(backend=backend)
        try:
            bob = healthy_position(venue)
            keeper = venue.keeper("k")
            venue.chain.record_traces = True
            with pytest.raises(Reverted) as refused:
                keeper.liquidate(bob, "ETH")
            traces[backend] = refused.value.trace
        finally:
            venue.chain.close()

    def shape(trace):
        return [(depth, f.kind, f.contract, f.function, f.arguments, f.gas_used, f.success)
                for depth, f in trace.frames()]

    pyevm, revm = traces["pyevm"], traces["revm"]
    assert shape(revm) == shape(pyevm) and len(shape(revm)) == 3
    assert revm.complete and revm.root.error.error == "PositionHealthy"
    (logic,) = revm.root.children
    assert revm.reverted_at is logic and not logic.output_known and logic.error is None
    assert logic.children[0].returned == "" and pyevm.root.children[0].children[0].returned
    assert "│  └─ ← [revert] (revert data not recorded)" in revm.render()
    assert "return values and revert data are not recorded" in revm.render()


def test_a_successful_transaction_has_a_trace_too(chain_backend):
    venue = Venue.launch(backend=chain_backend)
    try:
        alice = venue.trader("alice", usdc=1_000)
        receipt = alice.deposit(1_000)
        trace = receipt.trace
        assert trace.reverted_at is None and trace.root.success
        assert trace.root.label == f"Clearinghouse::deposit(account={alice.address}, " \
                                   f"amount={venue.tokens(1_000)})"
        if chain_backend != "revm":
            called = [(f.contract, f.function) for _, f in trace.frames()][1:]
            assert ("MockUSDC", "transferFrom") in called
    finally:
        venue.chain.close()


def test_perpsim_trace_appends_the_trace_to_a_failing_test(pytester, chain_backend):
    pytester.makepyfile(test_trace="""
        def test_liquidating_a_healthy_position(venue, trader, keeper):
            bob = trader("bob", deposit=5_000)
            bob.open("ETH", size=1, leverage=5, mode="isolated", margin=700)
            keeper.liquidate(bob, "ETH")

        def test_a_failure_caught_then_an_assertion(venue, trader, keeper):
            bob = trader("bob", deposit=5_000)
            try:
                bob.open("ETH", size=1, leverage=500, mode="cross")
            except Exception:
                pass
            assert venue.account_count() == 0

        def test_passes_with_an_expected_revert(venue, keeper):
            import pytest
            from protocol.errors import NoPosition
            with pytest.raises(NoPosition):
                keeper.liquidate(keeper.address, "ETH")
    """)
    result = pytester.runpytest("--perpsim-backend", chain_backend, "--perpsim-trace", *QUIET)
    result.assert_outcomes(failed=2, passed=1)
    if chain_backend == "revm":  # the transaction's own call, and a line saying so
        liquidation = ["└─ ← [[]revert] PositionHealthy(account=*, market=0)",
                       "(nested calls not recorded on revm: *)"]
    else:
        liquidation = ["├─ [[]*] LiquidationLogic::liquidatePosition(…) [[]delegatecall]",
                       "│  ├─ [[]*] PriceOracle::freshPrice(market=0) [[]staticcall]",
                       "│  │  └─ ← 3000000000000000000000",
                       "│  └─ ← [[]revert] PositionHealthy(account=*, market=0)",
                       "└─ ← [[]revert] PositionHealthy(account=*, market=0)"]
    result.stdout.fnmatch_lines([
        f"*_ test_liquidating_a_healthy_position?{chain_backend}? _*",
        "*- perpsim trace -*",
        "[[]*] Clearinghouse::liquidatePosition(account=0x*, market=0)",
        *liquidation,
        f"*_ test_a_failure_caught_then_an_assertion?{chain_backend}? _*",
        "*- perpsim trace -*",
        "[[]*] Clearinghouse::increasePosition(account=0x*, market=0, sizeDelta=*, leverage=500, *)",
        "└─ ← [[]revert] InvalidLeverage(*)",
    ])
    assert result.stdout.str().count("perpsim trace") == 2  # not for the test that passed
    assert "NoPosition" not in result.stdout.str()


def test_without_the_option_a_failing_test_shows_no_trace(pytester, backend):
    pytester.makepyfile(test_trace="""
        def test_liquidating_a_healthy_position(venue, trader, keeper):
            bob = trader("bob", deposit=5_000)
            bob.open("ETH", size=1, leverage=5, mode="isolated", margin=700)
            keeper.liquidate(bob, "ETH")
    """)
    result = run_inner(pytester, backend)
    result.assert_outcomes(failed=1)
    assert "PositionHealthy" in result.stdout.str()
    assert "perpsim trace" not in result.stdout.str()
