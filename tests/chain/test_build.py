"""The offline Solidity toolchain: compile, cache, diagnostics."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

import pytest

from protocol.build import PROJECT_ROOT, CompileError, compile_contracts, input_hash


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A scratch project sharing node_modules with the real one."""
    (tmp_path / "contracts").mkdir()
    (tmp_path / "node_modules").symlink_to(PROJECT_ROOT / "node_modules")
    return tmp_path


def _write(project: Path, name: str, text: str) -> None:
    (project / "contracts" / name).write_text(text)


GOOD = """// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
contract Token is ERC20 { constructor() ERC20("T", "T") {} function f(uint256 a) external pure returns (uint256) { uint256 unused; return a; } }
"""


def test_compiles_with_openzeppelin_and_caches(project: Path):
    _write(project, "Token.sol", GOOD)
    out = project / "artifacts"
    first = compile_contracts(project, out)
    assert first.compiled and first.contracts == ["Token"]
    artifact = json.loads((out / "Token.json").read_text())
    assert artifact["bytecode"].startswith("0x6") and len(artifact["bytecode"]) > 1000
    assert any(item.get("name") == "transfer" for item in artifact["abi"])
    assert artifact["settings"]["evmVersion"] == "cancun"
    assert artifact["storageLayout"]["storage"], "storage layout is part of the artifact"
    assert artifact["inputHash"] == first.input_hash
    # The unused local variable is a warning: shown, not hidden, and not fatal.
    assert any("Unused local variable" in w and "contracts/Token.sol:4:" in w
               for w in first.warnings)

    started = time.perf_counter()
    second = compile_contracts(project, out)
    assert not second.compiled and time.perf_counter() - started < 1.0

    _write(project, "Token.sol", GOOD.replace('"T", "T"', '"T2", "T2"'))
    assert input_hash(project) != first.input_hash
    assert compile_contracts(project, out).compiled


def test_cache_hit_does_not_start_node(project: Path, monkeypatch):
    _write(project, "Token.sol", GOOD)
    out = project / "artifacts"
    compile_contracts(project, out)
    monkeypatch.setattr(shutil, "which", lambda name: None)  # no node on PATH any more
    assert not compile_contracts(project, out).compiled


def test_errors_are_file_line_col(project: Path):
    _write(project, "Broken.sol", "// SPDX-License-Identifier: MIT\npragma solidity 0.8.30;\n"
                                  "contract Broken {\n  function f() external { x = 1; }\n}\n")
    with pytest.raises(CompileError) as info:
        compile_contracts(project, project / "artifacts")
    assert any(m.startswith("contracts/Broken.sol:4:")
               and "Undeclared identifier" in m for m in info.value.messages)


def test_cli_exit_code_on_error(project: Path, monkeypatch, capsys):
    from protocol import build

    _write(project, "Broken.sol", "pragma solidity 0.8.30; contract B { function f() { } }")
    monkeypatch.setattr(build, "PROJECT_ROOT", project)
    monkeypatch.setattr(build, "ARTIFACTS_DIR", project / "artifacts")
    assert build.main([]) == 1
    assert "contracts/Broken.sol:1:" in capsys.readouterr().err


def test_a_contract_over_eip170_fails_the_build(project: Path):
    # 720 distinct 32-byte words stored and returned (nothing for the optimizer to fold): about
    # 26,700 bytes of runtime code; solc-js builds it in two thirds of the time a 25 kB literal takes.
    words = " ".join(f"mstore({32 * i}, 0x{hashlib.sha256(str(i).encode()).hexdigest()})" for i in range(720))
    _write(project, "Big.sol", "// SPDX-License-Identifier: MIT\npragma solidity 0.8.30;\n"
                               f"contract Big {{ function f() external pure {{ assembly {{ {words} return(0, 23040) }} }} }}\n")
    with pytest.raises(CompileError) as info:
        compile_contracts(project, project / "artifacts")
    [message] = info.value.messages
    assert message.startswith("contracts/Big.sol:0:0: error: Big has ")
    assert "over the EIP-170 limit of 24,576" in message
    assert not (project / "artifacts" / "Big.json").exists()


