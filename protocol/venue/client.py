"""The typed client: launch a venue on a chain, then trade, liquidate and read it in human units."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Optional, cast

from eth_utils.address import to_checksum_address

from protocol.chain import Chain, Receipt, connect
from protocol.constants import MAX_UINT, WAD
from protocol.deploy import deploy, venue_plan
from protocol.deploy.deployer import Deployment
from protocol.margin import math as margin_math
from protocol.margin.human import cross_liquidation_price, liquidation_price
from protocol.margin.model import Position as RawPosition
from protocol.margin.types import MarginMode
from protocol.venue import adl
from protocol.venue.admin import AdminActions
from protocol.venue.bounds import bound
from protocol.venue.config import DEFAULT_MARKETS, MarketConfig
from protocol.venue.liquidity import LpRequestReceipt, LpRequestView
from protocol.venue.modules import prepare_modules
from protocol.venue.orders import (
    INCREASE_TYPES,
    MARKET_TYPES,
    ORDER_TYPE_NAMES,
    ORDER_TYPES,
    REQUEST_KINDS,
    OrderReceipt,
    OrderView,
)
from protocol.venue.preview import MarketChangePreview, preview_market_change
from protocol.venue.units import Number, from_fixed, from_wad, price_wad, to_wad, usd_tokens
from protocol.venue.views import AccountView, PositionView

CROSS_ACCOUNT = MAX_UINT  # Clearinghouse.CROSS_ACCOUNT: a liquidation target meaning "cross account"
CLOSE_ALL = MAX_UINT  # Clearinghouse.CLOSE_ALL: decrease by the whole position
MODES = {"isolated": MarginMode.ISOLATED, "cross": MarginMode.CROSS}
MODE_NAMES: dict[int, str] = {v: k for k, v in MODES.items()}  # read with the chain's ints


class Actor:
    """An address with its own key on the venue's chain."""

    def __init__(self, venue: "Venue", name: str, address: str):
        self.venue = venue
        self.name = name
        self.address = address

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.address})"

    @property
    def eth_balance(self) -> int:
        """Native balance in wei (execution fees, gas)."""
        return self.venue.chain.balance(self.address)


