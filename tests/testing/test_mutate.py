"""``perpsim mutate``: the operators on small Solidity snippets (exact mutants), comments and
strings left alone, stable ids, bytecode equivalence, the equivalents file, the runner on a
user's module with a tiny test (one mutant killed, one survived) and the command's errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from protocol.mutate import (
    OPERATORS,
    Equivalent,
    MutateError,
    SourceInfo,
    Target,
    edits,
    load_equivalents,
    mutants_of,
    run,
)
from protocol.mutate.compiler import MutantCompiler, dependants, strip_metadata
from protocol.mutate.lexer import tokenize

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "custom_module"


def changes(source: str, operator: str, info: SourceInfo | None = None) -> list[tuple[str, str]]:
    """(original, replacement) of every edit ``operator`` proposes."""
    return [(source[e.start:e.end], e.replacement) for e in edits(source, info, [operator])]


def test_relational_and_literal_boundaries():
    src = "function f(uint a) pure returns (bool) { return a < 10 && a >= b && 0x1f == a; }"
    assert changes(src, "relational") == [("<", "<="), (">=", ">")]
    assert changes(src, "literal-boundary") == [("10", "11"), ("10", "9"), ("0x1f", "0x20"), ("0x1f", "0x1e")]
    assert changes("function f() { if (x > 0) y = 1_000 + 1; }", "literal-boundary") == [("0", "1")]


def test_arithmetic_and_dropped_terms_tell_signs_from_operators():
    src = "function f() { x = -a + b * c; y -= (d - e) / f; return -x; }"
    assert changes(src, "arithmetic") == [("+", "-"), ("*", "/"), ("-=", "+="), ("-", "+"), ("/", "*")]
    assert changes(src, "drop-term") == [(" + b * c", ""), (" - e", "")]
    assert changes("function f() { z = g(a) + h.k[i] * 2 - 1; }", "drop-term") == [
        (" + h.k[i] * 2", ""), (" - 1", "")]


def test_rounding_directions():
    src = ("function notionalUp(uint a) {} function notionalDown(uint a) {}\n"
           "function f() { a = Math.mulDiv(x, y, z, Math.Rounding.Ceil); b = notionalUp(s, p);"
           " c = Math.ceilDiv(s * p, 10); d = chargeTokens(w, s); e = roundUp(1); }")
    assert changes(src, "rounding", SourceInfo.from_sources([src, "function creditTokens() {}"])) == [
        ("Ceil", "Floor"), ("notionalUp", "notionalDown"), ("Math.ceilDiv(s * p, 10)", "(s * p) / (10)"),
        ("chargeTokens", "creditTokens")]


def test_dropped_checks():
    src = """function f() {
        require(a > 0, "A");
        if (b == 0) revert Zero();
        if (c) { revert Bad(c); }
        if (d) revert X(); else e = 1;
        if (g) { e = 2; revert Y(); }
    }"""
    assert changes(src, "drop-check") == [('require(a > 0, "A");', ""), ("if (b == 0) revert Zero();", ""),
                                          ("if (c) { revert Bad(c); }", "")]


def test_swapped_arguments_of_the_same_type():
    src = """struct P { uint128 size; uint128 entry; }
    function f(uint256 a, uint256 b, int256 c, P memory p) {
        g(a, b, c); g(c, a, b); h(p.size, p.entry); Math.min(a, b); Math.mulDiv(a, b, b);
    }"""
    assert changes(src, "swap-args") == [("a, b", "b, a"), ("a, b", "b, a"), ("p.size, p.entry", "p.entry, p.size")]


def test_field_swaps_within_a_struct():
    src = """struct S { uint64 a; uint64 b; uint16 c; uint64 d; }
    struct T { uint64 a; }
    function f(S storage s, Q storage q) { x = s.b + s.d + s.c + s.a + msg.value + Lib.b + q.b(); }"""
    # s.c has no field of its type beside it; a is declared by two structs; the rest are no fields
    assert changes(src, "swap-field") == [("b", "a"), ("b", "d"), ("d", "b")]


def test_comments_strings_pragma_and_assembly_are_never_mutated():
    src = '''pragma solidity >=0.8.0 <0.9.0;
    import "a<b.sol";
    // a < b + 1
    /* require(x > 0); */
    function f() { s = "x < 1 - 2"; t = 'y > 3'; assembly { z := add(1, 2) } return a<b; }'''
    assert [(src[e.start:e.end], e.replacement, e.operator) for e in edits(src)] == [
        ("<", "<=", "relational")]
    assert [t.text for t in tokenize('a /* < */ "<" // <\n<')] == ["a", '"<"', "<"]


def test_mutants_have_places_diffs_and_stable_ids():
    src = "contract C {\n    function f(uint a) public pure returns (uint) {\n        return a + 1;\n    }\n}\n"
    mutants = mutants_of("C.sol", src)
    assert [(m.line, m.col, m.original, m.replacement, m.operator) for m in mutants] == [
        (3, 17, " + 1", "", "drop-term"), (3, 18, "+", "-", "arithmetic")]
    assert "\n-        return a + 1;\n+        return a - 1;\n" in mutants[1].diff(src)
    assert mutants[0].diff(src).startswith("--- a/C.sol\n+++ b/C.sol\n@@ -1,5 +1,5 @@\n")
    assert len({m.id for m in mutants}) == 2
    # Same ids when unrelated code moves the line, different for another file.
    moved = mutants_of("C.sol", "// a comment\n\n" + src)
    assert [m.id for m in moved] == [m.id for m in mutants] and moved[0].line == 5
    assert mutants_of("D.sol", src)[0].id != mutants[0].id
    # Identical lines get distinct ids by occurrence.
    twice = mutants_of("C.sol", src.replace("return a + 1;", "b = a + 1; return a + 1;"))
    assert len({m.id for m in twice}) == len(twice) == 4
    with pytest.raises(ValueError, match="does not apply"):
        mutants[0].apply(src.replace("a + 1", "a * 1"))


def test_operator_names_and_unknown_operator():
    assert list(OPERATORS) == ["relational", "literal-boundary", "rounding", "arithmetic",
                               "drop-check", "drop-term", "swap-args", "swap-field"]
    with pytest.raises(ValueError, match="unknown mutation operator 'nope'"):
        edits("x", operators=["nope"])


def test_dependants_follow_imports():
    sources = {"a/A.sol": "", "a/B.sol": 'import {A} from "./A.sol";',
               "c/C.sol": 'import "../a/B.sol";', "c/D.sol": 'import {X} from "a/Other.sol";'}
    assert dependants(sources, "a/A.sol") == ["a/A.sol", "a/B.sol", "c/C.sol"]


def test_bytecode_equivalence_is_exact():
    src = """// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;
