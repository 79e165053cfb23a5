"""SPEC §12 invariants, checked against a live venue.

The chain state is loaded into the reference model (:mod:`protocol.margin.model`), which then
computes what the contracts' state must satisfy; a violation names the invariant and the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Optional, cast

from eth_utils.crypto import keccak

from protocol.errors import PerpsimError, Reverted
from protocol.margin.math import charge_tokens
from protocol.margin.model import (
    ISOLATED,
    MarketMemory,
    MarketParams,
    MarketState,
    Model,
    ModelRevert,
    Position,
)
from protocol.venue.rules import market_rules

if TYPE_CHECKING:
    from protocol.bindings import Clearinghouse
    from protocol.venue.client import Venue

PROVER_KEY = keccak(b"perpsim:invariant-prover")


class InvariantViolation(PerpsimError, AssertionError):
    """An invariant of SPEC §12 does not hold; ``name`` says which, ``details`` the numbers."""

    def __init__(self, name: str, message: str, **details: Any) -> None:
        numbers = ", ".join(f"{k}={v}" for k, v in details.items())
        super().__init__(f"invariant '{name}' broken: {message}" + (f" ({numbers})" if numbers else ""))
        self.name = name
        self.details = details


@dataclass
class ChainState:
    """The venue's state loaded into the reference model, and the accounts it covers."""

    model: Model
    accounts: list[str]
    held: int  # collateral tokens the clearinghouse holds


def load_state(venue: Venue, mirrors: Optional[Mapping[str, object]] = None) -> ChainState:
    """Every registered account's balances and positions, market states and prices, and each
    market's rule modules (:func:`~protocol.venue.rules.market_rules`; ``mirrors``: the user's
    Python mirrors by kind, asked instead of the chain)."""
    ch, oracle = venue.clearinghouse, venue.oracle
    markets = ch.market_count()
    model = Model(scale=venue.scale, max_price_age=oracle.max_price_age(0),
                  close_grace_period=oracle.close_grace_period())
    for market in range(markets):
        model.params.append(MarketParams(*ch.market_config(market)))
        model.states.append(MarketState(*ch.market_state(market)))
        price, ts, _ = oracle.latest(market)
        model.prices[market] = (price, ts)
        model.heartbeats[market] = oracle.max_price_age(market)
        count = ch.market_tier(market, 0)[3]
        if count:
            model.tiers[market] = [ch.market_tier(market, i)[:3] for i in range(count)]
        model.memory[market] = MarketMemory(*ch.market_memory(market))
        rules = market_rules(venue, market, mirrors)  # its own modules judge it, not the stock rule
        if rules is not None:
            model.rules[market] = rules
            model.impact_pool[market] = ch.impact_pool(market)
    accounts = [ch.accounts(i) for i in range(ch.account_count())]
    model.accounts = list(accounts)
    for account in accounts:
        model.cross_balance[account] = ch.cross_balance(account)
        model.cross_markets[account] = ch.cross_markets(account)
        held = ch.held_impact(account)
        if held:
            model.held_impact[account] = held
        order_id, market_id, expires_at = ch.order_lock(account)
        if order_id:
            model.order_locks[account] = (order_id, market_id, expires_at)
        for market in range(markets):
            p = Position(*ch.position(account, market))
            if p != Position():
                model.positions[(account, market)] = p
            last = ch.last_partial_liquidation(account, market)
            if last:
                model.last_partial_liquidation[(account, market)] = last
    model.pool_assets = ch.pool_assets()
    model.insurance_fund = ch.insurance_fund()
    model.funding_reserve = ch.funding_reserve()
    (_, _, model.open_entry, model.max_pnl_factor_traders, model.max_pnl_factor_adl,
     model.min_pnl_factor_after_adl) = ch.solvency()
    model.profit_held = ch.profit_budget()[2]
    model.paused = ch.paused()
    _load_adl_round(venue, model, accounts, markets)
    model.now = venue.chain.timestamp
    return ChainState(model, accounts, venue.usdc.balance_of(ch.address))


