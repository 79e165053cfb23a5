"""Shared options: ``--backend pyevm|revm|rpc|all`` picks the EVMs, ``--slow`` adds campaigns."""

from __future__ import annotations

import os

import pytest
from headless import chromium, screenshots  # noqa: F401  (the headless-browser fixtures, once per session)
from venue_fixtures import TEST_CONTRACTS

from protocol.build import compile_contracts, user_artifacts_dir
from protocol.chain import BACKENDS, connect
from protocol.chain.abi import add_artifact_dir

IN_PROCESS = ("pyevm", "revm")


def pytest_addoption(parser):
    parser.addoption("--backend", default="pyevm", choices=(*BACKENDS, "all"),
                     help="EVM backend(s) to run on (default pyevm; CI uses all)")
    parser.addoption("--slow", action="store_true", help="also run long campaigns")


def pytest_configure(config):
    """Compile the test contracts (a no-op when current): once, in the process that starts the
    xdist workers, before they start; each process then looks them up by name."""
    if not hasattr(config, "workerinput"):
        compile_contracts(user_dir=TEST_CONTRACTS, quiet=True)
    add_artifact_dir(user_artifacts_dir(TEST_CONTRACTS))


def pytest_xdist_auto_num_workers(config):
    """``-n auto``: one worker per core plus one. About a tenth of the suite's time is spent
    waiting (subprocesses, headless browsers, paced servers); the extra worker runs then."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cores + 1


def selected_backends(config) -> list[str]:
    choice = config.getoption("--backend")
    return list(BACKENDS) if choice == "all" else [choice]


def pytest_generate_tests(metafunc):
    """``chain_backend`` covers every selected backend; ``backend`` the in-process ones (the
    venue suites run thousands of transactions, which a JSON-RPC node would make minutes)."""
    selected = selected_backends(metafunc.config)
    if "chain_backend" in metafunc.fixturenames:
        metafunc.parametrize("chain_backend", selected, scope="module")
    if "backend" in metafunc.fixturenames:
        in_process = [b for b in selected if b in IN_PROCESS] or ["pyevm"]
        metafunc.parametrize("backend", in_process, scope="module")


# The files that run longest (about 60-90 s each on revm + pyevm), longest first. pytest-xdist's
# --dist loadfile hands out whole files in collection order, so starting these first keeps one
# worker from running a long file alone at the end while the other idles.
LONGEST_FIRST = ("test_sim.py", "test_crash_bundle.py", "test_readme.py", "test_fuzz_campaigns.py",
                 "test_sweep_browser.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: files stay in order
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="long campaign: run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def base(backend):
    """The module's launched venue (ETH and BTC, default fees); a module may override it."""
    from venue_fixtures import launch

    return launch(backend)


@pytest.fixture()
def venue(base):
    """``base`` as launched: every change a test makes is reverted afterwards."""
    with base.snapshot():
        yield base


@pytest.fixture(scope="module")
def chain(chain_backend):
    c = connect(chain_backend)
    yield c
    c.close()
