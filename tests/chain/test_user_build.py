"""The module-edit loop (issue 25): a user's contracts are compiled alone against the project's
sources, the project's artifacts reused byte for byte; a module missing a function of its
interface is refused from its source, before any compile; a compile says so on stderr; the
cache of compiled artifacts is pruned by age and size."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from protocol import build
from protocol.build import ARTIFACTS_DIR, MANIFEST, compile_contracts, prune_cache, user_artifacts_dir
from protocol.build.scan import ANY_ARITY, declarations
from protocol.venue.modules import ModuleError, prepare_modules

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "custom_module"

RATES_HEADER = ('// SPDX-License-Identifier: MIT\npragma solidity 0.8.30;\n'
                'import {RatesInput} from "contracts/interfaces/IRatesModule.sol";\n')


@pytest.fixture()
def cache(tmp_path, monkeypatch) -> Path:
    """A private perpsim cache (compiled users' artifacts go there)."""
    monkeypatch.setenv("PERPSIM_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _no_compiler(*args, **kwargs):
    raise AssertionError("the compiler was started")


def test_an_edit_compiles_the_edited_file_and_its_importers_alone(tmp_path, cache, monkeypatch,
                                                                    capsys):
    user = tmp_path / "mine"
    user.mkdir()
    text = (EXAMPLE / "DeadBandRates.sol").read_text()
    (user / "DeadBandRates.sol").write_text(text)
    (user / "Wider.sol").write_text('// SPDX-License-Identifier: MIT\npragma solidity 0.8.30;\n'
                                    'import {DeadBandRates} from "./DeadBandRates.sol";\n'
                                    'contract Wider is DeadBandRates {}\n')
    (user / "Knob.sol").write_text("// SPDX-License-Identifier: MIT\npragma solidity 0.8.30;\n"
                                   "contract Knob { uint256 public constant K = 1; }\n")
    asked: list[list[str]] = []
    run_solc = build._run_solc
    monkeypatch.setattr(build, "_run_solc", lambda root, sources, settings, *args, **kwargs: (
        asked.append(sorted(settings["outputSelection"])),
        run_solc(root, sources, settings, *args, **kwargs))[1])
    out = lambda: user_artifacts_dir(user)  # noqa: E731  (the entry of the sources as they are now)
    units = ["user/DeadBandRates.sol", "user/Knob.sol", "user/Wider.sol"]

    assert compile_contracts(user_dir=user).compiled
    assert asked == [units]  # the first compile: every file of the user's, none of the project's
    assert "perpsim: compiling 3 contracts of " in capsys.readouterr().err
    first = out()
    knob = (first / "Knob.json").read_text()

    (user / "DeadBandRates.sol").write_text(text.replace("= 2_000;", "= 2_500;"))
    result = compile_contracts(user_dir=user)
    assert result.compiled and asked[1] == ["user/DeadBandRates.sol", "user/Wider.sol"]
    assert "perpsim: compiling 2 contracts of " in capsys.readouterr().err
    manifest = json.loads((out() / MANIFEST).read_text())
    project = json.loads((ARTIFACTS_DIR / MANIFEST).read_text())
    assert manifest["user_contracts"] == {"DeadBandRates": units[0], "Knob": units[1],
                                          "Wider": units[2]}
    assert manifest["contracts"] == result.contracts == sorted([*project["contracts"], "DeadBandRates",
                                                                "Knob", "Wider"])
    reused = json.loads((out() / "Knob.json").read_text())
    assert reused == {**json.loads(knob), "inputHash": result.input_hash}
    # The project's artifacts are the project build's, byte for byte, and keep its source ids
    # (coverage reads every source map of the directory with the manifest's ids).
    for name in project["contracts"]:
        assert (out() / f"{name}.json").read_bytes() == (ARTIFACTS_DIR / f"{name}.json").read_bytes()
    assert project["sourceIds"].items() <= manifest["sourceIds"].items()
    wider = json.loads((out() / "Wider.json").read_text())
    assert wider["deployedBytecode"] != json.loads((first / "Wider.json").read_text())["deployedBytecode"]

    (user / "Knob.sol").write_text((user / "Knob.sol").read_text().replace("K = 1", "K = 2"))
    assert compile_contracts(user_dir=user).compiled and asked[2] == ["user/Knob.sol"]
    assert json.loads((out() / "Wider.json").read_text())["deployedBytecode"] == wider["deployedBytecode"]
    capsys.readouterr()
    again = compile_contracts(user_dir=user)  # nothing changed: cached, silent, no compiler
    assert not again.compiled and capsys.readouterr().err == "" and len(asked) == 3


def test_a_users_venue_runs_the_projects_bytecode(cache):
    from venue_fixtures import ETH

    from protocol import Venue

    stock = Venue.launch(backend="revm", markets=[ETH], modules={"rates": "StockRates"})
    mine = Venue.launch(backend="revm", markets=[ETH], contracts=EXAMPLE,
                        modules={"rates": "DeadBandRates"})
    names = [n for n in stock.deployment.contracts if n != "module:rates"]
    assert {"clearinghouse", "pool", "order_book", "reader"} <= set(names)
    for name in names:
        assert mine.chain.code(mine.deployment.contracts[name].address) == \
            stock.chain.code(stock.deployment.contracts[name].address), name
    assert mine.chain.code(mine.deployment.modules["rates"]) != \
        stock.chain.code(stock.deployment.modules["rates"])


def test_a_missing_function_is_reported_before_any_compile(tmp_path, cache, monkeypatch):
    user = tmp_path / "mine"
    user.mkdir()
    (user / "Lazy.sol").write_text(RATES_HEADER + "contract Lazy {\n  // function rates(RatesInput calldata m) external view returns (int256, uint256) {}\n"
                                   "  function rate(RatesInput calldata m) external pure returns (int256) { return 0; }\n}\n")
    (user / "Wrong.sol").write_text(RATES_HEADER + 'import {StockMargin} from "contracts/modules/StockMargin.sol";\n'
                                    "contract Wrong is StockMargin {}\n")
    (user / "Base.sol").write_text(RATES_HEADER + 'import {StockRates} from "contracts/modules/StockRates.sol";\n'
                                   "abstract contract Base is StockRates { uint256 public knob; }\n"
                                   "contract Derived is Base {}\n")
    monkeypatch.setattr(build, "solc_command", _no_compiler)
    with pytest.raises(ModuleError, match=r"^Lazy does not implement IRatesModule \(the rates module\): "
                                          r"missing rates\(\(uint256,uint256,uint256,uint256,uint256,uint256,int256,"
                                          r"uint256,uint256,uint256\)\), supportsInterface\(bytes4\)$"):
        prepare_modules({"rates": "Lazy"}, user)
    with pytest.raises(ModuleError, match=r"^Wrong does not implement IRatesModule .*missing rates\("):
        prepare_modules({"rates": "Wrong"}, user)
    with pytest.raises(ModuleError, match=r"^no contract 'Nope' in .* for the rates module$"):
        prepare_modules({"rates": "Nope"}, user)
    with pytest.raises(ModuleError, match=r"^Base is abstract or an interface"):
        prepare_modules({"rates": "Base"}, user)
    # One inheriting the stock module (through a user's base) passes the check: it gets as far
    # as the compiler, which is not there.
    with pytest.raises(AssertionError, match="the compiler was started"):
        prepare_modules({"rates": "Derived"}, user)


def test_the_scan_reads_declarations_bases_and_getters():
    found = declarations({"a.sol": """
        // contract Commented { function no() external {} }
        abstract contract A is B, C(1, "x{") {
            mapping(address => uint256) public balances;
            uint256[] public list;
            uint256 public constant K = 1;
            uint256 internal hidden;
            function f(uint256 a, (uint256) b) external virtual returns (uint256);
            function g(mapping(uint => uint) storage m, uint[2] memory p, string memory s) internal {}
            function h(uint256 a, address b) public pure returns (uint256) { if (a > 0) { return 1; } return 0; }
        }
        interface I { function rates(RatesInput calldata m) external view returns (int256, uint256); }
        """})
    assert set(found) == {"A", "I"}
    a = found["A"]
    assert (a.kind, a.abstract, a.bases) == ("contract", True, ["B", "C"])
    assert a.functions == {("balances", ANY_ARITY), ("list", ANY_ARITY), ("K", 0), ("f", 2), ("h", 2)}
    assert found["I"].functions == {("rates", 1)}


def _entry(cache: Path, name: str, size: int, age_days: float, now: float) -> Path:
    entry = cache / "artifacts" / name
    entry.mkdir(parents=True)
    (entry / "Big.json").write_bytes(b"x" * size)
    (entry / MANIFEST).write_text("{}")
    stamp = now - age_days * 86_400
    os.utime(entry / MANIFEST, (stamp, stamp))
    return entry


def test_the_cache_is_pruned_by_age_then_by_size(tmp_path, cache, monkeypatch):
    now = time.time()
    mb = 1_000_000
    stale = _entry(cache, "stale", 1 * mb, age_days=31, now=now)
    oldest = _entry(cache, "oldest", 3 * mb, age_days=10, now=now)
    linked = _entry(cache, "linked", 0, age_days=7, now=now)
    (tmp_path / "project.json").write_bytes(b"p" * 3 * mb)
    os.link(tmp_path / "project.json", linked / "Project.json")  # a hard link costs nothing
    older = _entry(cache, "older", 3 * mb, age_days=5, now=now)
    recent = _entry(cache, "recent", 3 * mb, age_days=1, now=now)
    current = _entry(cache, "current", 3 * mb, age_days=40, now=now)  # the one in use: kept
    (cache / "npm").mkdir()  # the toolchain is not the artifacts cache: never touched

    removed = prune_cache(max_age_days=30, max_mb=10, keep=current, now=now)

    assert removed == [stale, oldest]  # over 30 days; then 3 + 0 + 3 + 3 + 3 MB > 10: the LRU
    assert {p.name for p in (cache / "artifacts").iterdir()} == {"linked", "older", "recent",
                                                                 "current"}
    assert (cache / "npm").is_dir() and (tmp_path / "project.json").stat().st_size == 3 * mb
    # The limits come from the environment when not given (defaults: 30 days, 200 MB).
    monkeypatch.setenv("PERPSIM_CACHE_MAX_MB", "3.5")
    assert prune_cache(now=now) == [current, linked, older]
    assert [p.name for p in (cache / "artifacts").iterdir()] == ["recent"]
    monkeypatch.setenv("PERPSIM_CACHE_MAX_AGE_DAYS", "0.5")
    assert prune_cache(now=now) == [recent]
    assert (build.CACHE_MAX_AGE_DAYS, build.CACHE_MAX_MB) == (30.0, 200.0)


def test_a_users_source_map_is_numbered_as_in_a_compile_of_every_source(tmp_path, cache):
    """solc is given the user's files and the project's they import; the source maps are
    renumbered to the ids a compile of every source gives (those of the project's build)."""
    user = tmp_path / "mine"
    user.mkdir()
    (user / "Notional.sol").write_text(
        '// SPDX-License-Identifier: MIT\npragma solidity 0.8.30;\n'
        'import {MarginMath} from "contracts/libraries/MarginMath.sol";\n'
        'contract Notional { function f(uint256 s, uint256 p) external pure returns (uint256) '
        '{ return MarginMath.notionalUp(s, p); } }\n')
    compile_contracts(user_dir=user)
    out = user_artifacts_dir(user)
    every = {**build._sources(build._default_root() / "contracts"),
             "user/Notional.sol": (user / "Notional.sol").read_text()}
    settings = {**build.SETTINGS, "outputSelection": {"user/Notional.sol": build.SETTINGS["outputSelection"]["*"]}}
    output, _ = build._run_solc(build._default_root(), every, settings)
    whole = output["contracts"]["user/Notional.sol"]["Notional"]["evm"]["deployedBytecode"]
    artifact = json.loads((out / "Notional.json").read_text())
    assert artifact["deployedBytecode"] == "0x" + whole["object"]
    assert artifact["deployedSourceMap"] == whole["sourceMap"]
    ids = {str(data["id"]): name for name, data in output["sources"].items()}
    assert json.loads((out / MANIFEST).read_text())["sourceIds"] == ids
    library = next(i for i, n in ids.items() if n == "contracts/libraries/MarginMath.sol")
    # The library's code, inlined, maps to its file.
    assert re.search(rf"(^|;)\d+:\d+:{library}([:;]|$)", artifact["deployedSourceMap"])
