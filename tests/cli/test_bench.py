"""The benchmark suite: cheap pieces by default, the whole quick run with ``--slow``."""

from __future__ import annotations

import dataclasses
import json

import pytest

from protocol.bench import render, run_bench
from protocol.bench.gas import OPERATIONS, check, measure
from protocol.bench.scaling import linearity, measure_book
from protocol.bench.workload import gas_parity, run_workload


@pytest.fixture(scope="module")
def gas():
    return measure("revm")  # the same gas as pyevm (chain parity), in a fraction of the time


def test_gas_covers_every_operation_and_meets_targets(gas):
    assert list(gas) == list(OPERATIONS)
    checks = check(gas)
    over = {op: c for op, c in checks.items() if c["ok"] is False}
    assert not over, over
    assert all(c["ok"] for c in checks.values() if c["target"] is not None)
    # cost grows with the work: more positions, more markets
    assert gas["liquidate cross (1 position)"] < gas["liquidate cross (5 positions)"] \
        < gas["liquidate cross (20 positions)"]
    assert gas["oracle update (1 market)"] < gas["oracle update (10 markets)"] \
        < gas["oracle update (50 markets)"]


def test_workload_is_deterministic_and_counts_reverts():
    a, b = run_workload("revm", 20, seed=3), run_workload("revm", 20, seed=3)
    for key in ("transactions", "reverted", "liquidations"):
        assert a[key] == b[key]
    assert a["transactions"] >= 20 * 2 + 4 + 5  # deposit + open each, price pushes, crash
    assert a["liquidations"] > 0
    assert a["tps"] > 0


def test_workload_transactions_are_identical_on_both_evms():
    """Every transaction of the keeper workload, gas included, on revm as on pyevm."""
    revm = run_workload("revm", 12, seed=5, receipts=True)["receipts"]
    pyevm = run_workload("pyevm", 12, seed=5, receipts=True)["receipts"]
    assert gas_parity(revm, pyevm) == {"transactions": len(pyevm), "mismatches": 0}
    assert len(pyevm) > 40 and any(not r.status for r in pyevm)  # reverts compared too
    assert any(r.gas_price for r in pyevm)  # keepers bid: their gas is paid
    changed = [*revm[:-1], dataclasses.replace(revm[-1], gas_used=1)]
    assert gas_parity(changed, pyevm)["mismatches"] == 1
    assert gas_parity(revm[:-1], pyevm)["mismatches"] == 1


def test_book_scan_and_liquidation():
    book = measure_book(200)
    assert book["reader_calls"] == 1
    assert book["liquidated"] == book["liquidatable"] > 0
    assert book["remaining"] == 0
    assert linearity({1000: 1.0, 10_000: 30.0})["linear"] is False
    assert linearity({1000: 1.0, 10_000: 11.0})["linear"] is True


def test_bench_json_keys(tmp_path, monkeypatch, gas):
    import protocol.bench as bench_module

    # run_bench's own name for it (patching protocol.bench.gas.measure measured the gas again)
    monkeypatch.setattr(bench_module, "measure", lambda backend="pyevm": gas)
    sizes = {"traders": {"revm": 20, "pyevm": 5, "rpc": 5}, "positions": [50, 100],
             "sim_traders": [10], "sim_blocks": 20, "profile_traders": 20}
    report = run_bench(tmp_path, quick=True, skip_anvil=True, skip_pyevm=True, sizes=sizes)
    data = json.loads((tmp_path / "bench.json").read_text())
    assert set(data) >= {"gas", "tps", "scaling", "profile"}
    assert set(data["gas"]) == set(OPERATIONS)
    assert data["tps"]["revm"] > 0
    assert set(data["scaling"]) >= {"scan_seconds", "liquidation_seconds", "sim_seconds"}
    assert set(data["scaling"]["scan_seconds"]) == {"50", "100"}
    assert set(data["scaling"]["sim_seconds"]) == {"10"}
    assert 0 < len(data["profile"]) <= 15
    assert set(data["profile"][0]) == {"function", "calls", "tottime", "cumtime"}
    render(report)


@pytest.mark.slow
def test_quick_bench_every_backend(tmp_path):
    report = run_bench(tmp_path, quick=True)
    data = json.loads((tmp_path / "bench.json").read_text())
    assert set(data["tps"]) >= {"revm", "pyevm", "anvil", "revm_over_anvil"}
    runs = data["tps"]["runs"]
    # revm's figure stands on at least 20,000 transactions, even in a quick run
    assert runs["revm"]["transactions"] >= 20_000
    # the same workload on every EVM: the same transactions, reverts and liquidations
    assert runs["pyevm"]["transactions"] == runs["anvil"]["transactions"]
    assert runs["pyevm"]["liquidations"] == runs["anvil"]["liquidations"]
    assert not [op for op, c in report["gas_checks"].items() if c["ok"] is False]
    assert data["tps"]["gas_parity"] == {"transactions": runs["pyevm"]["transactions"],
                                         "mismatches": 0}
