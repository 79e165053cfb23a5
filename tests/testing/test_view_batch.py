"""The fuzzer's speed-ups answer exactly what the plain path answers (issue 24 §3).

* the batch of views (protocol/testing/batch.py, contracts/testing/ViewBatch.sol) stores in the
  view cache only what each view answers alone;
* ``Chain.state_version`` moves with every change of state, so an invariant check skipped at
  an unchanged version would have passed;
* view calls' calldata and decoded results are memoised without confusing equal-but-different
  arguments.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from protocol.chain.base import VIEW_SENDER
from protocol.errors import Reverted
from protocol.testing import batch, fuzz
from protocol.testing.fuzz import run_campaign, world


def test_every_batched_answer_is_the_views_own_answer_along_a_campaign(monkeypatch):
    compared, stored = [0], [0]
    original = fuzz.prefetch_invariant_views

    def checked(venue):
        n = original(venue)
        stored[0] += n or 0
        chain = venue.chain
        for (sender, to, data), answer in list(chain._views.items()):
            assert chain._call(sender, to, data) == answer, (to, data.hex())
            compared[0] += 1
        return n

    monkeypatch.setattr(fuzz, "prefetch_invariant_views", checked)
    result = run_campaign(12, backend="revm", steps_per_run=30, seed=7)
    assert result.failure is None, result.failure
    assert stored[0] > 1_000 and compared[0] > 1_000


def test_a_reverting_view_is_left_to_be_asked_alone():
    w = world("revm")
    v, chain = w.venue, w.venue.chain
    assert batch.install(chain)  # idempotent: the world installed it already
    ch = v.clearinghouse
    beyond = ch.account_count() + 1_000  # past the end of the list: a Panic revert
    with pytest.raises(Reverted) as alone:
        ch.accounts(beyond)
    chain._state_changed()
    assert batch.prefetch(chain, [(ch, "accounts", (beyond,)), (ch, "marketCount", ())]) == 1
    key = (VIEW_SENDER, ch.address, ch.abi.function("marketCount").encode(()))
    assert chain._views[key] == chain._call(*key)
    with pytest.raises(Reverted) as batched:
        ch.accounts(beyond)
    assert str(batched.value) == str(alone.value)


def test_no_batch_on_pyevm():
    from protocol.chain.pyevm import PyEVMChain

    assert batch.install(PyEVMChain()) is False


def test_the_state_version_moves_with_every_change_of_state():
    w = world("revm")
    chain, trader = w.venue.chain, w.traders[0]
    token = chain.take_snapshot()
    try:
        seen = [chain.state_version]

        def moved():
            assert chain.state_version != seen[-1]
            seen.append(chain.state_version)

        w.venue.clearinghouse.market_count()  # a view changes nothing
        assert chain.state_version == seen[-1]
        trader.deposit(1)
        moved()
        with pytest.raises(Reverted):
            trader.withdraw(10**9)  # a refused transaction still lands in a block
        moved()
        chain.advance_time(5)
        moved()
        chain.set_balance(trader.address, 10**18)
        moved()
        chain.mine()
        moved()
        chain.revert_to(token)
        moved()
    finally:
        chain.revert_to(token)


def test_the_campaign_skips_checks_only_of_unchanged_states():
    result = run_campaign(10, backend="revm", steps_per_run=30, seed=3)
    assert result.failure is None
    assert world("revm").skipped_checks > 0


def test_memoised_calldata_tells_equal_arguments_of_different_types_apart():
    w = world("revm")
    chain, ch = w.venue.chain, w.venue.clearinghouse
    fn = ch.abi.function("position")
    account = w.traders[0].address
    assert chain._calldata_of(fn, (account, 1)) == fn.encode((account, 1))
    # True == 1 as a key, yet eth-abi refuses a bool for a uint: never served from the memo.
    with pytest.raises(Exception):
        chain._calldata_of(fn, (account, True))
    assert chain._calldata_of(fn, [account, 1]) == fn.encode((account, 1))
    ch.position(account, 0)  # memoised now; Decimal(0) == 0 is still refused
    with pytest.raises(Exception, match="cannot be encoded"):
        ch.position(account, Decimal(0))
