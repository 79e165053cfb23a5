"""Line and branch coverage of the Solidity contracts, from the program counters the EVM executed.

While a :class:`Collector` is active (:func:`collecting`), every transaction a chain sends (views
are not counted) records, for each piece of runtime code it ran, how often each program counter
executed and which way each ``JUMPI`` went:

- **pyevm**: py-evm's computations read their opcodes through a recording table
  (:mod:`protocol.chain.pyevm`), which sees the program counter and the stack;
- **revm**: the transaction runs under pyrevm's EIP-3155 tracer and its steps are read back
  (:func:`Collector.add_steps`); the tracer costs about 2.4 ms an opcode step, so coverage on
  revm suits tests, not long campaigns (use pyevm for those: it costs next to nothing).

Hits are keyed by the code that ran (a DELEGATECALL counts against the library's code, not the
caller's), so they are the same on both EVMs. :meth:`Collector.report` then matches each code to
its artifact (bytes equal except immutables and linked library addresses), maps program counter
-> instruction index (PUSH data skipped) -> solc's runtime source map entry -> source range ->
the line it starts on. A line's count is the most any of its instructions ran. A branch is a
``JUMPI``, attributed to the source range of its condition; each has two outcomes, jumped and
fell through. JUMPIs solc attributes to a whole contract or function (its dispatcher, call-value
and calldata checks) are not branches of the source. Ranges in the compiler's generated Yul
(source ids the build did not list) and in imported packages (OpenZeppelin) are left out: the
report covers ``contracts/`` and a user's ``--contracts`` directory, the files of the code that
ran.
"""

from __future__ import annotations

import bisect
import contextlib
import html
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, cast

from rich.table import Table

from protocol.build import ARTIFACTS_DIR, MANIFEST, USER_PREFIX, _default_root, user_artifacts_dir
from protocol.chain import hooks
from protocol.chain.bytecode import instruction_offsets
from protocol.errors import ChainError

_JUMPI = 0x57
_DEFINITION = re.compile(rb"(abstract\s+contract|contract|library|interface|function|modifier|"
                         rb"constructor|fallback|receive)\b")
_PLACEHOLDER = re.compile(r"__\$[0-9a-fA-F]{34}\$__")
#: EIP-3155 ops that start a frame running another address's code (the callee is the 2nd word).
_CALLS = {0xF1, 0xF2, 0xF4, 0xFA}  # CALL, CALLCODE, DELEGATECALL, STATICCALL
_CREATES = {0xF0, 0xF5}


class Collector:
    """Program counter hits and JUMPI outcomes per runtime code, across transactions."""

    def __init__(self) -> None:
        #: code -> execution count per program counter.
        self.hits: dict[bytes, list[int]] = {}
        #: code -> {pc of a JUMPI: [times taken, times not taken]}.
        self.jumps: dict[bytes, dict[int, list[int]]] = {}
        self.transactions = 0

    def counters(self, code: bytes) -> tuple[list[int], dict[int, list[int]]]:
        """The hit counts and JUMPI outcomes of ``code``, created on first use."""
        hits = self.hits.get(code)
        if hits is None:
            hits = self.hits[code] = [0] * (len(code) + 1)
            self.jumps[code] = {}
        return hits, self.jumps[code]

    def add_steps(self, steps: list[str], code_at: Callable[[str], bytes],
                  to: Optional[str]) -> None:
        """Count the EIP-3155 ``steps`` (JSON lines) of one transaction sent to ``to`` (None for
        a deployment, whose constructor code is not counted); ``code_at(address)`` gives the
        runtime code of an address after the transaction."""
        frames: list[Optional[tuple[list[int], dict[int, list[int]]]]] = []
        base = None
        pending: Optional[tuple[int, Optional[str]]] = None  # (depth, code address) of a call
        for line in steps:
            if not line.startswith('{"pc"'):
                continue
            step = json.loads(line)
            depth = step["depth"]
            if base is None:
                base = depth
                frames.append(self.counters(code_at(to)) if to else None)
            level = depth - base + 1
            if level > len(frames):  # the first step of a callee
                address = pending[1] if pending and pending[0] == level - 1 else None
                frames.append(self.counters(code_at(address)) if address else None)
            while level < len(frames):
                frames.pop()
            pending = None
            op = step["op"]
            counters = frames[-1]
            if counters is not None:
                hits, jumps = counters
                pc = step["pc"]
                hits[pc] += 1
                if op == _JUMPI:
                    outcome = jumps.setdefault(pc, [0, 0])
                    outcome[0 if int(step["stack"][-2], 16) else 1] += 1
            if op in _CALLS:
                pending = (level, "0x" + step["stack"][-2][2:].rjust(40, "0")[-40:])
            elif op in _CREATES:
                pending = (level, None)
        self.transactions += 1

    def report(self, artifacts_dir: Optional[Path] = None, root: Optional[Path] = None,
               user_dir: Optional[Path] = None) -> "CoverageReport":
        """Map the hits through the artifacts' source maps (the project's by default, or those
        of a venue compiled with ``user_dir``) onto the sources under ``root``."""
        return CoverageReport.build(self, SourceMaps.load(artifacts_dir, root, user_dir))


