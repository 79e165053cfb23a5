"""Keeper bots: each decides, block by block, which transactions to send.

A bot never sends anything itself: :meth:`KeeperBot.tick` returns :class:`Intent` objects and a
:class:`~protocol.keepers.block.BlockBuilder` orders them by gas bid, lands them in one block and
hands every receipt back to :meth:`KeeperBot.book`.

Timing: a bot scans on its first tick and then every ``poll_interval`` blocks, and acts on each
scan ``latency`` blocks later, whatever happened in between.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Hashable, Mapping, Optional, Sequence, cast

from protocol.chain import Contract, Receipt
from protocol.chain.abi import Event
from protocol.constants import BPS, MAX_UINT
from protocol.errors import Reverted
from protocol.keepers.index import BookIndex
from protocol.keepers.ledger import Ledger
from protocol.keepers.strategy import Strategy
from protocol.margin.deleveraging import ADL_RANKED, ADL_ROUND
from protocol.venue.adl import adl_flags, adl_round, max_adl_size, ranked_candidates, round_entitlements
from protocol.venue.units import Number, from_wad, to_wad

CLOSE_ALL = MAX_UINT  # ``autoDeleverage``: what the market's ADL rule allows

if TYPE_CHECKING:
    from protocol.prices import PricePath
    from protocol.venue.client import Keeper, Venue

#: symbol -> the published ``(timestamp, price)`` pairs a keeper may attach now (pull oracles).
PriceWindow = Callable[[], Mapping[str, Sequence[tuple[int, Decimal]]]]
LIQUIDATION_EVENTS = ("PositionLiquidated", "AccountLiquidated")
ORDER_EVENTS = ("OrderExecuted", "OrderFailed", "LpRequestExecuted", "LpRequestFailed")
GAS_PER_TARGET = 250_000  # rough liquidation gas per target, for the profit estimate


@dataclass
class Intent:
    """One transaction a bot wants in the next block. ``sender`` None: the bot's address."""

    bot: "KeeperBot"
    contract: Contract
    function: str
    args: tuple[Any, ...]
    gas_price: int
    value: int = 0
    sender: Optional[str] = None
    targets: tuple[Hashable, ...] = field(default=())

    @property
    def from_address(self) -> str:
        return self.sender or self.bot.address


def _same(a: str, b: str) -> bool:
    return a.lower() == b.lower()


