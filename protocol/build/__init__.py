"""Compile the Solidity sources under ``contracts/`` into JSON artifacts.

The compiler is the pinned npm ``solc`` package (solc-js, WebAssembly) driven through
standard-JSON by ``solc_standard_json.cjs``; OpenZeppelin and prb-math imports resolve from ``node_modules``
(the repository's, or the per-user cache of an installed package: :mod:`protocol.build.toolchain`).
Artifacts live in ``protocol/artifacts`` (package data of the wheel) and are keyed by a hash of
every input: sources, settings, the pinned compiler and OpenZeppelin versions. When the hash
matches, nothing is compiled and Node is not started, so an installed wheel never needs Node.
An installed package carries its sources in ``protocol/contracts`` (copied there by ``setup.py``).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .toolchain import PACKAGE_DIR, PROJECT_ROOT, ToolchainError, cache_root, npm_dir, pins

ARTIFACTS_DIR = PACKAGE_DIR / "artifacts"
MANIFEST = "manifest.json"
#: EIP-170: the most runtime code a contract may have; the build refuses anything larger.
CODE_SIZE_LIMIT = 24_576
#: What every contract of the project stays under, leaving room for the rules still to come.
CODE_SIZE_BUDGET = 20_480
DRIVER = Path(__file__).resolve().parent / "solc_standard_json.cjs"
#: Contracts whose fallback serves a library's views on their own storage (contract -> library):
#: the contract's artifact lists those views in its ABI, since that is where callers call them.
FALLBACK_VIEWS = {"Clearinghouse": "ClearinghouseViews"}

SETTINGS: dict = {
    "optimizer": {"enabled": True, "runs": 200},
    "viaIR": True,
    "evmVersion": "cancun",
    "outputSelection": {
        "*": {
            "*": [
                "abi",
                "evm.bytecode.object",
                "evm.bytecode.linkReferences",
                "evm.deployedBytecode.object",
                "evm.deployedBytecode.sourceMap",
                "evm.deployedBytecode.immutableReferences",
                "evm.deployedBytecode.linkReferences",
                "evm.methodIdentifiers",
                "storageLayout",
            ]
        }
    },
}


class CompileError(Exception):
    """Solidity compilation failed; ``messages`` are ``file:line:col: message`` lines."""

    def __init__(self, messages: list[str]):
        self.messages = messages
        super().__init__("\n".join(messages))


@dataclass
class CompileResult:
    compiled: bool  # False when the cache was up to date
    input_hash: str
    contracts: list[str]
    warnings: list[str] = field(default_factory=list)


#: The npm packages whose versions decide the artifacts: the compiler and the Solidity libraries
#: imported from ``node_modules`` (OpenZeppelin; prb-math, whose pow GMX's price impact uses).
COMPILER_PACKAGES = ("solc", "@openzeppelin/contracts", "prb-math")


def _default_root() -> Path:
    """The directory holding ``contracts/``: the installed package's copy, else the repository."""
    return PACKAGE_DIR if (PACKAGE_DIR / "contracts").is_dir() else PROJECT_ROOT


def _check_installed_versions(tools: Path) -> None:
    """The compiler about to run is the pinned one (a stale ``node_modules`` would not be)."""
    for package in COMPILER_PACKAGES:
        manifest = tools / "node_modules" / package / "package.json"
        if not manifest.exists():
            raise CompileError([f"{manifest}: npm package {package} is not installed "
                                f"(run `npm ci` in {tools})"])
        installed, pinned = json.loads(manifest.read_text())["version"], pins()[package]
        if installed != pinned:
            raise CompileError([f"{tools}/node_modules has {package} {installed} but "
                                f"package.json pins {pinned}: run `npm ci` in {tools}"])


def _sources(contracts_dir: Path) -> dict[str, str]:
    return {
        path.relative_to(contracts_dir.parent).as_posix(): path.read_text()
        for path in sorted(contracts_dir.rglob("*.sol"))
    }


#: Source unit name prefix of a user's contracts compiled with the project's: they import the
#: project's files by their names, e.g. ``contracts/interfaces/IRatesModule.sol``.
USER_PREFIX = "user/"