@contextlib.contextmanager
def collecting(collector: Optional[Collector] = None) -> Iterator[Collector]:
    """Context: every transaction of every chain (pyevm and revm) records its coverage into
    ``collector`` (a new one by default)."""
    collector = Collector() if collector is None else collector
    previous, hooks.COVERAGE = hooks.COVERAGE, collector
    try:
        yield collector
    finally:
        hooks.COVERAGE = previous


# ----------------------------------------------------------------------------- source maps
@dataclass(frozen=True)
class Source:
    """A source file: its text and where its lines start (byte offsets: solc counts bytes)."""

    name: str
    text: str
    data: bytes
    starts: tuple[int, ...]

    @classmethod
    def of(cls, name: str, text: str) -> "Source":
        data = text.encode()
        starts = [0] + [i + 1 for i, b in enumerate(data) if b == 0x0A]
        return cls(name, text, data, tuple(starts))

    def is_definition(self, start: int) -> bool:
        """Whether the range at ``start`` is a whole contract, function or modifier: the JUMPIs
        solc attributes to one are its own checks (dispatch, call value, ABI decoding)."""
        return _DEFINITION.match(self.data, start) is not None

    def line(self, offset: int) -> int:
        """The 1-based line holding byte ``offset``."""
        return bisect.bisect_right(self.starts, offset)

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()


@dataclass
class ContractMap:
    """One artifact's runtime code and, per program counter, its source location."""

    name: str
    code: bytes  # placeholders zeroed
    mask: tuple[tuple[int, int], ...]  # (start, length) of bytes that differ once deployed
    #: pc -> (source name, start byte, length) for instructions in covered sources.
    locations: dict[int, tuple[str, int, int]]
    #: pc of each JUMPI in covered sources -> its branch key (source, start, length, ordinal).
    branches: dict[int, tuple[str, int, int, int]]

    def matches(self, code: bytes) -> bool:
        if len(code) != len(self.code):
            return False
        return _masked(code, self.mask) == self.code


def _masked(code: bytes, mask: tuple[tuple[int, int], ...]) -> bytes:
    if not mask:
        return code
    data = bytearray(code)
    for start, length in mask:
        data[start:start + length] = bytes(length)
    return bytes(data)


def decompress(source_map: str) -> list[tuple[int, int, int, str]]:
    """solc's compressed source map as (start, length, source id, jump) per instruction."""
    entries: list[tuple[int, int, int, str]] = []
    last: list[Any] = [-1, -1, -1, "-"]  # the fields carried over from the previous entry
    for item in source_map.split(";") if source_map else []:
        fields = item.split(":")
        for i, value in enumerate(fields[:4]):
            if value != "":
                last[i] = value if i == 3 else int(value)
        entries.append((last[0], last[1], last[2], last[3]))
    return entries


def _covered(name: str) -> bool:
    """Sources the report covers: the project's and a user's, not imported packages."""
    return name.startswith("contracts/") or name.startswith(USER_PREFIX)