def _load_adl_round(venue: Venue, model: Model, accounts: list[str], markets: int) -> None:
    """The ADL round (``adlRound``) and the members' entries (``adlRoundEntry``), once there
    has been a round."""
    ch = venue.clearinghouse
    rid, fraction, remaining, module = ch.adl_round()
    if rid == 0:
        return
    model.adl_round_id, model.adl_round_fraction, model.adl_round_remaining = rid, fraction, remaining
    for market in range(markets):
        if int(ch.market_modules(market)[4], 16) == int(module, 16) and market in model.rules:
            model.adl_round_rule = model.rules[market].adl
            break
    for account in accounts:
        for market in range(markets):
            entry_round, size, cut, _ = ch.adl_round_entry(account, market)
            if entry_round:
                model.adl_round_entry[(account, market)] = (entry_round, size, cut)


def assert_invariants(venue: Venue, *, deep: bool = False,
                      mirrors: Optional[Mapping[str, object]] = None) -> ChainState:
    """Check every state invariant of SPEC §12 on ``venue``; raise :class:`InvariantViolation`
    naming the first broken one. ``deep`` also proves the liquidation invariants by liquidating
    each position and account inside a snapshot (every unhealthy one must go through, every
    healthy one must be refused). A market's own modules judge it: asked through the chain, or
    through ``mirrors`` (kind -> the user's Python mirror, :func:`protocol.venue.rules.mirror`).
    Returns the loaded state."""
    state = load_state(venue, mirrors)
    m, ch = state.model, venue.clearinghouse

    # Conservation: the tokens held are exactly the sum of the buckets.
    margins = sum(p.margin for p in m.positions.values())
    cross = sum(m.cross_balance.values())
    held_impact = sum(m.held_impact.values())
    buckets = cross + margins + m.pool_assets + m.insurance_fund + m.funding_reserve + held_impact
    if state.held != buckets:
        raise InvariantViolation("conservation", "collateral held != sum of the buckets",
                                 held=state.held, buckets=buckets, cross_balances=cross,
                                 isolated_margins=margins, pool_assets=m.pool_assets,
                                 insurance_fund=m.insurance_fund, funding_reserve=m.funding_reserve,
                                 held_impact=held_impact)

    # Open interest per side equals the positions on that side; cross bitmasks match modes.
    for market, s in enumerate(m.states):
        longs = sum(p.size for (a, mk), p in m.positions.items() if mk == market and p.size > 0)
        shorts = sum(-p.size for (a, mk), p in m.positions.items() if mk == market and p.size < 0)
        if (s.long_size, s.short_size) != (longs, shorts):
            raise InvariantViolation("open interest", f"market {market} totals != positions",
                                     long_oi=s.long_size, longs=longs, short_oi=s.short_size,
                                     shorts=shorts)
    entries = sum(p.entry_notional for p in m.positions.values())
    if m.open_entry != entries:
        raise InvariantViolation("open entry", "venue open entry != sum of positions' entries",
                                 open_entry=m.open_entry, positions=entries)
    for account in state.accounts:
        mask = sum(1 << mk for (a, mk), p in m.positions.items() if a == account and p.mode != ISOLATED)
        if mask != m.cross_markets.get(account, 0):
            raise InvariantViolation("cross markets", f"{account} bitmask != its cross positions",
                                     bitmask=m.cross_markets.get(account, 0), positions=mask)

    # A cross account's debt is written off when its last cross position closes, never later.
    check_cross_debts(m, state.accounts)

    # Funding sums to zero up to protocol-favouring rounding: what has been settled plus what
    # every open position would settle now can never be negative.
    outstanding = m.funding_reserve
    for (account, market), p in m.positions.items():
        funding, _ = m.pending(p, *m.indices_now(market, m.latest_price(market)))
        outstanding += charge_tokens(funding, m.scale)
    if outstanding < 0:
        raise InvariantViolation("funding sums to zero", "funding paid out more than it took in",
                                 reserve=m.funding_reserve, outstanding=outstanding)

    # Pending profit and the pnl factor are the rule's (Solvency).
    profit, factor = ch.solvency()[:2]
    if (profit, factor) != (m.pending_profit()[0], m.pnl_factor()):
        raise InvariantViolation("pnl factor", "solvency() != pending profit / pool",
                                 chain=(profit, factor), rule=(m.pending_profit()[0], m.pnl_factor()))

    # The pool never pays a profit above the cap: what it pays out now at most (the budget) is
    # the rule's, the cap of its assets less the episode's hold, never above the cap.
    budget = ch.profit_budget()
    if budget != m.profit_budget():
        raise InvariantViolation("profit cap", "profitBudget() != the cap less the episode's hold",
                                 chain=budget, rule=m.profit_budget())
    if m.max_pnl_factor_traders and budget[1] > m._pool_wad() * m.max_pnl_factor_traders // 10_000:
        raise InvariantViolation("profit cap", "the pool's budget is above the cap",
                                 budget=budget[1], pool_assets=m.pool_assets)

    # Pool value is explained: assets + pending borrowing - traders' unrealised PnL (capped).
    chain_value, model_value = ch.pool_value(), m.pool_value()
    if chain_value != model_value:
        raise InvariantViolation("pool value explained", "poolValue() != assets + borrowing - trader PnL",
                                 pool_value=chain_value, explained=model_value)

    # Escrow: the order book holds at least what its open orders and LP requests owe back.
    _check_escrow(venue)

    # Liquidation: the contract's health verdict is the rule's, for every position and account.
    for (account, market), p in m.positions.items():
        if p.mode == ISOLATED:
            expected = _holds(m.is_liquidatable, account, market)
            got = _view(ch, "isLiquidatable", account, market)
            if got is not None and got != expected:
                raise InvariantViolation("liquidation rule", f"{account} market {market}",
                                         contract_says=got, rule_says=expected)
    for account in state.accounts:
        if m.cross_markets.get(account, 0):
            expected = _holds(m.is_account_liquidatable, account)
            got = _view(ch, "isAccountLiquidatable", account)
            if got is not None and got != expected:
                raise InvariantViolation("liquidation rule", f"{account} cross account",
                                         contract_says=got, rule_says=expected)
    if deep:
        _prove_liquidations(venue, state)
    return state


