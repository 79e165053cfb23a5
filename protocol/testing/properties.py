"""Economic properties of the venue (issue 24 §1), checked against a live venue.

The SPEC §12 invariants (:mod:`protocol.testing.invariants`) say the books balance; these say
nobody can profit from the rules:

* :data:`NO_FREE_LUNCH` -- an attacker (one or several accounts) that runs any sequence of
  actions and ends with the oracle prices it started with, holding no position, ends with at
  most what it started with less the fees it paid (:func:`check_no_free_lunch`,
  :class:`RoundTrip`).
* :data:`PATH_INDEPENDENCE` -- a close, a decrease, an LP deposit or an LP redemption split into
  n pieces pays within dust of doing it at once in the same state, and two profitable closes
  under the profit cap are paid the same whichever goes first (:func:`split_close`,
  :func:`split_lp`, :func:`close_order`, :func:`check_path_independence`).
* :data:`NO_ACTION_LEAVES_LIQUIDATABLE` -- after every successful trader action (open,
  increase, withdraw, removeMargin, addMargin, updateLeverage, an order's execution) the
  positions and account it touched are above maintenance, and still are one block
  (:data:`ONE_BLOCK` seconds) later with only accrual in between (:func:`check_not_liquidatable`).
* :data:`BAD_DEBT_ONLY_WITHOUT_POSITION` -- a ``BadDebt`` write-off happens only when the
  position it came from is gone (isolated), or the account's last cross position is (cross)
  (:func:`check_bad_debt`).

Each check raises :class:`PropertyViolation` naming its property. :func:`assert_properties`
checks the transactions a test sent; :class:`PropertyWatch` checks every transaction of a chain
as it happens (the fuzzer's post-action checks).

>>> from protocol.testing import assert_properties
>>> with venue.chain.recording() as receipts:
...     alice.open("ETH", 1, 10, margin=400)
>>> assert_properties(venue, receipts)     # raises PropertyViolation naming what broke
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Optional, Sequence, Union, cast

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from protocol.chain import Chain, Receipt, hooks
from protocol.errors import PerpsimError, Reverted
from protocol.venue.units import from_wad

if TYPE_CHECKING:
    from protocol.venue.client import Actor, Keeper, Trader, Venue

#: An account: a trader (or keeper) of the venue, or its address.
Who = Union["Actor", str]
#: A Clearinghouse log as :func:`_logs` reads it: (event, account, market, data).
_Log = tuple[str, str, Optional[int], bytes]

NO_FREE_LUNCH = "no free lunch"
PATH_INDEPENDENCE = "path independence"
NO_ACTION_LEAVES_LIQUIDATABLE = "no action leaves anyone liquidatable"
BAD_DEBT_ONLY_WITHOUT_POSITION = "bad debt only with no position left"
PROPERTIES = (NO_FREE_LUNCH, PATH_INDEPENDENCE, NO_ACTION_LEAVES_LIQUIDATABLE,
              BAD_DEBT_ONLY_WITHOUT_POSITION)

#: "One block later": one Ethereum slot. SPEC §5's open buffer covers 99 s of accrual at the
#: highest rates a market may charge (8 such blocks); the transfer rule (10% of the notional)
#: covers far more, so 12 s is what every action can honestly promise.
ONE_BLOCK = 12
#: Rounding of one piece of a split (SPEC §8.1: a piece's rounding down can give the next one
#: a token unit back; a piece's fee and charges round up, its PnL down: a few units against it).
DUST_PER_PIECE = 3
ISOLATED, CROSS = 1, 2  # MarginMode as the ABI carries it (protocol.margin.types)
MODE, MARGIN = 3, 7  # fields of Clearinghouse.position() (protocol.margin.model.Position)


class PropertyViolation(PerpsimError, AssertionError):
    """An economic property does not hold; ``name`` says which (one of :data:`PROPERTIES`),
    ``details`` the numbers."""

    def __init__(self, name: str, message: str, **details: Any) -> None:
        numbers = ", ".join(f"{k}={v}" for k, v in details.items())
        super().__init__(f"property '{name}' broken: {message}" + (f" ({numbers})" if numbers else ""))
        self.name = name
        self.details = details


def _address(who: Who) -> str:
    return who if isinstance(who, str) else who.address


# ---------------------------------------------------------------------------- no free lunch
@dataclass(frozen=True)
class Holdings:
    """What some accounts own, in collateral token units: wallets, cross balances, isolated
    margins, the order book's escrow and pool shares at what they redeem for now
    (``convertToAssets``). ``positions`` counts their open positions: with one open, the
    holdings leave its PnL out, so compare only flat holdings. Impact the venue holds for them
    (``heldImpact``) is not theirs until the admin releases it, so it is not counted."""

    tokens: int
    positions: int
    shares: int


def holdings(venue: Venue, accounts: Iterable[Who]) -> Holdings:
    """The :class:`Holdings` of ``accounts`` (traders or addresses) now."""
    ch, tokens, positions, shares = venue.clearinghouse, 0, 0, 0
    for who in accounts:
        account = _address(who)
        tokens += venue.usdc.balance_of(account) + ch.cross_balance(account)
        tokens += venue.order_book.escrow(account)[0]
        for market in range(len(venue.markets)):
            p = ch.position(account, market)
            if p[0]:
                positions += 1
                tokens += p[MARGIN]  # isolated margin (0 for cross)
        held = venue.pool.balance_of(account) + venue.order_book.escrow(account)[1]
        shares += held
        if held:
            tokens += venue.pool.convert_to_assets(held)
    return Holdings(tokens, positions, shares)


_FEE_EVENTS = ("PositionIncreased", "PositionDecreased")


def fees_paid(venue: Venue, receipts: Iterable[Receipt], accounts: Iterable[Who]) -> int:
    """Token units ``accounts`` paid in trading fees, borrowing and funding (received funding
    counts negative) in ``receipts``, from the Clearinghouse's events, plus liquidation
    penalties of their positions. Execution fees are ETH, not collateral, and are left out."""
    mine = {_address(a).lower() for a in accounts}
    total = 0
    for receipt in receipts:
        if not receipt.status:
            continue
        for ev in receipt.events:
            if ev.name in _FEE_EVENTS and ev["account"].lower() in mine:
                total += ev["fee"] + ev["borrowingPaid"] + ev["fundingPaid"]
            elif ev.name in ("PositionLiquidated", "AccountLiquidated") and ev["account"].lower() in mine:
                total += ev["penalty"]
    return total


def check_no_free_lunch(start: Holdings, end: Holdings, fees: int = 0, *, dust: int = 0) -> None:
    """SPEC §1 (rounding favours the protocol), §5.1, §8, §10: with prices as they were and no
    position left, an attacker ends with at most what it started with less the fees it paid
    (``end.tokens <= start.tokens - fees + dust``). Raise :class:`PropertyViolation` if not."""
    if start.positions or end.positions:
        raise ValueError("compare holdings without open positions (their PnL is not counted)")
    gain = end.tokens - (start.tokens - fees)
    if gain > dust:
        raise PropertyViolation(NO_FREE_LUNCH, "the attacker ended with more than it started with "
                                "less the fees it paid", start=start.tokens, end=end.tokens,
                                fees=fees, gain=gain)


class RoundTrip:
    """Context: an attacker's round trip. On entry it records the ``accounts``' holdings (they
    must hold no position) and the oracle prices; on a clean exit it pushes those prices again
    if they moved, closes the attacker's positions and cancels its trigger orders
    (:func:`unwind`), and :func:`check_no_free_lunch` compares, the fees of every transaction
    sent inside counted (``fees``). LP shares still held are valued at what they redeem for."""

    def __init__(self, venue: Venue, accounts: Sequence[Who], *, dust: int = 0) -> None:
        self.venue, self.accounts, self.dust = venue, list(accounts), dust
        self.start: Optional[Holdings] = None
        self.end: Optional[Holdings] = None
        self.fees = 0
        self.receipts: list[Receipt] = []
        #: Token units the attacker may gain for a reason not its own (pool yield earned by LP
        #: shares held between two blocks: borrowing accrued to the pool); set inside the trip.
        self.allowance = 0
        self.checked = False  # False if the trip could not end flat (nothing was compared)

    def __enter__(self) -> "RoundTrip":
        v = self.venue
        self.prices = {m: v.oracle.latest(v.market_id(m))[0] for m in v.markets}
        self.start = holdings(v, self.accounts)
        if self.start.positions:
            raise ValueError("a round trip starts with no position")
        self._recording = v.chain.recording()
        self.receipts = self._recording.__enter__()
        return self

    def __exit__(self, kind: Optional[type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        v = self.venue
        try:
            if kind is not None:
                return
            moved = {m: p for m, p in self.prices.items()
                     if v.oracle.latest(v.market_id(m))[0] != p}
            if moved:
                v.set_prices({m: from_wad(p) for m, p in moved.items()})
            unwind(v, self.accounts)
        finally:
            self._recording.__exit__(kind, exc, tb)
        self.end = holdings(v, self.accounts)
        if self.end.positions:
            return  # a close was refused (e.g. a stale price): nothing to compare
        self.fees = fees_paid(v, self.receipts, self.accounts) - self.allowance
        self.checked = True
        check_no_free_lunch(cast(Holdings, self.start), self.end, self.fees, dust=self.dust)  # set on entry


def unwind(venue: Venue, accounts: Iterable[Who]) -> None:
    """Close every position of ``accounts`` and cancel their trigger orders (refusals are left
    as they are: :class:`RoundTrip` then compares nothing)."""
    ch = venue.clearinghouse
    for who in accounts:
        account = _address(who)
        for market in range(len(venue.markets)):
            if ch.position(account, market)[0]:
                ch.decrease_position(account, market, 2**256 - 1, sender=account)
        for order in venue.orders(account):
            if not order.type.startswith("market"):
                venue.order_book.cancel_order(order.id, sender=account)


def lp_cycle(venue: Venue, lp: Trader, keeper: Keeper, amount: int) -> int:
    """Deposit ``amount`` tokens into the pool and redeem every share it minted: directly, in
    one block, while ``lp`` has direct access (nothing open); else by two requests ``keeper``
    executes at unchanged prices a block apart. Returns what the shares earned while held (token
    units, the pool's accrual between the two executions), which :class:`RoundTrip` allows as
    ``allowance``; refusals end the cycle early (escrow comes back, shares stay held)."""
    v, pool, book, account = venue, venue.pool, venue.order_book, _address(lp)
    fee = book.min_execution_fee()
    if pool.direct_access(account):
        with v.chain.block():
            before = pool.balance_of(account)
            if pool.deposit(amount, account, sender=account).status:
                minted = pool.balance_of(account) - before
                pool.redeem(minted, account, account, sender=account)
        return 0
    made = book.request_deposit(amount, account, 0, sender=account, value=fee)
    if not made.status:
        return 0
    before = pool.balance_of(account)
    with v.chain.block():
        push_same_prices(v)
        book.execute_lp_request(made.events_named("LpRequestCreated")[0]["id"],
                                sender=keeper.address)
        minted = pool.balance_of(account) - before
        if minted == 0:
            return 0
        held = pool.convert_to_assets(minted)
        if pool.allowance(account, book.address) < minted:
            pool.approve(book.address, 2**256 - 1, sender=account)
        made = book.request_redeem(minted, account, 0, sender=account, value=fee)
    if not made.status:
        return 0
    with v.chain.block():
        push_same_prices(v)
        earned = pool.convert_to_assets(minted) - held
        book.execute_lp_request(made.events_named("LpRequestCreated")[0]["id"],
                                sender=keeper.address)
    return max(earned, 0)


# ---------------------------------------------------------------------------- path independence
@dataclass(frozen=True)
class Comparison:
    """What doing something at once and in ``pieces`` paid (token units, or shares)."""

    what: str
    whole: int
    pieces: int
    n: int

    @property
    def difference(self) -> int:
        return self.pieces - self.whole


def check_path_independence(c: Comparison, *, dust_per_piece: int = DUST_PER_PIECE) -> None:
    """SPEC §8.1: pieces never pay more than the whole beyond the rounding a piece may give the
    next (one unit per piece after the first), nor less beyond ``dust_per_piece`` units each."""
    if c.difference > c.n - 1 or c.difference < -dust_per_piece * c.n:
        raise PropertyViolation(PATH_INDEPENDENCE, f"{c.what} in {c.n} pieces != at once",
                                whole=c.whole, pieces=c.pieces, difference=c.difference)


def _pieces(amount: int, n: int) -> list[int]:
    base = amount // n
    return [base] * (n - 1) + [amount - base * (n - 1)]


def _account_value(venue: Venue, account: str, market: int) -> int:
    ch = venue.clearinghouse
    return ch.cross_balance(account) + ch.position(account, market)[MARGIN]


def split_close(venue: Venue, trader: Trader, market: str, n: int, *, fraction: Optional[Decimal] = None) -> Optional[Comparison]:
    """Decrease ``trader``'s position in ``market`` by ``fraction`` of its size (None: close it)
    at once and in ``n`` pieces, each from the same state (a snapshot) and within one block
    (no accrual between pieces); compare the cross balance plus the position's margin after,
    less the price impact the decreases realised and what the venue paid of the trader's
    shortfall (bad debt written off and held impact spent on it: impact a bankrupt close
    "realises" is not the trader's to pay). None if the position cannot be decreased so (none,
    or refused)."""
    v, ch, account = venue, venue.clearinghouse, _address(trader)
    mid = v.market_id(market)
    size = abs(ch.position(account, mid)[0])
    amount = size if fraction is None else int(size * fraction)
    if amount == 0 or n < 1 or amount < n:
        return None
    paid = []
    for sizes in ([amount], _pieces(amount, n)):
        with v.chain.snapshot():
            held = ch.held_impact(account)
            with v.chain.block():
                receipts = [ch.decrease_position(account, mid, s, sender=account) for s in sizes]
            if not all(r.status for r in receipts):
                return None
            # less the price impact realised: pieces meet the skew in other steps, so their own
            # impacts differ from the whole's (§5.1)
            logs = [log for r in receipts for log in _logs(v, r) if log[1].lower() == account.lower()]
            written_off = sum(int.from_bytes(data[:32], "big") for name, _, _, data in logs if name == "BadDebt")
            held_in = sum(int.from_bytes(data[:32], "big") for name, _, _, data in logs if name == "ImpactHeld")
            spent_on_debt = held + held_in - ch.held_impact(account)
            paid.append(_account_value(v, account, mid) - sum(_impact_realized(v, r, account) for r in receipts)
                        - written_off - spent_on_debt)
    what = f"{'closing' if fraction is None else 'decreasing'} {market}"
    return Comparison(what, paid[0], paid[1], n)


def split_lp(venue: Venue, lp: Trader, keeper: Keeper, amount: int, n: int, *, deposit: bool) -> Optional[Comparison]:
    """An LP deposit of ``amount`` tokens (or a redemption of ``amount`` shares) requested at
    once and as ``n`` requests, executed by ``keeper`` at a price pushed (unchanged) after them,
    from the same state; compare the shares (deposit) or tokens (redemption) the LP got. None
    if a request could not be made or executed."""
    v, book, account = venue, venue.order_book, _address(lp)
    if amount < n or n < 1:
        return None
    got = []
    fee = book.min_execution_fee()
    for sizes in ([amount], _pieces(amount, n)):
        with v.chain.snapshot():
            before = v.pool.balance_of(account) if deposit else v.usdc.balance_of(account)
            if not deposit and v.pool.allowance(account, book.address) < amount:
                v.pool.approve(book.address, 2**256 - 1, sender=account).raise_for_status()
            with v.chain.block():
                request = book.request_deposit if deposit else book.request_redeem
                made = [request(s, account, 0, sender=account, value=fee) for s in sizes]
            if not all(r.status for r in made):
                return None
            ids = [r.events_named("LpRequestCreated")[0]["id"] for r in made]
            with v.chain.block():
                push_same_prices(v)
                done = [book.execute_lp_request(i, sender=keeper.address) for i in ids]
            if not all(r.status and r.events_named("LpRequestExecuted") for r in done):
                return None
            after = v.pool.balance_of(account) if deposit else v.usdc.balance_of(account)
            got.append(after - before)
    return Comparison("an LP deposit" if deposit else "an LP redemption", got[0], got[1], n)


def push_same_prices(venue: Venue) -> None:
    """One oracle update of every market at its current price, stamped now: execution needs
    a price newer than the request; the price itself does not move."""
    venue.set_prices({m: from_wad(venue.oracle.latest(venue.market_id(m))[0])
                      for m in venue.markets})


def close_order(venue: Venue, first: Trader, second: Trader, market_a: str, market_b: str) -> Optional[tuple[Comparison, Comparison]]:
    """Two accounts' profitable positions closed in both orders from the same state, in one
    block: each account's payout must not depend on who goes first (SPEC §8.1: every profitable
    close in the same state is paid the same fraction B / P, as long as each close lowers P by
    what it realises). None unless both positions are in profit and both closes go through, and
    None when a position's profit is more than its market side's net profit (with the other's,
    on the same side): losers on that side net it, so closing it lowers P by less than it is
    paid, and SPEC §8.1 then lets the order matter. Compare each with
    :func:`check_path_independence` (``n=2``: one unit of rounding either way)."""
    v, ch = venue, venue.clearinghouse
    a, b = _address(first), _address(second)
    if a.lower() == b.lower():
        return None
    ma, mb = v.market_id(market_a), v.market_id(market_b)
    owed: dict[tuple[int, bool], int] = {}  # market side -> the profit closed on it
    for account, mid in ((a, ma), (b, mb)):
        p = ch.position(account, mid)
        profit = _pnl(v, p, mid) if p[0] else 0
        if profit <= 0:
            return None
        side = (mid, p[0] > 0)
        owed[side] = owed.get(side, 0) + profit
    if any(profit > _side_profit(v, *side) for side, profit in owed.items()):
        return None
    paid: list[dict[str, int]] = []
    for order in (((a, ma), (b, mb)), ((b, mb), (a, ma))):
        with v.chain.snapshot():
            with v.chain.block():
                receipts = [ch.decrease_position(acct, mid, 2**256 - 1, sender=acct)
                            for acct, mid in order]
            if not all(r.status for r in receipts):
                return None
            # less the price impact each close realised: it depends, by design (§5.1), on the
            # skew the close meets, which the other close changes
            paid.append({acct: _account_value(v, acct, mid) - _impact_realized(v, receipt, acct)
                         for (acct, mid), receipt in zip(order, receipts)})
    return (Comparison(f"{market_a} close of the first, second in line vs first", paid[1][a], paid[0][a], 2),
            Comparison(f"{market_b} close of the second, first in line vs second", paid[0][b], paid[1][b], 2))


def _impact_realized(venue: Venue, receipt: Receipt, account: str) -> int:
    """What ``receipt``'s trades paid ``account`` in price impact (``PriceImpact.realized``,
    tokens; negative: it paid)."""
    return sum(int.from_bytes(data[192:224], "big", signed=True)
               for name, who, _, data in _logs(venue, receipt)
               if name == "PriceImpact" and who.lower() == account.lower())


def _side_profit(venue: Venue, market: int, long: bool) -> int:
    """A market side's net PnL at its last price, WAD (``Solvency``: longs' notional rounded up,
    shorts' down)."""
    s = venue.clearinghouse.market_state(market)
    price = venue.oracle.latest(market)[0]
    long_size, short_size, long_entry, short_entry = s[0], s[1], s[6], s[7]
    if long:
        return -(-long_size * price // 10**18) - long_entry
    return short_entry - short_size * price // 10**18


def _pnl(venue: Venue, position: Sequence[int], market: int) -> int:
    size, entry = position[0], position[1]
    price = venue.oracle.latest(market)[0]
    return (size * price // 10**18 - entry) if size > 0 else (entry - (-size) * price // 10**18)


# ---------------------------------------------------------------------------- nothing left liquidatable
@dataclass(frozen=True)
class Touched:
    """A position (``market``) or a cross account (``market`` None) a trader action changed."""

    account: str
    market: Optional[int]
    action: str


def _health(venue: Venue, t: Touched) -> Optional[tuple[int, int]]:
    """(equity, maintenance) of what ``t`` names, WAD; None if there is nothing to judge (no
    such position, no cross position, or a price too stale to value it)."""
    ch = venue.clearinghouse
    try:
        if t.market is not None:
            p = ch.position(t.account, t.market)
            if p[0] == 0 or p[MODE] != ISOLATED:
                return None
            equity, mm = ch.position_health(t.account, t.market)
            return equity, mm
        if not ch.cross_markets(t.account):
            return None
        equity, mm, _, _ = ch.account_health(t.account)
        return equity, mm
    except Reverted:
        return None


def check_health(t: Touched, equity: int, maintenance: int, when: str = "after") -> None:
    """SPEC §5: what a successful trader action touched is above maintenance ``when`` (after
    it, or one block later)."""
    if equity <= maintenance:
        what = f"market {t.market}" if t.market is not None else "cross account"
        raise PropertyViolation(NO_ACTION_LEAVES_LIQUIDATABLE,
                                f"{t.action} left {t.account} {what} at or below maintenance {when}",
                                equity=equity, maintenance=maintenance)


def check_not_liquidatable(venue: Venue, touched: Iterable[Touched], *, later: Optional[int] = ONE_BLOCK) -> None:
    """Every :class:`Touched` is above maintenance now and, unless ``later`` is None, ``later``
    seconds on with nothing but accrual in between (checked inside a snapshot)."""
    touched = list(touched)
    verdicts = [(t, _health(venue, t)) for t in touched]
    for t, h in verdicts:
        if h is not None:
            check_health(t, *h)
    judged = [t for t, h in verdicts if h is not None]
    if later is None or not judged:
        return
    with venue.chain.snapshot():
        venue.chain.advance_time(later)
        for t in judged:
            h = _health(venue, t)
            if h is not None:
                check_health(t, *h, when=f"{later} s later")


_TOPICS = {name: keccak(text=signature) for name, signature in (
    ("PositionIncreased", "PositionIncreased(address,uint256,uint8,int256,uint256,uint256,uint256,int256,uint256)"),
    ("PositionDecreased", "PositionDecreased(address,uint256,int256,uint256,int256,uint256,int256,uint256)"),
    ("PositionLiquidated", "PositionLiquidated(address,uint256,address,int256,uint256,int256,uint256,uint256,uint256)"),
    ("AccountLiquidated", "AccountLiquidated(address,address,uint256,uint256,uint256,uint256)"),
    ("AutoDeleveraged", "AutoDeleveraged(address,uint256,address,int256,uint256,int256,uint256,uint256,uint256)"),
    ("MarginChanged", "MarginChanged(address,uint256,int256,uint256)"),
    ("Withdrawn", "Withdrawn(address,uint256)"),
    ("LeverageUpdated", "LeverageUpdated(address,uint256,uint256)"),
    ("BadDebt", "BadDebt(address,uint256,uint256,uint256)"),
    ("PriceImpact", "PriceImpact(address,uint256,int256,uint256,uint256,int256,int256,int256,int256)"),
    ("ImpactHeld", "ImpactHeld(address,uint256,uint256)"),
)}
_NAMES = {topic: name for name, topic in _TOPICS.items()}
_FORCED = {"PositionLiquidated", "AccountLiquidated", "AutoDeleveraged"}


def _logs(venue: Venue, receipt: Receipt) -> list[_Log]:
    """(event, account, market, data) of the Clearinghouse's logs this module reads."""
    ch = venue.clearinghouse.address.lower()
    out: list[_Log] = []
    for log in receipt.logs:
        if not log.topics or log.address.lower() != ch:
            continue
        name = _NAMES.get(log.topics[0])
        if name is None:
            continue
        account = to_checksum_address(log.topics[1][-20:])
        market = int.from_bytes(log.topics[2], "big") if len(log.topics) > 2 and name not in (
            "AccountLiquidated",) else None
        out.append((name, account, market, log.data))
    return out


def touched_by(venue: Venue, receipt: Receipt) -> list[Touched]:
    """What a successful trader action changed, from its events: an open or increase (also by
    an order's execution) its position if isolated, the cross account if cross or if its margin
    came from the cross balance; addMargin the cross account it came from, removeMargin the
    position it left; a withdrawal the cross account; updateLeverage the position if isolated,
    the cross account if cross. Receipts of
    liquidations and ADL touch nobody here (a slice may leave a position liquidatable)."""
    if not receipt.status:
        return []
    logs = _logs(venue, receipt)
    if any(name in _FORCED for name, *_ in logs):
        return []
    found: dict[tuple[str, Optional[int]], Touched] = {}
    for name, account, market, data in logs:
        if name == "PositionIncreased":
            mode = int.from_bytes(data[:32], "big")
            keys = [(account, market), (account, None)] if mode == ISOLATED else [(account, None)]
            label = "open/increase"
        elif name == "MarginChanged":
            # only the side the margin left: the other gained collateral, and may have been
            # liquidatable before (adding margin to an underwater position is allowed)
            added = int.from_bytes(data[:32], "big", signed=True) > 0
            keys, label = [(account, None) if added else (account, market)], "margin transfer"
        elif name == "Withdrawn":
            keys, label = [(account, None)], "withdraw"
        elif name == "LeverageUpdated":
            # it checks and changes the position alone when isolated, the account when cross
            # (SPEC §4); a cross account under water beside an isolated position is not its doing
            mode = venue.clearinghouse.position(account, cast(int, market))[3]  # the event names it
            keys, label = [(account, market) if mode == ISOLATED else (account, None)], "updateLeverage"
        else:
            continue
        for key in keys:
            found.setdefault(key, Touched(key[0], key[1], label))
    return list(found.values())


# ---------------------------------------------------------------------------- bad debt
@dataclass(frozen=True)
class WriteOff:
    """A ``BadDebt`` of ``account`` and what its transaction closed: ``cross`` if it wrote off a
    cross account's debt (a cross liquidation, or the close of a cross position), else the
    isolated ``markets`` it closed or liquidated."""

    account: str
    cross: bool
    markets: tuple[int, ...] = ()


def check_bad_debt(w: WriteOff, *, positions_left: Mapping[int, int], cross_markets: int) -> None:
    """SPEC §6: debt is written off only when its position is gone: an isolated write-off needs
    one of the positions its transaction closed to hold nothing now (``positions_left``: market
    -> size after), a cross one the account's cross bitmask to be 0."""
    if w.cross:
        if cross_markets:
            raise PropertyViolation(BAD_DEBT_ONLY_WITHOUT_POSITION,
                                    f"{w.account}'s cross debt was written off while it holds cross positions",
                                    cross_markets=bin(cross_markets))
        return
    if not any(positions_left.get(m, 0) == 0 for m in w.markets):
        raise PropertyViolation(BAD_DEBT_ONLY_WITHOUT_POSITION,
                                f"{w.account}'s debt was written off while the positions its "
                                "transaction touched are open", markets=w.markets,
                                sizes={m: positions_left.get(m) for m in w.markets})


@dataclass(eq=False)
class PropertyWatch:
    """Checks :data:`NO_ACTION_LEAVES_LIQUIDATABLE` and :data:`BAD_DEBT_ONLY_WITHOUT_POSITION`
    after every transaction of ``venue``'s chain, through :mod:`protocol.chain.hooks`
    (``with PropertyWatch(venue): ...``, or :meth:`install`). A violation is raised from the
    transaction's call. ``later`` (seconds, None: off) is the one-block-later check, made only
    outside an open block (inside one the transactions share a timestamp)."""

    venue: Venue
    later: Optional[int] = ONE_BLOCK
    enabled: bool = True
    modes: dict[tuple[str, Optional[int]], int] = field(default_factory=dict)  # (account, market) -> mode at its last open
    checked: int = 0  # trader actions checked
    checked_later: int = 0  # ... of them also one block later

    def __call__(self, chain: Chain, receipt: Receipt) -> None:
        if chain is not self.venue.chain or not self.enabled or not receipt.status:
            return
        self.enabled = False  # the checks' own snapshots send nothing, but stay out of them
        try:  # (the transaction itself is still pending here: it is mined after the listeners)
            self.check(receipt, open_block=chain._open_blocks > 0)
        finally:
            self.enabled = True

    def check(self, receipt: Receipt, *, open_block: bool = False) -> None:
        """Both properties for one receipt, against the chain's state now."""
        v = self.venue
        logs = _logs(v, receipt)
        if not logs:
            return
        for name, account, market, data in logs:
            if name == "PositionIncreased":
                self.modes[(account, market)] = int.from_bytes(data[:32], "big")
        for w in write_offs(logs, self.modes):
            ch = v.clearinghouse
            left = {m: ch.position(w.account, m)[0] for m in w.markets}
            check_bad_debt(w, positions_left=left, cross_markets=ch.cross_markets(w.account))
        touched = touched_by(v, receipt)
        if touched:
            later = None if open_block else self.later
            self.checked += 1
            self.checked_later += later is not None
            check_not_liquidatable(v, touched, later=later)

    def install(self) -> "PropertyWatch":
        if self not in hooks.LISTENERS:
            hooks.LISTENERS.append(self)
        return self

    def uninstall(self) -> None:
        if self in hooks.LISTENERS:
            hooks.LISTENERS.remove(self)

    def __enter__(self) -> "PropertyWatch":
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.uninstall()


def write_offs(logs: list[_Log], modes: Mapping[tuple[str, Optional[int]], int]) -> list[WriteOff]:
    """The ``BadDebt`` events among one receipt's logs (as :func:`_logs` reads them), each with
    what its transaction closed: a cross liquidation (``AccountLiquidated``) or the close or
    liquidation of a position last opened cross (``modes``) makes it a cross write-off."""
    found = []
    for name, account, _, _ in logs:
        if name != "BadDebt":
            continue
        mine = [(n, m) for n, a, m, _ in logs if a == account and n in (
            "PositionDecreased", "PositionLiquidated", "AutoDeleveraged", "AccountLiquidated")]
        cross = any(n == "AccountLiquidated" for n, _ in mine) or any(
            modes.get((account, m)) == CROSS for n, m in mine if m is not None)
        markets = tuple(sorted({m for n, m in mine if m is not None and modes.get((account, m)) != CROSS}))
        found.append(WriteOff(account, cross and not markets, markets))
    return found


# ---------------------------------------------------------------------------- entry point
def assert_properties(venue: Venue, receipts: Iterable[Receipt] = (), *, attacker: Sequence[Who] = (),
                      start: Optional[Holdings] = None, later: Optional[int] = ONE_BLOCK) -> None:
    """Check the economic properties over what a test did: for each of ``receipts`` (e.g. from
    ``venue.chain.recording()``), :data:`BAD_DEBT_ONLY_WITHOUT_POSITION` and, for trader
    actions, :data:`NO_ACTION_LEAVES_LIQUIDATABLE` (against the state now, and ``later``
    seconds on); with ``attacker`` accounts and their ``start`` :func:`holdings`,
    :data:`NO_FREE_LUNCH` over the receipts (prices must be back where they started).
    Raises :class:`PropertyViolation` naming the first broken property."""
    receipts = list(receipts)
    watch = PropertyWatch(venue, later=later)
    for receipt in receipts:
        if receipt.status:
            watch.check(receipt)
    if attacker:
        if start is None:
            raise ValueError("attacker= needs start=holdings(venue, attacker) taken before")
        check_no_free_lunch(start, holdings(venue, attacker), fees_paid(venue, receipts, attacker))
