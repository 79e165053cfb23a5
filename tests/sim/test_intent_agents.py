"""Agents with intent (``protocol.agents.intent``): the funding arbitrageur, the skew-balancing
market maker and the informed traders, each on the real venue (revm), with the behaviour that
defines it, and their parameters' validation."""

from __future__ import annotations

import random
from collections import Counter
from decimal import Decimal

import pytest

from protocol import MarketConfig, Venue
from protocol.agents import AGENT_TYPES, Context
from protocol.agents.intent import (
    FundingArbitrageur,
    FundingArbParams,
    InformedParams,
    MarketMakerParams,
    MarketWatch,
    MeanReversionTrader,
    MomentumTrader,
    SkewMarketMaker,
)
from protocol.prices.liquidity import ExternalMarket, Liquidity
from protocol.sim.engine import Simulation
from protocol.sim.loader import load_scenario
from protocol.venue.units import from_wad

D = Decimal


def run(name: str, overrides=None):
    """Run a built-in scenario; returns its result and its agents."""
    sim = Simulation(load_scenario(name, overrides or {}))
    built = {}
    make = sim._agents

    def keep(venue):
        agents, cohort_of = make(venue)
        built["agents"] = agents
        return agents, cohort_of

    sim._agents = keep
    result = sim.run()
    return result, built["agents"]


def mean_abs_skew(result, market="ETH", start=60):
    """The mean |long - short open interest| (USD) from block ``start`` to the end."""
    skews = [abs(row[f"skew.{market}"]) for row in result.rows[start:]]
    return sum(skews, D(0)) / len(skews)


# -- the funding arbitrageur ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def funding_arb():
    return {"with": run("funding-arb"),
            "without": run("funding-arb", {"agents[1].count": 0}),
            "unhedged": run("funding-arb", {"agents[1].hedge": False})}


def test_the_arbitrageur_narrows_the_skew(funding_arb):
    (with_arbs, agents), (without, _) = funding_arb["with"], funding_arb["without"]
    before, after = mean_abs_skew(without), mean_abs_skew(with_arbs)
    # the same crowd leaves ~$1.9M of longs unmatched; the arbitrageurs take most of it
    assert before > 1_500_000
    assert after < before / 3
    assert abs(with_arbs.rows[-1]["skew.ETH"]) < abs(without.rows[-1]["skew.ETH"]) / 2
    arbs = [a for a in agents if isinstance(a, FundingArbitrageur)]
    assert all(a.trades for a in arbs)


def test_the_arbitrageur_trades_against_the_skew_hedged_with_equal_notional(funding_arb):
    _, agents = funding_arb["with"]
    trades = [t for a in agents if isinstance(a, FundingArbitrageur) for t in a.trades]
    assert trades
    for t in trades:
        assert t.annual_rate >= D("0.10")  # over its hurdle
        assert (t.size < 0) == (t.skew_usd > 0) == (t.annual_rate > 0)  # short when longs pay
        # the hedge: the same notional, the other way, at the quote it was shown
        assert t.hedge_usd == -t.size * t.price
        # filled within the impact of a $10M-per-1% book: within 0.1% of the quote
        assert t.hedge_price is not None
        assert abs(t.hedge_price / t.price - 1) < D("0.001")


def test_the_arbitrageurs_hedge_moves_the_external_price(funding_arb):
    """The arbitrageurs' short is hedged by the venue's flow as a sale; their own purchase on
    the external market offsets it, so the external price stands higher with the hedge."""
    (hedged, _), (unhedged, agents) = funding_arb["with"], funding_arb["unhedged"]
    first = min(t.block for a in agents if isinstance(a, FundingArbitrageur) for t in a.trades)

    def lift(result, block):
        row = result.rows[block]
        return row["market.ETH"] / row["exogenous.ETH"] - 1

    later = range(first + 2, first + 60)
    assert all(lift(hedged, b) > lift(unhedged, b) for b in later)
    assert lift(hedged, first + 30) - lift(unhedged, first + 30) > D("0.0003")  # > 0.03%
    assert all(not a.outside_units for a in agents if isinstance(a, FundingArbitrageur))


