"""The README's figures that the code can compute, recomputed: agent counts of the built-in
scenarios, the list of built-in scenarios, the contract size table, the pytest pin and (with
``--packages``) the wheel's and the sdist's sizes. ``tests/project/test_readme.py`` checks them, so they cannot drift.

    python scripts/readme_facts.py              # rewrite the stale figures in README.md
    python scripts/readme_facts.py --check      # list the stale ones, exit 1 if any
    python scripts/readme_facts.py --packages   # also build the wheel and sdist (about 20 s)

Each fact is a regular expression with one group, ``v``, around the figure in README.md, and a
function computing its text. A pattern that no longer matches is reported as stale too, so a
rewritten sentence cannot silently drop its figure.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
sys.path.insert(0, str(REPO))


@dataclass(frozen=True)
class Fact:
    """A figure in the README: ``pattern`` (group ``v`` is the figure) and ``compute`` (its text)."""

    name: str
    pattern: str
    compute: Callable[[], str]
    packages: bool = False  # needs a wheel and sdist build (``--packages``)


def population(scenario: str) -> dict[str, int]:
    """Agents of a built-in scenario by kind: ``{"traders": 190, "lp": 5}``."""
    from protocol.sim.loader import load_scenario

    counts = {"traders": 0, "lp": 0}
    for spec in load_scenario(scenario).agents:
        counts["lp" if spec.type == "lp" else "traders"] += spec.count
    return counts


def default_population() -> str:
    p = population("default")
    return f"{p['traders'] + p['lp']:,} agents: {p['traders']:,} traders and {p['lp']:,} LPs"


def agents(scenario: str) -> str:
    return f"{sum(population(scenario).values()):,}"


def cascade_shape() -> str:
    from protocol.sim.loader import load_scenario

    return f"{load_scenario('cascade').blocks:,} blocks, {agents('cascade')} agents"


def scenario_list() -> str:
    """The built-in scenarios, ``default`` first, then by name."""
    from protocol.sim.loader import builtin_scenarios

    names = sorted(builtin_scenarios(), key=lambda n: (n != "default", n))
    return ", ".join(f"`{n}`" for n in names)


def contract_sizes() -> str:
    from protocol.build import code_sizes, size_table

    return size_table(code_sizes())


def pytest_pin() -> str:
    """The dev extra's pytest requirement (``pytest==9.2.0``)."""
    import tomllib

    dev = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    return next(r for r in dev if re.match(r"pytest==", r))


_built: dict[str, int] = {}


def package_sizes() -> dict[str, int]:
    """Bytes of the wheel and the sdist ``python -m build`` makes of the repository now."""
    if not _built:
        with tempfile.TemporaryDirectory() as out:
            subprocess.run([sys.executable, "-m", "build", "--outdir", out, str(REPO)], check=True,
                           capture_output=True)
            for path in Path(out).iterdir():
                _built["wheel" if path.suffix == ".whl" else "sdist"] = path.stat().st_size
    return _built


def kilobytes(kind: str) -> str:
    """The size to the nearest 10 kB (the README itself is in both, so it moves a little)."""
    return f"{round(package_sizes()[kind] / 10_000) * 10:,}"


FACTS = (
    Fact("make demo's population", r"runs the `default` scenario on revm \((?P<v>[\d,]+ agents: "
         r"[\d,]+ traders and [\d,]+ LPs)", default_population),
    Fact("agents the invariant check reads",
         r"about [\d.]+ s on the `default` scenario's (?P<v>[\d,]+) agents", lambda: agents("default")),
    Fact("the cascade sweep's scenario", r"`cascade` scenario \((?P<v>[\d,]+ blocks, [\d,]+ agents)\)",
         cascade_shape),
    Fact("built-in scenarios", r"Built-in scenarios \(`protocol/sim/scenarios/\*\.toml`, "
         r"`perpsim scenarios` lists them\): (?P<v>(?:`[a-z0-9-]+`,\s+)*`[a-z0-9-]+`)\.", scenario_list),
    Fact("contract sizes", r"(?P<v>\| contract \| runtime bytes \|[^\n]*\n(?:\|[^\n]*\n)*\|[^\n]*)",
         contract_sizes),
    Fact("the audit toolkit's pytest", r"the `dev` extra pins `(?P<v>pytest==[\w.]+)`", pytest_pin),
    Fact("wheel size", r"The wheel is about (?P<v>[\d,]+) kB", lambda: kilobytes("wheel"), True),
    Fact("sdist size", r"the sdist about (?P<v>[\d,]+) kB", lambda: kilobytes("sdist"), True),
)


def _words(text: str) -> str:
    """``text`` with each run of whitespace as one space (a sentence may wrap anywhere)."""
    return re.sub(r"\s+", " ", text)


def stale(text: str, packages: bool = False) -> list[tuple[Fact, str | None, str]]:
    """``(fact, in the README or None when its sentence is gone, computed)`` for every fact that
    differs (package sizes only with ``packages``)."""
    out = []
    for fact in FACTS:
        if fact.packages and not packages:
            continue
        found = re.search(fact.pattern, text)
        value = fact.compute()
        shown = found.group("v") if found else None
        if shown is None or _words(shown) != _words(value):
            out.append((fact, shown, value))
    return out


def rewrite(text: str, packages: bool = False) -> str:
    """``text`` with every stale figure replaced by the computed one."""
    for fact, shown, value in stale(text, packages):
        if shown is None:
            raise SystemExit(f"README.md: the sentence of {fact.name!r} is gone "
                             f"(pattern {fact.pattern!r})")
        found = re.search(fact.pattern, text)
        text = text[:found.start("v")] + value + text[found.end("v"):]
    return text


def describe(shown: str | None, value: str) -> str:
    """One line: what the README has and what the code gives (the first differing line of a
    table)."""
    if shown is None:
        return "its sentence is gone from README.md"
    if "\n" in value:
        old, new = shown.splitlines(), value.splitlines()
        first = next((i for i, (a, b) in enumerate(zip(old, new)) if a != b), min(len(old), len(new)))
        return (f"line {first + 1} of the table: README has {old[first] if first < len(old) else None!r}, "
                f"the code gives {new[first] if first < len(new) else None!r}")
    return f"README has {shown!r}, the code gives {value!r}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="list stale figures, exit 1 if any")
    parser.add_argument("--packages", action="store_true", help="also build the wheel and sdist")
    args = parser.parse_args(argv)
    text = README.read_text(encoding="utf-8")
    found = stale(text, args.packages)
    for fact, shown, value in found:
        print(f"{fact.name}: " + describe(shown, value))
    if args.check:
        return 1 if found else 0
    if found:
        README.write_text(rewrite(text, args.packages), encoding="utf-8")
        print(f"README.md: {len(found)} figure(s) rewritten")
    else:
        print("README.md: every figure is current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
