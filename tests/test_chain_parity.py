"""Every backend runs the same sample contract and must produce the same transcript.

pyevm is the reference. rpc (anvil) must match it exactly, gas included. revm must match it in
every result, event, error, block and timestamp; its gas matches on fresh state and is never
higher (pyrevm keeps warm/cold status across transactions: see protocol/chain/revm.py).
"""

from __future__ import annotations

import pytest

from protocol.chain import connect
from protocol.errors import Reverted

FRESH_STATE_STEPS = {"deploy", "deploy child", "store 7", "setChild"}


def transcript(chain) -> list[tuple]:
    """(step, outcome, gas) for a fixed script of deploys, transactions, views and time."""
    me = chain.new_account()
    other = chain.new_account()
    rows: list[tuple] = []

    def tx(step, contract, fn, *args, sender=me):
        r = contract.transact(sender, fn, *args)
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
    with chain.snapshot():
        tx("inside snapshot", probe, "store", 1234)
        view("value in snapshot", probe, "value")
    view("value after snapshot", probe, "value")
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
    gas = {s: g for s, _, g in rows if g is not None}
    ref_gas = {s: g for s, _, g in reference if g is not None}
    if chain_backend == "revm":
        assert {s: gas[s] for s in FRESH_STATE_STEPS} == {s: ref_gas[s] for s in FRESH_STATE_STEPS}
        assert all(gas[s] <= ref_gas[s] for s in gas)
    else:
        assert gas == ref_gas


def test_reference_transcript_is_meaningful(reference):
    outcomes = dict((s, o) for s, o, _ in reference)
    assert outcomes["too early"][4][0] == "TooEarly"
    assert outcomes["ready"][0] is True
    assert outcomes["nested revert"][4] == ("NotPositive", (-3,))
    assert outcomes["require"] == ("revert", "Error", ("probe: not ok",))
    assert outcomes["panic"] == ("revert", "Panic", (0x12,))
    assert outcomes["value in snapshot"] == ("ok", 1234)
    assert outcomes["value after snapshot"] == ("ok", 5)
    assert outcomes["now later"][1] - outcomes["now"][1] == 150


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