def test_every_contract_keeps_4kb_under_the_limit():
    from protocol.build import CODE_SIZE_BUDGET, CODE_SIZE_LIMIT, code_sizes, size_table

    sizes = code_sizes()
    assert sizes["Clearinghouse"] > 10_000 and len(sizes) >= 20  # the real artifacts
    over = {name: size for name, size in sizes.items() if size > CODE_SIZE_BUDGET}
    assert not over, over
    assert CODE_SIZE_LIMIT - CODE_SIZE_BUDGET == 4_096
    table = size_table(sizes)
    assert f"| Clearinghouse | {sizes['Clearinghouse']:,} |" in table


def test_compile_sizes_prints_the_table(capsys):
    from protocol.build import main

    assert main(["--sizes"]) == 0
    out = capsys.readouterr().out
    assert "| contract | runtime bytes |" in out and "| LiquidationLogic |" in out


def test_make_reprints_no_reviewed_warning(capsys):
    """The warning of the project's own sources (OpenZeppelin's transient reentrancy lock) is
    reviewed: ``make`` (``python -m protocol.build``) does not print it, the result still lists
    it, and any other warning is printed (ParityProbe's deliberate selfdestruct, a test
    contract's, is a user's: printed)."""
    from protocol.build import main, reported_warnings

    assert main([]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out.startswith(f"{len(compile_contracts().contracts)} contracts")
    listed = compile_contracts().warnings
    assert len(listed) == 1 and reported_warnings(listed) == []
    mine = "contracts/Mine.sol:4:9: warning: Unused local variable."
    theirs = "mine/ParityProbe.sol:3:1: warning: \"selfdestruct\" has been deprecated."
    assert reported_warnings([*listed, mine, theirs]) == [mine, theirs]


def test_the_views_behind_the_fallback_are_the_interface_the_artifact_and_the_core_slot():
    """``ClearinghouseViews`` runs on the core's storage: its functions are exactly
    ``IClearinghouseViews``'s, the Clearinghouse artifact lists them (callers call them there),
    nothing it exposes can write, and its state slot is where the core keeps ``_s``."""
    from protocol.build import ARTIFACTS_DIR

    def functions(name):
        abi = json.loads((ARTIFACTS_DIR / f"{name}.json").read_text())["abi"]
        return {(f["name"], tuple(i["type"] for i in f["inputs"]), tuple(o["type"] for o in f["outputs"]),
                 f["stateMutability"]) for f in abi if f["type"] == "function"}

    library, interface = functions("ClearinghouseViews"), functions("IClearinghouseViews")
    assert library == interface
    assert all(mutability in ("view", "pure") for *_, mutability in library)
    core = functions("Clearinghouse")
    assert library <= core
    assert not {f[0] for f in library} & {f[0] for f in core - library}  # no name served twice
    layout = json.loads((ARTIFACTS_DIR / "Clearinghouse.json").read_text())["storageLayout"]
    slot = next(int(v["slot"]) for v in layout["storage"] if v["label"] == "_s")
    source = (PROJECT_ROOT / "contracts/core/ClearinghouseViews.sol").read_text()
    assert f"uint256 internal constant STATE_SLOT = {slot};" in source


FACTORY = """// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;
import {Token} from "./Token.sol";
contract Factory { event Made(address token); function make() external returns (Token t) { t = new Token(); emit Made(address(t)); } }
"""


def test_two_solc_processes_give_the_artifacts_of_one(project: Path, monkeypatch):
    """A compile split over two solc-js processes (each generating code for half of the
    sources) writes byte for byte the artifacts and manifest of one process, warnings included,
    whether a contract is in its own half or creates one of the other's (``new Token()``)."""
    _write(project, "Token.sol", GOOD)
    _write(project, "Factory.sol", FACTORY)
    built = {}
    for jobs in ("1", "2"):
        monkeypatch.setenv("PERPSIM_COMPILE_JOBS", jobs)
        out = project / f"artifacts-{jobs}"
        result = compile_contracts(project, out)
        assert result.contracts == ["Factory", "Token"]
        built[jobs] = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
    assert built["1"] == built["2"] and len(built["1"]) == 3  # two contracts and the manifest


def test_the_compile_jobs_setting_is_checked(monkeypatch):
    from protocol.build import compile_jobs

    monkeypatch.setenv("PERPSIM_COMPILE_JOBS", "3")
    assert compile_jobs() == 3
    for bad in ("0", "two"):
        monkeypatch.setenv("PERPSIM_COMPILE_JOBS", bad)
        with pytest.raises(CompileError, match="PERPSIM_COMPILE_JOBS"):
            compile_jobs()
