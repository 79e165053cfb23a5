"""Every backend runs the same sample contracts and must produce the same transcript.

pyevm is the reference; revm and rpc (anvil) must match it exactly in every result, event, error,
block and timestamp, and in every transaction's gas. The transcript covers what makes gas depend
on history: fresh slots, re-touched slots, refunds, no-op SSTOREs, a write restored in the same
transaction, a child frame that reverts, cold and warm accounts, ether moving, a contract creating
contracts, and transactions inside and after a snapshot.
"""

from __future__ import annotations

import pytest

from protocol.chain import connect
from protocol.errors import Reverted


def transcript(chain) -> list[tuple]:
    """(step, outcome, gas) for a fixed script of deploys, transactions, views and time."""
    me = chain.new_account()
    other = chain.new_account()
    rows: list[tuple] = []

    def tx(step, contract, fn, *args, sender=me, value=0, gas_price=0):
        r = contract.transact(sender, fn, *args, value=value, gas_price=gas_price)
        outcome = (r.status, r.block, r.timestamp,
                   [(e.name, e.address, sorted(e.args.items())) for e in r.events],
                   (r.error.error, r.error.args) if r.error else None)
        rows.append((step, outcome, r.gas_used))
        return r

    def view(step, contract, fn, *args):
        try:
            rows.append((step, ("ok", contract.call(fn, *args)), None))
        except Reverted as exc:
            rows.append((step, ("revert", exc.error, exc.args), None))

    probe = chain.deploy("ParityProbe", 100, sender=me)
    rows.append(("deploy", (probe.address, probe.deploy_receipt.block), probe.deploy_receipt.gas_used))
    child = chain.deploy("ParityProbe", 0, sender=other)
    rows.append(("deploy child", (child.address,), child.deploy_receipt.gas_used))
    tx("store 7", probe, "store", 7)
    tx("store 8", probe, "store", 8, sender=other)
    tx("too early", probe, "storeWhenReady", 1)
    view("now", probe, "now_")
    chain.advance_time(150)
    view("now later", probe, "now_")
    tx("ready", probe, "storeWhenReady", 2)
    tx("setChild", probe, "setChild", child.address)
    tx("nested revert", probe, "nestedCheck", -3)
    tx("nested ok", probe, "nestedCheck", 5)
    tx("try nested", probe, "tryNested", -4)
    view("require", probe, "requireMessage", False)
    view("panic", probe, "divide", 1, 0)
    view("value", probe, "value")
    tx("fresh slot", probe, "setCell", 1, 11)
    tx("re-touched slot", probe, "setCell", 1, 12)
    tx("no-op sstore", probe, "setCell", 1, 12)
    tx("second fresh slot", probe, "setCell", 2, 21)
    tx("clear (refund)", probe, "setCell", 2, 0)
    tx("write and restore", probe, "setAndRestore", 1, 99)
    # A call of a state-changing function is simulated, as eth_call does, and leaves no trace.
    view("simulated write", probe, "nestedCheck", 6)
    view("simulated write reverts", probe, "nestedCheck", -6)
    view("value after simulations", probe, "value")
    tx("cold then warm reads", probe, "sumCells", 1, 3)
    tx("same reads again", probe, "sumCells", 1, 3)
    tx("child write reverts", probe, "writeBothChildReverts", 4, 44)
    tx("cold accounts", probe, "touch", other, child.address)
    tx("warm accounts again", probe, "touch", other, child.address)
    with chain.snapshot():
        tx("inside snapshot", probe, "store", 1234)
        tx("slot inside snapshot", probe, "setCell", 1, 77)
        view("value in snapshot", probe, "value")
    view("value after snapshot", probe, "value")
    view("cell after snapshot", probe, "cells", 1)
    tx("after snapshot", probe, "setCell", 1, 78)
    tx("ether in", probe, "store", 5, value=3 * 10**15)  # reverts: store is not payable
    r = chain.transact_raw(me, probe.address, b"", value=10**15)
    rows.append(("ether to contract", (r.status,), r.gas_used))
    tx("ether out", probe, "pay", other, 4 * 10**14)
    tx("ether out too much", probe, "pay", other, 10**18)
    rows.append(("balances", (chain.balance(probe.address), chain.balance(other)), None))
    tx("gas paid", probe, "setCell", 5, 1, gas_price=7 * 10**9)
    rows.append(("after gas", (chain.balance(me), chain.balance("0x" + "00" * 20)), None))
    spawner = chain.deploy("ParitySpawner", sender=me)
    rows.append(("deploy spawner", (spawner.address,), spawner.deploy_receipt.gas_used))
    spawned = tx("spawn", spawner, "spawn", 9)
    born = spawned.events_named("Spawned")[0]["child"]
    rows.append(("spawned code", (len(chain.code(born)),), None))
    view("spawned cell", chain.at("ParityProbe", born), "cells", 1)
    tx("spawn again", spawner, "spawn", 10)
    tx("after a creator exists", probe, "setCell", 6, 6)
    rows.append(("clock", (chain.block_number, chain.timestamp), None))
    chain.mine()
    rows.append(("after mine", (chain.block_number, chain.timestamp), None))
    return rows


