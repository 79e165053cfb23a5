"""pytest plugin (entry point ``perpsim``): a venue per test in three lines.

Fixtures: ``venue`` (a launched venue, reverted to its launch state after every test through a
chain snapshot, so each test starts clean for the cost of a revert), ``venue_factory`` (launch
fresh venues with your own markets and options), ``trader`` (a factory:
``trader("alice", usdc=10_000, deposit=0)``), ``keeper`` (an ETH-funded keeper) and
``assert_invariants`` (:func:`protocol.testing.assert_invariants`) and ``assert_properties``
(:func:`protocol.testing.assert_properties`, the economic properties).

``@pytest.mark.perpsim(markets=[MarketConfig(...)], instant_trading=False, ...)`` makes ``venue``
a venue launched with those :meth:`~protocol.venue.Venue.launch` options (launched once per
session for each distinct set of options, reverted after each test).

Options: ``--perpsim-backend pyevm|revm|rpc|all`` chooses the EVM (``all``: each test on pyevm
and revm); ``--perpsim-gas`` prints a gas report per contract function at the end;
``--perpsim-trace`` appends the decoded call trace of the failed transaction to a failing test's
report; ``--perpsim-coverage DIR`` writes line and branch coverage of the contracts reached by
the session's transactions into DIR (``lcov.info``, ``index.html``) and prints the per-file table
(:mod:`protocol.testing.coverage`; pyevm and revm).
"""

from __future__ import annotations

import inspect
import io
from collections import deque
from pathlib import Path
from typing import Any, Callable, Generator, Iterable, Iterator, Mapping, Optional

import pytest
from rich.console import Console

from protocol import Venue
from protocol.build import CompileError, compile_contracts, user_artifacts_dir
from protocol.chain import Chain, Receipt, hooks
from protocol.chain.abi import add_artifact_dir
from protocol.errors import PerpsimError
from protocol.testing.coverage import Collector
from protocol.testing.gas_report import GasReport
from protocol.testing.invariants import ChainState
from protocol.testing.invariants import assert_invariants as check_invariants
from protocol.testing.properties import assert_properties as check_properties
from protocol.venue.client import Keeper, Trader
from protocol.venue.config import MarketConfig
from protocol.venue.units import Number

BACKENDS = ("pyevm", "revm")  # what ``all`` runs on
CHOICES = (*BACKENDS, "rpc", "all")
MARKER = "perpsim"
TRACES_SHOWN = 3  # failed transactions traced in a report when the error came from none of them
_GAS = pytest.StashKey[GasReport]()
_FAILED = pytest.StashKey[deque[Receipt]]()
_FAILED_LISTENER = pytest.StashKey[hooks.Listener]()
#: The collector, and the recorder it replaced (put back at the end).
_COVERAGE = pytest.StashKey[tuple[Collector, Optional[hooks.CoverageRecorder]]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("perpsim")
    group.addoption("--perpsim-backend", default="revm", choices=CHOICES,
                    help="EVM for the perpsim fixtures (all: run each test on pyevm and revm)")
    group.addoption("--perpsim-gas", action="store_true",
                    help="print gas used per contract function (calls, min, mean, max)")
    group.addoption("--perpsim-trace", action="store_true",
                    help="show the decoded call trace of failed transactions in failing tests")
    group.addoption("--perpsim-coverage", metavar="DIR", default=None,
                    help="write line and branch coverage of the contracts into DIR (lcov.info, "
                         "index.html); slow on revm (EIP-3155 tracer)")
    group.addoption("--perpsim-contracts", metavar="DIR", default=None,
                    help="a directory of your own .sol files, compiled with the project's: "
                         "deployed by name (chain.deploy, Venue.launch modules and collateral) "
                         "and covered by --perpsim-coverage")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(**options): launch the test's venue with these Venue.launch options "
                   "(markets=[MarketConfig(...)], instant_trading=False, pool_liquidity=..., ...)")
    if config.getoption("--perpsim-gas", False):
        report = GasReport()
        hooks.LISTENERS.append(report.record)
        config.stash[_GAS] = report
    if config.getoption("--perpsim-trace", False):
        failed: deque[Receipt] = deque(maxlen=TRACES_SHOWN)  # a test may fail thousands on purpose
        config.stash[_FAILED] = failed

        def keep_failed(chain: Chain, receipt: Receipt) -> None:
            if not receipt.status:
                failed.append(receipt)

        hooks.LISTENERS.append(keep_failed)
        config.stash[_FAILED_LISTENER] = keep_failed
    contracts = config.getoption("--perpsim-contracts", None)
    if contracts:
        if not hasattr(config, "workerinput"):  # compiled once, before xdist workers start
            try:
                compile_contracts(user_dir=Path(contracts))
            except CompileError as exc:
                raise pytest.UsageError(f"--perpsim-contracts {contracts}: {exc.messages[0]}") from None
        add_artifact_dir(user_artifacts_dir(Path(contracts)))
    if config.getoption("--perpsim-coverage", None):
        collector = Collector()
        config.stash[_COVERAGE] = (collector, hooks.COVERAGE)
        hooks.COVERAGE = collector