def test_the_arbitrageurs_external_leg_counts_in_its_cohort_equity(funding_arb, monkeypatch):
    """The cohort equity adds each agent's ``outside_value``: worth $1M more apiece, the
    arbitrageurs still holding a hedge at the last sample end $1M richer each."""
    plain, agents = funding_arb["with"]
    holding = sum(1 for a in agents if isinstance(a, FundingArbitrageur) and a.outside_units)
    assert holding >= 3
    worth = FundingArbitrageur.outside_value
    monkeypatch.setattr(FundingArbitrageur, "outside_value",
                        lambda self, prices: worth(self, prices) + 1_000_000)
    richer, _ = run("funding-arb")
    ends = [r.summary["cohorts"]["arbitrageurs"]["end_equity"] for r in (plain, richer)]
    assert ends[1] - ends[0] == 1_000_000 * holding
    assert richer.summary["cohorts"]["crowd"] == plain.summary["cohorts"]["crowd"]


def test_an_arbitrageur_on_a_real_venue_opens_hedges_and_closes_both_legs():
    venue = Venue.launch(backend="revm", markets=[MarketConfig(
        symbol="ETH", max_leverage=50, initial_price=D(3000),
        funding_rate_per_hour=D("0.0010000000000008"),
        max_funding_rate_per_hour=D("0.0010000000000008"))])
    crowd = []
    for i, size in enumerate((D(40), D(40), D(-20))):
        trader = venue.trader(f"t{i}", usdc=200_000)
        trader.deposit(200_000)
        trader.open("ETH", size, 5, "cross")
        crowd.append(trader)
    params = FundingArbParams(capital=(500_000.0, 500_000.0), check_every=1, hurdle=0.10,
                              exit=0.03, leverage=2, fraction=0.5)
    arb = FundingArbitrageur("arb", venue.trader("arb"), random.Random(1), params)
    venue.mint(arb.trader, arb.capital)
    external = ExternalMarket({"ETH": Liquidity(depth=D(1_000_000), half_life=D(10**9))})

    def act(block):
        prices = external.quote({"ETH": D(3000)}, block)
        arb.act(Context(block, prices, venue, external))

    act(1)  # deposits
    act(2)
    read = MarketWatch().read(Context(2, {"ETH": D(3000)}, venue), "ETH")
    # 80 long, 20 short: funding 0.1%/h x 60/100, longs pay; it shorts the skew ($180k) at most
    (trade,) = arb.trades
    assert trade.skew_usd == D(180_000)
    assert abs(trade.annual_rate - D("0.001") * D("0.6") * 8760) < D("1e-6")
    assert trade.size < 0 and abs(trade.size) * 3000 <= D(180_000)
    chain = venue.raw_position(arb.trader, "ETH").size
    assert D(chain) / 10**18 == arb.holdings["ETH"].size == trade.size
    assert read.skew_usd < D(1_000)  # the skew is (nearly) gone
    assert trade.hedge_usd == -trade.size * 3000  # equal notional, bought
    assert external.pending["ETH"] == trade.hedge_usd
    assert arb.outside_units["ETH"] > 0
    external.absorb({})
    assert external.quote({"ETH": D(3000)}, 3)["ETH"] > 3000  # its purchase moved the price
    for trader in crowd[:2]:  # the longs leave: no skew, no funding
        trader.close("ETH")
    act(4)
    assert "ETH" not in arb.holdings and venue.raw_position(arb.trader, "ETH").size == 0
    assert abs(arb.outside_units["ETH"] * 3000) < 1  # the hedge is unwound too
    assert arb.exits == {"edge": 1}
    assert arb.outside_cash < 0  # it paid the impact both ways


# -- the market maker ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def market_maker():
    return {"with": run("market-maker"), "without": run("market-maker", {"agents[2].count": 0})}


def test_the_market_makers_inventory_stays_within_its_limit(market_maker):
    _, agents = market_maker["with"]
    makers = [a for a in agents if isinstance(a, SkewMarketMaker)]
    assert makers and all(len(m.trades) > 20 for m in makers)
    for m in makers:
        assert m.peak_inventory_usd <= m.params.max_inventory_usd
        assert m.peak_inventory_usd > D("0.9") * D(m.params.max_inventory_usd)  # it used it
        assert all(abs(t.delta_usd) <= D(m.params.clip_usd) + 1 for t in m.trades if not t.trim)


