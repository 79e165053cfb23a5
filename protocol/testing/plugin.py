"""pytest plugin (entry point ``perpsim``): a venue per test in three lines.

Fixtures: ``venue`` (a launched venue, reverted to its launch state after every test through a
chain snapshot, so each test starts clean for the cost of a revert), ``trader`` (a factory:
``trader("alice", usdc=10_000, deposit=0)``), ``keeper`` (an ETH-funded keeper) and
``assert_invariants`` (:func:`protocol.testing.assert_invariants`). ``--perpsim-backend
pyevm|revm|all`` chooses the EVM; ``all`` runs each test on both.
"""

from __future__ import annotations

from typing import Callable, Iterator

import pytest

BACKENDS = ("pyevm", "revm")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("perpsim")
    group.addoption("--perpsim-backend", default="revm", choices=(*BACKENDS, "all"),
                    help="EVM for the perpsim fixtures (all: run each test on every EVM)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "perpsim_backend" in metafunc.fixturenames:
        choice = metafunc.config.getoption("--perpsim-backend")
        backends = BACKENDS if choice == "all" else (choice,)
        metafunc.parametrize("perpsim_backend", backends, scope="session")


@pytest.fixture(scope="session")
def perpsim_venue(perpsim_backend: str):
    """The session's launched venue on one backend (tests get it through ``venue``)."""
    from protocol import Venue

    venue = Venue.launch(backend=perpsim_backend)
    yield venue
    venue.chain.close()


@pytest.fixture()
def venue(perpsim_venue) -> Iterator:
    """A venue in its launch state (ETH 3,000, BTC 60,000, pool seeded); changes are undone
    after the test."""
    with perpsim_venue.snapshot():
        yield perpsim_venue


@pytest.fixture()
def trader(venue) -> Callable:
    """``trader(name, usdc=10_000, deposit=0)``: a funded wallet, optionally deposited."""
    def make(name: str = "trader", usdc=10_000, deposit=0):
        t = venue.trader(name, usdc=usdc)
        if deposit:
            t.deposit(deposit)
        return t
    return make


@pytest.fixture()
def keeper(venue):
    """A keeper with its own ETH-funded address."""
    return venue.keeper("keeper")


@pytest.fixture()
def assert_invariants() -> Callable:
    """:func:`protocol.testing.assert_invariants`, as a fixture."""
    from protocol.testing import assert_invariants as check

    return check
