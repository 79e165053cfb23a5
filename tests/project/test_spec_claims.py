"""Every "always / never / every" claim in docs/SPEC.md names the tests that check it.

docs/PROPERTIES.md holds the table: one row per claim, the claim quoted as SPEC words it, and the
tests (``file::function``) that would fail if it were false. This test keeps the two in step:
a claim added to SPEC without a row, a row whose claim SPEC no longer makes, or a row naming a
test that does not exist, each fails it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "docs" / "SPEC.md"
PROPERTIES = ROOT / "docs" / "PROPERTIES.md"
CLAIM_WORDS = re.compile(r"\b(always|never|every)\b", re.IGNORECASE)
# A sentence ends at ". " (or ";" / ":" before a list) followed by what starts a sentence; the
# abbreviations SPEC uses do not end one.
SENTENCE_END = re.compile(r"(?<=\.)(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\bvs\.)(?<!\.\.\.)\s+(?=[A-Z`(])")
TABLE_HEADING = "## SPEC claims and the tests that check them"
TEST_REF = re.compile(r"`((?:tests|examples)/[\w/]+\.py)::(\w+)`")


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\\|", "|")).strip()


def _units(markdown: str) -> list[tuple[str, str]]:
    """(section, paragraph or list item) pairs of a markdown page, tables and code left out."""
    section, units, current = "", [], []

    def flush():
        if current:
            units.append((section, _normal(" ".join(current))))
            current.clear()

    in_code = False
    for line in markdown.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            in_code = not in_code
            flush()
            continue
        if in_code or stripped.startswith("|"):
            flush()
            continue
        if stripped.startswith("#"):
            flush()
            section = stripped.lstrip("#").strip()
            continue
        if not stripped:
            flush()
            continue
        if re.match(r"^(?:[-*]|\d+\.)\s", stripped):  # a new list item
            flush()
            stripped = re.sub(r"^(?:[-*]|\d+\.)\s+", "", stripped)
        current.append(stripped)
    flush()
    return units


def spec_claims() -> list[tuple[str, str]]:
    """(section, sentence) of every SPEC sentence that says always, never or every."""
    claims = []
    for section, unit in _units(SPEC.read_text()):
        for sentence in SENTENCE_END.split(unit):
            if CLAIM_WORDS.search(sentence):
                claims.append((section, _normal(sentence)))
    return claims


def property_rows() -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(section, claim, [(file, test)]) rows of the claims table in docs/PROPERTIES.md."""
    text = PROPERTIES.read_text()
    assert TABLE_HEADING in text, f"{PROPERTIES} has no '{TABLE_HEADING}' section"
    table = text.split(TABLE_HEADING, 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in table.splitlines():
        if not line.startswith("|") or set(line) <= set("|- :"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if cells[0] == "§":
            continue
        section, claim, tests = cells
        rows.append((section, _normal(claim.strip('"')), TEST_REF.findall(tests)))
    return rows


def _defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def test_every_spec_claim_has_a_row():
    rows = {claim for _, claim, _ in property_rows()}
    missing = [f"[{section}] {claim}" for section, claim in spec_claims() if claim not in rows]
    assert not missing, "SPEC claims without a row in docs/PROPERTIES.md:\n" + "\n".join(missing)


def test_every_row_is_a_claim_spec_makes():
    claims = {claim for _, claim in spec_claims()}
    stale = [claim for _, claim, _ in property_rows() if claim not in claims]
    assert not stale, "rows whose claim SPEC no longer makes (word for word):\n" + "\n".join(stale)


def test_every_row_names_tests_that_exist():
    problems, cache = [], {}
    for _, claim, tests in property_rows():
        if not tests:
            problems.append(f"no test named for: {claim}")
        for file, name in tests:
            path = ROOT / file
            if not path.exists():
                problems.append(f"{file} does not exist (for: {claim[:60]})")
                continue
            defined = cache.setdefault(file, _defined_tests(path))
            if name not in defined:
                problems.append(f"{file}::{name} is not defined (for: {claim[:60]})")
    assert not problems, "\n".join(problems)


def test_the_claim_finder_finds_claims():
    """The parser itself: it must see list items, split sentences and skip tables and code."""
    sample = ("# T\n## 1. A\nFirst one. Rounding always favours the protocol, e.g. up. Next.\n"
              "- Every item counts.\n| never | in a table |\n```\nnever in code\n```\n")
    units = _units(sample)
    sentences = [s for _, u in units for s in SENTENCE_END.split(u) if CLAIM_WORDS.search(s)]
    assert sentences == ["Rounding always favours the protocol, e.g. up.", "Every item counts."]