def test_the_market_maker_trades_against_the_skew_and_trims_when_it_flips(market_maker):
    (with_makers, agents), (without, _) = market_maker["with"], market_maker["without"]
    makers = [a for a in agents if isinstance(a, SkewMarketMaker)]
    for m in makers:
        adds = [t for t in m.trades if not t.trim]
        trims = [t for t in m.trades if t.trim]
        assert adds and trims
        assert all((t.delta_usd > 0) == (t.skew_usd < 0) for t in adds)  # against the skew
        assert all(abs(t.delta_usd) <= abs(t.skew_usd) for t in adds)  # never past it
        # a trim is against its own position, made when the skew stood on its side
        assert all((t.delta_usd > 0) == (t.inventory_usd - t.delta_usd < 0) for t in trims)
    assert mean_abs_skew(with_makers) < mean_abs_skew(without) / 2
    assert with_makers.summary["cohorts"]["makers"]["return"] > 0  # paid by funding


def test_the_market_maker_earns_price_impact_where_the_market_charges_it(market_maker):
    """The same scenario with GMX-style price impact on ETH (positive 1e-9, negative 2e-9): the
    makers' trades reduce the skew, so the impact they are paid (``PriceImpact.impactUsd`` > 0)
    outweighs what they pay, while the crowd pays it; the makers end with more than without."""
    result, agents = run("market-maker", {"markets.ETH.impact_factor_positive": 1e-9,
                                          "markets.ETH.impact_factor_negative": 2e-9})
    makers = {a.address.lower() for a in agents if isinstance(a, SkewMarketMaker)}
    earned = {True: D(0), False: D(0)}
    for event in result.events:
        if event["event"] == "PriceImpact":
            earned[event["args"]["account"].lower() in makers] += from_wad(event["args"]["impactUsd"])
    assert earned[True] > 0 > earned[False]
    without_impact = market_maker["with"][0].summary["cohorts"]["makers"]["return"]
    assert result.summary["cohorts"]["makers"]["return"] > without_impact


# -- informed traders ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def informed():
    return {"informed": run("informed"), "noise": run("informed-noise")}


def test_informed_traders_earn_while_the_lps_lose(informed):
    result, agents = informed["informed"]
    cohorts = result.summary["cohorts"]
    assert cohorts["momentum"]["return"] > D("0.01")
    assert cohorts["mean_reversion"]["return"] > D("0.01")
    assert result.summary["pool"]["lp_return"] < 0
    assert cohorts["lp"]["end_equity"] < cohorts["lp"]["start_equity"]
    traders = [a for a in agents if isinstance(a, (MomentumTrader, MeanReversionTrader))]
    told = sum((a.signals for a in traders), start=Counter())
    # signal_quality 0.8: about 80% of entries follow the true move, the rest their rule
    share = D(told["informed"]) / sum(told.values())
    assert D("0.7") < share < D("0.9")


def test_lp_return_is_lower_against_informed_traders_than_noise_of_the_same_volume(informed):
    (smart, smart_agents), (noise, noise_agents) = informed["informed"], informed["noise"]
    opened = [sum(a.activity.opened for a in agents if a.kind != "lp")
              for agents in (smart_agents, noise_agents)]
    assert abs(opened[0] - opened[1]) <= opened[1] // 20  # the same volume, within 5%
    assert noise.summary["pool"]["lp_return"] > 0  # noise pays the LPs its fees
    assert smart.summary["pool"]["lp_return"] < noise.summary["pool"]["lp_return"] - D("0.005")
    assert noise.summary["cohorts"]["noise"]["return"] < 0