contract C {
    function unused(uint256 a) internal pure returns (uint256) { return a + 1; }
    function f(uint256 a) external pure returns (uint256) { return a * 2; }
}
"""
    compiler = MutantCompiler({"C.sol": src}, ROOT)
    try:
        by_edit = {(m.original, m.replacement): m for m in mutants_of("C.sol", src)}
        dead, live = by_edit[("+", "-")], by_edit[("*", "/")]
        assert compiler.changed_contracts("C.sol", compiler.code("C.sol", dead.apply(src))) == []
        assert compiler.changed_contracts("C.sol", compiler.code("C.sol", live.apply(src))) == ["C"]
        code = compiler.code("C.sol", live.apply(src))["C"]["deployedBytecode"]
        assert strip_metadata(code) != code.removeprefix("0x")  # the trailer was there
    finally:
        compiler.close()


def test_equivalents_file(tmp_path):
    path = tmp_path / "equivalent.toml"
    assert load_equivalents(path) == {}
    path.write_text('[[equivalent]]\nid = "abc"\nreason = "max(a, a)"\n')
    assert load_equivalents(path) == {"abc": Equivalent("abc", "max(a, a)")}
    path.write_text('[[equivalent]]\nid = "abc"\n')
    with pytest.raises(ValueError, match="entry 1 needs an id and a reason"):
        load_equivalents(path)


@pytest.fixture(scope="module")
def user_project(tmp_path_factory) -> Path:
    """The custom-module example's contract with one tiny test of its dead band."""
    base = tmp_path_factory.mktemp("user")
    (base / "contracts").mkdir()
    shutil.copy(EXAMPLE / "DeadBandRates.sol", base / "contracts")
    (base / "test_band.py").write_text('''
from pathlib import Path
from protocol import Venue

def test_balanced_market_pays_no_funding():
    venue = Venue.launch(backend="revm", contracts=Path(__file__).parent / "contracts",
                         modules={"rates": "DeadBandRates"})
    long, short = venue.trader("long", usdc=100_000), venue.trader("short", usdc=100_000)
    for t in (long, short):
        t.deposit(50_000)
    long.open("ETH", size=1.1, leverage=5, mode="isolated", margin=3_000)
    short.open("ETH", size=-1.0, leverage=5, mode="isolated", margin=3_000)
    venue.advance_time(3600)
    assert venue.clearinghouse.call("pendingCharges", long.address, venue.market_id("ETH"))[0] == 0
''')
    return base


