"""gmx-synthetics' position price-impact tests, ported: every number they assert, exact.

Sources (gmx-io/gmx-synthetics at a5c0c8835182cbd84e47dca04b971239311d2f1d):
``test/exchange/PositionPriceImpact/PairMarket.ts``, ``.../SyntheticMarket.ts`` and
``test/exchange/DecreasePosition/NegativePriceImpact_PositivePnl.ts``; each test below names
its ``it(...)``. The fixture is GMX's hardhat market config (``config/markets.ts``,
``hardhatBaseMarketConfig``): positive and negative maxPositionImpactFactor 2% (200 bps),
maxPositionImpactFactorForLiquidations 1% (100 bps), no position, funding or borrowing fees;
each test sets the impact factors and exponents it sets (5e-9 and 1e-8, exponent 2).

Units. GMX's numbers become perpsim's by exact rules:

- USD: GMX has 30 decimals, perpsim WAD. An impact in a ``PriceImpact`` event (``impactUsd``) is
  GMX's rounded toward minus infinity: ``gmx_usd // 10**12`` (:func:`wad`).
- Prices: GMX's price is 30-decimal USD per smallest unit of the index token, perpsim's WAD USD
  per whole unit: x 10**(decimals - 12) for ETH (18 decimals: exact, :func:`eth_price`); for
  SOL (9 decimals) GMX's is finer than WAD and is rounded against the trader (an increase long
  up, a decrease long down).
- Token amounts (pending impact, the impact pool): GMX's are in the index token's smallest unit,
  perpsim's in WAD base units: the same number for ETH; x 10**9 for SOL (``impact_index_decimals``
  9 keeps them whole SOL-units, as GMX's).
- Sizes: GMX orders in USD (sizeDeltaUsd), perpsim in tokens: 200,000 USD at 5,000 is 40 ETH, and
  the entry notional (GMX's sizeInUsd) is 200,000 exactly.

What perpsim has no equivalent of, and is left out (the rest is ported):

- Collateral in WNT. A negative impact paid from WNT collateral rounds up in ETH-wei, and the
  impact pool grows by that; perpsim's collateral is a 6-decimal USD token, so the trader pays
  the impact rounded up to 1e-6 USD and the pool grows by that in ETH, rounded down (GMX's rule,
  ``amountPaidInCollateralToken x collateralTokenPrice / indexTokenPrice``, with USDC). Where the
  GMX test pays in WNT, its pool amount is shown next to the one perpsim's rule gives from the
  test's own USD amounts (:func:`pool_after_payment`). The PnL paid out in WNT likewise (perpsim
  pays it in USD).
- Lending of the impact pool (maxLendableImpactFactor/Usd, lentPositionImpactPoolAmount):
  perpsim caps positive impact at the pool (GMX with nothing lendable), so in "price impact
  tracking" a positive impact the empty pool cannot pay is not lent.
- The market token's price and pool value of a two-token pool, and pool amounts per token.
- Orders that fail are not cancelled with a reason as on GMX: the keeper's execution reverts
  with the named error (``AcceptablePriceExceeded``, ``PriceImpactLargerThanOrderSize``).
- GMX's ``totalPendingImpactAmount`` (kept only for events there): asserted here as the sum of
  the positions' pending impact, which it is.

Every test runs on both in-process EVMs (``backend``).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from venue_fixtures import ZERO_FEES

from protocol import MarketConfig, Venue, errors
from protocol.constants import WAD

D = Decimal
USDC_USD30 = 10**24  # 30-decimal USD per smallest USDC unit
GMX_HARDHAT = dict(max_positive_impact_bps=200, max_negative_impact_bps=200,
                   max_liquidation_impact_bps=100, max_leverage=100, **ZERO_FEES)
ETH = MarketConfig(symbol="ETH", initial_price=D(5000), impact_factor_positive=D("5e-9"),
                   impact_factor_negative=D("1e-8"), **GMX_HARDHAT)
SOL = MarketConfig(symbol="SOL", initial_price=D(50), impact_factor_positive=D("5e-9"),
                   impact_factor_negative=D("1e-8"), impact_index_decimals=9, **GMX_HARDHAT)


def wad(gmx_usd: int) -> int:
    """GMX's 30-decimal USD as perpsim reports it: WAD, rounded toward minus infinity."""
    return gmx_usd // 10**12


