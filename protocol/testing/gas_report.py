"""Gas used per contract function over a test session, like ``forge test --gas-report``.

:class:`GasReport` listens at the chain layer (:mod:`protocol.chain.hooks`), so every
transaction of every chain counts, whichever backend and whichever client sent it: deployments
as ``(deploy)``, calls by the function their selector names in the contract's ABI (library
functions by the compiler's method identifiers; unknown ones as ``0x<selector>``). Reverted
transactions count too, with the gas they used.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

from protocol.chain import hooks

if TYPE_CHECKING:
    from protocol.chain.base import Chain, Receipt

DEPLOY = "(deploy)"
COLUMNS = ("calls", "min", "mean", "max")


@dataclass
class GasStats:
    """Gas of one contract function's transactions; ``mean`` rounds down to whole gas."""

    calls: int = 0
    min: int = 0
    max: int = 0
    total: int = 0

    def add(self, gas: int) -> None:
        self.min = gas if not self.calls else min(self.min, gas)
        self.max = max(self.max, gas)
        self.calls += 1
        self.total += gas

    @property
    def mean(self) -> int:
        return self.total // self.calls


class GasReport:
    """Collects ``(contract, function) -> GasStats`` while :meth:`listening`."""

    def __init__(self) -> None:
        self.stats: dict[tuple[str, str], GasStats] = {}

    def record(self, chain: "Chain", receipt: "Receipt") -> None:
        registry = chain.registry
        if receipt.to is None:
            known = registry.contract_at(receipt.contract_address)
            contract = known.name if known else (receipt.contract_address or "?")
            function = DEPLOY
        else:
            known = registry.contract_at(receipt.to)
            contract = known.name if known else receipt.to
            selector = receipt.data[:4]
            if len(selector) < 4:
                function = "(no calldata)"
            else:
                function = (known.function_name(selector) if known else None) \
                    or f"0x{selector.hex()}"
        self.stats.setdefault((contract, function), GasStats()).add(receipt.gas_used)

    @contextlib.contextmanager
    def listening(self) -> Iterator["GasReport"]:
        with hooks.listening(self.record):
            yield self

    @property
    def transactions(self) -> int:
        return sum(s.calls for s in self.stats.values())

    def lines(self) -> list[str]:
        """The report as text: a table per contract (alphabetical), one row per function."""
        if not self.stats:
            return ["no transactions"]
        contracts = sorted({c for c, _ in self.stats})
        name_width = max(*(len(c) for c in contracts), *(len(f) + 2 for _, f in self.stats)) + 2
        width = max(10, *(len(str(s.total)) for s in self.stats.values()))
        out: list[str] = []
        for contract in contracts:
            header = f"{contract:<{name_width}}" + "".join(f"{c:>{width + 1}}" for c in COLUMNS)
            out += [header, "-" * len(header)]
            for (owner, function), s in sorted(self.stats.items()):
                if owner != contract:
                    continue
                out.append(f"  {function:<{name_width - 2}}" + "".join(
                    f"{v:>{width + 1}}" for v in (s.calls, s.min, s.mean, s.max)))
            out.append("")
        return out[:-1]