def check_cross_debts(m: Model, accounts: Iterable[str]) -> None:
    """No cross balance below zero without a cross position (SPEC §6: a debt stays on the
    account while it holds cross positions and is written off when the last one closes)."""
    for account in accounts:
        balance = m.cross_balance.get(account, 0)
        if balance < 0 and not m.cross_markets.get(account, 0):
            raise InvariantViolation("no debt without a cross position",
                                     "a negative cross balance outlived the account's cross positions",
                                     account=account, balance=balance)


def _check_escrow(venue: Venue) -> None:
    """The book holds what its open orders and LP requests owe back; its per-account tally
    (``escrow``, what ``Reader.equities`` counts) is exactly that; its open lists (what keepers
    walk) hold exactly the open orders and LP requests; and every open market order holds its
    account's lock (SPEC §10), every lock an open market order's."""
    book, ch = venue.order_book, venue.clearinghouse
    owed: dict[str, list[int]] = {}
    collateral = 0
    market_orders: dict[str, tuple[int, int]] = {}
    open_orders: list[int] = []
    for i in range(1, book.next_order_id()):
        owner, kind, _, _, market, _, _, _, amount, _, _, _ = book.order(i)
        if int(owner, 16) == 0:
            continue
        open_orders.append(i)
        owner = owner.lower()
        collateral += amount
        owed.setdefault(owner, [0, 0])[0] += amount
        if kind in (0, 3):  # market increase, market decrease
            if owner in market_orders:
                raise InvariantViolation("order lock", f"{owner} has two open market orders",
                                         orders=(market_orders[owner][0], i))
            market_orders[owner] = (i, market)
    assets = shares = 0
    open_requests: list[int] = []
    for i in range(1, book.next_lp_request_id()):
        owner, _, is_deposit, _, amount, _, _ = book.lp_request(i)
        owner = owner.lower()
        if int(owner, 16) != 0:
            open_requests.append(i)
            assets, shares = (assets + amount, shares) if is_deposit else (assets, shares + amount)
            owed.setdefault(owner, [0, 0])[0 if is_deposit else 1] += amount
    for listed_kind, expected in (("Order", open_orders), ("LpRequest", open_requests)):
        listed = venue.open_ids(listed_kind)
        if listed != expected:
            raise InvariantViolation("escrow", f"the book's open {listed_kind} list != its open {listed_kind}s",
                                     listed=listed, open=expected)
    held = venue.usdc.balance_of(book.address), venue.pool.balance_of(book.address)
    if held[0] < collateral + assets or held[1] < shares:
        raise InvariantViolation("escrow", "the order book holds less than it owes",
                                 tokens=held[0], order_collateral=collateral, lp_assets=assets,
                                 pool_shares=held[1], lp_shares=shares)
    registered = (ch.accounts(i).lower() for i in range(ch.account_count()))
    for owner in {a for a in registered if a not in owed}:
        owed[owner] = [0, 0]  # nothing open: nothing in the tally either
    for owner, (tokens, lp_shares) in owed.items():
        tally = tuple(book.escrow(owner))
        if tally != (tokens, lp_shares):
            raise InvariantViolation("escrow", f"{owner}'s escrow tally != its open requests",
                                     tally=tally, requests=(tokens, lp_shares))
    per_market: dict[int, int] = {}
    for owner, (order_id, market) in market_orders.items():
        lock = ch.order_lock(owner)
        if lock[:2] != (order_id, market):
            raise InvariantViolation("order lock", f"{owner}'s market order {order_id} holds no lock",
                                     lock=lock, order=(order_id, market))
        per_market[market] = per_market.get(market, 0) + 1
    for market in range(ch.market_count()):
        counts = tuple(ch.locked_accounts(market))
        if counts != (len(market_orders), per_market.get(market, 0)):
            raise InvariantViolation("order lock", "lock counts != open market orders",
                                     counts=counts, orders=(len(market_orders), per_market.get(market, 0)))


