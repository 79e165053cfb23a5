"""Compiling mutants quickly: one long-lived solc-js per job, and only what a mutant changes.

A mutant of one file can only change the code of the contracts in that file and in the files
that import it, directly or not (its *dependants*). Each mutant is compiled with the project's
exact settings (:data:`protocol.build.SETTINGS`) but with output requested for its dependants
alone, so solc generates code for those and merely type-checks the rest; the compiler is loaded
once per job (the build's solc-js driver with ``--lines``), not once per mutant. A mutant whose dependants' code, the
metadata hash left out, equals the original's is *equivalent by bytecode*: no test can tell it.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from pathlib import Path
from typing import IO, Any, cast

from protocol.build import SETTINGS, CompileError, _format_diagnostic, solc_command
from protocol.build.scan import imports_of

#: solc's CBOR metadata trailer (ipfs hash + compiler version): it hashes the sources, so it
#: differs for every mutant even when the code does not.
_METADATA = re.compile(r"a264697066735822[0-9a-f]{68}64736f6c6343[0-9a-f]{6}0033")


def strip_metadata(code: str) -> str:
    """Bytecode (hex) without solc's metadata trailers."""
    return _METADATA.sub("", code.lower().removeprefix("0x"))


def dependants(sources: dict[str, str], name: str) -> list[str]:
    """``name`` and every source unit of ``sources`` that imports it, directly or not."""
    importers: dict[str, set[str]] = {}
    for unit, text in sources.items():
        for target in imports_of(unit, text):
            importers.setdefault(target, set()).add(unit)
    seen, todo = {name}, [name]
    while todo:
        for unit in importers.get(todo.pop(), ()):
            if unit not in seen:
                seen.add(unit)
                todo.append(unit)
    return sorted(seen)


class SolcServer:
    """A solc-js process that compiles standard-JSON inputs one after another."""

    def __init__(self, root: Path):
        self._proc = subprocess.Popen(solc_command(root, lines=True), stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def compile(self, standard_input: dict[str, Any]) -> dict[str, Any]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(standard_input) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise CompileError([f"solc-js stopped (exit {self._proc.poll()})"])
        output: dict[str, Any] = json.loads(line)
        return output

    def close(self) -> None:
        if self._proc.poll() is None:
            cast(IO[str], self._proc.stdin).close()  # a pipe: stdin=PIPE
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()


class MutantCompiler:
    """Compiles variants of a fixed set of sources (unit name -> text), each with output for the
    dependants of the one file that changed. ``root`` is where ``node_modules`` is looked up."""

    def __init__(self, sources: dict[str, str], root: Path, artifacts: Path | None = None):
        self.sources = dict(sources)
        self.root = root
        #: Artifacts compiled from ``sources`` with the same settings (``protocol.build``): the
        #: original code is read from there instead of compiled again, when they hold it.
        self.artifacts = artifacts
        self._server: SolcServer | None = None
        self._original: dict[str, dict[str, dict[str, Any]]] = {}

    def code(self, changed: str, text: str | None = None) -> dict[str, dict[str, Any]]:
        """Contract name -> ``{"bytecode", "deployedBytecode", "linkReferences", "source"}``
        of every contract in ``changed``'s dependants, with ``changed`` replaced by ``text``
        (default: unchanged). Raises :class:`CompileError` when it does not compile."""
        if self._server is None:
            self._server = SolcServer(self.root)
        sources = dict(self.sources)
        if text is not None:
            sources[changed] = text
        settings = copy.deepcopy(SETTINGS)
        settings["outputSelection"] = {unit: {"*": [
            "evm.bytecode.object", "evm.bytecode.linkReferences", "evm.deployedBytecode.object",
            "evm.deployedBytecode.sourceMap", "evm.deployedBytecode.immutableReferences",
            "evm.deployedBytecode.linkReferences"]} for unit in dependants(sources, changed)}
        output = self._server.compile({"language": "Solidity", "settings": settings,
                                       "sources": {n: {"content": t} for n, t in sources.items()}})
        errors = [_format_diagnostic(d, sources) for d in output.get("errors", [])
                  if d["severity"] == "error"]
        if errors:
            raise CompileError(errors)
        return {name: {"bytecode": "0x" + data["evm"]["bytecode"]["object"],
                       "deployedBytecode": "0x" + data["evm"]["deployedBytecode"]["object"],
                       "linkReferences": data["evm"]["bytecode"].get("linkReferences", {}),
                       "deployedSourceMap": data["evm"]["deployedBytecode"].get("sourceMap", ""),
                       "immutableReferences": data["evm"]["deployedBytecode"].get("immutableReferences", {}),
                       "deployedLinkReferences": data["evm"]["deployedBytecode"].get("linkReferences", {}),
                       "source": unit}
                for unit, contracts in output.get("contracts", {}).items() if unit in sources
                for name, data in contracts.items()}

    def original(self, changed: str) -> dict[str, dict[str, Any]]:
        """:meth:`code` of the unchanged sources (computed once per file)."""
        if changed not in self._original:
            self._original[changed] = self.code(changed)
        return self._original[changed]

    def _from_artifacts(self, mutated: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]] | None:
        if self.artifacts is None:
            return None
        out: dict[str, dict[str, Any]] = {}
        for name, data in mutated.items():
            try:
                artifact = json.loads((self.artifacts / f"{name}.json").read_text())
            except (OSError, ValueError):
                return None
            if artifact.get("sourceName") != data["source"]:
                return None
            out[name] = artifact
        return out

    def changed_contracts(self, changed: str, mutated: dict[str, dict[str, Any]]) -> list[str]:
        """The contracts whose code (metadata left out) differs from the original's."""
        before = self._from_artifacts(mutated) or self.original(changed)
        return sorted(name for name, data in mutated.items()
                      if name not in before
                      or strip_metadata(data["deployedBytecode"]) != strip_metadata(before[name]["deployedBytecode"])
                      or strip_metadata(data["bytecode"]) != strip_metadata(before[name]["bytecode"]))

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None


def write_artifacts(out_dir: Path, code: dict[str, dict[str, Any]], names: list[str]) -> None:
    """Overwrite the code of ``names`` in the artifacts of ``out_dir``, with its source map and
    link and immutable references where the artifacts carry them (coverage reads them); the ABI
    and the rest are kept: mutants change no interface."""
    for name in names:
        path = out_dir / f"{name}.json"
        artifact = json.loads(path.read_text())
        for key in ("bytecode", "deployedBytecode", "linkReferences"):
            artifact[key] = code[name][key]
        for key in ("deployedSourceMap", "immutableReferences", "deployedLinkReferences"):
            if key in artifact:
                artifact[key] = code[name][key]
        path.write_text(json.dumps(artifact, indent=1))