def test_runner_kills_survives_and_honours_equivalents(user_project):
    target = Target.user(user_project / "contracts", [user_project / "test_band.py"])
    mutants = {(m.line, m.col, m.replacement): m for m in target.mutants()}
    assert len(mutants) == 12
    killed = mutants[(18, 35, "/")]  # total / DEAD_BAND_BPS: the band shrinks to nothing
    survived = mutants[(18, 27, "<=")]  # the band's edge: no test sits on it
    marked = mutants[(17, 35, ">=")]  # |long - short| either way when equal
    report = run(target, [killed, survived, marked], jobs=1,
                 equivalents={marked.id: Equivalent(marked.id, "both branches give 0 when equal")})
    assert [(o.mutant.id, o.status) for o in report.outcomes] == [
        (killed.id, "killed"), (survived.id, "survived"), (marked.id, "equivalent")]
    assert report.outcomes[2].detail == "marked: both branches give 0 when equal"
    assert report.outcomes[0].killer == "test_band.py::test_balanced_market_pays_no_funding"
    assert "+        if (skew * 10_000 <= total * DEAD_BAND_BPS) fundingRate = 0;" in report.outcomes[1].diff
    assert report.counts() == {"killed": 1, "survived": 1, "equivalent": 1, "invalid": 0, "timeout": 0}
    assert report.score() == 0.5
    assert (user_project / "contracts" / "DeadBandRates.sol").read_text() == (
        EXAMPLE / "DeadBandRates.sol").read_text()  # the original is untouched


def test_targets_refuse_bad_paths(tmp_path):
    with pytest.raises(MutateError, match="no such directory of contracts"):
        Target.user(tmp_path / "nope", [tmp_path])
    with pytest.raises(MutateError, match="no .sol files"):
        Target.user(tmp_path, [tmp_path])
    with pytest.raises(MutateError, match="not a .sol file under"):
        Target.repository(ROOT, ["contracts/nope.sol"], ["tests"])


def perpsim(*args: str, cwd: Path, monkeypatch) -> Result:
    """``perpsim mutate ARGS`` run in-process in ``cwd`` (stderr apart, as a terminal shows it)."""

    from protocol.cli import main

    monkeypatch.chdir(cwd)
    return CliRunner(env={"COLUMNS": "200"}).invoke(main, ["mutate", *args])


@pytest.mark.parametrize("args, message", [
    (["--contracts", "nowhere", "--tests", "."], "nowhere: no such directory of contracts"),
    (["--contracts", "e", "--tests", "."], "e: no .sol files"),
    (["--contracts", "c", "--tests", "missing.py"], "missing.py: no such test file or directory"),
    (["--contracts", "c"], "no tests given: pass --tests PATH"),
    (["--contracts", "c", "--tests", ".", "--file", "x.sol"], "--file is for the project's contracts"),
    (["--contracts", "c", "--tests", ".", "--operator", "nope"], "unknown operator 'nope'"),
    (["--contracts", "c", "--tests", ".", "--only", "0000000000"], "unknown mutant id 0000000000"),
    (["--contracts", "c", "--tests", ".", "--equivalents", "bad.toml"], "bad.toml: "),
    (["--tests", "."], "has no contracts/ directory"),
])
def test_cli_errors_are_one_line(tmp_path, monkeypatch, args, message):
    (tmp_path / "c").mkdir()
    (tmp_path / "e").mkdir()
    (tmp_path / "c" / "A.sol").write_text("contract A {}\n")
    (tmp_path / "bad.toml").write_text("[[equivalent]\n")
    result = perpsim(*args, cwd=tmp_path, monkeypatch=monkeypatch)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], result.stderr