def _user_sources(user_dir: Path | None) -> dict[str, str]:
    if user_dir is None:
        return {}
    if not user_dir.is_dir():
        raise CompileError([f"{user_dir}: no such directory of contracts"])
    files = sorted(user_dir.rglob("*.sol"))
    if not files:
        raise CompileError([f"{user_dir}: no .sol files"])
    return {USER_PREFIX + path.relative_to(user_dir).as_posix(): path.read_text() for path in files}


def input_hash(root: Path | None = None, user_dir: Path | None = None) -> str:
    """Hash of everything that determines the artifacts."""
    root = _default_root() if root is None else root
    digest = hashlib.sha256()
    digest.update(json.dumps(SETTINGS, sort_keys=True).encode())
    for package in COMPILER_PACKAGES:
        digest.update(pins()[package].encode())
    sources = {**_sources(root / "contracts"), **_user_sources(user_dir)}
    for name, text in sources.items():
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()


def user_artifacts_dir(user_dir: Path, root: Path | None = None) -> Path:
    """Where the project's contracts compiled together with ``user_dir``'s are cached: under
    :func:`~protocol.build.toolchain.cache_root` (``$PERPSIM_CACHE``, ``$XDG_CACHE_HOME/perpsim``
    or ``~/.cache/perpsim``), by the hash of every input."""
    return cache_root() / "artifacts" / input_hash(root, user_dir)[:16]


