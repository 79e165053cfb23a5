"""The typed client: launch a venue on a chain, then trade, liquidate and read it in human units."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Iterator, Mapping, Optional, Sequence

from protocol.chain import Chain, Contract, Receipt, connect
from protocol.margin import math as margin_math
from protocol.margin.human import cross_liquidation_price, liquidation_price
from protocol.margin.model import Position as RawPosition
from protocol.venue.config import DEFAULT_MARKETS, MarketConfig
from protocol.venue.units import Number, from_fixed, from_wad, to_tokens, to_wad
from protocol.venue.views import AccountView, PositionView

MAX_UINT = 2**256 - 1
MODES = {"isolated": 1, "cross": 2}
MODE_NAMES = {v: k for k, v in MODES.items()}


@dataclass(frozen=True)
class Deployment:
    """Addresses of one launched venue."""

    usdc: Contract
    oracle: Contract
    clearinghouse: Contract
    pool: Contract
    feeds: Mapping[str, Contract]


class Actor:
    """An address with its own key on the venue's chain."""

    def __init__(self, venue: "Venue", name: str, address: str):
        self.venue = venue
        self.name = name
        self.address = address

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.address})"

    def _send(self, contract: Contract, function: str, *args) -> Receipt:
        return contract.transact(self.address, function, *args).raise_for_status()


class Trader(Actor):
    """A trader's wallet and account. Amounts are USD, sizes base units, prices USD."""

    def deposit(self, usd: Number) -> Receipt:
        v = self.venue
        return self._send(v.clearinghouse, "deposit", self.address, v.tokens(usd))

    def withdraw(self, usd: Number) -> Receipt:
        v = self.venue
        return self._send(v.clearinghouse, "withdraw", self.address, v.tokens(usd))

    def open(self, market: str, size: Number, leverage: int, mode: str = "isolated",
             margin: Number = 0) -> Receipt:
        """Open or increase (size > 0 long, < 0 short). ``margin`` (USD) moves from the cross
        balance into an isolated position; cross positions take none."""
        v = self.venue
        if mode not in MODES:
            raise ValueError(f"mode must be 'isolated' or 'cross', not {mode!r}")
        return self._send(v.clearinghouse, "increasePosition", self.address, v.market_id(market),
                          to_wad(size, "size"), leverage, MODES[mode], v.tokens(margin))

    def decrease(self, market: str, size: Number) -> Receipt:
        """Reduce the position by ``|size|`` base units."""
        v = self.venue
        return self._send(v.clearinghouse, "decreasePosition", self.address, v.market_id(market),
                          abs(to_wad(size, "size")))

    def close(self, market: str) -> Receipt:
        v = self.venue
        size = v.raw_position(self, market).size
        return self._send(v.clearinghouse, "decreasePosition", self.address, v.market_id(market),
                          abs(size) if size else 1)

    def add_margin(self, market: str, usd: Number) -> Receipt:
        v = self.venue
        return self._send(v.clearinghouse, "addMargin", self.address, v.market_id(market),
                          v.tokens(usd))

    def remove_margin(self, market: str, usd: Number) -> Receipt:
        v = self.venue
        return self._send(v.clearinghouse, "removeMargin", self.address, v.market_id(market),
                          v.tokens(usd))

    def provide_liquidity(self, usd: Number) -> Receipt:
        v = self.venue
        return self._send(v.pool, "deposit", v.tokens(usd), self.address)

    def withdraw_liquidity(self, usd: Number) -> Receipt:
        v = self.venue
        return self._send(v.pool, "withdraw", v.tokens(usd), self.address, self.address)


class Keeper(Actor):
    """A liquidation keeper: rewards land in its cross balance."""

    def liquidate(self, trader: Actor | str, market: Optional[str] = None) -> Receipt:
        """``liquidate(alice, "ETH")`` an isolated position; ``liquidate(alice)`` a cross account."""
        v = self.venue
        account = trader if isinstance(trader, str) else trader.address
        if market is None:
            return self._send(v.clearinghouse, "liquidateAccount", account)
        return self._send(v.clearinghouse, "liquidatePosition", account, v.market_id(market))