class Trader(Actor):
    """A trader's wallet and account. Amounts are USD, sizes base units, prices USD."""

    def deposit(self, usd: Number) -> Receipt:
        v = self.venue
        return v.clearinghouse.deposit(self.address, v.tokens(usd, "usd"),
                                       sender=self.address).raise_for_status()

    def withdraw(self, usd: Number) -> Receipt:
        v = self.venue
        return v.clearinghouse.withdraw(self.address, v.tokens(usd, "usd"),
                                        sender=self.address).raise_for_status()

    def open(self, market: str, size: Number, leverage: int, mode: str = "isolated",
             margin: Number = 0) -> Receipt:
        """Open or increase (size > 0 long, < 0 short). ``margin`` (USD) moves from the cross
        balance into an isolated position; cross positions take none."""
        v = self.venue
        if mode not in MODES:
            raise ValueError(f"mode must be 'isolated' or 'cross', not {mode!r}")
        return v.clearinghouse.increase_position(
            self.address, v.market_id(market), to_wad(size, "size"), leverage, MODES[mode],
            v.tokens(margin, "margin"), sender=self.address).raise_for_status()

    def decrease(self, market: str, size: Number) -> Receipt:
        """Reduce the position by ``|size|`` base units."""
        v = self.venue
        return v.clearinghouse.decrease_position(
            self.address, v.market_id(market), abs(to_wad(size, "size")),
            sender=self.address).raise_for_status()

    def close(self, market: str) -> Receipt:
        """Close the whole position (``NoPosition`` if there is none)."""
        v = self.venue
        return v.clearinghouse.decrease_position(self.address, v.market_id(market), CLOSE_ALL,
                                                 sender=self.address).raise_for_status()

    def add_margin(self, market: str, usd: Number) -> Receipt:
        v = self.venue
        return v.clearinghouse.add_margin(self.address, v.market_id(market), v.tokens(usd, "usd"),
                                          sender=self.address).raise_for_status()

    def remove_margin(self, market: str, usd: Number) -> Receipt:
        v = self.venue
        return v.clearinghouse.remove_margin(
            self.address, v.market_id(market), v.tokens(usd, "usd"),
            sender=self.address).raise_for_status()

    def create_order(self, market: str, type: str, size: Optional[Number] = None, *,
                     side: Optional[str] = None, leverage: int = 1, mode: str = "isolated",
                     collateral: Number = 0, trigger_price: Optional[Number] = None,
                     acceptable_price: Optional[Number] = None,
                     execution_fee: Optional[int] = None) -> OrderReceipt:
        """Create a two-step order; a keeper executes it at a later oracle price.

        ``type`` is one of market_increase, limit_increase, stop_increase, market_decrease,
        take_profit, stop_loss. On an increase ``size`` is signed (> 0 long) and ``collateral``
        (USD) is escrowed now: it becomes the isolated margin, or a deposit for a cross position.
        On a decrease ``size`` is the amount to close (None: the whole position) and ``side``
        defaults to the side of the current position. ``execution_fee`` is in wei (default the
        book's minimum).

        A market order locks the account until it executes, fails, is cancelled or expires
        (:meth:`Venue.pending_market_order`): until then this account's withdrawals, margin
        moves, leverage changes, direct trades, other orders' executions, LP redemptions and a
        second market order raise ``PendingMarketOrder`` (deposits go through), so the order
        cannot be made to fail once its price is known (SPEC §10)."""
        v = self.venue
        if type not in ORDER_TYPES:
            raise ValueError(f"unknown order type {type!r}; one of {sorted(ORDER_TYPES)}")
        if mode not in MODES:
            raise ValueError(f"mode must be 'isolated' or 'cross', not {mode!r}")
        increase = type in INCREASE_TYPES
        if increase:
            if size is None:
                raise ValueError("an increase order needs a size")
            size_wad = to_wad(size, "size")
            is_long = size_wad > 0
        else:
            size_wad = 0 if size is None else abs(to_wad(size, "size"))
            if side is None:
                current = v.raw_position(self, market).size
                if current == 0:
                    raise ValueError(f"no {market} position to decrease; pass side=")
                side = "long" if current > 0 else "short"
            if side not in ("long", "short"):
                raise ValueError(f"side must be 'long' or 'short', not {side!r}")
            is_long = side == "long"
        if type in MARKET_TYPES and trigger_price is not None:
            raise ValueError("market orders take no trigger_price")
        if type not in MARKET_TYPES and trigger_price is None:
            raise ValueError(f"a {type} order needs a trigger_price")
        fee = v.order_book.min_execution_fee() if execution_fee is None else execution_fee
        params = (v.market_id(market), ORDER_TYPES[type], is_long, abs(size_wad), leverage,
                  MODES[mode], v.tokens(collateral, "collateral"),
                  0 if trigger_price is None else price_wad(trigger_price, "trigger_price"),
                  0 if acceptable_price is None else to_wad(acceptable_price, "acceptable_price",
                                                            unit="USD", minimum=0))
        receipt = v.order_book.create_order(params, sender=self.address,
                                            value=fee).raise_for_status()
        return OrderReceipt(receipt.events_named("OrderCreated")[0]["id"], receipt)

    def set_leverage(self, market: str, leverage: int) -> Receipt:
        """Change an open position's leverage (its initial margin at the new leverage must be
        covered); an increase must use the position's leverage."""
        v = self.venue
        return v.clearinghouse.update_leverage(self.address, v.market_id(market), leverage,
                                               sender=self.address).raise_for_status()

    def cancel_order(self, order_id: int) -> Receipt:
        """Cancel an open order: its collateral and the whole execution fee come back."""
        return self.venue.order_book.cancel_order(order_id, sender=self.address).raise_for_status()

    def provide_liquidity(self, usd: Number) -> Receipt:
        """Deposit into the pool at once (ERC-4626 ``deposit``): only while no position is open
        on the venue (otherwise ``LpRequestRequired``; use :meth:`request_deposit`)."""
        v = self.venue
        return v.pool.deposit(v.tokens(usd, "usd"), self.address,
                              sender=self.address).raise_for_status()

    def withdraw_liquidity(self, usd: Number) -> Receipt:
        """Withdraw from the pool at once (ERC-4626 ``withdraw``): only while no position is
        open on the venue (otherwise ``LpRequestRequired``; use :meth:`request_redeem`)."""
        v = self.venue
        return v.pool.withdraw(v.tokens(usd, "usd"), self.address, self.address,
                               sender=self.address).raise_for_status()

    def request_deposit(self, usd: Number, *, min_shares: int = 0, receiver: Optional[str] = None,
                        execution_fee: Optional[int] = None) -> LpRequestReceipt:
        """Request an LP deposit of ``usd`` (escrowed now); a keeper executes it once every
        market with open interest has a newer price, minting at least ``min_shares`` (raw) to
        ``receiver`` (default: this wallet). ``execution_fee`` is in wei (default the book's
        minimum); the owner may cancel only after the book's ``marketOrderTimeout``."""
        v = self.venue
        fee = v.order_book.min_execution_fee() if execution_fee is None else execution_fee
        receipt = v.order_book.request_deposit(
            v.tokens(usd, "usd"), receiver or self.address, min_shares, sender=self.address,
            value=fee).raise_for_status()
        return LpRequestReceipt(receipt.events_named("LpRequestCreated")[0]["id"], receipt)

    def request_redeem(self, shares: Optional[int] = None, *, min_usd: Number = 0,
                       receiver: Optional[str] = None,
                       execution_fee: Optional[int] = None) -> LpRequestReceipt:
        """Request a redemption of ``shares`` (raw; None: all this wallet holds), escrowed now;
        a keeper executes it at a newer price, paying at least ``min_usd`` to ``receiver``."""
        v = self.venue
        amount = v.lp_shares(self) if shares is None else shares
        if v.pool.allowance(self.address, v.order_book.address) < amount:
            v.pool.approve(v.order_book.address, MAX_UINT, sender=self.address).raise_for_status()
        fee = v.order_book.min_execution_fee() if execution_fee is None else execution_fee
        receipt = v.order_book.request_redeem(amount, receiver or self.address,
                                              v.tokens(min_usd, "min_usd"), sender=self.address,
                                              value=fee).raise_for_status()
        return LpRequestReceipt(receipt.events_named("LpRequestCreated")[0]["id"], receipt)

    def cancel_lp_request(self, request_id: int) -> Receipt:
        """Cancel an LP request once the book's ``marketOrderTimeout`` has passed since it was
        made: the escrow and the whole execution fee come back."""
        return self.venue.order_book.cancel_lp_request(request_id,
                                                       sender=self.address).raise_for_status()