def _read_manifest(out_dir: Path) -> dict | None:
    try:
        return json.loads((out_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def _line_col(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def _format_diagnostic(diag: dict, sources: dict[str, str]) -> str:
    loc = diag.get("sourceLocation")
    severity = diag.get("severity", "error")
    kind = diag.get("type", "")
    label = severity if kind.lower() in ("", severity) else f"{severity}: {kind}"
    message = f"{label}: {diag['message']}"
    if loc and loc.get("file") in sources and loc.get("start", -1) >= 0:
        line, col = _line_col(sources[loc["file"]], loc["start"])
        return f"{loc['file']}:{line}:{col}: {message}"
    if loc and loc.get("file"):
        return f"{loc['file']}:0:0: {message}"
    return message


def solc_command(root: Path, *, lines: bool = False) -> list[str]:
    """The command that runs the pinned solc-js on standard JSON from stdin (``lines``: one
    input per line, the compiler staying loaded), its toolchain checked first."""
    try:
        tools = npm_dir(root)
    except ToolchainError as exc:
        raise CompileError([str(exc)]) from None
    _check_installed_versions(tools)
    node = shutil.which("node")
    if node is None:
        raise CompileError(["node: Node.js >= 20 is required to compile the contracts"])
    return [node, str(DRIVER), str(tools), *(["--lines"] if lines else [])]


def compile_contracts(root: Path | None = None, out_dir: Path | None = None,
                      force: bool = False, user_dir: Path | None = None) -> CompileResult:
    """Compile every ``.sol`` under ``root/contracts`` (and ``user_dir``, whose files import the
    project's by name) unless the cached artifacts are current."""
    root = _default_root() if root is None else root
    if out_dir is None:
        out_dir = ARTIFACTS_DIR if user_dir is None else user_artifacts_dir(user_dir, root)
    digest = input_hash(root, user_dir)
    manifest = _read_manifest(out_dir)
    if not force and manifest and manifest.get("input_hash") == digest:
        return CompileResult(False, digest, manifest["contracts"], manifest.get("warnings", []))

    command = solc_command(root)
    sources = {**_sources(root / "contracts"), **_user_sources(user_dir)}
    standard_input = {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sources.items()},
        "settings": SETTINGS,
    }
    proc = subprocess.run(command, input=json.dumps(standard_input),
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise CompileError([f"solc-js failed: {proc.stderr.strip()}"])
    output = json.loads(proc.stdout)
    version = proc.stderr.strip().splitlines()[-1]
    diagnostics = output.get("errors", [])
    errors = [_format_diagnostic(d, sources) for d in diagnostics if d["severity"] == "error"]
    warnings = [_format_diagnostic(d, sources) for d in diagnostics if d["severity"] != "error"]
    if errors:
        raise CompileError(_user_paths(errors + warnings, user_dir))
    warnings = _user_paths(warnings, user_dir)
    oversized = [
        f"{source}:0:0: error: {name} has {size:,} bytes of runtime code, over the EIP-170 "
        f"limit of {CODE_SIZE_LIMIT:,}"
        for source, contracts in output.get("contracts", {}).items() if source in sources
        for name, data in contracts.items()
        if (size := len(data["evm"]["deployedBytecode"]["object"]) // 2) > CODE_SIZE_LIMIT]
    if oversized:
        raise CompileError(_user_paths(oversized, user_dir))

    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*.json"):
        stale.unlink()
    names: list[str] = []
    artifacts: dict[str, dict] = {}
    for source_name, contracts in output.get("contracts", {}).items():
        if source_name not in sources:
            continue  # imported library sources (OpenZeppelin) are not deployed on their own
        for name, data in contracts.items():
            if name in names:
                raise CompileError([f"{source_name}:0:0: error: duplicate contract name {name}"])
            names.append(name)
            artifacts[name] = {
                "contractName": name,
                "sourceName": source_name,
                "abi": data["abi"],
                "bytecode": "0x" + data["evm"]["bytecode"]["object"],
                "linkReferences": data["evm"]["bytecode"].get("linkReferences", {}),
                "deployedBytecode": "0x" + data["evm"]["deployedBytecode"]["object"],
                # For coverage (protocol.testing.coverage): the runtime code's source map and
                # the bytes that differ once deployed (immutables, linked library addresses).
                "deployedSourceMap": data["evm"]["deployedBytecode"].get("sourceMap", ""),
                "immutableReferences": data["evm"]["deployedBytecode"].get(
                    "immutableReferences", {}),
                "deployedLinkReferences": data["evm"]["deployedBytecode"].get(
                    "linkReferences", {}),
                "storageLayout": data.get("storageLayout"),
                # Selectors of every external function, the library functions solc leaves out
                # of a library's ABI included: call traces name them.
                "methodIdentifiers": data["evm"].get("methodIdentifiers", {}),
                "compiler": version,
                "settings": SETTINGS,
                "inputHash": digest,
            }
    for contract, library in FALLBACK_VIEWS.items():
        if contract in artifacts and library in artifacts:
            artifacts[contract]["abi"] = artifacts[contract]["abi"] + [
                entry for entry in artifacts[library]["abi"] if entry["type"] == "function"]
    for name, artifact in artifacts.items():
        (out_dir / f"{name}.json").write_text(json.dumps(artifact, indent=1))
    names.sort()
    # Source ids of the source maps (ids not listed are the compiler's generated Yul).
    source_ids = {str(data["id"]): name for name, data in output.get("sources", {}).items()}
    (out_dir / MANIFEST).write_text(json.dumps(
        {"input_hash": digest, "compiler": version, "contracts": names, "warnings": warnings,
         "sourceIds": source_ids}, indent=1))
    return CompileResult(True, digest, names, warnings)


def artifacts_for_package(root: Path | None = None) -> str:
    """Make ``protocol/artifacts`` ready to ship (the build hook of ``setup.py`` calls this):
    compile when Node.js and ``root/node_modules`` are there, else keep the artifacts already
    present (an sdist carries them) provided they were compiled from these very sources.
    Returns ``"compiled"``, ``"up to date"`` or ``"shipped"``."""
    root = _default_root() if root is None else root
    if shutil.which("node") and (root / "node_modules").is_dir():
        return "compiled" if compile_contracts(root).compiled else "up to date"
    manifest = _read_manifest(ARTIFACTS_DIR)
    if manifest is None:
        raise CompileError([f"{ARTIFACTS_DIR} holds no artifacts and there is no Node.js with "
                            f"{root}/node_modules to compile them: run `npm ci`, then build again"])
    if manifest.get("input_hash") != input_hash(root):
        raise CompileError([f"{ARTIFACTS_DIR} was not compiled from these sources: run `npm ci` "
                            f"and `python -m protocol.build`, then build again"])
    return "shipped"


def _user_paths(messages: list[str], user_dir: Path | None) -> list[str]:
    """Messages about a user's files name them by their real path."""
    if user_dir is None:
        return messages
    return [m.replace(USER_PREFIX, f"{user_dir}/", 1) if m.startswith(USER_PREFIX) else m
            for m in messages]


def code_sizes(out_dir: Path | None = None) -> dict[str, int]:
    """Runtime code size in bytes of every deployable contract, largest first (interfaces and
    abstract contracts have no code; libraries of internal functions only, which are inlined
    and never deployed, have no ABI and no method; an external library whose functions all take
    storage pointers, such as ``RatesLogic``, has methods but no ABI)."""
    out_dir = ARTIFACTS_DIR if out_dir is None else out_dir
    manifest = _read_manifest(out_dir) or {"contracts": []}
    sizes = {}
    for name in manifest["contracts"]:
        artifact = json.loads((out_dir / f"{name}.json").read_text())
        runtime = artifact["deployedBytecode"]
        if len(runtime) > 2 and (artifact["abi"] or artifact.get("methodIdentifiers")):
            sizes[name] = (len(runtime) - 2) // 2
    return dict(sorted(sizes.items(), key=lambda item: (-item[1], item[0])))


def size_table(sizes: dict[str, int]) -> str:
    """The size table ``perpsim compile --sizes`` prints (Markdown, as the README shows it)."""
    lines = ["| contract | runtime bytes | under the 20,480 budget | under EIP-170 (24,576) |",
             "|---|---:|---:|---:|"]
    for name, size in sizes.items():
        lines.append(f"| {name} | {size:,} | {CODE_SIZE_BUDGET - size:,} | "
                     f"{CODE_SIZE_LIMIT - size:,} |")
    return "\n".join(lines)


#: Compiler warnings about the project's own sources that were reviewed and are not reprinted by
#: ``perpsim compile`` / ``python -m protocol.build`` (they stay in ``CompileResult.warnings``):
#: (source file, text of the message). Both come from deliberate code: OpenZeppelin's
#: ``ReentrancyGuardTransient`` (Clearinghouse, OrderBook) keeps its lock in transient storage,
#: cleared at the end of each guarded call, the use solc's own note calls safe; and
#: ``ParityProbe`` calls ``selfdestruct`` to check that every backend implements EIP-6780 alike.
REVIEWED_WARNINGS = (
    ("@openzeppelin/contracts/utils/TransientSlot.sol",
     "Transient storage as defined by EIP-1153 can break the composability"),
    ("contracts/test/ParityProbe.sol", '"selfdestruct" has been deprecated'),
)


def reported_warnings(warnings: list[str]) -> list[str]:
    """``warnings`` less the reviewed ones of :data:`REVIEWED_WARNINGS` (a user's never are)."""
    return [w for w in warnings
            if not any(w.startswith(f"{source}:") and text in w for source, text in REVIEWED_WARNINGS)]


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m protocol.build`` and ``perpsim compile``
    (``[--force] [--sizes] [--contracts DIR]``)."""
    args = sys.argv[1:] if argv is None else argv
    user_dir = Path(args[args.index("--contracts") + 1]) if "--contracts" in args else None
    try:
        result = compile_contracts(force="--force" in args, user_dir=user_dir)
    except CompileError as exc:
        for line in exc.messages:
            print(line, file=sys.stderr)
        return 1
    except OSError as exc:  # e.g. a read-only site-packages under --force
        print(f"cannot write the artifacts: {exc}", file=sys.stderr)
        return 1
    for line in reported_warnings(result.warnings):
        print(line, file=sys.stderr)
    state = "compiled" if result.compiled else "up to date"
    print(f"{len(result.contracts)} contracts {state} ({result.input_hash[:12]})")
    if "--sizes" in args:
        out = None if user_dir is None else user_artifacts_dir(user_dir)
        print(size_table(code_sizes(out)))
    return 0
