"""Compile the Solidity sources under ``contracts/`` into JSON artifacts.

The compiler is the pinned npm ``solc`` package (solc-js, WebAssembly) driven through
standard-JSON by ``solc_standard_json.cjs``; OpenZeppelin and prb-math imports resolve from ``node_modules``
(the repository's, or the per-user cache of an installed package: :mod:`protocol.build.toolchain`).
Artifacts live in ``protocol/artifacts`` (package data of the wheel) and are keyed by a hash of
every input: sources, settings, the pinned compiler and OpenZeppelin versions. When the hash
matches, nothing is compiled and Node is not started, so an installed wheel never needs Node.
An installed package carries its sources in ``protocol/contracts`` (copied there by ``setup.py``).

A user's directory of contracts (``--contracts DIR``) is compiled against the project's sources
with code generated for the user's files only (after an edit: the edited files and those
importing them); the project's artifacts are reused as they are (hard links, else copies, in the
user's artifacts directory), so an edit to a user's module recompiles that module alone, in
seconds. Users' artifacts are cached under
:func:`~protocol.build.toolchain.cache_root`, pruned by :func:`prune_cache`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, Optional

from protocol.exceptions import PerpsimError

if TYPE_CHECKING:
    from rich.status import Status

from .bindings import generate as generate_bindings
from .scan import count_contracts, dependants, imported

# ARTIFACTS_DIR and PROJECT_ROOT are part of this package's interface (re-exported).
from .toolchain import ARTIFACTS_DIR as ARTIFACTS_DIR
from .toolchain import PACKAGE_DIR, ToolchainError, cache_root, npm_dir, pins
from .toolchain import PROJECT_ROOT as PROJECT_ROOT

MANIFEST = "manifest.json"
#: EIP-170: the most runtime code a contract may have; the build refuses anything larger.
CODE_SIZE_LIMIT = 24_576
#: What every contract of the project stays under, leaving room for the rules still to come.
CODE_SIZE_BUDGET = 20_480
DRIVER = Path(__file__).resolve().parent / "solc_standard_json.cjs"
#: Contracts whose fallback serves a library's views on their own storage (contract -> library):
#: the contract's artifact lists those views in its ABI, since that is where callers call them.
FALLBACK_VIEWS = {"Clearinghouse": "ClearinghouseViews"}

SETTINGS: dict[str, Any] = {
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


class CompileError(PerpsimError):
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


def _read_manifest(out_dir: Path) -> dict[str, Any] | None:
    try:
        manifest: dict[str, Any] = json.loads((out_dir / MANIFEST).read_text())
        return manifest
    except (OSError, ValueError):
        return None


def _line_col(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def _format_diagnostic(diag: dict[str, Any], sources: dict[str, str]) -> str:
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
                      force: bool = False, user_dir: Path | None = None,
                      quiet: bool = False) -> CompileResult:
    """Compile every ``.sol`` under ``root/contracts`` unless the cached artifacts are current.

    With ``user_dir`` (a directory of a user's files, which import the project's by name), only
    the user's files are compiled, against the project's sources: the project's artifacts
    (compiled first if they are not current) are reused, and ``out_dir`` (default
    :func:`user_artifacts_dir`) holds both. A compile announces itself with a "compiling N
    contracts" line on stderr (with a spinner in a terminal) unless ``quiet``."""
    root = _default_root() if root is None else root
    if user_dir is not None:
        return _compile_user(root, Path(user_dir), out_dir, force, quiet)
    if out_dir is None:
        out_dir = ARTIFACTS_DIR
    digest = input_hash(root)
    manifest = _read_manifest(out_dir)
    if not force and manifest and manifest.get("input_hash") == digest:
        return CompileResult(False, digest, manifest["contracts"], manifest.get("warnings", []))
    sources = _sources(root / "contracts")
    count = count_contracts(sources)
    output, version = _run_solc(root, sources, SETTINGS, announce=None if quiet else
                                f"compiling {count} contract{'s' if count != 1 else ''}")
    names, artifacts, warnings = _artifacts(output, sources, None, digest, version)
    for contract, library in FALLBACK_VIEWS.items():
        if contract in artifacts and library in artifacts:
            artifacts[contract]["abi"] = artifacts[contract]["abi"] + [
                entry for entry in artifacts[library]["abi"] if entry["type"] == "function"]
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*.json"):
        stale.unlink()
    for name, artifact in artifacts.items():
        (out_dir / f"{name}.json").write_text(json.dumps(artifact, indent=1))
    names.sort()
    # Source ids of the source maps (ids not listed are the compiler's generated Yul).
    source_ids = {str(data["id"]): name for name, data in output.get("sources", {}).items()}
    (out_dir / MANIFEST).write_text(json.dumps(
        {"input_hash": digest, "compiler": version, "contracts": names, "warnings": warnings,
         "sourceIds": source_ids}, indent=1))
    return CompileResult(True, digest, names, warnings)