@dataclass
class SourceMaps:
    """Every artifact's source map, with the source texts they point into."""

    contracts: list[ContractMap]
    sources: dict[str, Source]
    _by_code: dict[bytes, Optional[ContractMap]] = field(default_factory=dict)

    @classmethod
    def load(cls, artifacts_dir: Optional[Path] = None, root: Optional[Path] = None,
             user_dir: Optional[Path] = None) -> "SourceMaps":
        root = _default_root() if root is None else Path(root)
        if artifacts_dir is None:
            artifacts_dir = ARTIFACTS_DIR if user_dir is None else user_artifacts_dir(user_dir,
                                                                                    root)
        manifest = json.loads((Path(artifacts_dir) / MANIFEST).read_text())
        ids = manifest.get("sourceIds")
        if ids is None:
            raise ChainError(f"{artifacts_dir} has no source maps: run `perpsim compile --force`")
        names = {int(i): name for i, name in ids.items()}
        sources: dict[str, Source] = {}
        for name in names.values():
            if not _covered(name):
                continue
            # a user's source comes with its directory
            path = (Path(cast(Path, user_dir)) / name[len(USER_PREFIX):] if name.startswith(USER_PREFIX)
                    else root / name)
            if path.exists():  # a user's file is shown by its path, as compile errors are
                shown = f"{user_dir}/{name[len(USER_PREFIX):]}" if name.startswith(USER_PREFIX) \
                    else name
                sources[name] = Source.of(shown, path.read_text())
        contracts = []
        for contract in manifest["contracts"]:
            raw = json.loads((Path(artifacts_dir) / f"{contract}.json").read_text())
            built = _contract_map(contract, raw, names, sources)
            if built is not None:
                contracts.append(built)
        return cls(contracts, sources)

    def contract_for(self, code: bytes) -> Optional[ContractMap]:
        """The artifact whose runtime code ``code`` is, or None."""
        if code not in self._by_code:
            self._by_code[code] = next((c for c in self.contracts if c.matches(code)), None)
        return self._by_code[code]


def _contract_map(name: str, raw: dict[str, Any], names: dict[int, str],
                  sources: dict[str, Source]) -> Optional[ContractMap]:
    hexcode = raw.get("deployedBytecode", "0x")[2:]
    source_map = raw.get("deployedSourceMap", "")
    if not hexcode or not source_map:
        return None
    code = bytes.fromhex(_PLACEHOLDER.sub("0" * 40, hexcode))
    mask = [(ref["start"], ref["length"]) for refs in raw.get("immutableReferences", {}).values()
            for ref in refs]
    mask += [(ref["start"], ref["length"]) for libraries in
             raw.get("deployedLinkReferences", {}).values() for refs in libraries.values()
             for ref in refs]
    mask_t = tuple(sorted(mask))
    code = _masked(code, mask_t)
    locations: dict[int, tuple[str, int, int]] = {}
    branches: dict[int, tuple[str, int, int, int]] = {}
    ordinals: dict[tuple[str, int, int], int] = defaultdict(int)
    for pc, (start, length, source_id, _) in zip(instruction_offsets(code),
                                                 decompress(source_map)):
        source = names.get(source_id)
        if source is None or source not in sources or start < 0:
            continue
        where = (source, start, length)
        locations[pc] = where
        if code[pc] == _JUMPI and not sources[source].is_definition(start):
            branches[pc] = (*where, ordinals[where])
            ordinals[where] += 1
    return ContractMap(name, code, mask_t, locations, branches)


# ----------------------------------------------------------------------------- the report
@dataclass
class Branch:
    """One JUMPI: where its condition is, and how often it jumped and fell through (None:
    the JUMPI never executed)."""

    line: int
    start: int
    length: int
    taken: Optional[int]
    not_taken: Optional[int]

    @property
    def outcomes_hit(self) -> int:
        return sum(1 for n in (self.taken, self.not_taken) if n)


@dataclass
class FileCoverage:
    """Coverage of one source file: hits per executable line (0: never), and its branches."""

    name: str
    source: Source
    lines: dict[int, int]
    branches: list[Branch]

    @property
    def lines_hit(self) -> int:
        return sum(1 for n in self.lines.values() if n)

    @property
    def branches_total(self) -> int:
        return 2 * len(self.branches)

    @property
    def branches_hit(self) -> int:
        return sum(b.outcomes_hit for b in self.branches)

    def missed_branches(self) -> list[str]:
        """Every branch outcome never reached, as ``file:line `condition` (what)``, in source
        order; the JUMPIs of one condition that missed the same way are listed once, with
        their number (``×3``)."""
        missed: dict[str, int] = {}
        for b in self.branches:
            for label, count in (("jumped", b.taken), ("fell through", b.not_taken)):
                if not count:
                    what = "never executed" if b.taken is None else f"never {label}"
                    text = f"{self.name}:{b.line} {_snippet(self.source, b)} ({what})"
                    missed[text] = missed.get(text, 0) + 1
                    if b.taken is None:
                        break
        return [text if n == 1 else f"{text} ×{n}" for text, n in missed.items()]