def test_cli_lists_mutants(tmp_path, monkeypatch):
    (tmp_path / "c").mkdir()
    shutil.copy(EXAMPLE / "DeadBandRates.sol", tmp_path / "c")
    result = perpsim("--contracts", "c", "--tests", ".", "--operator", "relational", "--list",
                     cwd=tmp_path, monkeypatch=monkeypatch)
    assert result.exit_code == 0, result.output
    assert "2 mutants" in result.stdout and "c/DeadBandRates.sol:18:27" in result.stdout


def test_code_compiled_for_dependants_only_equals_the_build(tmp_path):
    """A mutant's code comes from a compile with output for its file's dependants alone; the
    unmutated code so compiled is the full build's (so the artifacts serve as the original)."""
    from protocol.build import USER_PREFIX, _default_root, _sources, compile_contracts, user_artifacts_dir

    compile_contracts(user_dir=EXAMPLE)
    artifacts = user_artifacts_dir(EXAMPLE)
    sources = {**_sources(_default_root() / "contracts"),
               USER_PREFIX + "DeadBandRates.sol": (EXAMPLE / "DeadBandRates.sol").read_text()}
    compiler = MutantCompiler(sources, ROOT, artifacts)
    try:
        code = compiler.code(USER_PREFIX + "DeadBandRates.sol")
        assert list(code) == ["DeadBandRates"]
        built = json.loads((artifacts / "DeadBandRates.json").read_text())
        for key in ("deployedBytecode", "bytecode", "deployedSourceMap", "immutableReferences"):
            assert code["DeadBandRates"][key] == built[key], key
        assert compiler.changed_contracts(USER_PREFIX + "DeadBandRates.sol", code) == []
        assert compiler._original == {}  # read from the artifacts, not compiled again
    finally:
        compiler.close()


def test_mapped_tests_run_first_then_those_naming_the_contract(tmp_path):
    for name, body in {"test_a.py": "", "test_b.py": "Solvency Solvency", "test_c.py": "Solvency"}.items():
        (tmp_path / name).write_text(body)
    src = "library Solvency { function f(uint a) internal pure returns (uint) { return a + 1; } }"
    target = Target(tmp_path, ["S.sol"], {"S.sol": "S.sol"}, {"S.sol": src}, ROOT,
                    ["test_a.py", "test_c.py", "test_b.py"], first={"S.sol": ["test_a.py"]})
    mutant = target.mutants()[0]
    assert target.ordered_tests(mutant) == ["test_a.py", "test_b.py", "test_c.py"]
    target.first = {}
    assert target.ordered_tests(mutant) == ["test_b.py", "test_c.py", "test_a.py"]


def test_cli_reports_marked_equivalents_without_running_anything(tmp_path, monkeypatch):
    (tmp_path / "c").mkdir()
    shutil.copy(EXAMPLE / "DeadBandRates.sol", tmp_path / "c")
    mutant = next(m for m in Target.user(tmp_path / "c", [tmp_path]).mutants()
                  if (m.line, m.col, m.replacement) == (17, 35, ">="))
    (tmp_path / "eq.toml").write_text(f'[[equivalent]]\nid = "{mutant.id}"\nreason = "same either way"\n')
    result = perpsim("--contracts", "c", "--tests", ".", "--only", mutant.id, "--equivalents", "eq.toml",
                     "--json", "out/m.json", cwd=tmp_path, monkeypatch=monkeypatch)
    assert result.exit_code == 0, result.output
    assert "equivalent" in result.stdout and "c/DeadBandRates.sol" in result.stdout
    data = json.loads((tmp_path / "out" / "m.json").read_text())
    assert data["counts"] == {"killed": 0, "survived": 0, "equivalent": 1, "invalid": 0, "timeout": 0}
    assert data["score"] is None
    assert data["mutants"][0]["detail"] == "marked: same either way"
    assert data["mutants"][0]["diff"].startswith("--- a/c/DeadBandRates.sol\n")


def test_every_hand_written_mutant_still_applies_to_the_contracts(monkeypatch):
    """``scripts/mutants.py`` refuses to run when a mutant's snippet no longer occurs exactly
    once in its file: a contract change must bring its mutants along (two ADL mutants stopped
    applying when the ADL rule became a module, and nothing noticed)."""
    import importlib.util
    import sys

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("hand_written_mutants", root / "scripts" / "mutants.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses look themselves up
    spec.loader.exec_module(module)
    module.check_snippets(root, module.MUTANTS)  # SystemExit naming each one that does not apply
    assert sum(m.id.startswith("known-bad-") for m in module.MUTANTS) == 11