def project_artifacts_dir(root: Path | None = None, quiet: bool = False) -> Path:
    """The project's artifacts for the sources under ``root``, compiled if they are not
    current: ``protocol/artifacts`` when they were compiled from ``root``'s sources (or ``root``
    is the default one), else a directory of the cache."""
    root = _default_root() if root is None else root
    manifest = _read_manifest(ARTIFACTS_DIR)
    if root == _default_root() or (manifest and manifest.get("input_hash") == input_hash(root)):
        out = ARTIFACTS_DIR
    else:
        out = cache_root() / "artifacts" / f"project-{input_hash(root)[:16]}"
    compile_contracts(root, out, quiet=quiet)  # a no-op when current
    return out


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _last_entry_pointer(user_dir: Path) -> Path:
    """The file naming the cache entry last compiled for ``user_dir`` (what an edit starts from)."""
    key = hashlib.sha256(str(user_dir.resolve()).encode()).hexdigest()[:16]
    return cache_root() / "artifacts-last" / key


def _previous_build(user_dir: Path, project_hash: str,
                    user_sources: dict[str, str]) -> tuple[Path, dict[str, Any]] | None:
    """The last compile of ``user_dir`` when an edit can start from it: same project sources
    and settings, same files (so the same source ids); else None."""
    try:
        entry = Path(_last_entry_pointer(user_dir).read_text().strip())
    except OSError:
        return None
    manifest = _read_manifest(entry)
    if (manifest is None or manifest.get("project_hash") != project_hash
            or set(manifest.get("user_sources", {})) != set(user_sources)
            or not all((entry / f"{n}.json").is_file() for n in manifest.get("user_contracts", {}))):
        return None
    return entry, manifest


def _numbering(output: dict[str, Any], project_ids: dict[str, str] | None
               ) -> tuple[Callable[[str], str], dict[str, str]]:
    """How to renumber the source maps of a compile of some of the sources into the ids a
    compile of all of them (the project build's and the user's) gives, and those ids. solc
    numbers the sources it was given (and those they import) in order of name, then the Yul it
    generates; so the project's artifacts, reused, and the user's share one numbering."""
    solc_ids = {data["id"]: name for name, data in output.get("sources", {}).items()}
    if not project_ids:
        return (lambda source_map: source_map), {str(i): n for i, n in sorted(solc_ids.items())}
    names = sorted(set(project_ids.values()) | set(solc_ids.values()))
    full = {name: index for index, name in enumerate(names)}
    mapping = {index: full[name] for index, name in solc_ids.items()}
    shift = len(names) - len(solc_ids)

    def renumber(source_map: str) -> str:
        entries = []
        for entry in source_map.split(";"):
            fields = entry.split(":")
            if len(fields) > 2 and fields[2] not in ("", "-1"):
                index = int(fields[2])
                fields[2] = str(mapping.get(index, index + shift))
            entries.append(":".join(fields))
        return ";".join(entries)

    return renumber, {str(index): name for index, name in enumerate(names)}


