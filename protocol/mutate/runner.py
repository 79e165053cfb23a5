"""Running mutants: compile each, drop the invalid and the equivalent, test the rest in parallel.

For every mutant, in one of ``jobs`` scratch copies (:class:`~protocol.mutate.workspace.Workspace`):

1. marked equivalent in the equivalents file -> ``equivalent`` (nothing runs);
2. compiled by the job's long-lived solc with output for the mutated file's dependants only
   (:mod:`protocol.mutate.compiler`): a compile error -> ``invalid``;
3. code (metadata aside) equal to the original's -> ``equivalent`` (by bytecode, exact);
4. otherwise the mutated source and its contracts' new code go into the copy's artifacts and
   the tests run with ``-x``, the test files that name the mutated file's contracts first:
   a failure -> ``killed``, none -> ``survived``, too long -> ``timeout``.

The copy is restored after each mutant. Before any mutant, the tests run once unmutated and must
pass. The score is killed (timeouts included) over killed + survived + timeout.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, cast

from protocol.build import (
    USER_PREFIX,
    CompileError,
    _default_root,
    _sources,
    compile_contracts,
    input_hash,
    user_artifacts_dir,
)
from protocol.exceptions import PerpsimError

from .compiler import MutantCompiler, write_artifacts
from .generate import Equivalent, Mutant, mutants_of
from .operators import SourceInfo
from .workspace import Workspace

STATUSES = ("killed", "survived", "equivalent", "invalid", "timeout")
_FAIL_RE = re.compile(r"^(FAILED|ERROR) (\S+)", re.M)
_CONTRACT_RE = re.compile(r"^\s*(?:abstract\s+)?(?:contract|library)\s+([A-Za-z_]\w*)", re.M)


class MutateError(PerpsimError, ValueError):
    """Mutation testing cannot start (bad paths, failing tests, no artifacts); one line."""


@dataclass
class Outcome:
    """What became of one mutant."""

    mutant: Mutant
    status: str
    killer: str = ""
    seconds: float = 0.0
    detail: str = ""
    diff: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {**self.mutant.to_dict(), "status": self.status, "killer": self.killer,
                "seconds": round(self.seconds, 2), "detail": self.detail, "diff": self.diff}


@dataclass
class Report:
    """Every outcome, with the baseline test time and the counts."""

    outcomes: list[Outcome]
    baseline_seconds: float = 0.0
    seconds: float = 0.0
    jobs: int = 1

    def counts(self) -> dict[str, int]:
        return {s: sum(o.status == s for o in self.outcomes) for s in STATUSES}

    def score(self) -> float | None:
        """Killed (timeouts included) over the non-equivalent valid mutants; None if none."""
        c = self.counts()
        valid = c["killed"] + c["timeout"] + c["survived"]
        return (c["killed"] + c["timeout"]) / valid if valid else None

    def to_dict(self) -> dict[str, Any]:
        return {"counts": self.counts(), "score": self.score(), "jobs": self.jobs,
                "baseline_seconds": round(self.baseline_seconds, 2),
                "seconds": round(self.seconds, 2),
                "mutants": [o.to_dict() for o in self.outcomes]}

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1))


@dataclass
class Target:
    """What is mutated and how it is tested.

    ``base`` is the directory copied for each job; ``files`` the files mutated, relative to
    ``base`` (mutants name them so); ``units`` their solc source unit names; ``sources`` every
    source unit compiled with them; ``tests`` the pytest paths relative to ``base``."""

    base: Path
    files: list[str]
    units: dict[str, str]
    sources: dict[str, str]
    compile_root: Path
    tests: list[str]
    pytest_args: list[str] = field(default_factory=list)
    user_dir: str | None = None  # relative to base, for users' contracts
    #: A per-file test map: mutated file -> the test paths that run first for its mutants.
    first: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def repository(cls, root: Path, files: Iterable[str], tests: Iterable[str],
                   pytest_args: Iterable[str] = ()) -> "Target":
        """The project's own contracts: ``files`` under ``root/contracts``, tests of ``root``."""
        root = root.resolve()
        sources = _sources(root / "contracts")
        files = list(files)
        for f in files:
            if f not in sources:
                raise MutateError(f"{f}: not a .sol file under {root / 'contracts'}")
        tests = list(tests)
        for t in tests:
            if not (root / t.split("::")[0]).exists():
                raise MutateError(f"{t}: no such test file or directory under {root}")
        return cls(root, files, {f: f for f in files}, sources, root, tests, list(pytest_args))

    @classmethod
    def user(cls, contracts_dir: Path, tests: Iterable[Path],
             pytest_args: Iterable[str] = ()) -> "Target":
        """A user's contracts (compiled with the project's, as ``perpsim run --contracts``
        does) and their tests: the copy is their common parent directory."""
        if not contracts_dir.is_dir():
            raise MutateError(f"{contracts_dir}: no such directory of contracts")
        contracts_dir = contracts_dir.resolve()
        sol = sorted(contracts_dir.rglob("*.sol"))
        if not sol:
            raise MutateError(f"{contracts_dir}: no .sol files")
        tests = [Path(t).resolve() for t in tests]
        if not tests:
            raise MutateError("no tests given: pass --tests PATH")
        for t in tests:
            if not t.exists():
                raise MutateError(f"{t}: no such test file or directory")
        base = Path(os.path.commonpath([contracts_dir, *[t if t.is_dir() else t.parent for t in tests]]))
        root = _default_root()
        sources = _sources(root / "contracts")
        units = {}
        for path in sol:
            unit = USER_PREFIX + path.relative_to(contracts_dir).as_posix()
            units[path.relative_to(base).as_posix()] = unit
            sources[unit] = path.read_text()
        return cls(base, list(units), units, sources, root,
                   [t.relative_to(base).as_posix() or "." for t in tests], list(pytest_args),
                   contracts_dir.relative_to(base).as_posix() or ".")

    def mutants(self, operators: Iterable[str] | None = None) -> list[Mutant]:
        """Every mutant of :attr:`files`, struct fields and functions read from all sources."""
        info = SourceInfo.from_sources(self.sources.values())
        ops = None if operators is None else list(operators)
        return [m for f in self.files
                for m in mutants_of(f, self.sources[self.units[f]], info, ops)]

    def ordered_tests(self, mutant: Mutant) -> list[str]:
        """:attr:`tests`, those :attr:`first` maps the mutated file to first, then those naming
        a contract of the mutated file (or the file) most often, then the rest as given."""
        text = self.sources[self.units[mutant.file]]
        names = set(_CONTRACT_RE.findall(text)) | {Path(mutant.file).stem}

        def mentions(test: str) -> int:
            path = self.base / test.split("::")[0]
            if not path.is_file():
                return 0
            body = path.read_text(errors="replace")
            return sum(body.count(n) for n in names)
        first = [t for t in self.first.get(mutant.file, []) if t not in self.tests]
        return first + sorted(self.tests, key=lambda t: (t not in self.first.get(mutant.file, []),
                                                         -mentions(t)))