def test_a_chartist_without_the_path_flips_a_coin_and_the_rules_differ():
    momentum = MomentumTrader("m", None, random.Random(1), InformedParams())  # type: ignore[arg-type]
    reverting = MeanReversionTrader("r", None, random.Random(1), InformedParams())  # type: ignore[arg-type]
    assert (momentum.rule(1), reverting.rule(1)) == (1, -1)
    path = {0: D(100), 10: D(110), 40: D(90)}

    def path_at(block):
        return {"ETH": path.get(block, D(100))}

    ctx = Context(10, {"ETH": D(110)}, None, None, path_at)  # type: ignore[arg-type]
    blind = MomentumTrader("b", None, random.Random(2),  # type: ignore[arg-type]
                           InformedParams(signal_quality=0.0, horizon=30, lookback=10))
    assert blind.signal(ctx, "ETH") == 1  # up over its lookback: with it
    blind_r = MeanReversionTrader("c", None, random.Random(2),  # type: ignore[arg-type]
                                  InformedParams(signal_quality=0.0, horizon=30, lookback=10))
    assert blind_r.signal(ctx, "ETH") == -1
    seer = MeanReversionTrader("s", None, random.Random(2),  # type: ignore[arg-type]
                               InformedParams(signal_quality=1.0, horizon=30, lookback=10))
    assert seer.signal(ctx, "ETH") == -1 and seer.signals == {"informed": 1}  # 110 -> 90
    nothing = Context(10, {"ETH": D(110)}, None)  # type: ignore[arg-type]
    assert blind.signal(nothing, "ETH") in (1, -1) and blind.signals["coin"] == 1


# -- parameters ------------------------------------------------------------------------------------


@pytest.mark.parametrize("params, kwargs, message", [
    (FundingArbParams, {"hurdle": 0}, "hurdle: must be > 0"),
    (FundingArbParams, {"hurdle": 0.1, "exit": 0.2}, r"exit: must be below hurdle \(0.1\)"),
    (FundingArbParams, {"check_every": 0}, "check_every: must be at least 1"),
    (FundingArbParams, {"leverage": 0.5}, "leverage: must be at least 1"),
    (FundingArbParams, {"fraction": 1.5}, r"fraction: must be in \(0, 1\]"),
    (FundingArbParams, {"max_hold_blocks": 0}, "max_hold_blocks: must be at least 1"),
    (FundingArbParams, {"capital": (10.0, 5.0)}, "capital: need 0 <= low <= high"),
    (FundingArbParams, {"markets": ()}, "markets: name at least one market"),
    (MarketMakerParams, {"max_inventory_usd": 0}, "max_inventory_usd: must be > 0"),
    (MarketMakerParams, {"clip_usd": -1}, "clip_usd: must be > 0"),
    (MarketMakerParams, {"min_skew_usd": -1}, "min_skew_usd: must be >= 0"),
    (MarketMakerParams, {"check_every": 0}, "check_every: must be at least 1"),
    (MarketMakerParams, {"leverage": 0}, "leverage: must be at least 1"),
    (InformedParams, {"signal_quality": 1.5}, r"signal_quality: must be in \[0, 1\]"),
    (InformedParams, {"horizon": 0}, "horizon: must be at least 1"),
    (InformedParams, {"lookback": 0}, "lookback: must be at least 1"),
    (InformedParams, {"trade_probability": 2.0}, "trade_probability"),  # the trader's own checks
])
def test_bad_parameters_are_refused_with_a_message(params, kwargs, message):
    with pytest.raises(ValueError, match=message):
        params(**kwargs)


def test_the_intent_agents_are_registered_and_a_scenario_refuses_their_bad_values(tmp_path):
    assert {"funding_arb", "market_maker", "momentum", "mean_reversion"} <= set(AGENT_TYPES)
    assert AGENT_TYPES["funding_arb"].cls is FundingArbitrageur
    assert (FundingArbitrageur.kind, SkewMarketMaker.kind, MomentumTrader.kind,
            MeanReversionTrader.kind) == ("funding_arb", "market_maker", "momentum", "mean_reversion")
    from protocol.sim.locate import ScenarioError
    with pytest.raises(ScenarioError, match="exit: must be below hurdle"):
        load_scenario("funding-arb", {"agents[1].exit": 0.5})
    with pytest.raises(ScenarioError, match="signal_quality"):
        load_scenario("informed", {"agents[0].signal_quality": 2.0})