def _compile_user(root: Path, user_dir: Path, out_dir: Path | None, force: bool,
                  quiet: bool) -> CompileResult:
    user_sources = _user_sources(user_dir)
    digest = input_hash(root, user_dir)
    out_dir = user_artifacts_dir(user_dir, root) if out_dir is None else out_dir
    manifest = _read_manifest(out_dir)
    if not force and manifest and manifest.get("input_hash") == digest:
        _touch(out_dir)
        return CompileResult(False, digest, manifest["contracts"], manifest.get("warnings", []))
    project = project_artifacts_dir(root, quiet)
    project_manifest = _read_manifest(project) or {"contracts": []}
    project_hash = input_hash(root)
    project_sources = _sources(root / "contracts")
    project_ids = project_manifest.get("sourceIds")
    # solc is given the user's files and the project's files they import (OpenZeppelin comes
    # from node_modules); without the project build's source ids, every project file.
    sources = {**({unit: project_sources[unit] for unit in imported(user_sources, project_sources)}
                  if project_ids else project_sources), **user_sources}
    hashes = {unit: _sha(text) for unit, text in user_sources.items()}
    # An edit recompiles the edited files and the user's files that import them; the others'
    # artifacts come from the last compile of this directory.
    selected, previous = sorted(user_sources), None
    last = None if force else _previous_build(user_dir, project_hash, user_sources)
    if last is not None:
        changed = [u for u in user_sources if last[1]["user_sources"][u] != hashes[u]]
        if changed:
            selected, previous = dependants(user_sources, changed), last
    while True:
        # Code is generated for the selected files only.
        settings = {**SETTINGS, "outputSelection": {unit: SETTINGS["outputSelection"]["*"]
                                                    for unit in selected}}
        count = count_contracts({unit: user_sources[unit] for unit in selected})
        message = (f"compiling {count} contract{'s' if count != 1 else ''} of {user_dir} "
                   f"(the project's {len(project_manifest['contracts'])} are reused)")
        output, version = _run_solc(root, sources, settings, user_dir,
                                    announce=None if quiet else message)
        renumber, source_ids = _numbering(output, project_ids)
        if previous is None or (previous[1].get("sourceIds") == source_ids
                                and previous[1].get("compiler") == version):
            break
        selected, previous = sorted(user_sources), None  # renumbered sources: compile them all
    names, artifacts, warnings = _artifacts(output, user_sources, user_dir, digest, version)
    for artifact in artifacts.values():
        artifact["deployedSourceMap"] = renumber(artifact["deployedSourceMap"])
    if previous is not None:
        entry, last_manifest = previous
        for name, unit in last_manifest["user_contracts"].items():
            if unit in selected:
                continue
            if name in artifacts:
                raise CompileError(_user_paths([f"{artifacts[name]['sourceName']}:0:0: error: "
                                                f"duplicate contract name {name}"], user_dir))
            artifact = json.loads((entry / f"{name}.json").read_text())
            artifacts[name] = {**artifact, "inputHash": digest}
            names.append(name)
    clash = sorted(set(names) & set(project_manifest["contracts"]))
    if clash:
        source = artifacts[clash[0]]["sourceName"]
        raise CompileError(_user_paths([f"{source}:0:0: error: duplicate contract name "
                                        f"{clash[0]} (the project has one)"], user_dir))
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*.json"):
        stale.unlink()
    for name in project_manifest["contracts"]:
        _link_or_copy(project / f"{name}.json", out_dir / f"{name}.json")
    for name, artifact in artifacts.items():
        (out_dir / f"{name}.json").write_text(json.dumps(artifact, indent=1))
    every = sorted([*project_manifest["contracts"], *names])
    (out_dir / MANIFEST).write_text(json.dumps(
        {"input_hash": digest, "compiler": version, "contracts": every, "warnings": warnings,
         "sourceIds": source_ids, "project": str(project), "project_hash": project_hash,
         "user_sources": hashes, "compiled": selected,
         "user_contracts": {name: artifacts[name]["sourceName"] for name in sorted(names)}},
        indent=1))
    pointer = _last_entry_pointer(user_dir)
    try:
        pointer.parent.mkdir(parents=True, exist_ok=True)
        pointer.write_text(str(out_dir.resolve()))
    except OSError:
        pass  # a read-only cache: the next edit compiles every file of the directory
    prune_cache(keep=out_dir)
    return CompileResult(True, digest, every, warnings)