class _Job:
    """One scratch copy, its compiler and its unmutated artifacts."""

    def __init__(self, target: Target, path: Path):
        self.target = target
        repo = target.user_dir is None
        self.ws = Workspace.create(target.base, path, extra=("protocol/artifacts",) if repo else (),
                                   pythonpath=repo)
        if repo:
            self.artifacts = self.ws.path / "protocol" / "artifacts"
            compile_contracts(root=self.ws.path, out_dir=self.artifacts)  # a no-op when current
        else:
            self.user_path = self.ws.path / cast(str, target.user_dir)  # not the repository's: given
            compile_contracts(root=target.compile_root, user_dir=self.user_path)
            self.artifacts = user_artifacts_dir(self.user_path, target.compile_root)
        self.original_artifacts = self.ws.path.parent / f"{path.name}-original"
        shutil.copytree(self.artifacts, self.original_artifacts)  # never written to
        self.compiler = MutantCompiler(target.sources, target.compile_root, self.original_artifacts)

    def close(self) -> None:
        self.compiler.close()

    def run(self, mutant: Mutant, timeout: float | None) -> Outcome:
        start = time.monotonic()
        unit = self.target.units[mutant.file]
        original = self.target.sources[unit]
        diff = mutant.diff(original)
        mutated = mutant.apply(original)
        try:
            code = self.compiler.code(unit, mutated)
        except CompileError as exc:
            first = next((m for m in exc.messages if "rror" in m), exc.messages[0])
            return Outcome(mutant, "invalid", seconds=time.monotonic() - start, detail=first, diff=diff)
        changed = self.compiler.changed_contracts(unit, code)
        if not changed:
            return Outcome(mutant, "equivalent", seconds=time.monotonic() - start,
                           detail="same bytecode", diff=diff)
        path = self.ws.path / mutant.file
        saved = {name: (self.artifacts / f"{name}.json").read_text() for name in changed
                 if (self.artifacts / f"{name}.json").exists()}
        out_dir = self.artifacts
        try:
            path.write_text(mutated)
            if self.target.user_dir is not None:
                out_dir = user_artifacts_dir(self.user_path, self.target.compile_root)
                shutil.copytree(self.artifacts, out_dir, dirs_exist_ok=True)
                manifest = json.loads((out_dir / "manifest.json").read_text())
                manifest["input_hash"] = input_hash(self.target.compile_root, self.user_path)
                (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1))
            write_artifacts(out_dir, code, [n for n in changed if (out_dir / f"{n}.json").exists()])
            rc, out = self.ws.pytest(self.target.ordered_tests(mutant), self.target.pytest_args, timeout)
        finally:
            path.write_text(original)
            if out_dir != self.artifacts:
                shutil.rmtree(out_dir, ignore_errors=True)
            for name, text in saved.items():
                (self.artifacts / f"{name}.json").write_text(text)
        secs = time.monotonic() - start
        if rc is None:
            return Outcome(mutant, "timeout", seconds=secs, detail=f"> {timeout:.0f} s", diff=diff)
        if rc == 0:
            return Outcome(mutant, "survived", seconds=secs, diff=diff)
        failed = _FAIL_RE.findall(out)
        if failed:
            return Outcome(mutant, "killed", killer=failed[0][1], seconds=secs, diff=diff)
        tail = " ".join(out.strip().splitlines()[-1:])[:200]
        return Outcome(mutant, "killed", killer=f"pytest exit {rc}", seconds=secs, detail=tail, diff=diff)