class KeeperBot:
    """Base class: an address (``venue.keeper(name)``, funded with ETH), a strategy and a ledger.

    Subclasses implement :meth:`scan` (what is actionable now) and :meth:`intents` (the
    transactions for the targets that are due), and may refine :meth:`book`.
    """

    def __init__(self, venue: Venue, name: str, strategy: Strategy = Strategy(),
                 eth_price_usd: Decimal = Decimal(3000), address: Optional[str] = None) -> None:
        self.venue = venue
        self.name = name
        self.strategy = strategy
        self.eth_price_usd = Decimal(eth_price_usd)
        self.keeper: Optional[Keeper]  # None: the bot sends from the address it was given
        if address is None:
            self.keeper = venue.keeper(name)
            self.address = self.keeper.address
        else:
            self.keeper = None
            self.address = address
        self.ledger = Ledger(decimals=venue.decimals)
        self.seen: deque[tuple[int, Sequence[Hashable]]] = deque()  # (block due, targets scanned)
        self.sent_at: dict[Hashable, int] = {}
        self.last_scan: Optional[int] = None
        #: The network's base fee in the pending block (wei), set by whoever builds blocks
        #: (the simulation's gas model; 0 without one).
        self.base_fee = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.address})"

    # ----------------------------------------------------------------- decision
    def tick(self, block: int) -> list[Intent]:
        """The intents for ``block`` (the pending block). The bot's information is ``latency``
        blocks old: it acts now on what its scan ``latency`` blocks ago showed, as a keeper on a
        lagging node or with slow reactions does, so it may send for targets that are gone by
        now (and pay gas for nothing). A target is not sent again within ``latency`` blocks."""
        if self.last_scan is None or block - self.last_scan >= self.strategy.poll_interval:
            self.last_scan = block
            self.seen.append((block + self.strategy.latency, self.scan(block)))
        due: list[Hashable] = []
        while self.seen and self.seen[0][0] <= block:
            for target in self.seen.popleft()[1]:
                sent = self.sent_at.get(target)
                if target not in due and (sent is None or block - sent > self.strategy.latency):
                    due.append(target)
        if due and self.priced_out:  # the fee is over its ceiling: the targets wait
            self.seen.appendleft((block + 1, due))
            self.ledger.waited += 1
            return []
        for target in due:
            self.sent_at[target] = block
        return self.intents(block, due) if due else []

    @property
    def bid(self) -> int:
        """What the bot pays per gas in the pending block: the network's base fee and its tip
        (``strategy.gas_price``)."""
        return self.base_fee + self.strategy.gas_price

    @property
    def priced_out(self) -> bool:
        """Whether the bid would pass the strategy's ``max_fee`` (the bot then waits)."""
        ceiling = self.strategy.max_fee
        return ceiling is not None and self.bid > ceiling

    def scan(self, block: int) -> Sequence[Hashable]:
        raise NotImplementedError

    def intents(self, block: int, targets: list[Hashable]) -> list[Intent]:
        raise NotImplementedError

    def intent(self, contract: Contract, function: str, *args: Any, targets: tuple[Hashable, ...] = (),
               sender: Optional[str] = None) -> Intent:
        return Intent(self, contract, function, tuple(args), self.bid, sender=sender,
                      targets=targets)

    # ----------------------------------------------------------------- accounting
    def book(self, intent: Intent, receipt: Receipt) -> bool:
        """Book one landed transaction into the ledger; return whether it was a win."""
        led = self.ledger
        self.pay_gas(receipt)
        won = receipt.status and self.did_work(receipt)
        if won:
            led.wins += 1
        else:
            led.losses += 1
        return won

    def pay_gas(self, receipt: Receipt) -> None:
        """Count the transaction and its gas bill."""
        self.ledger.txs += 1
        self.ledger.gas_wei += receipt.gas_used * receipt.gas_price

    def did_work(self, receipt: Receipt) -> bool:
        return True