def _run_solc(root: Path, sources: dict[str, str], settings: dict[str, Any],
              user_dir: Path | None = None, announce: str | None = None) -> tuple[dict[str, Any], str]:
    """solc-js's standard-JSON output for ``sources`` and its version; raises
    :class:`CompileError` on errors. ``announce``: the progress line shown while it compiles
    (once the toolchain is found: a missing one is reported alone, in one line)."""
    command = solc_command(root)
    inputs = [{
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sources.items()},
        "settings": part,
    } for part in _split_outputs(settings, sources, compile_jobs())]
    with _progress(announce or "", quiet=announce is None):
        with ThreadPoolExecutor(len(inputs)) as pool:  # each waits on a solc-js process
            procs = list(pool.map(lambda standard_input: subprocess.run(
                command, input=json.dumps(standard_input), capture_output=True, text=True,
                check=False), inputs))
    for proc in procs:
        if proc.returncode != 0:
            raise CompileError([f"solc-js failed: {proc.stderr.strip()}"])
    output = _merge_outputs([json.loads(proc.stdout) for proc in procs])
    diagnostics = output.get("errors", [])
    errors = [_format_diagnostic(d, sources) for d in diagnostics if d["severity"] == "error"]
    if errors:
        warnings = [_format_diagnostic(d, sources) for d in diagnostics
                    if d["severity"] != "error"]
        raise CompileError(_user_paths(errors + warnings, user_dir))
    return output, procs[0].stderr.strip().splitlines()[-1]


def compile_jobs() -> int:
    """solc-js processes a compile runs side by side: ``PERPSIM_COMPILE_JOBS``, else one per
    core, at most 2 (each holds the whole build's sources and uses up to about 1 GB)."""
    configured = os.environ.get("PERPSIM_COMPILE_JOBS")
    if configured:
        try:
            jobs = int(configured)
        except ValueError:
            raise CompileError([f"PERPSIM_COMPILE_JOBS: a number of processes, got {configured!r}"])
        if jobs < 1:
            raise CompileError([f"PERPSIM_COMPILE_JOBS: at least 1, got {jobs}"])
        return jobs
    return max(1, min(2, os.cpu_count() or 1))


def _split_outputs(settings: dict[str, Any], sources: dict[str, str], jobs: int) -> list[dict[str, Any]]:
    """``settings`` once per solc-js process, each selecting the contract outputs of some of
    the sources (every process parses and checks them all; code is generated only for what is
    selected, and that is most of the time). The sources are dealt out by size, largest first,
    to the process with the least so far. The bytecode does not depend on the selection (the
    metadata leaves it out), so the artifacts are those of one process."""
    selected = settings["outputSelection"]
    if jobs <= 1 or set(selected) != {"*"} or len(sources) < 2:
        return [settings]
    outputs = selected["*"]
    loads: list[list[Any]] = [[0, []] for _ in range(min(jobs, len(sources)))]  # [size, names]
    for name in sorted(sources, key=lambda n: (-len(sources[n]), n)):
        lightest = min(loads, key=lambda load: load[0])
        lightest[0] += len(sources[name])
        lightest[1].append(name)
    return [{**settings, "outputSelection": {name: outputs for name in sorted(names)}}
            for _, names in loads]


def _merge_outputs(outputs: list[dict[str, Any]]) -> dict[str, Any]:
    """One standard-JSON output from those of processes that compiled the same sources with
    different output selections: their contracts together, the diagnostics once each (every
    process reports those of parsing and analysis)."""
    if len(outputs) == 1:
        return outputs[0]
    merged = {"sources": outputs[0].get("sources", {}), "contracts": {}, "errors": []}
    seen: set[str] = set()
    for output in outputs:
        for source, contracts in output.get("contracts", {}).items():
            merged["contracts"].setdefault(source, {}).update(contracts)
        for diagnostic in output.get("errors", []):
            key = json.dumps(diagnostic, sort_keys=True)
            if key not in seen:
                seen.add(key)
                merged["errors"].append(diagnostic)
    return merged