Target = tuple[Actor | str, Optional[str]]  # (trader or address, market symbol or None for the cross account)


class Keeper(Actor):
    """A keeper's address: liquidation rewards land in its cross balance, execution fees in
    its ETH balance. ``gas_price`` (wei) is the keeper's bid for block inclusion."""

    def liquidate(self, trader: Actor | str, market: Optional[str] = None, *,
                  gas_price: int = 0) -> Receipt:
        """``liquidate(alice, "ETH")`` an isolated position; ``liquidate(alice)`` a cross account."""
        v = self.venue
        account = trader if isinstance(trader, str) else trader.address
        if market is None:
            return v.clearinghouse.liquidate_account(account, sender=self.address,
                                                     gas_price=gas_price).raise_for_status()
        return v.clearinghouse.liquidate_position(account, v.market_id(market), sender=self.address,
                                                  gas_price=gas_price).raise_for_status()

    def liquidate_batch(self, targets: Iterable[Target], *, gas_price: int = 0) -> Receipt:
        """Liquidate many ``(trader, market)`` targets (market None: the cross account) in one
        transaction; those healthy or gone by then are skipped, not reverted on."""
        return self.venue.clearinghouse.liquidate_batch(
            self.venue.encode_targets(targets), sender=self.address,
            gas_price=gas_price).raise_for_status()

    def execute_order(self, order_id: int, *, gas_price: int = 0,
                      gas: Optional[int] = None) -> Receipt:
        """Execute an order at the current oracle price; its fee pays this keeper's gas.
        ``gas`` is the transaction's gas limit (default: plenty): below the book's
        ``min_execution_gas`` for the order's kind it reverts ``InsufficientExecutionGas``."""
        return self.venue.order_book.execute_order(order_id, sender=self.address,
                                                   gas_price=gas_price, gas=gas).raise_for_status()

    def execute_lp_request(self, request_id: int, *, gas_price: int = 0,
                           gas: Optional[int] = None) -> Receipt:
        """Execute an LP request at the pool's current value (it needs every market with open
        interest priced after the request); its fee pays this keeper's gas. ``gas`` as for
        :meth:`execute_order`."""
        return self.venue.order_book.execute_lp_request(
            request_id, sender=self.address, gas_price=gas_price, gas=gas).raise_for_status()

    def auto_deleverage(self, trader: Actor | str, market: str, size: Optional[Number] = None, *,
                        gas_price: int = 0) -> Receipt:
        """Auto-deleverage ``size`` (base units) of ``trader``'s profitable position in
        ``market`` at the oracle price with no fee; ``None`` closes as much as the rule allows
        (all of it, or what keeps the pnl factor at its floor). Allowed only while pending
        profit is above ``max_pnl_factor_adl`` of the pool, to a keeper holding
        ``ADL_KEEPER_ROLE`` (``venue.keeper(name, adl=True)``; else ``Unauthorized``), and only
        on the highest-ranked position (``venue.adl_candidates``; else ``AdlNotHighestRanked``)."""
        v = self.venue
        account = trader if isinstance(trader, str) else trader.address
        amount = adl.max_adl_size(v, self.address, account, market) if size is None else to_wad(size)
        if amount == 0:
            amount = CLOSE_ALL  # nothing may be closed: let the contract say why
        return v.clearinghouse.auto_deleverage(
            account, v.market_id(market), amount, sender=self.address,
            gas_price=gas_price).raise_for_status()

    def update_funding(self, market: str, *, gas_price: int = 0) -> Receipt:
        return self.venue.clearinghouse.update_funding(
            self.venue.market_id(market), sender=self.address,
            gas_price=gas_price).raise_for_status()

    @property
    def reward_balance(self) -> Decimal:
        """Liquidation rewards received so far (the keeper's cross balance), USD."""
        return self.venue.usd(self.venue.clearinghouse.cross_balance(self.address))


