"""Exceptions raised by perpsim.

A reverted transaction or view raises :class:`Reverted`. Its ``.error`` is the Solidity custom
error's name (``"Error"`` for ``require`` strings, ``"Panic"`` for panics, ``None`` for a revert
without data) and ``.args`` the decoded arguments. Every custom error name is also a subclass you
can import and catch::

    from protocol.errors import StalePrice
    with pytest.raises(StalePrice): ...

The subclasses are created on first use. A name is importable when a contract declares it: the
project's contracts (their artifacts' ABIs), or a user's contracts once a chain has loaded them.
Any other name -- a typo -- is an ``ImportError``, as for any module.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Callable, Iterable

from protocol.build import declared_error_names
from protocol.exceptions import PerpsimError

__all__ = ["AmountError", "ChainError", "PerpsimError", "Reverted", "declare", "error_class",
           "revert_error"]

_BY_NAME: dict[str, type["Reverted"]] = {}
#: Custom error names declared by contracts a chain has loaded (``declare``); the project's own
#: are read from its artifacts on the first import of a name not seen yet.
_DECLARED: set[str] = set()


class AmountError(PerpsimError, ValueError):
    """An amount given to the Python API that cannot be sent: not a number, negative where it
    must not be, or finer than its unit allows. The message is one line naming the argument
    and its unit; nothing has been sent."""


class Reverted(PerpsimError):
    """An EVM revert, with the decoded custom error."""

    error: str | None
    data: bytes

    def __init__(self, error: str | None, args: tuple[Any, ...] = (), data: bytes = b"",
                 arg_names: tuple[str, ...] = (), receipt: Any = None):
        super().__init__(error)
        self.error = error
        self.args = tuple(args)
        self.arg_names = tuple(arg_names)
        self.data = data
        self.receipt = receipt

    def __str__(self) -> str:
        if self.error is None:
            return "reverted without data"
        names = self.arg_names if len(self.arg_names) == len(self.args) else ("",) * len(self.args)
        parts = [f"{n}={_show(a)}" if n else _show(a) for n, a in zip(names, self.args)]
        return f"{self.error}({', '.join(parts)})"

    @property
    def trace(self) -> Any:
        """The decoded call trace of the failed transaction
        (:class:`~protocol.chain.trace.CallTrace`; ``print(exc.trace)``), or None for a revert
        of a view, which has no transaction."""
        return None if self.receipt is None else self.receipt.trace

    def __reduce__(self) -> tuple[Callable[..., Reverted], tuple[Any, ...]]:
        return (revert_error, (self.error, self.args, self.data, self.arg_names))


def _show(arg: Any) -> str:
    """An argument as the message shows it: a ``bytes32`` name (``"maxLeverage"`` padded with
    zeros) as its text."""
    if isinstance(arg, bytes) and len(arg) == 32:
        text = arg.rstrip(b"\0")
        if text and all(32 < c < 127 for c in text) and not text.count(0):
            return repr(text.decode())
    return repr(arg)


def error_class(name: str | None) -> type[Reverted]:
    """The :class:`Reverted` subclass for a custom error name (created on first use)."""
    if name is None:
        return Reverted
    cls = _BY_NAME.get(name)
    if cls is None:
        cls = type(name, (Reverted,), {"__module__": __name__, "__doc__": f"Revert {name}."})
        _BY_NAME[name] = cls
    return cls


def revert_error(error: str | None, args: tuple[Any, ...] = (), data: bytes = b"",
                 arg_names: tuple[str, ...] = (), receipt: Any = None) -> Reverted:
    """Build the exception instance for a decoded revert."""
    return error_class(error)(error, args, data, arg_names, receipt)


class ChainError(PerpsimError):
    """The chain backend could not do what was asked (not a revert)."""


def declare(names: Iterable[str]) -> None:
    """Make the custom error ``names`` importable from this module (the chain calls it for every
    ABI it loads, users' contracts included)."""
    _DECLARED.update(names)


@cache
def _project_errors() -> frozenset[str]:
    return declared_error_names()


def _declared(name: str) -> bool:
    return name in _BY_NAME or name in _DECLARED or name in _project_errors()


def __getattr__(name: str) -> type[Reverted]:
    if name[:1].isupper() and _declared(name):
        return error_class(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}"
                         + (" (no contract declares a custom error of that name)" if name[:1].isupper() else ""))