def pytest_unconfigure(config: pytest.Config) -> None:
    for listener in (getattr(config.stash.get(_GAS, None), "record", None),
                     config.stash.get(_FAILED_LISTENER, None)):
        if listener in hooks.LISTENERS:
            hooks.LISTENERS.remove(listener)
    coverage = config.stash.get(_COVERAGE, None)
    if coverage is not None:
        hooks.COVERAGE = coverage[1]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int,
                            config: pytest.Config) -> None:
    coverage = config.stash.get(_COVERAGE, None)
    if coverage is not None:
        _coverage_summary(terminalreporter, coverage[0], config.getoption("--perpsim-coverage"),
                          config.getoption("--perpsim-contracts"))
    report = config.stash.get(_GAS, None)
    if report is None:
        return
    terminalreporter.write_sep("=", f"perpsim gas report ({report.transactions} transactions)")
    for line in report.lines():
        terminalreporter.write_line(line)


def _coverage_summary(terminalreporter: pytest.TerminalReporter, collector: Collector, directory: str,
                      contracts: Optional[str] = None) -> None:
    """Write the coverage report (of the project's contracts and those of ``contracts``) and
    print its table (a failure to write is one line)."""
    terminalreporter.write_sep("=", f"perpsim coverage ({collector.transactions} transactions)")
    try:
        report = collector.report(user_dir=Path(contracts) if contracts else None)
        index = report.write(Path(directory))
    except Exception as exc:  # a missing or stale artifact: say so, keep the session's result
        terminalreporter.write_line(f"perpsim coverage: not written: {exc}")
        return
    text = io.StringIO()
    Console(file=text, width=max(terminalreporter._tw.fullwidth, 80)).print(report.table())
    terminalreporter.write(text.getvalue())
    terminalreporter.write_line(f"coverage: {Path(directory) / 'lcov.info'} and {index}")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    failed = item.config.stash.get(_FAILED, None)
    if failed is not None:
        failed.clear()  # only the transactions of this test's body


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item,
                               call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    failed = item.config.stash.get(_FAILED, None)
    if failed is None or call.when != "call" or not report.failed:
        return report
    receipt = getattr(call.excinfo.value, "receipt", None) if call.excinfo else None
    receipts = [receipt] if receipt is not None else list(failed)
    if receipts:
        report.sections.append(("perpsim trace", "\n\n".join(_trace_text(r) for r in receipts)))
    return report


def _trace_text(receipt: Receipt) -> str:
    try:
        return receipt.trace.render()
    except Exception as exc:  # a node gone away: say so in the report rather than hide the test's error
        return f"(no trace: {exc})"


# ---------------------------------------------------------------------- venues
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "perpsim_backend" in metafunc.fixturenames:
        choice = metafunc.config.getoption("--perpsim-backend")
        backends = BACKENDS if choice == "all" else (choice,)
        metafunc.parametrize("perpsim_backend", backends, scope="session")


def launch_options() -> tuple[str, ...]:
    """The keywords the marker and ``venue_factory`` take: :meth:`Venue.launch`'s, less the
    backend and chain (the test's)."""
    return tuple(name for name in inspect.signature(Venue.launch).parameters
                 if name not in ("backend", "chain"))


def check_options(options: Mapping[str, Any], where: str) -> None:
    """Refuse (TypeError) a keyword :meth:`Venue.launch` does not take, naming it and the
    known ones."""
    known = launch_options()
    unknown = [name for name in options if name not in known]
    if unknown:
        raise TypeError(f"{where}: unknown keyword {unknown[0]!r}; keywords: {', '.join(known)}")