def run(target: Target, mutants: list[Mutant], *, jobs: int = 1,
        equivalents: dict[str, Equivalent] | None = None, timeout: float | None = None,
        scratch: Path | None = None, keep: bool = False,
        progress: Callable[[Outcome, int, int], None] | None = None) -> Report:
    """Run ``mutants`` of ``target`` in ``jobs`` parallel copies; see the module docstring.

    ``timeout`` (seconds per mutant's tests) defaults to three times the unmutated run plus a
    minute. Raises :class:`MutateError` when the unmutated tests fail or time out."""
    equivalents = equivalents or {}
    started = time.monotonic()
    outcomes: list[Outcome] = []
    todo = []
    for m in mutants:
        if m.id in equivalents:
            outcomes.append(Outcome(m, "equivalent", detail=f"marked: {equivalents[m.id].reason}",
                                    diff=m.diff(target.sources[target.units[m.file]])))
            if progress:
                progress(outcomes[-1], len(outcomes), len(mutants))
        else:
            todo.append(m)
    base = Path(tempfile.mkdtemp(prefix="perpsim-mutate-", dir=scratch))
    created: list[_Job] = []
    baseline = 0.0
    try:
        if todo:
            jobs = max(1, min(jobs, len(todo)))
            created = [_Job(target, base / f"job{i}") for i in range(jobs)]
            t0 = time.monotonic()
            rc, out = created[0].ws.pytest(target.tests, target.pytest_args, None, stop_first=False)
            baseline = time.monotonic() - t0
            if rc != 0:
                failed = _FAIL_RE.findall(out)
                what = failed[0][1] if failed else " ".join(out.strip().splitlines()[-1:])[:200]
                raise MutateError(f"the tests fail on the unmutated contracts (exit {rc}): {what}")
            limit = timeout if timeout is not None else 3 * baseline + 60
            pool: queue.Queue[_Job] = queue.Queue()
            for job in created:
                pool.put(job)
            lock = threading.Lock()

            def task(m: Mutant) -> None:
                job = pool.get()
                try:
                    outcome = job.run(m, limit)
                finally:
                    pool.put(job)
                with lock:
                    outcomes.append(outcome)
                    if progress:
                        progress(outcome, len(outcomes), len(mutants))

            with ThreadPoolExecutor(max_workers=jobs) as ex:
                for f in [ex.submit(task, m) for m in todo]:
                    f.result()
    finally:
        for job in created:
            job.close()
        if not keep:
            shutil.rmtree(base, ignore_errors=True)
    order = {m.id: i for i, m in enumerate(mutants)}
    outcomes.sort(key=lambda o: order[o.mutant.id])
    return Report(outcomes, baseline, time.monotonic() - started, max(1, len(created)))