def eth_price(gmx_price: int) -> int:
    """GMX's ETH price (30-decimal USD per wei) in WAD USD per ETH: exact."""
    return gmx_price * 10**6


def pool_after_payment(pool: int, total_usd: int, price: int = 5000) -> int:
    """GMX's impact pool (ETH-wei) after a decrease whose total impact ``total_usd`` (30
    decimals: proportional pending + its own, as the GMX test asserts them) is paid or paid out
    with perpsim's 6-decimal USD collateral (DecreasePositionCollateralUtils)."""
    per_wei = price * 10**12
    if total_usd < 0:
        paid = -(-(-total_usd) // USDC_USD30)  # payForCost: rounded up in the collateral token
        return pool + paid * USDC_USD30 // per_wei
    return pool - -(-total_usd // per_wei)  # roundUpDivision by indexTokenPrice.min


@pytest.fixture(scope="module")
def base(backend):
    return Venue.launch(backend=backend, markets=[ETH, SOL], pool_liquidity=10_000_000)


class Book:
    """Accounts named after the GMX test's positions (perpsim holds one position per account
    and market), each with a large cross balance."""

    def __init__(self, venue, market="ETH"):
        self.venue, self.market, self.traders = venue, market, {}

    def __getitem__(self, name):
        if name not in self.traders:
            trader = self.venue.trader(name, usdc=2_000_000)
            trader.deposit(2_000_000)
            self.traders[name] = trader
        return self.traders[name]

    def open(self, name, size):
        return impact(self[name].open(self.market, size, 10, "cross"))

    def decrease(self, name, size):
        receipt = self[name].decrease(self.market, size)
        return impact(receipt), receipt.events_named("PositionDecreased")[0]

    def pending(self, name):
        return self.venue.raw_position(self[name], self.market).pending_impact

    def total_pending(self):
        return sum(self.pending(name) for name in self.traders)

    def pool(self):
        return self.venue.clearinghouse.impact_pool(self.venue.market_id(self.market))

    def refused_order(self, name, size, acceptable):
        """A market increase order whose execution the keeper's call refuses (GMX cancels it
        with the reason); returns the error."""
        v = self.venue
        order = self[name].create_order(self.market, "market_increase", size, leverage=10,
                                        mode="cross", acceptable_price=acceptable)
        v.advance_time(1)
        v.set_price(self.market, v.price(self.market))
        with pytest.raises(errors.Reverted) as info:
            v.keeper("keeper").execute_order(order.order_id)
        return info.value


def impact(receipt):
    (event,) = receipt.events_named("PriceImpact")
    return event


def set_factors(venue, market, **changes):
    config = replace(venue.markets[market], **changes)
    venue.deployment.impact.set_impact_config(venue.market_id(market), config.impact_encoded(),
                                              sender=venue.admin).raise_for_status()


def test_price_impact_pair_market(venue):
    """PairMarket.ts, it("price impact pair market")."""
    b = Book(venue)
    assert b.pool() == 0
    # increase long position, negative price impact
    e = b.open("user0", 40)  # sizeDeltaUsd 200,000 at 5,000
    assert e["fillPrice"] == eth_price(5010020040080160)  # ~5010
    assert e["impactUsd"] == wad(-399999999999999992588018713340000)  # -400
    assert b.pool() == 0  # the impact is pending, the pool unchanged
    assert b.pending("user0") == -79999999999999999
    raw = venue.raw_position(b["user0"], "ETH")
    assert (raw.entry_notional, raw.size) == (200_000 * WAD, 40 * WAD)  # sizeInUsd, sizeInTokens
    # user1 at acceptable price 5020: OrderNotFulfillableAtAcceptablePrice
    refused = b.refused_order("user1-refused", 40, D(5020))
    assert refused.error == "AcceptablePriceExceeded"
    assert refused.args[1:] == (eth_price(5030181086519114), 5020 * WAD)
    e = b.open("user1", 40)
    assert e["fillPrice"] == eth_price(5030181086519114)  # ~5030
    assert e["impactUsd"] == wad(-1199999999999999977764056140040000)  # -1200
    assert b.pool() == 0
    assert b.pending("user0") + b.pending("user1") == -319999999999999995
    assert b.pending("user1") == -239999999999999996
    raw = venue.raw_position(b["user1"], "ETH")
    assert (raw.entry_notional, raw.size) == (200_000 * WAD, 40 * WAD)

    set_factors(venue, "ETH", impact_factor_negative=D("1e-4"))
    with pytest.raises(errors.PriceImpactLargerThanOrderSize):  # a 500,000 USD long
        b["user0"].open("ETH", 100, 10, "cross")
    refused = b.refused_order("user0-short-refused", -100, D(5050))  # a 500,000 USD short
    assert refused.error == "AcceptablePriceExceeded"  # OrderNotFulfillableAtAcceptablePrice
    assert b.pool() == 0
    set_factors(venue, "ETH", impact_factor_negative=D("1e-8"))

    # increase short position, positive price impact (held even with an empty pool)
    e = b.open("user0short", -2)  # 10,000 USD
    assert e["fillPrice"] == eth_price(5019828321871391)  # 5019.82
    assert e["impactUsd"] == wad(39500000000000000326409486835000)  # 39.5
    assert b.pool() == 0
    assert b.pending("user0short") == 7900000000000000
    assert b.total_pending() == -312099999999999995

    # decrease short position, negative price impact
    e, decreased = b.decrease("user0short", 2)
    assert e["fillPrice"] == eth_price(5039500000000000)  # 5039.5
    assert decreased["realizedPnl"] - e["realized"] == 0  # basePnlUsd
    assert e["impactUsd"] == wad(-79000000000000000652818973670000)  # -79
    proportional = 39500000000000000000000000000000  # proportionalPendingImpactUsd, 39.5
    assert -e["pendingDelta"] * 5000 * 10**12 == proportional
    pool = pool_after_payment(0, proportional - 79000000000000000652818973670000)
    assert b.pool() == pool == 7900000200000000  # GMX, paid in WNT: 7900000000000001
    assert b.pending("user0short") == 0
    assert b.total_pending() == -319999999999999995
    assert (b.pending("user0"), b.pending("user1")) == (-79999999999999999, -239999999999999996)

    # increase short position, positive price impact
    e = b.open("user0short", -100)  # 500,000 USD
    assert e["fillPrice"] == eth_price(5007009813739234)  # ~5007
    assert e["impactUsd"] == wad(699999999999999987029032748360000)  # 700
    assert b.pool() == pool
    assert b.total_pending() == -179999999999999998
    assert b.pending("user0short") == 139999999999999997

    # increase short position, negative price impact
    e = b.open("user0short", -20)  # 100,000 USD
    assert e["fillPrice"] == eth_price(4985044865403788)  # ~4985.04
    assert e["impactUsd"] == wad(-299999999999999994441014035010000)  # -300
    assert b.pool() == pool
    assert b.total_pending() == -239999999999999997
    assert b.pending("user0short") == 79999999999999998
    state = venue.clearinghouse.market_state(0)
    assert (state[6], state[7]) == (400_000 * WAD, 600_000 * WAD)  # open interest, long and short

    # increase long position, positive price impact
    e = b.open("user0", 40)
    assert e["fillPrice"] == eth_price(4995004995004995)  # ~4995
    assert e["impactUsd"] == wad(199999999999999996294009356670000)  # 200
    assert b.pool() == pool
    assert b.total_pending() == -199999999999999998
    assert b.pending("user0") == -40000000000000000

    # increase long position, negative price impact
    e = b.open("user0", 20)
    assert e["fillPrice"] == eth_price(5005005005005005)  # ~5005
    assert e["impactUsd"] == wad(-99999999999999998147004678330000)  # -100
    assert b.pool() == pool
    assert b.total_pending() == -219999999999999998
    assert b.pending("user0") == -60000000000000000

    # decrease long position, positive price impact
    e, _ = b.decrease("user0", 20)
    assert e["fillPrice"] == eth_price(5002499999999999)  # ~5002
    assert e["impactUsd"] == wad(49999999999999999073502339165000)  # ~50
    proportional = -60000000000000000000000000000000  # -60
    assert -e["pendingDelta"] * 5000 * 10**12 == proportional
    pool = pool_after_payment(pool, proportional + 49999999999999999073502339165000)
    assert b.pool() == pool == 9900000400000000  # GMX (WNT): 9900000000000002
    assert b.total_pending() == -207999999999999998
    assert b.pending("user0") == -48000000000000000

    # decrease long position, negative price impact
    e, _ = b.decrease("user0", 20)
    assert e["fillPrice"] == eth_price(4995000000000001)  # ~4995
    assert e["impactUsd"] == wad(-99999999999999998147004678330000)  # -100
    proportional = -60000000000000000000000000000000
    assert -e["pendingDelta"] * 5000 * 10**12 == proportional
    pool = pool_after_payment(pool, proportional - 99999999999999998147004678330000)
    assert b.pool() == pool == 41900000400000000  # GMX (WNT): 41900000000000002
    assert b.total_pending() == -195999999999999998
    assert b.pending("user0") == -36000000000000000

    # decrease short position, positive price impact: paid out of the pool
    e, _ = b.decrease("user0short", 20)
    assert e["fillPrice"] == eth_price(4997500000000001)
    assert e["impactUsd"] == wad(49999999999999999073502339165000)  # 50
    proportional = 66666666666666665000000000000000  # 66.67
    assert -e["pendingDelta"] * 5000 * 10**12 == proportional
    total = proportional + 49999999999999999073502339165000
    assert e["realized"] == total // USDC_USD30  # paid out in USDC, rounded down
    pool = pool_after_payment(pool, total)
    assert b.pool() == pool == 18566667066666667  # GMX: 18566666666666669
    assert b.total_pending() == -209333333333333331
    assert b.pending("user0") == -36000000000000000
    assert b.pending("user0short") == 66666666666666665
    assert b.pending("user1") == -239999999999999996


def test_capped_price_impact(venue):
    """PairMarket.ts, it("capped price impact")."""
    b = Book(venue)
    assert b.open("user0", 40)["fillPrice"] == eth_price(5010020040080160)  # ~5010
    e = b.open("user0short", -40)
    assert e["fillPrice"] == eth_price(5005005005005005)  # ~5005
    assert e["impactUsd"] == wad(199999999999999996294009356670000)  # 200
    set_factors(venue, "ETH", max_positive_impact_bps=1)  # maxPositionImpactFactor(+) 1e-4
    e = b.open("user0", 40)
    assert e["fillPrice"] == eth_price(5010020040080160)
    assert e["impactUsd"] == wad(-399999999999999992588018713340000)  # -400
    e = b.open("user0short", -40)
    assert e["fillPrice"] == eth_price(5000500050005000)  # ~5000.5
    assert e["impactUsd"] == wad(20 * 10**30)  # 20 USD: 0.01% of 200,000


def test_price_impact_tracking(venue):
    """PairMarket.ts, it("price impact tracking"). GMX lends the positive impact the empty
    pool cannot pay (step 4); perpsim caps it at the pool, so from step 4 on its pool amounts
    follow perpsim's rule (shown next to GMX's lent amounts)."""
    b = Book(venue)
    assert (b.pool(), b.total_pending()) == (0, 0)
    # 1. user0, open long, negative price impact (-0.08)
    assert b.open("user0", 40)["pendingDelta"] == -79999999999999999
    assert (b.pending("user0"), b.pool(), b.total_pending()) == (-79999999999999999, 0, -79999999999999999)
    # 2. user1, open short, positive price impact (+0.04)
    assert b.open("user1", -40)["pendingDelta"] == 39999999999999999
    assert (b.pending("user1"), b.pool(), b.total_pending()) == (39999999999999999, 0, -40000000000000000)
    # 3. user2, open short, negative price impact (-0.08)
    assert b.open("user2", -40)["pendingDelta"] == -79999999999999999
    assert (b.pending("user2"), b.pool(), b.total_pending()) == (-79999999999999999, 0, -119999999999999999)
    # 4. user1, close short, positive impact (+0.04 held, +0.04 its own): GMX lends
    # 79999999999999999 to pay it; perpsim's empty pool pays nothing.
    e, _ = b.decrease("user1", 40)
    assert e["pendingDelta"] == -39999999999999999  # TotalPendingImpactAmountUpdated delta
    assert (e["realized"], e["poolDelta"]) == (0, 0)
    assert (b.pending("user1"), b.pool(), b.total_pending()) == (0, 0, -159999999999999998)
    # 5. user0, close long, negative (-0.08 held, -0.08 its own): GMX repays the lent 0.08 and
    # keeps 0.08; perpsim keeps what was paid, 800 USD: 0.16 ETH.
    e, _ = b.decrease("user0", 40)
    assert e["pendingDelta"] == 79999999999999999
    assert e["realized"] == -800 * 10**6 and b.pool() == 160000000000000000
    assert b.total_pending() == -79999999999999999
    # 6. user2, close short, positive own impact (+0.04) against its held -0.08: GMX's pool
    # ends at 0.12 ETH; perpsim's at 0.16 + 0.04.
    e, _ = b.decrease("user2", 40)
    assert e["pendingDelta"] == 79999999999999999
    assert e["realized"] == -200 * 10**6 and b.pool() == 200000000000000000
    assert b.total_pending() == 0


def test_difference_in_pnl_should_be_equal_to_price_impact_amount(venue):
    """PairMarket.ts, it("difference in pnl should be equal to price impact amount"): WNT
    collateral of 10 ETH per increase, here 50,000 USD of isolated margin."""
    alice = venue.trader("user0", usdc=200_000)
    alice.deposit(200_000)
    e = impact(alice.open("ETH", 40, 10, "isolated", margin=50_000))
    assert e["fillPrice"] == eth_price(5010020040080160)
    assert e["pendingDelta"] == -79999999999999999
    position = venue.position(alice, "ETH")
    assert (position.size, position.entry_price, position.unrealized_pnl) == (40, 5000, 0)
    assert venue.raw_position(alice, "ETH").entry_notional == 200_000 * WAD
    assert venue.impact_pool_tokens("ETH") == 0
    e = impact(alice.open("ETH", 20, 10, "isolated", margin=50_000))
    assert e["fillPrice"] == eth_price(5025125628140703)  # ~5025.12562814
    assert e["pendingDelta"] == -99999999999999999
    raw = venue.raw_position(alice, "ETH")
    assert (raw.size, raw.entry_notional, raw.margin) == (60 * WAD, 300_000 * WAD, 100_000 * 10**6)
    assert venue.position(alice, "ETH").unrealized_pnl == 0
    assert raw.pending_impact == -179999999999999998
    # Closing half: -450 USD of pending, +337.5 of its own: 112.5 USD paid from the margin.
    receipt = alice.decrease("ETH", 30)  # 150,000 USD
    e = impact(receipt)
    assert e["fillPrice"] == eth_price(5011249999999999)  # ~5011
    assert e["impactUsd"] == wad(337499999999999994450071536280000)  # 337.5
    decreased = receipt.events_named("PositionDecreased")[0]
    assert decreased["realizedPnl"] - e["realized"] == 0  # basePnlUsd
    raw = venue.raw_position(alice, "ETH")
    total = -89999999999999999 * 5000 * 10**12 + 337499999999999994450071536280000
    paid = -(-(-total) // USDC_USD30)  # GMX (WNT): 0.0225 ETH + 1 wei from 10 ETH
    assert paid == 112_500_001
    assert raw.margin == 100_000 * 10**6 - paid
    assert (raw.size, raw.entry_notional) == (30 * WAD, 150_000 * WAD)
    assert venue.position(alice, "ETH").unrealized_pnl == 0
    assert raw.pending_impact == -89999999999999999
    assert venue.impact_pool_tokens("ETH") * WAD == pool_after_payment(0, total) == 22500000200000000
    # GMX (WNT): 22500000000000001


def test_price_impact_synthetic_market(venue):
    """SyntheticMarket.ts, it("price impact synthetic market"): SOL, 9 decimals, at $50."""
    b = Book(venue, "SOL")
    assert (b.pending("user0"), b.pool()) == (0, 0)
    e = b.open("user0", 4_000)  # 200,000 USD
    # GMX: 50100200400801603206412 (50.1002004008..., 21 decimals): a long's increase up
    assert e["fillPrice"] == -(-50100200400801603206412 // 1000) == 50100200400801603207
    assert e["impactUsd"] == wad(-399999999999999992588018713340000)  # -400
    assert b.pool() == 0
    assert b.pending("user0") == -8000000000 * 10**9  # -8 SOL
    e, _ = b.decrease("user0", 4_000)
    # GMX: 50049999999999999999073 (5005 x 10^-2...): a long's decrease rounded down
    assert e["fillPrice"] == 50049999999999999999073 // 1000
    assert e["impactUsd"] == wad(199999999999999996294009356670000)  # 200
    total = -400 * 10**30 + 199999999999999996294009356670000
    paid = -(-(-total) // USDC_USD30)
    units = paid * USDC_USD30 // (50 * 10**30 // 10**9)  # SOL-units (1e-9), rounded down
    assert b.pool() == units * 10**9 == 4000000020 * 10**9  # GMX (WNT): 4000000000, 4 SOL
    assert b.pending("user0") == 0


def test_negative_price_impact_positive_pnl(venue):
    """NegativePriceImpact_PositivePnl.ts, it("negative price impact, positive pnl"): the long
    with 50,000 USDC of collateral (isolated margin), the short with 10 WNT (50,000 here)."""
    long_, short = venue.trader("user0", usdc=100_000), venue.trader("user0short", usdc=100_000)
    for t in (long_, short):
        t.deposit(100_000)
    long_.open("ETH", 40, 10, "isolated", margin=50_000)  # scenes.increasePosition.long
    short.open("ETH", -40, 10, "isolated", margin=50_000)  # scenes.increasePosition.short
    raw = venue.raw_position(long_, "ETH")
    assert (raw.margin, raw.size, raw.entry_notional) == (50_000 * 10**6, 40 * WAD, 200_000 * WAD)
    assert venue.position(long_, "ETH").unrealized_pnl == 0
    assert venue.impact_pool_tokens("ETH") == 0
    assert raw.pending_impact == -79999999999999999
    assert venue.raw_position(short, "ETH").pending_impact == 39999999999999999
    # scenes.decreasePosition.long.positivePnl: 20,000 USD at 5,020 (prices.wnt.increased)
    venue.set_price("ETH", 5020)
    before = venue.account(long_).cross_balance
    receipt = long_.decrease("ETH", 4)
    e = impact(receipt)
    assert venue.clearinghouse.impact_pool(0) == 8796812749003984  # ~0.0088 ETH
    assert venue.raw_position(long_, "ETH").pending_impact == -71999999999999999
    assert venue.raw_position(short, "ETH").pending_impact == 39999999999999999
    # 80 USD of PnL (GMX sends it to the receiver in WNT: 15936254980079681 wei; perpsim
    # credits it in USD to the position's margin); the impact, 44.16 USD, comes out of the
    # collateral: GMX's USDC pool amount grows by 44.16, its collateral falls to 49,955.84 USDC.
    assert receipt.events_named("PositionDecreased")[0]["realizedPnl"] - e["realized"] == 80 * 10**6
    assert e["realized"] == -44_160_000
    raw = venue.raw_position(long_, "ETH")
    assert raw.margin == 49_955_840 * 10**3 + 80 * 10**6  # GMX's collateral, plus the PnL
    assert venue.account(long_).cross_balance == before  # an isolated decrease keeps its margin
    assert (raw.size, raw.entry_notional) == (36 * WAD, 180_000 * WAD)
    venue.set_price("ETH", 5000)
    assert venue.position(long_, "ETH").unrealized_pnl == 0  # basePnlUsd at 5,000
    venue.set_price("ETH", 5020)  # prices.ethUsdMarket.increased
    assert venue.position(long_, "ETH").unrealized_pnl == 720  # longPnl
    assert venue.position(short, "ETH").unrealized_pnl == -800  # shortPnl


def test_gmx_v2_eth_is_arbitrums_eth_usd_market(backend):
    """``MarketConfig.gmx_v2("ETH")``: config/markets.ts, arbitrum, ETH/USD [WETH-USDC]."""
    eth = MarketConfig.gmx_v2("ETH")
    # factors 3e-11 and 9e-11 in GMX's 30 decimals, exponents 1 and 2 (WAD), caps 0.4%, 0.5%, 0
    assert eth.impact_encoded() == (3 * 10**19, 9 * 10**19, WAD, 2 * WAD, 40, 50, 0, 18, False)
    assert (eth.max_leverage, eth.maintenance_fraction, eth.reserve_factor_bps,
            eth.liquidation_fee_bps, eth.min_collateral_usd, eth.max_long_oi_usd,
            eth.max_short_oi_usd) == (200, D("0.004999999999999999"), 27_500, 20, 1, 110_000_000,
                                      110_000_000)
    assert MarketConfig.gmx_v2("ETH", initial_price=D(3000)).initial_price == 3000
    with pytest.raises(ValueError, match="preset gmx-v2 has no market 'DOGE'"):
        MarketConfig.gmx_v2("DOGE")
    venue = Venue.launch(backend=backend, markets=[replace(eth, initial_price=D(3000))],
                         pool_liquidity=10_000_000)
    alice, bob = venue.trader("alice", usdc=1_000_000), venue.trader("bob", usdc=1_000_000)
    for t in (alice, bob):
        t.deposit(1_000_000)
    # A $3M long: 9e-11 x 3,000,000^2 = $810 held (prb-math's pow: a hair less), in ETH up.
    e = impact(alice.open("ETH", 1_000, 10, "cross"))
    f = prb_impact(3_000_000, 9 * 10**19, 2 * WAD)
    assert e["pendingDelta"] == -f // (3000 * 10**12)  # -ceil(f / price)
    # A $1.5M short narrows it: exponent 1, 3e-11 x $1.5M = $0.000045 (GMX's positive impact).
    e = impact(bob.open("ETH", -500, 10, "cross"))
    assert e["pendingDelta"] == 45 * 10**24 // (3000 * 10**12) == 15_000_000_000
    # maxPositionImpactFactorForLiquidations 0: health counts no impact, as on GMX's mainnet.
    assert venue.position(alice, "ETH").impact_health == 0


def prb_impact(usd: int, factor: int, exponent: int) -> int:
    """GMX's applyImpactFactor on a whole-dollar amount (30-decimal result)."""
    from protocol.margin import prbmath
    power = usd * 10**30 if exponent == WAD else prbmath.pow(usd * WAD, exponent) * 10**12
    return power * factor // 10**30