class LaunchedVenues:
    """The session's launched venues, one per backend and set of launch options."""

    def __init__(self) -> None:
        self._venues: dict[tuple[str, str], Venue] = {}

    def get(self, backend: str, options: dict[str, Any]) -> Venue:
        key = (backend, repr(sorted(options.items())))
        venue = self._venues.get(key)
        if venue is None:
            venue = self._venues[key] = Venue.launch(backend=backend, **options)
        return venue

    def close(self) -> None:
        for venue in self._venues.values():
            venue.chain.close()
        self._venues.clear()


def _marker_options(node: pytest.Item) -> dict[str, Any] | None:
    """The test's ``perpsim`` marker keywords (the closest marker wins), or None."""
    marker = node.get_closest_marker(MARKER)
    if marker is None:
        return None
    where = f"@pytest.mark.{MARKER}"
    if marker.args:
        pytest.fail(f"{where} takes keywords only, e.g. markets=[...]", pytrace=False)
    try:
        check_options(marker.kwargs, where)
    except TypeError as exc:
        pytest.fail(str(exc), pytrace=False)
    return dict(marker.kwargs)


@pytest.fixture(scope="session")
def perpsim_venues() -> Iterator[LaunchedVenues]:
    """The session's cache of launched venues (closed at the end of the session)."""
    venues = LaunchedVenues()
    yield venues
    venues.close()


@pytest.fixture(scope="session")
def perpsim_venue(perpsim_backend: str, perpsim_venues: LaunchedVenues) -> Venue:
    """The session's default venue on one backend (tests get it through ``venue``; override
    this fixture to change what unmarked tests get)."""
    return perpsim_venues.get(perpsim_backend, {})


@pytest.fixture()
def venue(request: pytest.FixtureRequest, perpsim_backend: str,
          perpsim_venues: LaunchedVenues) -> Iterator[Venue]:
    """A venue in its launch state (by default ETH 3,000, BTC 60,000, pool seeded; a
    ``perpsim`` marker sets the launch options); changes are undone after the test."""
    options = _marker_options(request.node)
    if options is None:
        base: Venue = request.getfixturevalue("perpsim_venue")
    else:
        try:
            base = perpsim_venues.get(perpsim_backend, options)
        except (TypeError, ValueError, PerpsimError) as exc:  # bad values: one line naming them
            pytest.fail(f"@pytest.mark.{MARKER}: {exc}", pytrace=False)
    with base.snapshot():
        yield base


@pytest.fixture()
def venue_factory(perpsim_backend: str) -> Iterator[Callable[..., Venue]]:
    """``venue_factory(markets=[MarketConfig(...)], **options)``: launch a fresh venue on the
    test's backend with :meth:`Venue.launch` options; its chain is closed after the test."""
    made: list[Venue] = []

    def make(markets: Optional[Iterable[MarketConfig]] = None, **options: Any) -> Venue:
        check_options(options, "venue_factory")
        venue = Venue.launch(backend=perpsim_backend, markets=markets, **options)
        made.append(venue)
        return venue

    yield make
    for venue in made:
        venue.chain.close()


@pytest.fixture()
def trader(venue: Venue) -> Callable[..., Trader]:
    """``trader(name, usdc=10_000, deposit=0)``: a funded wallet, optionally deposited."""
    def make(name: str = "trader", usdc: Number = 10_000, deposit: Number = 0) -> Trader:
        t = venue.trader(name, usdc=usdc)
        if deposit:
            t.deposit(deposit)
        return t
    return make


@pytest.fixture()
def keeper(venue: Venue) -> Keeper:
    """A keeper with its own ETH-funded address."""
    return venue.keeper("keeper")


@pytest.fixture()
def assert_invariants() -> Callable[..., ChainState]:
    """:func:`protocol.testing.assert_invariants`, as a fixture."""
    return check_invariants


@pytest.fixture()
def assert_properties() -> Callable[..., None]:
    """:func:`protocol.testing.assert_properties`, as a fixture: ``assert_properties(venue,
    receipts)`` checks the economic properties over the transactions a test sent."""
    return check_properties