class LiquidationKeeper(KeeperBot):
    """Finds liquidatable targets with the venue's event index (``strategy.scan`` "index", the
    default: :class:`~protocol.keepers.index.BookIndex`) or by scanning with
    ``venue.liquidatable`` in chunks of ``scan_chunk`` accounts ("chain"), and liquidates
    with ``liquidateBatch`` in batches of ``batch_size`` targets. A target is ``(address,
    market symbol)`` for an isolated position or ``(address, None)`` for a cross account.

    On pull-oracle markets (``price_window`` set: symbol -> the published ``(timestamp,
    price)`` pairs it may attach now) the bot chooses a price per ``strategy.price_choice``,
    scans as if it were on chain, and sends it (``pushPrices``, needing the oracle's updater
    role) just before its liquidations."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.scans = 0
        self.watchlist: list[tuple[str, Optional[str]]] = []
        self.price_window: Optional[PriceWindow] = None
        self.attach: dict[int, list[tuple[int, int, int]]] = {}  # block due -> updates to send

    def scan(self, block: int) -> list[tuple[str, Optional[str]]]:
        self.attach = {due: u for due, u in self.attach.items() if due >= block}
        updates = self._choose_prices() if self.price_window is not None else []
        if not updates:
            return self._find()
        self.attach[block + self.strategy.latency] = updates
        with self.venue.snapshot():
            self._push(updates)
            return self._find()

    def _choose_prices(self) -> list[tuple[int, int, int]]:
        """One ``PriceUpdate`` per pull market with something newer to attach: the latest
        published price, or (``best``) the one under which the most targets are liquidatable,
        the later one on a tie."""
        v = self.venue
        updates = []
        window = cast(PriceWindow, self.price_window)  # asked only when set
        for symbol, candidates in window().items():
            if not candidates:
                continue
            updates_for = [(v.market_id(symbol), t, to_wad(p)) for t, p in candidates]
            if self.strategy.price_choice == "latest" or len(updates_for) == 1:
                updates.append(updates_for[-1])
                continue
            counts = []
            for update in updates_for:  # a full scan under each, leaving the scan cadence alone
                with v.snapshot():
                    self._push([update])
                    counts.append(len(self._everything()))
            best = max(range(len(counts)), key=lambda i: (counts[i], i))
            updates.append(updates_for[best])
        return updates

    def _push(self, updates: list[tuple[int, int, int]]) -> None:
        self.venue.oracle.push_prices(updates, sender=self.address).raise_for_status()

    def _everything(self) -> list[tuple[str, Optional[str]]]:
        """Every liquidatable target now: from the event index, or a full Reader scan."""
        if self.strategy.scan == "index":
            return BookIndex.of(self.venue).liquidatable()
        return self._sweep(lambda start: self.venue.liquidatable(start, self.strategy.scan_chunk))

    def _find(self) -> list[tuple[str, Optional[str]]]:
        strategy = self.strategy
        full = self.scans % strategy.full_scan_interval == 0
        self.scans += 1
        if strategy.full_scan_interval == 1 or strategy.scan == "index":
            return self._everything()
        if full:
            v = self.venue
            self.watchlist = self._sweep(lambda start: v.at_risk(start, strategy.scan_chunk,
                                                                 strategy.watch_threshold_bps))
        if not self.watchlist:
            return []
        v = self.venue
        health = v.reader.health(v.clearinghouse.address, v.encode_targets(self.watchlist))
        return [t for t, h in zip(self.watchlist, health) if h[4]]

    def _sweep(self, read: Callable[[int], tuple[list[tuple[str, Optional[str]]], int]]) -> list[tuple[str, Optional[str]]]:
        found: list[tuple[str, Optional[str]]] = []
        total, start = self.venue.account_count(), 0
        while start < total:
            chunk, start = read(start)
            found.extend(chunk)
        return found

    def intents(self, block: int, targets: list[Any]) -> list[Intent]:
        if self.strategy.min_profit_usd > 0 and targets:
            gas = Decimal(GAS_PER_TARGET * self.bid) * self.eth_price_usd / 10**18
            rewards = self.estimate_rewards_usd(targets)
            targets = [t for t, r in zip(targets, rewards) if r - gas >= self.strategy.min_profit_usd]
        ch, size = self.venue.clearinghouse, self.strategy.batch_size
        liquidations = [self.intent(ch, "liquidateBatch", self.venue.encode_targets(batch),
                                    targets=tuple(batch))
                        for batch in (targets[i:i + size] for i in range(0, len(targets), size))]
        updates = self.attach.pop(block, None)
        if updates and liquidations:  # the chosen prices land just before the liquidations
            return [self.intent(self.venue.oracle, "pushPrices", updates), *liquidations]
        return liquidations

    def estimate_rewards_usd(self, targets: list[tuple[str, Optional[str]]]) -> list[Decimal]:
        """Expected keeper reward per target from one Reader ``health`` call: the penalty is
        notional x liquidation fee, capped by the equity left, and the keeper gets its share.
        Notional is read back from the maintenance margin (MM / mmf); a cross account uses its
        first market's parameters."""
        v = self.venue
        health = v.reader.health(v.clearinghouse.address, v.encode_targets(targets))
        first = next(iter(v.markets.values()))
        rewards = []
        for (_, market), (_, _, equity, maintenance, _) in zip(targets, health):
            cfg = v.markets[market] if market is not None else first
            notional = from_wad(maintenance) / cfg.maintenance_fraction
            penalty = min(from_wad(equity), notional * cfg.liquidation_fee_bps / BPS)
            rewards.append(max(Decimal(0), penalty) * cfg.keeper_share_bps / BPS)
        return rewards

    def did_work(self, receipt: Receipt) -> bool:
        mine = self.liquidation_events(receipt)
        return bool(mine)

    def liquidation_events(self, receipt: Receipt) -> list[Event]:
        return [e for e in receipt.events if e.name in LIQUIDATION_EVENTS
                and _same(e["keeper"], self.address)]

    def book(self, intent: Intent, receipt: Receipt) -> bool:
        if intent.function == "pushPrices":  # the price it attached: gas, neither win nor loss
            self.pay_gas(receipt)
            return False
        if receipt.status:
            self.ledger.rewards_tokens += sum(e["keeperReward"] for e in self.liquidation_events(receipt))
        return super().book(intent, receipt)


