"""The book as keepers know it from events: positions, cross accounts, open orders and LP
requests, kept from every receipt of the venue's chain, and the few positions that may be near
liquidation.

Real keepers (GMX's, Hyperliquid's liquidators) do not re-read the whole book each block: they
keep it from the venue's events and ask the chain only about candidates. :class:`BookIndex` does
the same:

* **Membership** from events: ``PositionIncreased`` / ``PositionDecreased`` /
  ``PositionLiquidated`` / ``AutoDeleveraged`` sizes (exact integers), ``AccountRegistered``
  order, ``OrderCreated`` and ``LpRequestCreated`` and what ends them.
* **Holdings.** What each account holds (wallet, LP shares, escrow, cross balance, positions:
  ``Reader.accountStates``) is read once and again only after an event names the account (a
  Clearinghouse event with its ``account``, a token or share ``Transfer``, its order or LP
  request made or ended). Equity and health are computed from them with the chain's arithmetic
  (:mod:`protocol.keepers.valuation`): ``Reader.equities`` and ``Reader.health`` to the wei,
  the chain asked only where the mirror stops (held impact, rates and margin modules, a cross
  account with a stale market).
* **Candidates.** Each target (an isolated position, or a cross account) is valued once
  (equity, maintenance margin, entry notional) and then left alone until one of these: an event
  names its account; a market it holds moves against it by the fraction
  ``slack / (4 x notional)`` of the price it was valued at (the other half of the slack is kept
  for accrual); the deadline by which funding and borrowing at their largest possible rates
  could have spent half its slack; a change to a market's rules. Below ``slack`` 0 (at or under
  maintenance, or a stale price), or holding a market with a pricing module (whose impact term
  moves with other traders' trades), it is valued every time. The tests compare this with a full
  chain scan on every built-in scenario (:meth:`BookIndex.verify`).
* **Cost.** A block with nothing happening costs a few heap peeks per market, whatever the size
  of the book: the triggers sit in heaps keyed by price and by time.

The index keeps the state of the snapshot level it was built at: transactions inside a deeper
:meth:`Chain.snapshot` are undone when it ends, so it ignores them (asked inside one, it answers
for the state outside). When the level it was built at ends, or ``revert_to`` rewinds the chain,
it rebuilds from the chain when next asked.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Optional, Protocol, Sequence, cast

from eth_utils.address import to_checksum_address

from protocol.constants import WAD
from protocol.exceptions import PerpsimError
from protocol.keepers.valuation import (
    Holdings,
    MarginRule,
    MarketNow,
    cross_health,
    equity,
    isolated_health,
    market_now,
)
from protocol.margin.rates import MAX_MODULE_BORROW_RATE, MAX_MODULE_FUNDING_RATE
from protocol.margin.types import MarginMode, ModuleKind
from protocol.venue.client import CROSS_ACCOUNT

if TYPE_CHECKING:
    from protocol.chain import Receipt
    from protocol.chain.abi import Event
    from protocol.venue.client import Venue

#: ``Reader.equities`` with the order book, so escrowed collateral, LP deposits and shares count.
EQUITIES = "equities(address,address,address,address[])"
#: ``Reader.accountStates``, read as plain tuples: the index reads positions by index, and a
#: named tuple per position would cost more than the read's decoding.
ACCOUNT_STATES = "accountStates(address,address,address,address[])"
READ_CHUNK = 400  # accounts or targets per Reader call
#: Trigger order types that fire below their price for a long (above for a short):
#: LimitIncrease, StopLoss (``OrderBook.OrderType``).
BELOW_FOR_LONG = (1, 5)
ACCOUNT_EVENTS = frozenset((
    "PositionIncreased", "PositionDecreased", "PositionLiquidated", "AutoDeleveraged",
    "MarginChanged", "LeverageUpdated", "AccountLiquidated", "BadDebt", "Deposited", "Withdrawn",
    "ProfitCapped", "PriceImpact", "ImpactHeld", "HeldImpactReleased"))
SIZE_EVENTS = {"PositionIncreased": "sizeDelta", "PositionDecreased": "sizeDelta",
               "PositionLiquidated": "sizeClosed", "AutoDeleveraged": "sizeDelta"}
RULE_EVENTS = frozenset(("MarketConfigured", "MarketTiersSet", "MarketModuleSet",
                         "RatesModuleFailed"))
ORDER_ENDS = frozenset(("OrderExecuted", "OrderFailed", "OrderCancelled"))
LP_ENDS = frozenset(("LpRequestExecuted", "LpRequestFailed", "LpRequestCancelled"))

Target = tuple[str, Optional[str]]  # (account, market symbol) or (account, None): cross
#: A trigger in a heap: (key, the watch version it was set at, its target).
_Trigger = tuple[int, int, Target]


class IndexMismatch(PerpsimError):
    """The event index disagrees with a full scan of the chain (:meth:`BookIndex.verify`)."""


@dataclass(frozen=True)
class TriggerOrder:
    """What the index keeps of an open order: whose it is, and enough to tell whether it may
    be due."""

    account: str
    market: int
    order_type: int
    is_long: bool
    trigger_price: int  # WAD; 0 for market orders

    def may_run_at(self, price: int) -> bool:
        """Whether its trigger allows it at ``price`` (market orders: always): the chain still
        decides (``OrderBook.isExecutable``)."""
        if self.trigger_price == 0:
            return True
        below = (self.order_type in BELOW_FOR_LONG) == self.is_long
        return price <= self.trigger_price if below else price >= self.trigger_price


@dataclass
class Watch:
    """A target's last reading and the version its triggers carry."""

    equity: int
    maintenance: int
    liquidatable: bool
    version: int


