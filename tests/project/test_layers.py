"""The Python layers (docs/ARCHITECTURE.md): every import goes down, none in a circle.

Read from the source with ``ast``: module-level and function-level imports alike (an import
inside a function is still a dependency, only a later one); imports under ``if TYPE_CHECKING``
are for annotations and do not count.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "protocol"

#: Bottom to top. A module may import from its own layer's package and from any lower layer.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("protocol.constants", "protocol.exceptions", "protocol.lifeline", "protocol.values"),  # stdlib only
    ("protocol.margin", "protocol.prices", "protocol.build"),  # reference model, price paths, solc
    ("protocol.errors", "protocol.mutate"),  # reverts as classes, by the artifacts' error names
    ("protocol.chain",),
    ("protocol.bindings",),  # typed contract handles, generated from the artifacts
    ("protocol.deploy",),
    ("protocol.venue",),
    ("protocol",),  # the package's face: Venue, MarketConfig, Receipt, Reverted
    ("protocol.keepers", "protocol.agents", "protocol.testing"),
    ("protocol.plugins",),
    ("protocol.sim",),
    ("protocol.pages",),  # the one presentation stack: page shell, charts, units
    ("protocol.report", "protocol.sweep", "protocol.bench"),
    ("protocol.serve",),
    ("protocol.cli",),
)
#: Imports inside functions, across the package: each defers a dependency (an optional extra,
#: a library only one output format needs, a backend chosen at run time) and says why in a
#: comment on its line or the line above.
FUNCTION_LEVEL_IMPORTS_AT_MOST = 10


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The package modules an import statement loads (a name imported from a package is its
    submodule when there is one, else the package)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".")
        if MODULES[module].name != "__init__.py":
            package = package[:-1]
        package = package[:len(package) - (node.level - 1)]
        base = ".".join(package + ([base] if base else []))
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]


def _imports() -> tuple[dict[str, set[str]], list[str]]:
    """module -> the package modules it imports; and where each function-level import is."""
    graph: dict[str, set[str]] = defaultdict(set)
    deferred: list[str] = []
    for module, path in MODULES.items():
        def visit(node: ast.AST, in_function: bool, type_only: bool) -> None:
            for child in ast.iter_child_nodes(node):
                function = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
                typing_block = type_only or (isinstance(child, ast.If)
                                             and "TYPE_CHECKING" in ast.unparse(child.test))
                if isinstance(child, (ast.Import, ast.ImportFrom)) and not type_only:
                    graph[module].update(t for t in _targets(module, child)
                                         if t in MODULES and t != module)
                    if in_function:
                        lines = source.splitlines()[child.lineno - 2:child.lineno]
                        why = any("#" in line for line in lines)
                        deferred.append(f"{path.relative_to(ROOT)}:{child.lineno}"
                                        + ("" if why else " (no comment saying why)"))
                visit(child, function, typing_block)

        source = path.read_text(encoding="utf-8")
        visit(ast.parse(source), False, False)
    return graph, deferred


def _layer(module: str) -> tuple[int, str]:
    """(layer index, package) of the longest layer name that ``module`` falls under."""
    best = (-1, "")
    for index, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > len(best[1]):
                best = (index, name)
    return best


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(MODULES):
        if v not in index:
            connect(v)
    return found


def test_every_module_has_a_layer():
    assert not [m for m in MODULES if _layer(m)[0] < 0]


def test_no_import_goes_up_a_layer():
    graph, _ = _imports()
    upward = sorted(f"{a} -> {b}" for a, targets in graph.items() for b in targets
                    if _layer(a)[1] != _layer(b)[1] and _layer(b)[0] >= _layer(a)[0])
    assert upward == []


def test_no_modules_import_each_other_in_a_circle():
    graph, _ = _imports()
    assert _circles(graph) == []


def test_the_checks_see_what_they_claim():
    # A circle and an upward import made up here are found: the checks can fail.
    graph = {"protocol.sim.engine": {"protocol.sim.crash"}, "protocol.sim.crash": {"protocol.sim.engine"}}
    assert _circles(graph) == [["protocol.sim.crash", "protocol.sim.engine"]]
    assert _layer("protocol.sim.result")[0] < _layer("protocol.report.frames")[0]
    assert _layer("protocol.venue.client") == (6, "protocol.venue")
    # Function-level imports are read (this one is deferred on purpose: pandas).
    _, deferred = _imports()
    assert any(d.startswith("protocol/sim/result.py:") for d in deferred)
    assert _targets("protocol.sim.crash", ast.parse("from .engine import Simulation").body[0]) == \
        ["protocol.sim.engine"]


def test_few_function_level_imports_each_saying_why():
    _, deferred = _imports()
    assert len(deferred) <= FUNCTION_LEVEL_IMPORTS_AT_MOST, "\n".join(deferred)
    assert [d for d in deferred if d.endswith("(no comment saying why)")] == []


#: The reference model: the Clearinghouse's parts and the rule modules' mirrors (the bounds table
#: and prb-math's pow are shared helpers, not mirrors of one contract).
MODEL_FILES = sorted([*(PACKAGE / "margin" / "model").glob("*.py"),
                      *(PACKAGE / "margin" / name for name in (
                          "rates.py", "requirements.py", "liquidation.py", "pricing.py",
                          "impact_pricing.py"))])


def test_the_reference_model_is_split_per_rule_each_file_under_300_lines():
    assert len(MODEL_FILES) > 10 and all(p.exists() for p in MODEL_FILES)
    long = {p.relative_to(PACKAGE).as_posix(): n for p in MODEL_FILES
            if (n := len(p.read_text(encoding="utf-8").splitlines())) >= 300}
    assert long == {}