class OrderKeeper(KeeperBot):
    """Executes the open orders and LP requests the chain says are executable, oldest first:
    with ``strategy.scan`` "index", those of the event index's candidates that the Reader's
    ``executableOrdersAmong`` / ``executableLpRequestsAmong`` confirm; with "chain", what
    ``executableOrders`` / ``executableLpRequests`` report over every open one. The execution
    fee (``keeperFee`` of the Executed/Failed events, paid in ETH) goes into ``fees_wei``."""

    def scan(self, block: int) -> list[Any]:
        v = self.venue
        if self.strategy.scan == "index":
            index = BookIndex.of(v)
            return self._among("executableOrdersAmong", index.order_candidates()) + [
                ("lp", i) for i in self._among("executableLpRequestsAmong",
                                               index.lp_request_candidates())]
        targets: list[Any] = self._executable("executableOrders", v.order_book.open_order_count())
        targets += [("lp", i) for i in self._executable("executableLpRequests",
                                                         v.order_book.open_lp_request_count())]
        return targets

    def _executable(self, view: str, open_count: int) -> list[int]:
        """The executable ids among the ``open_count`` open ones, a page of ``scan_chunk`` per
        call; sorted, since the book's open list is in no fixed order."""
        v = self.venue
        ids: list[int] = []
        start = 0
        while start < open_count:
            chunk, start = v.reader.call(view, v.order_book.address, start, self.strategy.scan_chunk)
            ids.extend(chunk)
        return sorted(ids)

    def _among(self, view: str, candidates: list[int]) -> list[int]:
        """The executable ones of the index's candidates, ``scan_chunk`` per Reader call."""
        v, chunk = self.venue, self.strategy.scan_chunk
        ids: list[int] = []
        for start in range(0, len(candidates), chunk):
            ids.extend(v.reader.call(view, v.order_book.address, candidates[start:start + chunk]))
        return ids

    def intents(self, block: int, targets: list[Any]) -> list[Intent]:
        book = self.venue.order_book
        return [self.intent(book, "executeLpRequest", t[1], targets=(t,)) if isinstance(t, tuple)
                else self.intent(book, "executeOrder", t, targets=(t,)) for t in targets]

    def book(self, intent: Intent, receipt: Receipt) -> bool:
        if receipt.status:
            self.ledger.fees_wei += sum(e["keeperFee"] for e in receipt.events
                                        if e.name in ORDER_EVENTS and _same(e["keeper"], self.address))
        return super().book(intent, receipt)


class FundingKeeper(KeeperBot):
    """Calls ``updateFunding`` for every market each ``poll_interval`` blocks."""

    def scan(self, block: int) -> list[str]:
        return list(self.venue.markets)

    def intents(self, block: int, targets: list[Any]) -> list[Intent]:
        v = self.venue
        return [self.intent(v.clearinghouse, "updateFunding", v.market_id(m), targets=(m,))
                for m in targets]


