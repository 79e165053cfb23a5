"""Crash reproduction bundles: a folder that records what failed and holds a pytest file that
replays it.

A bundle holds ``crash.json`` (what ran and how it failed), ``traceback.txt`` and
``test_replay.py``. The convention for ``test_replay.py``: it **passes while the failure still
happens** (the same exception type and message, the same invariant, at the same point) and
**fails once it is fixed**, so ``pytest BUNDLE/test_replay.py`` going red is the sign a fix
worked; keep it as a regression test by inverting it, or delete it.
Simulations write bundles through :mod:`protocol.sim.crash`, the fuzzer through
:func:`protocol.testing.fuzz.write_fuzz_bundle`.
"""

from __future__ import annotations

import builtins
import importlib
import json
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

from protocol.build import declared_error_names
from protocol.errors import Reverted
from protocol.testing.invariants import InvariantViolation
from protocol.testing.properties import PropertyViolation

REPLAY_FILE = "test_replay.py"
RECORD_FILE = "crash.json"


@dataclass(frozen=True)
class Failure:
    """An exception as a bundle records it."""

    type: str  # the exception's class name
    module: str  # the module it is importable from
    message: str  # str(exception)
    contract_error: Optional[str] = None  # a revert's custom error name (``Reverted.error``)
    invariant: Optional[str] = None  # the name of a broken SPEC §12 invariant or economic property

    @classmethod
    def of(cls, exc: BaseException) -> "Failure":
        kind = type(exc)
        return cls(type=kind.__name__, module=kind.__module__, message=str(exc),
                   contract_error=exc.error if isinstance(exc, Reverted) else None,
                   invariant=exc.name if isinstance(exc, (InvariantViolation, PropertyViolation)) else None)

    def one_line(self) -> str:
        first = self.message.strip().splitlines()[0] if self.message.strip() else ""
        return f"{self.type}: {first}" if first else self.type

    def catchable(self) -> tuple[str, str]:
        """(import line, name) of the class ``pytest.raises`` can catch: the exception's own when
        importable by name, otherwise its nearest importable base (the test then checks the name)."""
        try:
            module = importlib.import_module(self.module)
        except ImportError:
            module = None
        if module is builtins or self.module == "builtins":
            return "", self.type
        if module is not None and isinstance(getattr(module, self.type, None), type):
            if self.contract_error is not None and self.type not in declared_error_names():
                # A user's contract's error is importable only once a chain has loaded that
                # contract, which the replay does after its imports: catch the base.
                return "from protocol.errors import Reverted", "Reverted"
            return f"from {self.module} import {self.type}", self.type
        return "", "Exception"

    def assertions(self, caught: str) -> list[str]:
        """Lines asserting that ``caught`` (an expression for the exception) is this failure."""
        lines = [f"assert type({caught}).__name__ == {self.type!r}",
                 f"assert str({caught}) == {self.message!r}"]
        if self.contract_error is not None:
            lines.append(f"assert {caught}.error == {self.contract_error!r}  # the contract's error")
        if self.invariant is not None:
            lines.append(f"assert {caught}.name == {self.invariant!r}  # the invariant")
        return lines


def write_bundle(directory: Path, exc: BaseException, record: dict[str, Any], replay: str) -> Path:
    """Write ``crash.json`` (``record`` plus the failure), ``traceback.txt`` and ``test_replay.py``
    into ``directory`` (created; files of an earlier bundle there are replaced)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    record = {**record, "error": asdict(Failure.of(exc))}
    (directory / RECORD_FILE).write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    (directory / "traceback.txt").write_text(
        "".join(traceback.format_exception(exc)), encoding="utf-8")
    (directory / REPLAY_FILE).write_text(replay, encoding="utf-8")
    return directory
