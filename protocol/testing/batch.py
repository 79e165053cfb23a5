"""Many views in one message call: the fuzzer's invariant checks read the whole venue (about a
hundred views: every account x market) after every step, and on revm a top-level call costs
far more than the view it runs.

:func:`install` puts the code of ``contracts/testing/ViewBatch.sol`` at :data:`BATCH_ADDRESS` of
an in-process revm chain (no transaction: the chain's blocks, nonces and addresses stay as they
were). :func:`prefetch` runs a list of views through it in one call and stores each answer in
the chain's view cache (:meth:`~protocol.chain.base.Chain.call` serves a view from it until the
state changes) exactly where the same view asked alone would be stored. Only successful
answers are stored: a view that reverted (or ran out of the batch's gas) is asked again alone
when it is asked, so its error is the one it raises alone. :func:`prefetch_invariant_views`
prefetches what :func:`~protocol.testing.invariants.assert_invariants` asks, which then runs
unchanged and answers the same (``tests/testing/test_view_batch.py`` compares every prefetched answer
with the view asked alone).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable, Optional, cast

from protocol.chain.abi import load_artifact
from protocol.chain.base import VIEW_SENDER
from protocol.chain.revm import RevmChain

if TYPE_CHECKING:
    from protocol.chain import Chain, Contract
    from protocol.venue.client import Venue

#: Where :func:`install` puts the batch code (an address no key or CREATE produces).
BATCH_ADDRESS = "0x7e57BA7C000000000000000000000000000000b0"

Call = tuple["Contract", str, tuple[Any, ...]]  # (contract, function, args)
_Key = tuple[str, str, bytes]  # a view cache's key: (sender, contract address, calldata)
_Packed = tuple[list[_Key], bytes]  # the view-cache keys of some calls, and the batch's calldata


def install(chain: Chain) -> bool:
    """Put the batch code on ``chain`` if it is a revm chain (whose state nothing else writes
    and whose views are cached: :attr:`~protocol.chain.base.Chain.caches_views`); whether it
    did. Idempotent."""
    if not isinstance(chain, RevmChain) or not chain.caches_views:
        return False
    if getattr(chain, "_view_batch", False):
        return True

    try:
        runtime = bytes.fromhex(load_artifact("ViewBatch").raw["deployedBytecode"].removeprefix("0x"))
    except Exception:  # artifacts built without the test contracts: views are asked one by one
        return False
    chain._state_changed()
    chain._put_info(BATCH_ADDRESS, chain._info(balance=0, nonce=1, code=runtime))
    chain._view_batch = True
    return True


def prefetch(chain: Chain, calls: Iterable[Call]) -> int:
    """Run ``calls`` (contract, function, args) in one message call through the batch code
    and store the successful answers in the view cache; how many were stored (0 where the
    chain has no batch code or no view cache)."""
    if chain._views is None or not getattr(chain, "_view_batch", False):
        return 0
    return _run(chain, _pack(chain, list(calls)))


def _pack(chain: Chain, calls: list[Call]) -> _Packed:
    """The view-cache keys of ``calls`` and the batch's calldata."""
    keys: list[_Key] = []
    entries: list[bytes] = []
    for contract, function, args in calls:
        data = chain._calldata_of(contract.abi.function(function), args)
        keys.append((VIEW_SENDER, contract.address, data))
        entries.append(_target(contract.address) + len(data).to_bytes(4, "big") + data)
    return keys, b"".join(entries)


def _run(chain: Chain, packed: _Packed) -> int:
    keys, calldata = packed
    if not keys:
        return 0
    ok, out = chain._call(VIEW_SENDER, BATCH_ADDRESS, calldata)
    if not ok:
        return 0
    views = cast(dict[_Key, tuple[bool, bytes]], chain._views)  # callers checked it is kept
    stored, at = 0, 0
    for key in keys:  # the answer each view gives alone: same state, same calldata
        size = int.from_bytes(out[at + 1:at + 5], "big")
        if out[at]:
            views[key] = (True, out[at + 5:at + 5 + size])
            stored += 1
        at += 5 + size
    return stored