def _holds(predicate: Callable[..., bool], *args: Any) -> Optional[bool]:
    try:
        return predicate(*args)
    except ModelRevert:
        return None  # stale price: no verdict


def _view(ch: Clearinghouse, fn: str, *args: Any) -> Optional[bool]:
    try:
        verdict: bool = ch.call(fn, *args)  # a bool view
        return verdict
    except Reverted:
        return None


def _prove_liquidations(venue: Venue, state: ChainState) -> None:
    """Every unhealthy position/account can be liquidated; no healthy one can."""
    ch, m, chain = venue.clearinghouse, state.model, venue.chain
    keeper = chain.add_key(PROVER_KEY)  # a key outside the deterministic sequence
    targets: list[tuple[str, Optional[int]]] = [(a, mk) for (a, mk), p in m.positions.items()
                                                if p.mode == ISOLATED]
    targets += [(a, None) for a in state.accounts if m.cross_markets.get(a, 0)]
    for account, market in targets:
        verdict = _holds(m.is_liquidatable, account, market) if market is not None \
            else _holds(m.is_account_liquidatable, account)
        if verdict is None:
            continue
        with chain.snapshot():
            chain.set_balance(keeper, 10**18)
            receipt = ch.liquidate_position(account, market, sender=keeper) if market is not None \
                else ch.liquidate_account(account, sender=keeper)
        name = "no healthy liquidation" if not verdict else "unhealthy can be liquidated"
        # a failed receipt carries its error
        if verdict and not receipt.status and cast(Reverted, receipt.error).error != "LiquidationCooldown":
            raise InvariantViolation(name, f"liquidating {account} market {market} reverted",
                                     error=receipt.error)
        if not verdict and receipt.status:
            raise InvariantViolation(name, f"a healthy {account} market {market} was liquidated")