@pytest.fixture(scope="module")
def reference():
    chain = connect("pyevm")
    return transcript(chain)


def test_backend_matches_reference(chain_backend, reference):
    chain = connect(chain_backend)
    try:
        rows = transcript(chain)
    finally:
        chain.close()
    assert [(s, o) for s, o, _ in rows] == [(s, o) for s, o, _ in reference]
    assert [(s, g) for s, _, g in rows] == [(s, g) for s, _, g in reference]


def test_reference_transcript_is_meaningful(reference):
    outcomes = dict((s, o) for s, o, _ in reference)
    assert outcomes["too early"][4][0] == "TooEarly"
    assert outcomes["ready"][0] is True
    assert outcomes["nested revert"][4] == ("NotPositive", (-3,))
    assert outcomes["require"] == ("revert", "Error", ("probe: not ok",))
    assert outcomes["panic"] == ("revert", "Panic", (0x12,))
    assert outcomes["value in snapshot"] == ("ok", 1234)
    assert outcomes["value after snapshot"] == ("ok", 5)
    assert outcomes["cell after snapshot"] == ("ok", 12)
    assert outcomes["now later"][1] - outcomes["now"][1] == 150
    gas = {s: g for s, _, g in reference if g is not None}
    # The steps probe what they claim: pricing that depends on the slot's and account's history.
    assert gas["fresh slot"] - gas["re-touched slot"] == 22_100 - 5_000  # EIP-2929/2200
    assert gas["re-touched slot"] > gas["no-op sstore"]
    assert gas["clear (refund)"] < gas["no-op sstore"]  # the EIP-3529 refund
    assert gas["cold then warm reads"] == gas["same reads again"]  # cold again next transaction
    assert gas["cold accounts"] == gas["warm accounts again"]
    assert outcomes["ether in"][0] is False and outcomes["ether out too much"][0] is False
    assert outcomes["balances"] == (10**15 - 4 * 10**14, 1_000 * 10**18 + 4 * 10**14)
    assert outcomes["spawned code"][0] > 0 and outcomes["spawned cell"] == ("ok", 9)


def test_custom_error_is_an_importable_exception(chain):
    from protocol.errors import NotPositive

    me = chain.new_account()
    probe = chain.deploy("ParityProbe", 0, sender=me)
    with pytest.raises(NotPositive) as info:
        probe.call("check", -1)
    assert info.value.args == (-1,) and isinstance(info.value, Reverted)
    receipt = probe.transact(me, "nestedCheck", 1)
    assert not receipt.status  # the child is unset: the call to address(0) has no code
    with pytest.raises(Reverted):
        receipt.raise_for_status()


def test_fund_and_balances(chain):
    fresh = chain.new_account(ether=0)
    assert chain.balance(fresh) == 0
    chain.fund(fresh, 5)
    chain.fund(fresh, 7)
    assert chain.balance(fresh) == 12


def test_time_only_moves_forward(chain):
    from protocol.errors import ChainError

    before = chain.timestamp
    with pytest.raises(ChainError):
        chain.advance_time(-1)
    assert chain.advance_time(60) == before + 60