def _snippet(source: Source, branch: Branch) -> str:
    data = source.data[branch.start:branch.start + branch.length].decode(errors="ignore")
    text = " ".join(data.split())
    return f"`{text[:60]}{'…' if len(text) > 60 else ''}`"


@dataclass
class CoverageReport:
    """Per-file line and branch coverage of the contracts whose code ran or was deployed."""

    files: dict[str, FileCoverage]
    transactions: int
    unknown_codes: int  # runtime codes that ran but match no artifact

    @classmethod
    def build(cls, collector: Collector, maps: SourceMaps) -> "CoverageReport":
        lines: dict[str, dict[int, int]] = defaultdict(dict)
        branch_hits: dict[str, dict[tuple[int, int, int], list[Optional[int]]]] = defaultdict(dict)
        unknown = 0
        for code, hits in collector.hits.items():
            contract = maps.contract_for(code)
            if contract is None:
                unknown += 1
                continue
            jumps = collector.jumps.get(code, {})
            # A line's count in one code is the most any of its instructions ran; codes that
            # hold the same line (a library inlined in two contracts) add up.
            counts: dict[tuple[str, int], int] = {}
            for pc, (name, start, _) in contract.locations.items():
                key = (name, maps.sources[name].line(start))
                counts[key] = max(counts.get(key, 0), hits[pc])
            for (name, line), count in counts.items():
                lines[name][line] = lines[name].get(line, 0) + count
            for pc, branch in contract.branches.items():
                entry = branch_hits[branch[0]].setdefault(branch[1:], [None, None])
                if hits[pc]:
                    taken, not_taken = jumps.get(pc, (0, 0))
                    entry[0] = (entry[0] or 0) + taken
                    entry[1] = (entry[1] or 0) + not_taken
        files = {}
        for name in sorted(lines):
            source = maps.sources[name]
            branches = [Branch(source.line(start), start, length, taken, not_taken)
                        for (start, length, _), (taken, not_taken)
                        in sorted(branch_hits[name].items())]
            files[source.name] = FileCoverage(source.name, source,
                                              dict(sorted(lines[name].items())), branches)
        return cls(files, collector.transactions, unknown)

    def file(self, name: str) -> FileCoverage:
        """The coverage of ``name`` (e.g. ``contracts/libraries/Solvency.sol``)."""
        return self.files[name]

    @property
    def totals(self) -> tuple[int, int, int, int]:
        """(lines hit, lines, branch outcomes hit, branch outcomes) over every file."""
        fs = self.files.values()
        return (sum(f.lines_hit for f in fs), sum(len(f.lines) for f in fs),
                sum(f.branches_hit for f in fs), sum(f.branches_total for f in fs))

    # ------------------------------------------------------------------------- output
    def write(self, directory: Path | str) -> Path:
        """Write ``lcov.info`` and the HTML report (``index.html``, a page per file) into
        ``directory``; returns the path of ``index.html``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "lcov.info").write_text(self.lcov())
        return write_html(self, directory)

    def lcov(self) -> str:
        """The report in lcov's tracefile format (``genhtml``, IDE gutters, Codecov read it):
        ``DA`` per line, ``BRDA`` per branch outcome (0 = jump taken, 1 = not taken; ``-``
        where its JUMPI never ran)."""
        out = ["TN:perpsim"]
        for f in self.files.values():
            out.append(f"SF:{f.name}")
            blocks: dict[int, int] = defaultdict(int)
            for b in f.branches:
                block = blocks[b.line]
                blocks[b.line] += 1
                for index, count in enumerate((b.taken, b.not_taken)):
                    out.append(f"BRDA:{b.line},{block},{index},"
                               f"{'-' if count is None else count}")
            out.append(f"BRF:{f.branches_total}")
            out.append(f"BRH:{f.branches_hit}")
            out.extend(f"DA:{line},{count}" for line, count in f.lines.items())
            out.append(f"LF:{len(f.lines)}")
            out.append(f"LH:{f.lines_hit}")
            out.append("end_of_record")
        return "\n".join(out) + "\n"

    def table(self, title: str = "Solidity coverage") -> Table:
        """A rich table: per file, lines hit/total and branch outcomes hit/total."""
        table = Table(title=title)
        table.add_column("file")
        for column in ("lines", "%", "branches", "%"):
            table.add_column(column, justify="right")
        rows = [(f.name, f.lines_hit, len(f.lines), f.branches_hit, f.branches_total)
                for f in self.files.values()]
        rows.append(("total", *self.totals))
        for i, (name, lh, lt, bh, bt) in enumerate(rows):
            table.add_row(name, f"{lh}/{lt}", _percent(lh, lt), f"{bh}/{bt}", _percent(bh, bt),
                          end_section=i == len(rows) - 2)
        return table


def _percent(hit: int, total: int) -> str:
    return f"{100 * hit / total:.1f}" if total else "-"


_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse}td,th{padding:2px 10px;text-align:right}
td:first-child,th:first-child{text-align:left}
.src{font-family:ui-monospace,monospace;font-size:13px;white-space:pre}
.src td{text-align:left;padding:0 6px}.src td.n,.src td.c{text-align:right;color:#777}
tr.hit td.s{background:#dfd}tr.miss td.s{background:#fcc}tr.part td.s{background:#ffd}
.b{font-size:11px;padding:0 3px;border-radius:3px;margin-left:2px}
.yes{background:#9d9}.no{background:#e88}
"""