class Venue(AdminActions):
    """A deployed venue on one chain: :meth:`launch` a new one, or :meth:`attach` to one.
    Admin one-liners (configure a market, pause, roles) come from
    :class:`~protocol.venue.admin.AdminActions`."""

    def __init__(self, chain: Chain, deployment: Deployment):
        self.chain = chain
        self.deployment = deployment
        self.admin = deployment.admin
        # A venue's plans are made of MarketConfigs (Venue.launch).
        markets = cast(tuple[MarketConfig, ...], deployment.markets)
        self.markets = {c.symbol: c for c in markets}
        self._market_ids = {c.symbol: i for i, c in enumerate(markets)}
        self.decimals = deployment.decimals
        self.scale = 10 ** (18 - self.decimals)
        self.usdc = deployment.usdc
        self.oracle = deployment.oracle
        self.clearinghouse = deployment.clearinghouse
        self.pool = deployment.pool
        self.order_book = deployment.order_book
        self.reader = deployment.reader

    # ------------------------------------------------------------------ launch
    @classmethod
    def attach(cls, chain: Chain, deployment: Deployment) -> "Venue":
        """Drive an existing deployment (from :func:`protocol.deploy.deploy`)."""
        return cls(chain, deployment)

    @classmethod
    def launch(cls, backend: str = "pyevm", markets: Optional[Iterable[MarketConfig]] = None, *,
               pool_liquidity: Number = 10_000_000, insurance: Number = 0,
               max_price_age: int = 3600, close_grace_period: int = 3600,
               instant_trading: bool = True, collateral: str = "MockUSDC",
               min_execution_fee: int = 0, market_order_timeout: int = 300,
               modules: Optional[Mapping[str, str]] = None,
               contracts: Optional[str | Path] = None,
               chain: Optional[Chain] = None,
               max_pnl_factor_traders: Optional[Number] = None,
               max_pnl_factor_adl: Optional[Number] = None,
               min_pnl_factor_after_adl: Optional[Number] = None) -> "Venue":
        """Plan, deploy and attach: token, oracle, clearinghouse, pool, order book, reader and
        Chainlink feeds on a fresh chain; then seed the pool with ``pool_liquidity`` USD and push
        each market's ``initial_price``. Prices older than ``max_price_age`` stop trading and
        liquidation; closing goes on for ``close_grace_period`` more seconds. With
        ``instant_trading=False`` positions change only through orders (``min_execution_fee``
        in wei; market orders expire after ``market_order_timeout`` s). ``collateral`` names the
        ERC-20 artifact to deploy as collateral (it needs a public ``mint(address,uint256)``;
        tests use it to bring hostile tokens). ``modules`` maps a rule module kind (``rates``,
        ``margin``, ``liquidation``, ``pricing``) to a contract deployed as every market's rule
        of that kind; ``contracts`` is a directory of your own ``.sol`` files, compiled together
        with the project's (see ``docs/ARCHITECTURE.md``). The three pnl factors (fractions of
        the pool; the contract's defaults, GMX v2's 0.9 / 0.85 / 0.77, where left out) set the
        profit cap and auto-deleveraging (:meth:`set_pnl_factors`)."""
        markets = list(markets or DEFAULT_MARKETS)
        artifacts = prepare_modules(modules or {}, contracts)
        plan = venue_plan(markets, max_price_age=max_price_age,
                          close_grace_period=close_grace_period, instant_trading=instant_trading,
                          collateral=collateral, min_execution_fee=min_execution_fee,
                          market_order_timeout=market_order_timeout, modules=modules,
                          artifacts=artifacts)
        for what, usd in (("pool_liquidity", pool_liquidity), ("insurance", insurance)):
            usd_tokens(usd, 18, what)  # refused before anything is deployed
        chain = chain or connect(backend)
        venue = cls.attach(chain, deploy(chain, plan))
        prices = {c.symbol: c.initial_price for c in markets if c.initial_price is not None}
        if prices:
            venue.set_prices(prices)
        if venue.tokens(pool_liquidity, "pool_liquidity"):
            venue.trader("lp", usdc=pool_liquidity).provide_liquidity(pool_liquidity)
        if venue.tokens(insurance, "insurance"):
            venue.fund_insurance(insurance)
        factors = {name: value for name, value in (
            ("max_pnl_factor_traders", max_pnl_factor_traders), ("max_pnl_factor_adl", max_pnl_factor_adl),
            ("min_pnl_factor_after_adl", min_pnl_factor_after_adl)) if value is not None}
        if factors:
            venue.set_pnl_factors(**factors)
        return venue

    # ------------------------------------------------------------------ actors
    def trader(self, name: str, usdc: Number = 0) -> Trader:
        """A new funded wallet (nothing deposited yet) that has approved the venue."""
        amount = self.tokens(usdc, "usdc")
        address = self.chain.new_account()
        if amount:
            self.usdc.mint(address, amount, sender=self.admin).raise_for_status()
        for spender in (self.clearinghouse, self.pool, self.order_book):
            self.usdc.approve(spender.address, MAX_UINT, sender=address).raise_for_status()
        return Trader(self, name, address)

    def mint(self, trader: Actor | str, usd: Number) -> Receipt:
        """Mint test collateral (MockUSDC) into a wallet."""
        account = trader if isinstance(trader, str) else trader.address
        return self.usdc.mint(account, self.tokens(usd, "usd"),
                              sender=self.admin).raise_for_status()

    def keeper(self, name: str, *, adl: bool = False) -> Keeper:
        """A new keeper wallet. ``adl=True`` also has the admin grant it ``ADL_KEEPER_ROLE``:
        only ADL keepers may auto-deleverage (:meth:`Keeper.auto_deleverage`)."""
        keeper = Keeper(self, name, self.chain.new_account())
        if adl:
            self.grant_role("ADL_KEEPER", keeper.address).raise_for_status()
        return keeper

    def fund_insurance(self, usd: Number) -> Receipt:
        amount = self.tokens(usd, "usd")
        self.usdc.mint(self.admin, amount, sender=self.admin).raise_for_status()
        self.usdc.approve(self.clearinghouse.address, amount, sender=self.admin).raise_for_status()
        return self.clearinghouse.fund_insurance(amount, sender=self.admin).raise_for_status()

    # ------------------------------------------------------------------ oracle and time
    def set_price(self, market: str, price: Number) -> Receipt:
        return self.set_prices({market: price})

    def set_prices(self, prices: Mapping[str, Number]) -> Receipt:
        """One oracle update for several markets, stamped with the next block's time."""
        now = self.chain.timestamp
        updates = [(self.market_id(m), now, price_wad(p, f"{m} price")) for m, p in prices.items()]
        return self.oracle.push_prices(updates, sender=self.admin).raise_for_status()

    def price(self, market: str) -> Decimal:
        return from_wad(self.oracle.latest(self.market_id(market))[0])

    def mark_price(self, market: str) -> Decimal:
        """``markPrice``: the market's mark price now. For a market that tracks memory (a
        stateful rates module, or a window set with :meth:`set_mark_window`): the EMA of its
        oracle price (time constant the window, 150 s until set), started at the oracle price by
        its first accrual after it began to track. For any other market: the oracle price
        (:meth:`price`). Only rates modules that read it use it; the venue's own rules use the
        oracle price."""
        return from_wad(self.clearinghouse.mark_price(self.market_id(market)))

    def set_mark_window(self, market: str, seconds: int) -> Receipt:
        """The time constant of ``market``'s mark price, in [1, 3600] s
        (``MarkWindowOutOfBounds``); the market accrues under the old one first, and tracks its
        mark price from then on (a market that did not starts it at the oracle price at its next
        accrual)."""
        return self.clearinghouse.set_mark_window(self.market_id(market), seconds,
                                                  sender=self.admin).raise_for_status()

    def advance_time(self, seconds: int) -> int:
        return self.chain.advance_time(seconds)

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every change inside the block is undone on exit (the markets' configs included)."""
        markets = dict(self.markets)
        try:
            with self.chain.snapshot():
                yield
        finally:
            self.markets.clear()
            self.markets.update(markets)

    # ------------------------------------------------------------------ reading
    def market_id(self, market: str) -> int:
        try:
            return self._market_ids[market]
        except KeyError:
            raise KeyError(f"unknown market {market!r}; markets: {', '.join(self.markets)}") \
                from None

    def tokens(self, usd: Number, what: str = "amount") -> int:
        """``usd`` (at least 0) in collateral token units; ``what`` names it in the
        :class:`~protocol.errors.AmountError` a bad amount raises."""
        return usd_tokens(usd, self.decimals, what)

    def usd(self, tokens: int) -> Decimal:
        return from_fixed(tokens, self.decimals)

    def raw_position(self, trader: Actor | str, market: str) -> RawPosition:
        """The position exactly as stored on chain (integers; size 0 if there is none)."""
        account = trader if isinstance(trader, str) else trader.address
        return RawPosition(*self.clearinghouse.position(account, self.market_id(market)))

    def position(self, trader: Actor | str, market: str) -> Optional[PositionView]:
        """The position at the current price, or None if there is none."""
        account = trader if isinstance(trader, str) else trader.address
        ch, mid = self.clearinghouse, self.market_id(market)
        raw = RawPosition(*ch.position(account, mid))
        size, entry, margin, leverage, mode = (raw.size, raw.entry_notional, raw.margin,
                                               raw.leverage, raw.mode)
        if size == 0:
            return None
        price = self.oracle.latest(mid)[0]
        funding, borrowing = ch.pending_charges(account, mid)
        config = self.markets[market]
        side = 1 if size > 0 else -1
        pnl = margin_math.pnl(size, entry, price)
        if MODES["isolated"] == mode:
            equity, mm = ch.position_health(account, mid)
            liq = liquidation_price(side, from_wad(price), from_wad(size), from_wad(equity),
                                    None if config.tiers else config.maintenance_fraction,
                                    tiers=config.tiers or None)
        else:
            equity, mm, _, _ = ch.account_health(account)
            liq = cross_liquidation_price(side, from_wad(price), from_wad(size), from_wad(equity),
                                          from_wad(mm), config.maintenance_fraction)
        return PositionView(
            market=market, mode=MODE_NAMES[mode], size=from_wad(size),
            entry_price=Decimal(entry) / abs(size) if size else Decimal(0),
            margin=self.usd(margin), leverage=leverage, mark_price=from_wad(price),
            unrealized_pnl=from_wad(pnl), pending_funding=from_wad(funding),
            pending_borrowing=from_wad(borrowing), equity=from_wad(equity),
            maintenance_margin=from_wad(mm),
            liquidation_price=liq if liq > 0 else None,
            pending_impact=from_wad(raw.pending_impact),
            impact_health=from_wad(ch.health_impact(account, mid)))

    def account(self, trader: Actor | str) -> AccountView:
        account = trader if isinstance(trader, str) else trader.address
        ch = self.clearinghouse
        equity, mm, im, _ = ch.account_health(account)
        return AccountView(
            address=account, cross_balance=self.usd(ch.cross_balance(account)),
            equity=from_wad(equity), maintenance_margin=from_wad(mm), initial_margin=from_wad(im),
            free_collateral=from_wad(equity - im),
            wallet=self.usd(self.usdc.balance_of(account)))

    def is_liquidatable(self, trader: Actor | str, market: Optional[str] = None) -> bool:
        account = trader if isinstance(trader, str) else trader.address
        if market is None:
            return self.clearinghouse.is_account_liquidatable(account)
        return self.clearinghouse.is_liquidatable(account, self.market_id(market))

    # ------------------------------------------------------------------ orders and keepers
    def create_order(self, trader: Trader, *args: Any, **kwargs: Any) -> OrderReceipt:
        """``trader.create_order(...)``; see :meth:`Trader.create_order`."""
        return trader.create_order(*args, **kwargs)

    def orders(self, trader: Optional[Actor | str] = None) -> list[OrderView]:
        """Open orders (of one trader, or all), oldest first."""
        account = None if trader is None else (trader if isinstance(trader, str) else trader.address)
        symbols = {i: s for s, i in self._market_ids.items()}
        found = []
        for order_id in self.open_ids("Order"):
            (owner, kind, mode, leverage, market, is_long, created, size, collateral, trigger,
             acceptable, fee) = self.order_book.order(order_id)
            if int(owner, 16) == 0 or (account is not None and owner.lower() != account.lower()):
                continue
            name = ORDER_TYPE_NAMES[kind]
            found.append(OrderView(
                id=order_id, account=to_checksum_address(owner), market=symbols[market], type=name,
                side="long" if is_long else "short",
                size=from_wad(size) if size or name in INCREASE_TYPES else None,
                leverage=leverage, mode=MODE_NAMES.get(mode), collateral=self.usd(collateral),
                trigger_price=from_wad(trigger) if trigger else None,
                acceptable_price=from_wad(acceptable) if acceptable else None,
                execution_fee_wei=fee, created_at=created))
        return found

    def open_ids(self, kind: str) -> list[int]:
        """The ids of the open orders (``kind`` "Order") or LP requests ("LpRequest"), oldest
        first: the book's open list, read whole."""
        count = self.order_book.call(f"open{kind}Count")
        return sorted(self.order_book.call(f"open{kind}Ids", 0, count))

    def lp_requests(self, trader: Optional[Actor | str] = None) -> list[LpRequestView]:
        """Open LP requests (of one account, or all), oldest first."""
        account = None if trader is None else (trader if isinstance(trader, str) else trader.address)
        found = []
        for request_id in self.open_ids("LpRequest"):
            owner, receiver, is_deposit, created, amount, min_out, fee = \
                self.order_book.lp_request(request_id)
            if int(owner, 16) == 0 or (account is not None and owner.lower() != account.lower()):
                continue
            found.append(LpRequestView(
                id=request_id, account=to_checksum_address(owner),
                receiver=to_checksum_address(receiver), kind="deposit" if is_deposit else "redeem",
                amount=self.usd(amount) if is_deposit else amount,
                min_out=min_out if is_deposit else self.usd(min_out),
                execution_fee_wei=fee, created_at=created))
        return found

    def pending_market_order(self, trader: Actor | str) -> Optional[int]:
        """The id of the account's pending market order while it locks the account (until it
        executes, fails, is cancelled or expires; SPEC §10), else None."""
        account = trader if isinstance(trader, str) else trader.address
        order_id, _, expires_at = self.clearinghouse.order_lock(account)
        return order_id if order_id and self.chain.timestamp <= expires_at else None

    def escrow(self, trader: Actor | str) -> tuple[Decimal, int]:
        """What the order book holds for the account: USD (order collateral and LP deposit
        assets) and pool shares (raw; LP redemptions)."""
        account = trader if isinstance(trader, str) else trader.address
        tokens, shares = self.order_book.escrow(account)
        return self.usd(tokens), shares

    def min_execution_gas(self, kind: str) -> int:
        """The gas an execution of ``kind`` (increase, decrease, lp_deposit, lp_redeem) must
        start with."""
        return self.order_book.min_execution_gas(self._request_kind(kind))

    def set_min_execution_gas(self, kind: str, gas: int) -> Receipt:
        """Set the minimum execution gas of ``kind`` (admin; within the ``min_execution_gas``
        bound, else :class:`~protocol.venue.bounds.ParameterOutOfBounds`)."""
        bound("min_execution_gas").check(gas)
        return self.order_book.set_min_execution_gas(self._request_kind(kind), gas,
                                                     sender=self.admin).raise_for_status()

    @staticmethod
    def _request_kind(kind: str) -> int:
        try:
            return REQUEST_KINDS[kind]
        except KeyError:
            raise ValueError(f"unknown request kind {kind!r}; one of {sorted(REQUEST_KINDS)}") from None

    def lp_shares(self, trader: Actor | str) -> int:
        """Pool shares (raw, ``pool.decimals()``) held by a wallet, escrowed ones excluded."""
        account = trader if isinstance(trader, str) else trader.address
        return self.pool.balance_of(account)

    def encode_targets(self, targets: Iterable[Target]) -> list[tuple[str, int]]:
        """``(trader, market or None)`` pairs as ``Clearinghouse.LiquidationTarget`` tuples."""
        out = []
        for trader, market in targets:
            account = trader if isinstance(trader, str) else trader.address
            out.append((account, CROSS_ACCOUNT if market is None else self.market_id(market)))
        return out

    def liquidatable(self, start: int = 0, count: int = 1_000) -> tuple[list[tuple[str, Optional[str]]], int]:
        """One Reader call: liquidatable ``(address, market or None)`` among registered accounts
        ``[start, start + count)``, and where to continue (``account_count()`` when done)."""
        found, next_index = self.reader.liquidatable(self.clearinghouse.address, start, count)
        return self._targets(found), next_index

    def at_risk(self, start: int = 0, count: int = 1_000, threshold_bps: int = 15_000,
                ) -> tuple[list[tuple[str, Optional[str]]], int]:
        """Like :meth:`liquidatable` for targets with equity below ``threshold_bps``/10,000 of
        their maintenance margin."""
        found, next_index = self.reader.at_risk(self.clearinghouse.address, start, count,
                                                threshold_bps)
        return self._targets(found), next_index

    def _targets(self, found: Iterable[tuple[str, int]]) -> list[tuple[str, Optional[str]]]:
        symbols = {i: s for s, i in self._market_ids.items()}
        return [(to_checksum_address(a), None if m == CROSS_ACCOUNT else symbols[m])
                for a, m in found]

    def preview_market_change(self, market: str, **changes: Any) -> MarketChangePreview:
        """What changing ``market``'s parameters (``MarketConfig`` fields, e.g.
        ``max_leverage=20``) would make liquidatable, and their shortfall in USD; changes
        nothing (:class:`~protocol.venue.preview.MarketChangePreview`)."""
        return preview_market_change(self, market, **changes)

    def change_market(self, market: str, **changes: Any) -> Receipt:
        """Change ``market``'s parameters (``MarketConfig`` fields). A risk-increasing change
        (one that raises the maintenance charged or lowers the leverage allowed at some
        notional, tiers included: SPEC §2) under a risk-change delay is scheduled, not applied: the
        receipt carries ``MarketChangeScheduled`` and the same call from its ``readyAt`` on
        applies it (earlier: ``MarketChangeNotReady``). ``venue.markets`` follows what applied
        (:meth:`configure_market` with changes)."""
        return self.configure_market(market, **changes)

    def set_market_tiers(self, market: str, tiers: Iterable[tuple[Number, int]]) -> Receipt:
        """Replace ``market``'s maintenance tiers (``[(lower bound USD, max leverage), ...]``,
        empty for none); tiers that charge more maintenance or allow less leverage at some
        notional than the rule in force (tiers or mmf) wait for the risk-change delay as
        :meth:`change_market` describes."""
        # MarketConfig makes them (Decimal, int) pairs, as it does with any it is given.
        config = replace(self.markets[market], tiers=cast(tuple[tuple[Decimal, int], ...], list(tiers)))
        receipt = self.clearinghouse.set_market_tiers(
            self.market_id(market), *config.tiers_encoded(), sender=self.admin).raise_for_status()
        if receipt.events_named("MarketTiersSet"):
            self.markets[market] = config
        return receipt

    def set_risk_change_delay(self, seconds: int) -> Receipt:
        """How long risk-increasing market changes wait (0, the default: they apply at once;
        at most 30 days)."""
        return self.clearinghouse.set_risk_change_delay(seconds,
                                                        sender=self.admin).raise_for_status()

    def set_pnl_factors(self, *, max_pnl_factor_traders: Optional[Number] = None,
                        max_pnl_factor_adl: Optional[Number] = None,
                        min_pnl_factor_after_adl: Optional[Number] = None) -> Receipt:
        """Set the profit cap and the ADL thresholds, as fractions of the pool's assets (whole
        basis points; those left out keep their value). ``max_pnl_factor_traders=0`` turns the
        cap off: a profit the pool cannot pay then reverts ``PoolInsolvent``, as before."""
        now = self.solvency()
        values = [adl.factor_bps(name, now_value if given is None else given) for name, given, now_value in (
            ("max_pnl_factor_traders", max_pnl_factor_traders, now.max_pnl_factor_traders),
            ("max_pnl_factor_adl", max_pnl_factor_adl, now.max_pnl_factor_adl),
            ("min_pnl_factor_after_adl", min_pnl_factor_after_adl, now.min_pnl_factor_after_adl))]
        return self.clearinghouse.set_pnl_factors(*values, sender=self.admin).raise_for_status()

    def solvency(self) -> adl.SolvencyView:
        """Pending profit against the pool, the pnl factor and the thresholds."""
        return adl.solvency(self)

    def adl_candidates(self, market: str) -> list[adl.AdlCandidate]:
        """Profitable positions in ``market``, highest auto-deleveraging score first (each
        with ``.account``, ``.side``, ``.size``, ``.score``)."""
        return adl.adl_candidates(self, market)

    def account_count(self) -> int:
        return self.clearinghouse.account_count()

    def pool_value(self) -> Decimal:
        return self.usd(self.clearinghouse.pool_value())

    def impact_pool_tokens(self, market: str) -> Decimal:
        """``market``'s impact pool in units of its base asset (GMX holds it in index tokens):
        negative price impact paid in less positive impact paid out, each at its price."""
        return from_wad(self.clearinghouse.impact_pool(self.market_id(market)))

    def impact_pool(self, market: str) -> Decimal:
        """``market``'s impact pool in USD at the oracle price: the cap on positive impact (0
        without a pricing module). :meth:`impact_pool_tokens` is what the venue stores."""
        m = self.market_id(market)
        price = self.oracle.latest(m)[0]
        return from_wad(self.clearinghouse.impact_pool(m) * price // WAD)

    def held_impact(self, trader: Actor | str) -> Decimal:
        """Negative price impact held for ``trader`` in USD (collateral tokens): what it paid
        above the pricing module's cap, kept from the impact pool so nobody can collect it as
        positive impact, until the admin releases it (:meth:`release_held_impact`). It pays the
        account's bad debt first; it is not collateral."""
        account = trader if isinstance(trader, str) else trader.address
        return self.usd(self.clearinghouse.held_impact(account))

    def release_held_impact(self, trader: Actor | str, usd: Optional[Number] = None) -> Receipt:
        """The admin releases ``usd`` (default: all) of ``trader``'s held impact into its cross
        balance (GMX's claimable collateral, released by its config keeper). More than is held
        raises ``ReleaseExceedsHeld``."""
        account = trader if isinstance(trader, str) else trader.address
        amount = (self.clearinghouse.held_impact(account) if usd is None
                  else self.tokens(usd, "usd"))
        return self.clearinghouse.release_held_impact(account, amount,
                                                      sender=self.admin).raise_for_status()

    def quote_fill(self, market: str, size: Number) -> Decimal:
        """The execution price an increase of ``size`` (> 0 buys) would get now: the oracle
        price moved by the market's price impact, if it has any (GMX: size in USD over size in
        tokens plus or minus the impact tokens)."""
        m = self.market_id(market)
        oracle = self.oracle.latest(m)[0]
        return from_wad(self.clearinghouse.quote_fill(m, to_wad(size, "size"), oracle))

    def quote_close(self, trader: Actor | str, market: str, size: Optional[Number] = None) -> Decimal:
        """The execution price a decrease of ``size`` (None: all) of ``trader``'s position would
        get now (what a decrease order's acceptable price is checked against)."""
        account = trader if isinstance(trader, str) else trader.address
        m = self.market_id(market)
        oracle = self.oracle.latest(m)[0]
        held = abs(self.clearinghouse.position(account, m)[0])
        size_abs = held if size is None else to_wad(size, "size")
        return from_wad(self.clearinghouse.quote_decrease(account, m, size_abs, oracle))

    def insurance_fund(self) -> Decimal:
        return self.usd(self.clearinghouse.insurance_fund())