#: Packed batches by what decides them (the venue, the counts, the accounts): the same every
#: step until an account, an order or a tier is added.
_PACKED: dict[tuple[Any, ...], _Packed] = {}


def _packed(chain: Chain, shape: tuple[Any, ...], make: Callable[[], list[Call]]) -> _Packed:
    packed = _PACKED.get(shape)
    if packed is None:
        if len(_PACKED) > 4_096:
            _PACKED.clear()
        packed = _PACKED[shape] = _pack(chain, make())
    return packed


_TARGETS: dict[str, bytes] = {}


def _target(address: str) -> bytes:
    raw = _TARGETS.get(address)
    if raw is None:
        raw = _TARGETS[address] = bytes.fromhex(address[2:])
    return raw


def prefetch_invariant_views(venue: Venue) -> Optional[int]:
    """Prefetch, in three batches, the views :func:`~protocol.testing.invariants.load_state`
    and :func:`~protocol.testing.invariants.assert_invariants` ask of ``venue`` (its markets,
    every account x market, the order book's orders and LP requests, each position's
    liquidation verdict); None where the chain has no batch code. Anything not prefetched is
    simply asked alone."""
    chain = venue.chain
    if chain._views is None or not getattr(chain, "_view_batch", False):
        return None
    ch, oracle, book, usdc, pool = (venue.clearinghouse, venue.oracle, venue.order_book,
                                    venue.usdc, venue.pool)
    venue_key = (id(chain), ch.address, oracle.address, book.address, usdc.address, pool.address)
    stored = _run(chain, _packed(chain, (venue_key, 1), lambda: [
        (ch, "marketCount", ()), (ch, "accountCount", ()), (oracle, "maxPriceAge", (0,)),
        (oracle, "closeGracePeriod", ()), (ch, "poolAssets", ()), (ch, "insuranceFund", ()),
        (ch, "fundingReserve", ()), (ch, "solvency", ()), (ch, "profitBudget", ()),
        (ch, "paused", ()), (ch, "poolValue", ()), (usdc, "balanceOf", (ch.address,)), (usdc, "balanceOf", (book.address,)),
        (pool, "balanceOf", (book.address,)), (book, "nextOrderId", ()), (book, "nextLpRequestId", ()),
        (book, "openOrderCount", ()), (book, "openLpRequestCount", ()),
    ]))
    markets = range(ch.market_count())
    count, orders, requests = ch.account_count(), book.next_order_id(), book.next_lp_request_id()
    open_counts = book.open_order_count(), book.open_lp_request_count()

    def second() -> list[Call]:
        calls: list[Call] = [(ch, "accounts", (i,)) for i in range(count)]
        for m in markets:
            calls += [(ch, "marketConfig", (m,)), (ch, "marketState", (m,)), (oracle, "latest", (m,)),
                      (oracle, "maxPriceAge", (m,)), (ch, "marketTier", (m, 0)), (ch, "marketModules", (m,)),
                      (ch, "impactPool", (m,)), (ch, "lockedAccounts", (m,))]
        calls += [(book, "order", (i,)) for i in range(1, orders)]
        calls += [(book, "openOrderIds", (0, open_counts[0])), (book, "openLpRequestIds", (0, open_counts[1]))]
        return calls + [(book, "lpRequest", (i,)) for i in range(1, requests)]

    stored += _run(chain, _packed(chain, (venue_key, 2, len(markets), count, orders, requests, open_counts),
                                  second))
    accounts = tuple(ch.accounts(i) for i in range(count))
    tiers = tuple(ch.market_tier(m, 0)[3] for m in markets)

    def third() -> list[Call]:
        calls: list[Call] = []
        for m in markets:
            calls += [(ch, "marketTier", (m, i)) for i in range(1, tiers[m])]
        for a in accounts:
            calls += [(ch, "crossBalance", (a,)), (ch, "crossMarkets", (a,)), (ch, "heldImpact", (a,)),
                      (ch, "orderLock", (a,)), (book, "escrow", (a,))]
            calls += [(ch, f, (a, m)) for m in markets for f in ("position", "lastPartialLiquidation")]
        return calls

    return stored + _run(chain, _packed(chain, (venue_key, 3, accounts, tiers), third))