def test_snapshot_restores_storage_balances_nonces_and_code(chain):
    me, other = chain.new_account(), chain.new_account()
    probe = chain.deploy("ParityProbe", 0, sender=me)
    probe.transact(me, "setCell", 1, 5).raise_for_status()

    def state():
        return (probe.call("cells", 1), probe.call("cells", 2), probe.call("value"),
                chain.balance(me), chain.balance(other), chain.balance(probe.address))

    before = state()
    with chain.snapshot():
        inner = chain.deploy("ParityProbe", 0, sender=me)
        probe.transact(me, "setCell", 1, 6, gas_price=10**9).raise_for_status()
        probe.transact(me, "setCell", 2, 7).raise_for_status()
        probe.transact(other, "store", 8).raise_for_status()
        chain.fund(other, 123)
        chain.transact_raw(me, probe.address, b"", value=10**15).raise_for_status()
        assert chain.code(inner.address) and state() != before
    assert state() == before
    assert chain.code(inner.address) == b""
    again = chain.deploy("ParityProbe", 0, sender=me)
    assert again.address == inner.address  # the deployer's nonce went back too
    assert probe.transact(me, "setCell", 1, 6).gas_used == probe.transact(me, "setCell", 1, 7).gas_used


def test_what_revm_cannot_commit_exactly_fails_loudly(chain):
    """A contract created and self-destructed in one transaction must leave no account
    (EIP-6780); the revm backend cannot delete one, so it refuses, naming why, and its state
    is as before."""
    from protocol.errors import ChainError

    me = chain.new_account()
    probe = chain.deploy("ParityProbe", 0, sender=me)
    spawner = chain.deploy("ParitySpawner", sender=me)
    balance = chain.balance(me)
    if chain.name == "revm":
        with pytest.raises(ChainError, match="self-destructed a contract it created"):
            spawner.transact(me, "spawnAndDestroy", gas_price=10**9)
        assert chain.balance(me) == balance
    else:
        assert spawner.transact(me, "spawnAndDestroy").status
    clean = connect("pyevm")
    expected = clean.deploy("ParityProbe", 0, sender=clean.new_account())
    assert (probe.transact(me, "setCell", 1, 1).gas_used
            == expected.transact(expected.chain.new_account(), "setCell", 1, 1).gas_used)


def test_revm_journal_is_empty_between_transactions():
    """Memory does not grow with the run: after any number of transactions, snapshots and views,
    pyrevm's journal holds no checkpoint, no entry and no account but the (always warm)
    coinbase."""
    from protocol.bench.workload import Workload

    chain = connect("revm")
    me = chain.new_account()
    probe = chain.deploy("ParityProbe", 0, sender=me)
    for i in range(50):
        probe.transact(me, "setCell", i % 7, i)
        probe.call("cells", i % 7)
        with chain.snapshot():
            probe.transact(me, "setCell", 99, i)
    evm = chain.evm
    assert evm.journal_len == 1 and evm.journal_depth == 0
    assert set(evm.journal_state) <= {"0x" + "00" * 20}
    assert "StorageChange" not in evm.journal_str
    workload = Workload("revm", 10)
    workload.setup()
    assert workload.run()["transactions"] > 30
    evm = workload.venue.chain.evm
    assert evm.journal_len == 1 and set(evm.journal_state) <= {"0x" + "00" * 20}


def test_block_context_puts_transactions_in_one_block(backend):
    chain = connect(backend)
    me = chain.new_account()
    probe = chain.deploy("ParityProbe", 0, sender=me)
    start = chain.block_number
    with chain.recording() as everything:
        with chain.block() as outer:
            first = probe.transact(me, "store", 1)
            with chain.block() as inner:  # nested: records, leaves the sealing to the outer
                second = probe.transact(me, "store", 2)
            assert chain.pending_transactions == 2 and chain.block_number == start
        third = probe.transact(me, "store", 3)  # outside any block: a block of its own
    assert first.block == second.block == start and third.block == start + 1
    assert [r.block for r in outer] == [start, start] and inner == [second]
    assert everything == [first, second, third] and chain.pending_transactions == 0
    with chain.block() as empty:
        pass
    assert empty == [] and chain.block_number == start + 3  # sealed even when empty