class AdlKeeper(KeeperBot):
    """Auto-deleverages under each market's ADL rule (``IAdlModule``, SPEC §8.1):

    - a round in progress (a pro-rata rule): every member's entitlement, all in the block (the
      cuts are fixed and their order does not matter); a round whose members can no longer be
      cut is ended (``endAdlRound``) once the pnl factor is at or below the trigger;
    - while pending profit is above ``max_pnl_factor_adl`` of the pool: the highest-ranked
      position of the ranked markets (the stock rule, as the contract ranks them), then the
      keeper's choice in the other markets, the largest pnl-to-size factor first (pnl / entry
      notional, GMX's keepers' order), and a round rule's position by CLOSE_ALL (it begins a
      round); one close per block, as much as the rule and the floor allow (each close changes
      the pnl factor the next one is allowed against).

    No reward: its ledger is gas. A bot with its own address (``venue.keeper``) is granted
    ``ADL_KEEPER_ROLE`` by the venue's admin when it is made: only ADL keepers may deleverage."""

    def __init__(self, venue: Venue, name: str, strategy: Strategy = Strategy(),
                 eth_price_usd: Decimal = Decimal(3000), address: Optional[str] = None) -> None:
        super().__init__(venue, name, strategy, eth_price_usd, address)
        if address is None:
            venue.grant_role("ADL_KEEPER", self.address)

    def scan(self, block: int) -> list[tuple[str, str, int]]:
        """(account, market, size: 0 for as much as allowed, CLOSE_ALL for a round rule's
        entitlement) in the order to try; ("", "", 0) alone: end the round."""
        v = self.venue
        if adl_round(v).active:
            members = [(a, m, CLOSE_ALL) for a, m, _ in round_entitlements(v)]
            if members:
                return members
            if not v.solvency().adl_allowed:
                return [("", "", 0)]
        if not v.solvency().adl_allowed:
            return []
        flags = {m: adl_flags(v, m) for m in v.markets}
        candidates = ranked_candidates(v, list(v.markets))
        ranked = [(c.account, c.market, 0) for c in candidates if flags[c.market] & ADL_RANKED]
        rounds = [(c.account, c.market, CLOSE_ALL) for c in candidates if flags[c.market] & ADL_ROUND]
        chosen = sorted((c for c in candidates if not flags[c.market] & (ADL_RANKED | ADL_ROUND)),
                        key=lambda c: -c.pnl_to_size)
        return ranked + rounds + [(c.account, c.market, 0) for c in chosen]

    def intents(self, block: int, targets: list[Any]) -> list[Intent]:
        v = self.venue
        if targets == [("", "", 0)]:
            return [self.intent(v.clearinghouse, "endAdlRound", targets=())]
        if targets and targets[0][2] == CLOSE_ALL and adl_round(v).active:
            return [self.intent(v.clearinghouse, "autoDeleverage", account, v.market_id(market), CLOSE_ALL,
                                targets=((account, market),)) for account, market, _ in targets]
        for account, market, size in targets:
            if size == CLOSE_ALL:
                if _adl_allowed(v, self.address, account, market):
                    return [self.intent(v.clearinghouse, "autoDeleverage", account, v.market_id(market),
                                        CLOSE_ALL, targets=((account, market),))]
                continue
            size = max_adl_size(v, self.address, account, market)
            if size:
                return [self.intent(v.clearinghouse, "autoDeleverage", account, v.market_id(market),
                                    size, targets=((account, market),))]
        return []

    def did_work(self, receipt: Receipt) -> bool:
        closes = [e for e in receipt.events if e.name == "AutoDeleveraged"]
        if not closes:  # endAdlRound
            return any(e.name == "AdlRoundEnded" for e in receipt.events)
        return any(_same(e["caller"], self.address) for e in closes)


def _adl_allowed(venue: Venue, caller: str, account: str, market: str) -> bool:
    """Whether ``autoDeleverage(account, market, CLOSE_ALL)`` from ``caller`` goes through now."""
    try:
        venue.clearinghouse.simulate.auto_deleverage(account, venue.market_id(market), CLOSE_ALL, sender=caller)
        return True
    except Reverted:
        return False


class OracleKeeper(KeeperBot):
    """Pushes ``source(block) -> {symbol: price}`` to the oracle each ``poll_interval`` blocks,
    stamped with the block's time. The venue admin is the updater, so it sends from the admin
    (the ledger books that gas)."""

    def __init__(self, venue: Venue, source: Callable[[int], Mapping[str, Number]], name: str = "oracle",
                 strategy: Strategy = Strategy(), eth_price_usd: Decimal = Decimal(3000)) -> None:
        super().__init__(venue, name, strategy, eth_price_usd, address=venue.admin)
        self.source = source

    @classmethod
    def replaying(cls, venue: Venue, path: PricePath, **kwargs: Any) -> "OracleKeeper":
        """Push a :class:`~protocol.prices.PricePath` from the next block on: block ``b`` of the
        path at the ``b``-th block from now, its last price after it ends."""
        first = venue.chain.block_number
        last = len(path) - 1
        return cls(venue, lambda block: path.at(min(max(block - first, 0), last)), **kwargs)

    def tick(self, block: int) -> list[Intent]:
        if self.last_scan is not None and block - self.last_scan < self.strategy.poll_interval:
            return []
        self.last_scan = block
        prices = self.source(block)
        if not prices:
            return []
        v = self.venue
        now = v.chain.timestamp
        updates = [(v.market_id(m), now, to_wad(p, "price")) for m, p in prices.items()]
        return [self.intent(v.oracle, "pushPrices", updates, targets=tuple(prices))]


__all__: Sequence[str] = ("Intent", "KeeperBot", "LiquidationKeeper", "OrderKeeper",
                          "FundingKeeper", "AdlKeeper", "OracleKeeper")
