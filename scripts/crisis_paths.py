"""The crisis scenarios' figures, read from docs/CRISES.md: the one place they are written.

Each crisis in docs/CRISES.md has a ``Window:`` line (its first block's UTC time, block time and
length) and a table of pins: symbol, UTC time, block, price, role (start, pin, trough, recovery),
basis (cited, derived, assumed) and source. From those this script derives what the scenario file
``protocol/sim/scenarios/crisis-*.toml`` must hold, so the doc and the file cannot drift
(``tests/sim/test_crises.py`` checks one against the other):

- each symbol's ``initial_price`` (its block-0 pin) and bridge ``targets`` (its other pins);
- each symbol's bridge ``volatility``: the Parkinson estimate of the cited range from the start
  pin (the episode's high) to the trough, ln(high / low) / (2 sqrt(ln 2)), annualised over the
  days from start to trough, at least one (a range reported for a day is a day's range);
- the scenario ``seed``: the first seed from 1 up whose price path, as the engine draws it, has
  each symbol's lowest price exactly at its cited trough. A Brownian bridge through the pins can
  dip below the trough between pins; the search keeps the one path whose low is the cited one.

    python scripts/crisis_paths.py                   # every crisis: volatilities and the seed
    python scripts/crisis_paths.py crisis-2020-03-12 # one crisis
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "CRISES.md"

_HEADING = re.compile(r"^### `(crisis-[a-z0-9-]+)`")
_WINDOW = re.compile(r"^Window: (\d{4}-\d\d-\d\d \d\d:\d\d) UTC, (\d+) s blocks, ([\d,]+) blocks")
_TIME = "%Y-%m-%d %H:%M"


@dataclass(frozen=True)
class Pin:
    symbol: str
    time: datetime
    block: int
    price: Decimal
    role: str
    basis: str


@dataclass(frozen=True)
class Crisis:
    name: str
    start: datetime
    block_time: int
    blocks: int
    pins: tuple[Pin, ...]

    def symbols(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.symbol for p in self.pins))

    def of(self, symbol: str) -> list[Pin]:
        return [p for p in self.pins if p.symbol == symbol]

    def trough(self, symbol: str) -> Pin:
        (low,) = [p for p in self.of(symbol) if p.role == "trough"]
        return low

    def volatility(self, symbol: str) -> float:
        """The Parkinson estimate of start-to-trough range, annualised over at least a day,
        rounded to two decimals."""
        start, low = self.of(symbol)[0], self.trough(symbol)
        days = max((low.block * self.block_time) / 86_400, 1.0)
        per_range = math.log(start.price / low.price) / (2 * math.sqrt(math.log(2)))
        return round(per_range * math.sqrt(365 / days), 2)


def _utc(text: str) -> datetime:
    return datetime.strptime(text, _TIME).replace(tzinfo=timezone.utc)


def crises(doc: Path = DOC) -> dict[str, Crisis]:
    """Every crisis in ``doc``, by scenario name."""
    out: dict[str, Crisis] = {}
    name = window = None
    pins: list[Pin] = []

    def close() -> None:
        if name is not None:
            if window is None or not pins:
                raise ValueError(f"{doc}: {name} has no Window: line or no table of pins")
            out[name] = Crisis(name, *window, tuple(pins))

    for line in doc.read_text(encoding="utf-8").splitlines():
        heading = _HEADING.match(line)
        if heading or line.startswith("## "):
            close()
            name, window, pins = (heading.group(1) if heading else None), None, []
            continue
        if name is None:
            continue
        match = _WINDOW.match(line)
        if match:
            window = (_utc(match.group(1)), int(match.group(2)), int(match.group(3).replace(",", "")))
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if len(cells) >= 7 and cells[0] in ("BTC", "ETH"):
            pins.append(Pin(cells[0], _utc(cells[1].removesuffix(" UTC")), int(cells[2]),
                            Decimal(cells[3]), cells[4], cells[5]))
    close()
    return out


def _undercuts(bridge, blocks: int, block_time: int, seed: int, low: Decimal) -> bool:
    """Whether ``bridge``'s path goes clearly below ``low`` between its pins: the bridge's own
    float walk, step for step (``BrownianBridge.path`` without the Decimal prices), stopped at
    the first such step. A price more than a billionth under ``low`` quantises under it (every
    trough is above $5), so a True here is a path that fails; a False is checked exactly."""
    import random

    from protocol.constants import SECONDS_PER_YEAR

    rng = random.Random(seed)
    sd = bridge.volatility * math.sqrt(block_time / SECONDS_PER_YEAR)
    floor = math.log(low) + math.log1p(-1e-9)
    x, k = math.log(bridge.start), 0
    for pin_block, pin_price in sorted(bridge.pins(blocks).items()):
        target = math.log(pin_price)
        while k < pin_block - 1:
            left = pin_block - k
            x += (target - x) / left + sd * math.sqrt((left - 1) / left) * rng.gauss(0.0, 1.0)
            if x < floor:
                return True
            k += 1
        x, k = target, pin_block
    while k < blocks:
        x += -0.5 * sd * sd + sd * rng.gauss(0.0, 1.0)
        if x < floor:
            return True
        k += 1
    return False


def seed_for(crisis: Crisis, limit: int = 2_000_000) -> int:
    """The first seed >= 1 whose engine price path has every symbol's low at its trough."""
    sys.path.insert(0, str(REPO))
    from protocol.prices import BrownianBridge, derive_seed
    from protocol.sim.loader import load_scenario

    scenario = load_scenario(crisis.name)
    lows = {s: crisis.trough(s).price for s in crisis.symbols()}
    blocks, block_time = scenario.blocks, scenario.block_time
    # The engine draws combine(...).path(blocks, block_time, derive_seed(seed, 0)), which runs
    # source i with derive_seed(that, i): drawn here one source at a time, each first as its
    # float walk (fast, stopping at the first step under the trough), and only a seed every
    # source passes is drawn in full and checked exactly.
    sources = scenario.prices.sources
    for seed in range(1, limit):
        run_seed = derive_seed(seed, 0)
        if any(isinstance(src, BrownianBridge)
               and _undercuts(src, blocks, block_time, derive_seed(run_seed, i), lows[src.symbol])
               for i, src in enumerate(sources)):
            continue
        path = scenario.prices.path(blocks, block_time, run_seed)
        if all(min(path.series(s)) == low for s, low in lows.items()):
            return seed
    raise LookupError(f"{crisis.name}: no seed below {limit} keeps the low at the trough")


def main(argv: list[str]) -> int:
    found = crises()
    for name in argv or sorted(found):
        crisis = found[name]
        vols = ", ".join(f"{s} {crisis.volatility(s)}" for s in crisis.symbols())
        try:
            print(f"{name}: volatility {vols}; seed {seed_for(crisis)}")
        except LookupError as exc:
            print(exc)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