def write_html(report: CoverageReport, directory: Path) -> Path:
    """Write ``index.html`` (the per-file table) and ``files/<name>.html`` (each source line
    coloured by coverage, with its hit count and each branch outcome taken or not)."""
    pages = directory / "files"
    pages.mkdir(parents=True, exist_ok=True)
    rows = []
    for f in report.files.values():
        page = f"files/{f.name.replace('/', '_')}.html"
        (directory / page).write_text(_file_page(f))
        rows.append(f"<tr><td><a href='{page}'>{html.escape(f.name)}</a></td>"
                    f"<td>{f.lines_hit}/{len(f.lines)}</td>"
                    f"<td>{_percent(f.lines_hit, len(f.lines))}</td>"
                    f"<td>{f.branches_hit}/{f.branches_total}</td>"
                    f"<td>{_percent(f.branches_hit, f.branches_total)}</td></tr>")
    lh, lt, bh, bt = report.totals
    rows.append(f"<tr><th>total</th><th>{lh}/{lt}</th><th>{_percent(lh, lt)}</th>"
                f"<th>{bh}/{bt}</th><th>{_percent(bh, bt)}</th></tr>")
    index = directory / "index.html"
    index.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>Solidity coverage</title>"
        f"<style>{_CSS}</style></head><body><h1>Solidity coverage</h1>"
        f"<p>{report.transactions:,} transactions. Lines and branches (JUMPI outcomes) from the "
        f"executed program counters, mapped through solc's source maps.</p>"
        f"<table id='summary'><tr><th>file</th><th>lines</th><th>%</th><th>branches</th>"
        f"<th>%</th></tr>{''.join(rows)}</table></body></html>")
    return index


def _file_page(f: FileCoverage) -> str:
    by_line: dict[int, list[Branch]] = defaultdict(list)
    for b in f.branches:
        by_line[b.line].append(b)
    rows = []
    for number, text in enumerate(f.source.lines, start=1):
        count = f.lines.get(number)
        branches = by_line.get(number, [])
        state = "" if count is None else "miss" if not count else \
            "part" if any(b.outcomes_hit < 2 for b in branches) else "hit"
        marks = "".join(
            f"<span class='b {'yes' if n else 'no'}' title='{label}: {n or 0} times'>"
            f"{'✓' if n else '✗'}</span>"
            for b in branches for label, n in (("jumped", b.taken),
                                               ("fell through", b.not_taken)))
        rows.append(f"<tr class='{state}' id='L{number}'><td class='n'>{number}</td>"
                    f"<td class='c'>{'' if count is None else count}</td>"
                    f"<td class='m'>{marks}</td><td class='s'>{html.escape(text)}</td></tr>")
    title = html.escape(f.name)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
            f"<style>{_CSS}</style></head><body><p><a href='../index.html'>index</a></p>"
            f"<h1>{title}</h1><p>lines {f.lines_hit}/{len(f.lines)}, branches "
            f"{f.branches_hit}/{f.branches_total}. Columns: line, times run, a ✓ or ✗ for each "
            f"JUMPI on the line, jumped then fell through (hover for counts). Green: run; red: "
            f"never; yellow: a branch on it went one way only.</p>"
            f"<table class='src'>{''.join(rows)}</table></body></html>")