class Venue:
    """A deployed venue on one chain. Create it with :meth:`launch`."""

    def __init__(self, chain: Chain, admin: str, deployment: Deployment,
                 markets: Sequence[MarketConfig], decimals: int):
        self.chain = chain
        self.admin = admin
        self.deployment = deployment
        self.markets = {c.symbol: c for c in markets}
        self._market_ids = {c.symbol: i for i, c in enumerate(markets)}
        self.decimals = decimals
        self.scale = 10 ** (18 - decimals)
        self.usdc = deployment.usdc
        self.oracle = deployment.oracle
        self.clearinghouse = deployment.clearinghouse
        self.pool = deployment.pool
        self._names: dict[str, int] = {}

    # ------------------------------------------------------------------ launch
    @classmethod
    def launch(cls, backend: str = "pyevm", markets: Optional[Iterable[MarketConfig]] = None, *,
               pool_liquidity: Number = 10_000_000, insurance: Number = 0,
               max_price_age: int = 3600, chain: Optional[Chain] = None) -> "Venue":
        """Deploy token, oracle, clearinghouse, pool and Chainlink feeds on a fresh chain, seed
        the pool with ``pool_liquidity`` USD and push each market's ``initial_price``."""
        markets = list(markets or DEFAULT_MARKETS)
        chain = chain or connect(backend)
        admin = chain.new_account()
        usdc = chain.deploy("MockUSDC", sender=admin)
        decimals = usdc.call("decimals")
        oracle = chain.deploy("PriceOracle", admin, max_price_age, sender=admin)
        oracle.transact(admin, "grantRole", oracle.call("UPDATER_ROLE"), admin).raise_for_status()
        ch = chain.deploy("Clearinghouse", usdc.address, oracle.address, admin, sender=admin)
        pool = chain.deploy("LiquidityPool", usdc.address, ch.address, sender=admin)
        ch.transact(admin, "setPool", pool.address).raise_for_status()
        feeds = {}
        for market_id, config in enumerate(markets):
            ch.transact(admin, "configureMarket", market_id, config.symbol_bytes(),
                        config.encode(decimals)).raise_for_status()
            feeds[config.symbol] = chain.deploy("ChainlinkFeed", oracle.address, market_id,
                                                f"{config.symbol} / USD", sender=admin)
        venue = cls(chain, admin, Deployment(usdc, oracle, ch, pool, feeds), markets, decimals)
        prices = {c.symbol: c.initial_price for c in markets if c.initial_price is not None}
        if prices:
            venue.set_prices(prices)
        if Decimal(str(pool_liquidity)) > 0:
            venue.trader("lp", usdc=pool_liquidity).provide_liquidity(pool_liquidity)
        if Decimal(str(insurance)) > 0:
            venue.fund_insurance(insurance)
        return venue

    # ------------------------------------------------------------------ actors
    def _new_address(self, name: str) -> str:
        count = self._names.get(name, 0)
        self._names[name] = count + 1
        return self.chain.new_account()

    def trader(self, name: str, usdc: Number = 0) -> Trader:
        """A new funded wallet (nothing deposited yet) that has approved the venue."""
        address = self._new_address(name)
        if Decimal(str(usdc)) > 0:
            self.usdc.transact(self.admin, "mint", address, self.tokens(usdc)).raise_for_status()
        for spender in (self.clearinghouse, self.pool):
            self.usdc.transact(address, "approve", spender.address, MAX_UINT).raise_for_status()
        return Trader(self, name, address)

    def keeper(self, name: str) -> Keeper:
        return Keeper(self, name, self._new_address(name))

    def fund_insurance(self, usd: Number) -> Receipt:
        amount = self.tokens(usd)
        self.usdc.transact(self.admin, "mint", self.admin, amount).raise_for_status()
        self.usdc.transact(self.admin, "approve", self.clearinghouse.address, amount).raise_for_status()
        return self.clearinghouse.transact(self.admin, "fundInsurance", amount).raise_for_status()

    # ------------------------------------------------------------------ oracle and time
    def set_price(self, market: str, price: Number) -> Receipt:
        return self.set_prices({market: price})

    def set_prices(self, prices: Mapping[str, Number]) -> Receipt:
        """One oracle update for several markets, stamped with the next block's time."""
        now = self.chain.timestamp
        updates = [(self.market_id(m), now, to_wad(p, "price")) for m, p in prices.items()]
        return self.oracle.transact(self.admin, "pushPrices", updates).raise_for_status()

    def price(self, market: str) -> Decimal:
        return from_wad(self.oracle.call("latest", self.market_id(market))[0])

    def advance_time(self, seconds: int) -> int:
        return self.chain.advance_time(seconds)

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every change inside the block is undone on exit."""
        names = dict(self._names)
        with self.chain.snapshot():
            yield
        self._names = names

    # ------------------------------------------------------------------ reading
    def market_id(self, market: str) -> int:
        try:
            return self._market_ids[market]
        except KeyError:
            raise KeyError(f"unknown market {market!r}; markets: {', '.join(self.markets)}") \
                from None

    def tokens(self, usd: Number) -> int:
        return to_tokens(usd, self.decimals)

    def usd(self, tokens: int) -> Decimal:
        return from_fixed(tokens, self.decimals)

    def raw_position(self, trader: Actor | str, market: str) -> RawPosition:
        """The position exactly as stored on chain (integers; size 0 if there is none)."""
        account = trader if isinstance(trader, str) else trader.address
        return RawPosition(*self.clearinghouse.call("position", account, self.market_id(market)))

    def position(self, trader: Actor | str, market: str) -> Optional[PositionView]:
        """The position at the current price, or None if there is none."""
        account = trader if isinstance(trader, str) else trader.address
        ch, mid = self.clearinghouse, self.market_id(market)
        raw = RawPosition(*ch.call("position", account, mid))
        size, entry, margin, leverage, mode = (raw.size, raw.entry_notional, raw.margin,
                                               raw.leverage, raw.mode)
        if size == 0:
            return None
        price = self.oracle.call("latest", mid)[0]
        funding, borrowing = ch.call("pendingCharges", account, mid)
        config = self.markets[market]
        side = 1 if size > 0 else -1
        pnl = margin_math.pnl(size, entry, price)
        if MODES["isolated"] == mode:
            equity, mm = ch.call("positionHealth", account, mid)
            liq = liquidation_price(side, from_wad(price), from_wad(size), from_wad(equity),
                                    config.maintenance_fraction)
        else:
            equity, mm, _, _ = ch.call("accountHealth", account)
            liq = cross_liquidation_price(side, from_wad(price), from_wad(size), from_wad(equity),
                                          from_wad(mm), config.maintenance_fraction)
        return PositionView(
            market=market, mode=MODE_NAMES[mode], size=from_wad(size),
            entry_price=Decimal(entry) / abs(size) if size else Decimal(0),
            margin=self.usd(margin), leverage=leverage, mark_price=from_wad(price),
            unrealized_pnl=from_wad(pnl), pending_funding=from_wad(funding),
            pending_borrowing=from_wad(borrowing), equity=from_wad(equity),
            maintenance_margin=from_wad(mm),
            liquidation_price=liq if liq > 0 else None)

    def account(self, trader: Actor | str) -> AccountView:
        account = trader if isinstance(trader, str) else trader.address
        ch = self.clearinghouse
        equity, mm, im, _ = ch.call("accountHealth", account)
        return AccountView(
            address=account, cross_balance=self.usd(ch.call("crossBalance", account)),
            equity=from_wad(equity), maintenance_margin=from_wad(mm), initial_margin=from_wad(im),
            free_collateral=from_wad(equity - im),
            wallet=self.usd(self.usdc.call("balanceOf", account)))

    def is_liquidatable(self, trader: Actor | str, market: Optional[str] = None) -> bool:
        account = trader if isinstance(trader, str) else trader.address
        if market is None:
            return self.clearinghouse.call("isAccountLiquidatable", account)
        return self.clearinghouse.call("isLiquidatable", account, self.market_id(market))

    def pool_value(self) -> Decimal:
        return self.usd(self.clearinghouse.call("poolValue"))

    def insurance_fund(self) -> Decimal:
        return self.usd(self.clearinghouse.call("insuranceFund"))