class _Indexed(Protocol):
    """A venue that :meth:`BookIndex.of` gave its index."""

    _book_index: BookIndex


class BookIndex:
    """The venue's book from events; see the module docstring. Get the venue's one with
    :meth:`of` (built from the chain the first time, then kept from receipts)."""

    def __init__(self, venue: Venue):
        self.venue = venue
        self.chain = venue.chain
        self.symbols = list(venue.markets)
        self.market_ids = {s: venue.market_id(s) for s in self.symbols}
        self._clearinghouse = venue.clearinghouse.address.lower()
        self._order_book = venue.order_book.address.lower()
        self._checksum: dict[str, str] = {}
        self.sizes: dict[tuple[str, int], int] = {}  # (account, market id) -> signed size
        self.modes: dict[tuple[str, int], int] = {}  # (account, market id) -> MarginMode
        self.cross: dict[str, int] = {}  # account -> mask of markets with a cross position
        self.registered: dict[str, int] = {}  # account -> its place in the Clearinghouse's list
        self.orders: dict[int, TriggerOrder] = {}
        self.lp_requests: dict[int, str] = {}  # id -> the account that made it
        #: what each account holds (read from the chain), and the accounts an event has named
        #: since theirs was read
        self.holdings: dict[str, Holdings] = {}
        self.unread: set[str] = set()
        self._usdc = venue.usdc.address.lower()
        self._pool = venue.pool.address.lower()
        self._scale = venue.clearinghouse.scale()
        self.reads = 0  # targets read from the chain, for benchmarks
        self._stop = self.chain.listen(self._on_receipt)
        self.rebuild()

    @classmethod
    def of(cls, venue: Venue) -> "BookIndex":
        """The venue's index, made on first use."""
        index: Optional[BookIndex] = getattr(venue, "_book_index", None)
        if index is None or index.venue is not venue:
            index = cls(venue)
            cast(_Indexed, venue)._book_index = index
        return index

    def close(self) -> None:
        """Stop listening to the chain."""
        self._stop()

    # ------------------------------------------------------------------ from the chain
    def rebuild(self) -> None:
        """Read the whole book from the chain (the index's first state, and after a rewind)."""
        v = self.venue
        self.sizes.clear()
        self.modes.clear()
        self.cross.clear()
        self.registered.clear()
        for account, market, size, mode in self._chain_positions():
            self._set_size(account, market, size, mode)
        for i, account in enumerate(self._chain_accounts()):
            self.registered[account] = i
        self.orders = {i: self._order(i) for i in v.open_ids("Order")}
        self.lp_requests = {i: self._account(v.order_book.lp_request(i)[0])
                            for i in v.open_ids("LpRequest")}
        self.holdings.clear()
        self.unread.clear()
        self._reset_watch()
        self._rewinds = self.chain.rewinds
        self._path = self.chain.snapshot_path

    def _chain_accounts(self) -> list[str]:
        v = self.venue
        found: list[str] = []
        start, total = 0, v.account_count()
        while start < total:
            page, start = v.reader.registered_accounts(v.clearinghouse.address, start, 5_000)
            found.extend(self._account(a) for a in page)
        return found

    def _chain_positions(self) -> list[tuple[str, int, int, int]]:
        v = self.venue
        found: list[tuple[str, int, int, int]] = []
        start, total = 0, v.account_count()
        while start < total:
            page, start = v.reader.open_positions(v.clearinghouse.address, start, 1_000)
            found.extend((self._account(a), m, size, mode) for a, m, size, mode in page)
        return found

    def _order(self, order_id: int) -> TriggerOrder:
        return self._trigger_order(self.venue.order_book.order(order_id))

    def _trigger_order(self, o: Sequence[Any]) -> TriggerOrder:
        return TriggerOrder(self._account(o[0]), o[4], o[1], o[5], o[9])

    def _reset_watch(self) -> None:
        self.watching: dict[Target, Watch] = {}
        self.dirty: set[Target] = set(self.targets())
        self.near: set[Target] = set()
        self._lower: dict[int, list[_Trigger]] = {m: [] for m in self.market_ids.values()}  # max-heaps
        self._upper: dict[int, list[_Trigger]] = {m: [] for m in self.market_ids.values()}  # min-heaps
        self._deadlines: list[_Trigger] = []
        self._version = 0
        self._bounds = self._read_rules()

    def _read_rules(self) -> dict[int, tuple[int, int]]:
        """Each market's rules as the index needs them: its configuration, its margin rule
        (mmf and tiers; None for a module), which markets have a rates or a pricing module; and,
        returned, the largest funding and borrow rates (WAD per second) it can accrue at: its
        configured caps, or the hard bounds when a module sets its rates."""
        ch = self.venue.clearinghouse
        bounds = {}
        self._impact_markets = set()
        self._rates_modules = set()
        self._configs = {}
        self._margins: dict[int, Optional[MarginRule]] = {}
        for m in self.market_ids.values():
            config = self._configs[m] = ch.market_config(m)
            modules = ch.market_modules(m)
            if int(modules[ModuleKind.RATES], 16):
                self._rates_modules.add(m)
                bounds[m] = (MAX_MODULE_FUNDING_RATE, MAX_MODULE_BORROW_RATE)
            else:
                bounds[m] = (config[2], config[3])
            if int(modules[ModuleKind.MARGIN], 16):
                self._margins[m] = None
            else:
                count = ch.market_tier(m, 0)[3]
                # a slice of a named tuple is a plain tuple
                self._margins[m] = MarginRule(config[0], tuple(
                    ch.market_tier(m, i)[:3] for i in range(count)))
            if int(modules[ModuleKind.PRICING], 16):
                self._impact_markets.add(m)
        return bounds

    # ------------------------------------------------------------------ from receipts
    def _on_receipt(self, receipt: Receipt) -> None:
        if not receipt.logs or self.chain.snapshot_path != self._path:
            return  # inside a snapshot: undone when it ends
        for event in receipt.events:
            where = event.address.lower()
            if where == self._clearinghouse:
                self._clearinghouse_event(event)
            elif where == self._order_book:
                self._order_event(event)
            elif event.name == "Transfer" and where in (self._usdc, self._pool):
                self.unread.add(self._account(event["from"]))
                self.unread.add(self._account(event["to"]))

    def _clearinghouse_event(self, event: Event) -> None:
        name = event.name
        if name in ACCOUNT_EVENTS:
            account = self._account(event["account"])
            field = SIZE_EVENTS.get(name)
            if field is not None:
                key = (account, event["market"])
                mode = event["mode"] if name == "PositionIncreased" else self.modes.get(key)
                self._set_size(account, event["market"], self.sizes.get(key, 0) + event[field],
                               mode)
            self._touch(account)
        elif name == "AccountRegistered":
            self.registered[self._account(event["account"])] = event["index"]
        elif name in RULE_EVENTS:
            self.dirty.update(self.targets())
            self._bounds = self._read_rules()

    def _order_event(self, event: Event) -> None:
        name = event.name
        if name == "OrderCreated":
            order = self.orders[event["id"]] = self._trigger_order(event["order"])
            self.unread.add(order.account)
        elif name in ORDER_ENDS:
            ended = self.orders.pop(event["id"], None)
            if ended is not None:
                self.unread.add(ended.account)
        elif name == "LpRequestCreated":
            owner = self.lp_requests[event["id"]] = self._account(event["account"])
            self.unread.add(owner)
        elif name in LP_ENDS:
            requester = self.lp_requests.pop(event["id"], None)
            if requester is not None:
                self.unread.add(requester)

    def _set_size(self, account: str, market: int, size: int, mode: Optional[int]) -> None:
        key = (account, market)
        mask = self.cross.get(account, 0)
        if size == 0:
            self.sizes.pop(key, None)
            mode = self.modes.pop(key, None)
            mask &= ~(1 << market)
        else:
            self.sizes[key] = size
            self.modes[key] = cast(int, mode)  # an open position's (given, or the index knows it)
            if mode == MarginMode.CROSS:
                mask |= 1 << market
        if mask:
            self.cross[account] = mask
        else:
            self.cross.pop(account, None)

    def _touch(self, account: str) -> None:
        self.unread.add(account)
        symbols = self.symbols
        for market in range(len(symbols)):
            if self.modes.get((account, market)) == MarginMode.ISOLATED:
                self.dirty.add((account, symbols[market]))
        self.dirty.add((account, None))

    def _account(self, address: str) -> str:
        found = self._checksum.get(address)
        if found is None:
            found = self._checksum[address] = to_checksum_address(address)
        return found

    # ------------------------------------------------------------------ the book
    def targets(self) -> list[Target]:
        """Every liquidation target: isolated positions and accounts with cross positions, in
        the order the Reader's scan reports them (account registration, then market, cross
        last)."""
        found: list[Target] = [(a, self.symbols[m]) for (a, m), mode in self.modes.items()
                               if mode == MarginMode.ISOLATED]
        found += [(a, None) for a in self.cross]
        return sorted(found, key=self._scan_order)

    def _scan_order(self, target: Target) -> tuple[int, int]:
        account, market = target
        place = len(self.symbols) if market is None else self.market_ids[market]
        return self.registered.get(account, 1 << 62), place

    def _exists(self, target: Target) -> bool:
        account, market = target
        if market is None:
            return account in self.cross
        return self.modes.get((account, self.market_ids[market])) == MarginMode.ISOLATED

    # ------------------------------------------------------------------ candidates
    def liquidatable(self) -> list[Target]:
        """The targets liquidatable now, in scan order: every candidate valued (:meth:`health`),
        the rest known to be safe."""
        self._sync()
        markets = self._markets_now()
        self._prices_now = {m: now.price for m, now in markets.items()}
        due = self._due()
        read = self._read(due, markets)
        return sorted((t for t in due if read.get(t) is not None and read[t].liquidatable),
                      key=self._scan_order)

    def _sync(self) -> None:
        """Rebuild if what the index saw was undone: a rewind, or the end of the snapshot it
        was built in."""
        chain = self.chain
        if chain.rewinds != self._rewinds or chain.snapshot_path[:len(self._path)] != self._path:
            self.rebuild()

    def _prices(self) -> dict[int, int]:
        oracle = self.venue.oracle
        return {m: oracle.latest(m)[0] for m in self.market_ids.values()}

    def _due(self) -> list[Target]:
        prices = self._prices_now
        now = self.chain.timestamp
        due = set(self.dirty) | self.near
        self.dirty.clear()
        self.near = {t for t in self.near if self._exists(t)}
        for m, price in prices.items():
            lower, upper = self._lower[m], self._upper[m]
            while lower and -lower[0][0] >= price:
                self._fire(heapq.heappop(lower), due)
            while upper and upper[0][0] <= price:
                self._fire(heapq.heappop(upper), due)
        while self._deadlines and self._deadlines[0][0] <= now:
            self._fire(heapq.heappop(self._deadlines), due)
        return [t for t in due if self._exists(t)]

    def _fire(self, entry: _Trigger, due: set[Target]) -> None:
        _, version, target = entry
        watch = self.watching.get(target)
        if watch is not None and watch.version == version:
            due.add(target)

    def _read(self, targets: list[Target], markets: dict[int, MarketNow]) -> dict[Target, Watch]:
        out: dict[Target, Watch] = {}
        for target, (equity_, maintenance, flagged) in zip(targets, self.health(targets, markets)):
            out[target] = self._arm(target, equity_, maintenance, flagged, self._entry(target))
        self.reads += len(targets)
        return out

    def _entry(self, target: Target) -> int:
        """The entry notional borrowing accrues on: the position's, or the cross positions'."""
        account, market = target
        positions = self.holdings[account].positions
        if market is not None:
            return positions[self.market_ids[market]][1]
        return sum(p[1] for p in positions if p[0] != 0 and p[3] == MarginMode.CROSS)

    def health(self, targets: Sequence[Target],
               markets: Optional[dict[int, MarketNow]] = None) -> list[tuple[int, int, bool]]:
        """``Reader.health`` of ``targets``: (equity, maintenance, liquidatable) each, WAD USD,
        computed from the holdings (:mod:`protocol.keepers.valuation`, the chain read only for
        accounts an event has named since) and asked of the chain for those it must value (held
        impact, a rates or margin module, a cross account with a stale market)."""
        if markets is None:
            self._sync()
            markets = self._markets_now()
        targets = [(self._account(a), m) for a, m in targets]
        self._refresh([a for a, _ in targets])
        out: list[Optional[tuple[int, int, bool]]] = []
        for account, market in targets:
            holdings = self.holdings[account]
            out.append(cross_health(holdings, markets, self._scale) if market is None else
                       isolated_health(holdings, self.market_ids[market], markets, self._scale))
        ask = [t for t, h in zip(targets, out) if h is None]
        if ask:
            v = self.venue
            answers = iter([h[2:] for start in range(0, len(ask), READ_CHUNK)  # plain tuples
                            for h in v.reader.health(v.clearinghouse.address,
                                                     v.encode_targets(ask[start:start + READ_CHUNK]))])
            out = [next(answers) if h is None else h for h in out]
        return cast(list[tuple[int, int, bool]], out)  # every None answered by the chain

    def _refresh(self, accounts: Iterable[str]) -> None:
        """Read the holdings of the accounts never read or named by an event since, one
        ``Reader.accountStates`` call per :data:`READ_CHUNK`."""
        missing = list(dict.fromkeys(a for a in accounts if a in self.unread or a not in self.holdings))
        v, n = self.venue, len(self.symbols)
        for start in range(0, len(missing), READ_CHUNK):
            chunk = missing[start:start + READ_CHUNK]
            balances, positions = v.reader.call(ACCOUNT_STATES, v.clearinghouse.address,
                                                v.pool.address, v.order_book.address, chunk)
            for i, (account, (tokens, shares, escrow_tokens, escrow_shares, cross)) in enumerate(
                    zip(chunk, balances)):
                self.holdings[account] = Holdings(tokens, shares, escrow_tokens, escrow_shares, cross,
                                                  positions=positions[i * n:(i + 1) * n])
                self.unread.discard(account)

    def _arm(self, target: Target, equity: int, maintenance: int, flagged: bool,
             entry: int) -> Watch:
        """Record a reading and set the target's triggers (see the module docstring)."""
        self._version += 1
        watch = Watch(equity, maintenance, flagged, self._version)
        self.watching[target] = watch
        slack = equity - maintenance
        account, market = target
        held = ([(self.market_ids[market], self.sizes[(account, self.market_ids[market])])]
                if market is not None else
                [(m, self.sizes[(account, m)]) for m in self._markets_of(self.cross[account])])
        prices = self._prices_now
        notional = sum(abs(size) * prices[m] for m, size in held) // WAD
        if flagged or slack <= 0 or maintenance == 0 or notional == 0 or any(
                m in self._impact_markets for m, _ in held):  # impact health moves with others' trades
            self.near.add(target)
            return watch
        self.near.discard(target)
        for m, size in held:
            drop = prices[m] * slack // (4 * notional)
            if size > 0:
                heapq.heappush(self._lower[m], (-(prices[m] - drop), watch.version, target))
            else:
                heapq.heappush(self._upper[m], (prices[m] + drop, watch.version, target))
        # funding on the notional (up to the price that fires a trigger, 1 + slack/4N of it) and
        # borrowing on the entry notional, at their largest rates, doubled: half the slack
        rate = 2 * sum(abs(size) * prices[m] // WAD * self._bounds[m][0] for m, size in held) \
            * (4 * notional + slack) // (4 * notional) // WAD + 2 * entry * max(
                self._bounds[m][1] for m, _ in held) // WAD
        if rate > 0:
            heapq.heappush(self._deadlines, (self.chain.timestamp + slack // 2 // rate,
                                             watch.version, target))
        return watch

    @staticmethod
    def _markets_of(mask: int) -> Iterable[int]:
        m = 0
        while mask:
            if mask & 1:
                yield m
            mask >>= 1
            m += 1

    # ------------------------------------------------------------------ equity
    def equities(self, accounts: Sequence[str]) -> list[int]:
        """``Reader.equities`` (with the order book) of ``accounts``, WAD USD, computed from
        their holdings (:mod:`protocol.keepers.valuation`): the chain is read for the accounts
        an event has named since they were last read, one ``Reader.accountStates`` call per
        :data:`READ_CHUNK`, and asked outright (``Reader.equities``) for those it must value
        (held impact, a rates module, a stale price)."""
        self._sync()
        accounts = [self._account(a) for a in accounts]
        self._refresh(accounts)
        v = self.venue
        markets = self._markets_now()
        total_assets, total_supply = v.pool.total_assets(), v.pool.total_supply()
        out: list[Optional[int]] = [equity(self.holdings[a], markets, self._scale, total_assets,
                                           total_supply) for a in accounts]
        chain = [a for a, e in zip(accounts, out) if e is None]
        if chain:
            asked = dict(zip(chain, chain_equities(v, chain)))
            out = [asked[a] if e is None else e for a, e in zip(accounts, out)]
        return cast(list[int], out)  # every None answered by the chain

    def _markets_now(self) -> dict[int, MarketNow]:
        oracle, ch = self.venue.oracle, self.venue.clearinghouse
        now = self.chain.timestamp
        markets = {}
        for m in self.market_ids.values():
            price, updated, _ = oracle.latest(m)
            fresh = price != 0 and now <= updated + oracle.max_price_age(m)
            markets[m] = market_now(ch.market_state(m), self._configs[m], price, fresh, now,
                                    m in self._rates_modules, self._margins[m])
        return markets

    # ------------------------------------------------------------------ orders
    def order_candidates(self) -> list[int]:
        """Open orders that may run at the oracle's latest prices (market orders, and trigger
        orders whose trigger the price has crossed), oldest first."""
        self._sync()
        prices = self._prices()
        return sorted(i for i, o in self.orders.items() if o.may_run_at(prices[o.market]))

    def lp_request_candidates(self) -> list[int]:
        """Open LP requests, oldest first."""
        self._sync()
        return sorted(self.lp_requests)

    # ------------------------------------------------------------------ verification
    def verify(self) -> None:
        """Compare the index with a full scan of the chain: every open position (size and
        mode), the cross accounts, the open orders and LP requests, the liquidatable targets,
        the health of every target and the equity of every account it has valued. Raises :class:`IndexMismatch` naming the
        first difference."""
        self._sync()
        v = self.venue
        chain_book = {(a, m): (size, mode) for a, m, size, mode in self._chain_positions()}
        index_book = {k: (size, self.modes[k]) for k, size in self.sizes.items()}
        _same("open positions", index_book, chain_book)
        _same("open orders", sorted(self.orders), v.open_ids("Order"))
        _same("open LP requests", sorted(self.lp_requests), v.open_ids("LpRequest"))
        found, start, total = [], 0, v.account_count()
        while start < total:
            page, start = v.liquidatable(start, 1_000)
            found.extend(page)
        _same("liquidatable targets", self.liquidatable(), found)
        targets = self.targets()
        for start in range(0, len(targets), READ_CHUNK):
            chunk = targets[start:start + READ_CHUNK]
            chain = [tuple(h[2:]) for h in v.reader.health(v.clearinghouse.address,
                                                           v.encode_targets(chunk))]
            _same("health", dict(zip(chunk, self.health(chunk))), dict(zip(chunk, chain)))
        accounts = sorted(self.holdings)
        _same("equities", dict(zip(accounts, self.equities(accounts))),
              dict(zip(accounts, chain_equities(v, accounts))))


def chain_equities(venue: Venue, accounts: Sequence[str]) -> list[int]:
    """``Reader.equities`` with the order book, WAD USD, one call per :data:`READ_CHUNK`."""
    v = venue
    out: list[int] = []
    for start in range(0, len(accounts), READ_CHUNK):
        out.extend(v.reader.call(EQUITIES, v.clearinghouse.address, v.pool.address,
                                 v.order_book.address, list(accounts[start:start + READ_CHUNK])))
    return out


def _same(what: str, index: Any, chain: Any) -> None:
    if index == chain:
        return
    if isinstance(index, dict):
        keys = sorted(set(index) | set(chain), key=str)
        diff = [(k, index.get(k), chain.get(k)) for k in keys if index.get(k) != chain.get(k)]
        raise IndexMismatch(f"{what}: {len(diff)} differ, first {diff[0][0]}: index "
                            f"{diff[0][1]}, chain {diff[0][2]}")
    raise IndexMismatch(f"{what}: index {list(index)[:10]}, chain {list(chain)[:10]}")


__all__ = ("BookIndex", "IndexMismatch", "TriggerOrder", "CROSS_ACCOUNT")