def _artifacts(output: dict[str, Any], sources: dict[str, str], user_dir: Path | None, digest: str,
               version: str) -> tuple[list[str], dict[str, dict[str, Any]], list[str]]:
    """The artifacts of the contracts of ``sources`` in solc's ``output``, and the warnings
    about those sources (a user's build: about the user's files only)."""
    diagnostics = [d for d in output.get("errors", []) if d["severity"] != "error"]
    if user_dir is not None:
        diagnostics = [d for d in diagnostics
                       if d.get("sourceLocation", {}).get("file", "") in sources]
    warnings = _user_paths([_format_diagnostic(d, sources) for d in diagnostics], user_dir)
    oversized = [
        f"{source}:0:0: error: {name} has {size:,} bytes of runtime code, over the EIP-170 "
        f"limit of {CODE_SIZE_LIMIT:,}"
        for source, contracts in output.get("contracts", {}).items() if source in sources
        for name, data in contracts.items()
        if (size := len(data["evm"]["deployedBytecode"]["object"]) // 2) > CODE_SIZE_LIMIT]
    if oversized:
        raise CompileError(_user_paths(oversized, user_dir))
    names: list[str] = []
    artifacts: dict[str, dict[str, Any]] = {}
    for source_name, contracts in output.get("contracts", {}).items():
        if source_name not in sources:
            continue  # imported library sources (OpenZeppelin) are not deployed on their own
        for name, data in contracts.items():
            if name in names:
                raise CompileError(_user_paths(
                    [f"{source_name}:0:0: error: duplicate contract name {name}"], user_dir))
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
    return names, artifacts, warnings


class _progress:
    """A "compiling ..." line on stderr (rich), with a spinner and the seconds elapsed while it
    runs when stderr is a terminal; nothing when ``quiet``."""

    def __init__(self, message: str, quiet: bool):
        self.message, self.quiet = message, quiet
        self._status: Optional[Status] = None

    def __enter__(self) -> "_progress":
        if self.quiet:
            return self
        try:
            from rich.console import Console  # function-level: see the except clause
        except ImportError:  # setup.py's build hook loads this module with the stdlib alone
            print(f"perpsim: {self.message}…", file=sys.stderr, flush=True)
            return self
        console = Console(stderr=True, highlight=False)
        console.print(f"perpsim: {self.message}…", markup=False, soft_wrap=True)
        if console.is_terminal:
            self._status = console.status(f"{self.message}…")
            self._status.__enter__()
        return self

    def __exit__(self, kind: Optional[type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        if self._status is not None:
            self._status.__exit__(kind, exc, tb)


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link to ``source`` (no space used), else a copy (another file system)."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _touch(directory: Path) -> None:
    """Mark a cache entry as just used (pruning removes the least recently used first)."""
    try:
        os.utime(directory / MANIFEST)
    except OSError:
        pass


#: How long a user's compiled artifacts stay in the cache unused, and how much room the
#: cache of compiled artifacts may take (a hard link to a project artifact costs nothing):
#: ``$PERPSIM_CACHE_MAX_AGE_DAYS`` and ``$PERPSIM_CACHE_MAX_MB`` override them.
CACHE_MAX_AGE_DAYS = 30.0
CACHE_MAX_MB = 200.0


def _entry_size(entry: Path) -> int:
    """Bytes only this entry holds (files hard-linked elsewhere are not counted)."""
    total = 0
    for path in entry.rglob("*"):
        try:
            stat = path.lstat()
        except OSError:
            continue
        if path.is_file() and stat.st_nlink == 1:
            total += stat.st_size
    return total


def _last_used(entry: Path) -> float:
    for path in (entry / MANIFEST, entry):
        try:
            return path.stat().st_mtime
        except OSError:
            continue
    return 0.0


def prune_cache(max_age_days: float | None = None, max_mb: float | None = None,
                keep: Path | None = None, now: float | None = None) -> list[Path]:
    """Remove compiled artifacts from the cache (``cache_root()/artifacts``): every entry unused
    for more than ``max_age_days`` (default ``$PERPSIM_CACHE_MAX_AGE_DAYS``, else 30), then the
    least recently used until the rest take at most ``max_mb`` (default
    ``$PERPSIM_CACHE_MAX_MB``, else 200). ``keep`` (the entry just written) is never removed.
    Returns the entries removed."""
    if max_age_days is None:
        max_age_days = float(os.environ.get("PERPSIM_CACHE_MAX_AGE_DAYS", CACHE_MAX_AGE_DAYS))
    if max_mb is None:
        max_mb = float(os.environ.get("PERPSIM_CACHE_MAX_MB", CACHE_MAX_MB))
    now = time.time() if now is None else now
    base = cache_root() / "artifacts"
    if not base.is_dir():
        return []
    keep = None if keep is None else Path(keep).resolve()
    entries = sorted((e for e in base.iterdir() if e.is_dir() and e.resolve() != keep),
                     key=_last_used)
    removed = []
    for entry in entries:
        if now - _last_used(entry) > max_age_days * 86_400:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    entries = [e for e in entries if e not in removed]
    sizes = {e: _entry_size(e) for e in entries}
    total = sum(sizes.values()) + (_entry_size(keep) if keep is not None and keep.is_dir() else 0)
    for entry in entries:  # least recently used first
        if total <= max_mb * 1_000_000:
            break
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
        total -= sizes[entry]
    return removed


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


def declared_error_names(out_dir: Path | None = None) -> frozenset[str]:
    """Every custom error name the artifacts in ``out_dir`` (the project's) declare."""
    out_dir = ARTIFACTS_DIR if out_dir is None else out_dir
    manifest = _read_manifest(out_dir) or {"contracts": []}
    names: set[str] = set()
    for name in manifest["contracts"]:
        abi = json.loads((out_dir / f"{name}.json").read_text())["abi"]
        names.update(item["name"] for item in abi if item.get("type") == "error")
    return frozenset(names)


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
#: (source file, text of the message). It comes from deliberate code: OpenZeppelin's
#: ``ReentrancyGuardTransient`` (Clearinghouse, OrderBook) keeps its lock in transient storage,
#: cleared at the end of each guarded call, the use solc's own note calls safe.
REVIEWED_WARNINGS = (
    ("@openzeppelin/contracts/utils/TransientSlot.sol",
     "Transient storage as defined by EIP-1153 can break the composability"),
)


def reported_warnings(warnings: list[str]) -> list[str]:
    """``warnings`` less the reviewed ones of :data:`REVIEWED_WARNINGS` (a user's never are)."""
    return [w for w in warnings
            if not any(w.startswith(f"{source}:") and text in w for source, text in REVIEWED_WARNINGS)]


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m protocol.build`` and ``perpsim compile``
    (``[--force] [--sizes] [--contracts DIR] [--check-bindings]``)."""
    args = sys.argv[1:] if argv is None else argv
    if "--check-bindings" in args:
        stale = generate_bindings(ARTIFACTS_DIR, check=True)
        if stale:
            print(f"bindings out of date: {', '.join(stale)}; run python -m protocol.build",
                  file=sys.stderr)
            return 1
        print("bindings current")
        return 0
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
    if user_dir is None:
        try:
            rewritten = generate_bindings(ARTIFACTS_DIR)
        except OSError as exc:  # a read-only install: its bindings came with its artifacts
            print(f"cannot write the bindings: {exc}", file=sys.stderr)
            return 1
        if rewritten:
            print(f"bindings rewritten: {', '.join(rewritten)}")
    if "--sizes" in args:
        out = None if user_dir is None else user_artifacts_dir(user_dir)
        print(size_table(code_sizes(out)))
    return 0
