"""Coverage of the Solidity (protocol.testing.coverage): a known sequence of transactions on the
small ``CoverageProbe`` contract and its external library marks exactly the expected lines and
branches on pyevm and on revm, identically; views are not counted; the lcov file parses; the
HTML opens in headless Chromium; ``perpsim fuzz --coverage`` and the plugin's
``--perpsim-coverage`` write both.

The expected lines are those solc's runtime source map gives the deployed (viaIR, optimised)
code; tests/solidity/CoverageProbe.sol, line by line::

     7  library CoverageProbeMath {            dispatcher
     8      function half(uint256 x) ...       entry
     9          if (x % 2 == 1) {              branch: jumps on odd x
    10              return (x - 1) / 2;
    16  contract CoverageProbe {               dispatcher
    18      uint256 public misses;             its getter (only read by a view: 0)
    21          if (amount > 10) {             branch on ``10``: jumps when amount <= 10
    22              total += CoverageProbeMath.half(amount);   3 JUMPIs: call checks
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from headless import box
from venue_fixtures import TEST_CONTRACTS

from protocol.chain import connect
from protocol.testing.coverage import collecting

PROBE = f"{TEST_CONTRACTS}/CoverageProbe.sol"
BOTH = ("pyevm", "revm")
pytest_plugins = ["pytester"]


def probe_coverage(backend: str, amounts: tuple[int, ...]):
    chain = connect(backend)
    me = chain.new_account()
    with collecting() as collector:
        library = chain.deploy("CoverageProbeMath", sender=me)
        probe = chain.deploy("CoverageProbe", sender=me,
                             libraries={"CoverageProbeMath": library.address})
        for amount in amounts:
            chain.transact(me, probe, "add", [amount])
        assert probe.call("misses") == sum(1 for a in amounts if a <= 10)  # a view: not counted
    return collector.report(user_dir=TEST_CONTRACTS)


@pytest.fixture(scope="module", params=BOTH)
def both_ways(request):
    return request.param, probe_coverage(request.param, (13, 3))


def test_a_known_sequence_marks_exactly_the_expected_lines(both_ways):
    _, report = both_ways
    assert list(report.files) == [PROBE]
    probe = report.file(PROBE)
    assert probe.lines == {7: 1, 8: 1, 9: 1, 10: 1, 16: 2, 18: 0, 21: 2, 22: 1}
    assert (probe.lines_hit, len(probe.lines)) == (7, 8)
    branches = [(b.line, b.taken, b.not_taken) for b in probe.branches]
    assert branches == [(9, 1, 0), (21, 1, 1), (22, 0, 1), (22, 1, 0), (22, 0, 1)]
    assert (probe.branches_hit, probe.branches_total) == (6, 10)
    assert report.transactions == 4 and report.unknown_codes == 0


def test_the_untaken_side_of_a_branch_is_named():
    report = probe_coverage("pyevm", (13,))
    missed = report.file(PROBE).missed_branches()
    assert f"{PROBE}:21 `10` (never jumped)" in missed  # add(3), the else side, never ran
    assert f"{PROBE}:9 `if (x % 2 == 1) {{ return (x - 1) / 2; }}` (never fell through)" in missed


def test_pyevm_and_revm_agree_on_the_same_transactions():
    lcov = {backend: probe_coverage(backend, (13, 3, 40, 7)).lcov() for backend in BOTH}
    assert lcov["pyevm"] == lcov["revm"]
    assert "DA:21,4" in lcov["pyevm"] and "DA:10,1" in lcov["pyevm"]


def parse_lcov(text: str) -> dict[str, dict]:
    """A strict reader of the lcov tracefile records this module writes."""
    files: dict[str, dict] = {}
    current: dict | None = None
    lines = text.splitlines()
    assert lines[0] == "TN:perpsim"
    for line in lines[1:]:
        key, _, value = line.partition(":")
        if key == "SF":
            assert current is None
            current = files[value] = {"DA": {}, "BRDA": []}
        elif key == "end_of_record":
            assert current is not None
            assert current["LF"] == len(current["DA"])
            assert current["LH"] == sum(1 for n in current["DA"].values() if n)
            assert current["BRF"] == len(current["BRDA"])
            assert current["BRH"] == sum(1 for *_, n in current["BRDA"] if n not in ("-", "0"))
            current = None
        elif key == "DA":
            number, count = map(int, value.split(","))
            current["DA"][number] = count
        elif key == "BRDA":
            number, block, branch, taken = value.split(",")
            current["BRDA"].append((int(number), int(block), int(branch), taken))
        else:
            assert key in ("LF", "LH", "BRF", "BRH"), line
            current[key] = int(value)
    assert current is None
    return files


def test_the_lcov_file_parses(both_ways, tmp_path):
    _, report = both_ways
    report.write(tmp_path)
    files = parse_lcov((tmp_path / "lcov.info").read_text())
    assert files[PROBE]["DA"] == {7: 1, 8: 1, 9: 1, 10: 1, 16: 2, 18: 0, 21: 2, 22: 1}
    assert files[PROBE]["BRDA"][:4] == [(9, 0, 0, "1"), (9, 0, 1, "0"), (21, 0, 0, "1"),
                                        (21, 0, 1, "1")]


def test_the_html_opens_in_headless_chromium(both_ways, tmp_path, chromium):
    _, report = both_ways
    index = report.write(tmp_path)
    seen = chromium.render(index, evaluate={
        "rows": "() => [...document.querySelectorAll('#summary tr')].map("
                "r => [...r.cells].map(c => c.textContent))",
        "link": "() => document.querySelector('#summary a').getAttribute('href')"})
    assert seen.console_errors == [] and seen.external_requests == []
    assert seen.values["rows"][1] == [PROBE, "7/8", "87.5", "6/10", "60.0"]
    page = chromium.render(tmp_path / seen.values["link"], evaluate={
        "hit": "() => [...document.querySelectorAll('tr.hit,tr.part')].map(r => r.id)",
        "miss": "() => [...document.querySelectorAll('tr.miss')].map(r => r.id)",
        "marks": "() => document.querySelector('#L21 .m').textContent",
        "source": box("table.src")})
    assert page.console_errors == []
    assert page.values["hit"] == ["L7", "L8", "L9", "L10", "L16", "L21", "L22"]
    assert page.values["miss"] == ["L18"]
    assert page.values["marks"] == "✓✓"
    assert page.values["source"]["height"] > 300  # every source line drawn


def test_perpsim_fuzz_writes_coverage_and_prints_the_table(tmp_path):
    from protocol.cli import main as cli

    out = tmp_path / "cov"
    result = CliRunner().invoke(cli, ["fuzz", "--steps", "30", "--backend", "revm",
                                      "--coverage", str(out)])
    assert result.exit_code == 0, result.output
    assert "Solidity coverage of" in result.output
    assert "contracts/oracle/PriceOracle.sol" in result.output  # every run pushes prices first
    assert (out / "index.html").exists()
    assert "contracts/oracle/PriceOracle.sol" in parse_lcov((out / "lcov.info").read_text())


def test_the_plugin_option_writes_coverage_of_the_session(pytester):
    pytester.makepyfile(test_probe="""
        from protocol.chain import connect

        def test_probe():
            chain = connect("pyevm")
            me = chain.new_account()
            library = chain.deploy("CoverageProbeMath", sender=me)
            probe = chain.deploy("CoverageProbe", sender=me,
                                 libraries={"CoverageProbeMath": library.address})
            chain.transact(me, probe, "add", [13])
            chain.transact(me, probe, "add", [3])
    """)
    (pytester.path / "mine").symlink_to(TEST_CONTRACTS)  # the probe, as a user's directory
    result = pytester.runpytest("-q", "-p", "no:cacheprovider", "--perpsim-coverage", "cov",
                                "--perpsim-contracts", "mine")
    result.assert_outcomes(passed=1)
    output = result.stdout.str()
    assert "perpsim coverage (4 transactions)" in output
    assert "mine/CoverageProbe.sol" in output and "7/8" in output
    files = parse_lcov((pytester.path / "cov" / "lcov.info").read_text())
    assert files["mine/CoverageProbe.sol"]["DA"][21] == 2


def test_coverage_is_off_without_the_option():
    from protocol.chain import hooks

    assert hooks.COVERAGE is None
    with collecting() as collector:
        assert hooks.COVERAGE is collector
    assert hooks.COVERAGE is None


def test_a_users_module_is_covered_where_its_code_runs():
    """A venue with the user's rates module (examples/custom_module): its lines are reported
    under the user's path, next to the project's StockRules the module calls into."""
    import time

    from protocol import Venue

    example = Path(__file__).resolve().parents[2] / "examples" / "custom_module"
    venue = Venue.launch(backend="pyevm", contracts=example, modules={"rates": "DeadBandRates"})
    alice = venue.trader("alice", usdc=10_000)
    alice.deposit(5_000)
    started = time.process_time()
    with collecting() as collector:
        alice.open("ETH", size=1, leverage=5, mode="isolated", margin=1_000)
        venue.advance_time(3_600)
        venue.keeper("k").update_funding("ETH")
    report = collector.report(user_dir=example)
    assert time.process_time() - started < 10
    mine = report.file(f"{example}/DeadBandRates.sol")
    assert mine.lines_hit > 0
    assert report.file("contracts/libraries/RatesLogic.sol").lines_hit > 0  # by DELEGATECALL
    assert report.unknown_codes == 0


def test_source_maps_decompress_and_push_data_is_skipped():
    from protocol.testing.coverage import decompress, instruction_offsets

    assert decompress("1:2:0:-;;3::1:i;:4") == [(1, 2, 0, "-"), (1, 2, 0, "-"), (3, 2, 1, "i"),
                                                (3, 4, 1, "i")]
    # PUSH1 01, PUSH1 02, PUSH2 ffff, JUMPI, PUSH32 <32 bytes>, STOP
    code = bytes.fromhex("6001600261ffff57" + "7f" + "00" * 32 + "00")
    assert instruction_offsets(code) == [0, 2, 4, 7, 8, 41]


@pytest.mark.slow
def test_pyevm_and_revm_agree_on_a_venue_workload():
    """Opens, a decrease, a close and a liquidation (scripts/bench_coverage.py's workload):
    about 27,000 opcode steps, a minute under revm's tracer."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "scripts" / "bench_coverage.py"
    spec = importlib.util.spec_from_file_location("bench_coverage", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    results = {backend: bench.measure(backend, 1) for backend in BOTH}
    assert results["pyevm"][2] == results["revm"][2] > 20_000  # the same opcode steps
    assert results["pyevm"][3] == results["revm"][3]  # the same lcov
    files = parse_lcov(results["pyevm"][3])
    assert any(files["contracts/libraries/LiquidationLogic.sol"]["DA"].values())
