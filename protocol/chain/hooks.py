"""Listeners told of every transaction any chain executes, on every backend: the gas report
and the trace collector of the pytest plugin hook in here, below the venue, so transactions sent
by any client count."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Callable, Iterator, Optional, Protocol

if TYPE_CHECKING:
    from protocol.chain.base import Chain, Contract, Receipt


class CoverageRecorder(Protocol):
    """What a backend reports executed code to (:class:`protocol.testing.coverage.Collector`)."""

    transactions: int

    def counters(self, code: bytes) -> tuple[list[int], dict[int, list[int]]]:
        """Hit counts per program counter and JUMPI outcomes of ``code`` (pyevm counts into them)."""

    def add_steps(self, steps: list[str], code_at: Callable[[str], bytes], to: Optional[str]) -> None:
        """Count a transaction's EIP-3155 steps (revm)."""

Listener = Callable[["Chain", "Receipt"], None]

#: Called with ``(chain, receipt)`` after each transaction (deployments included), in order.
LISTENERS: list[Listener] = []

#: The coverage collector every transaction reports its executed program counters to, or None
#: (:func:`protocol.testing.coverage.collecting` sets it).
COVERAGE: Optional[CoverageRecorder] = None


#: Gives each contract handle a chain makes (``deploy``, ``at``) its typed class: the generated
#: bindings install :func:`protocol.bindings.bind` here when imported, since the chain layer sits
#: below them. None: handles stay untyped.
BIND: Optional[Callable[["Contract"], "Contract"]] = None


def notify(chain: "Chain", receipt: "Receipt") -> None:
    for listener in list(LISTENERS):
        listener(chain, receipt)


@contextlib.contextmanager
def listening(listener: Listener) -> Iterator[Listener]:
    """Context: ``listener(chain, receipt)`` is called after every transaction of every chain."""
    LISTENERS.append(listener)
    try:
        yield listener
    finally:
        LISTENERS.remove(listener)
