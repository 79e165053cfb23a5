"""An error as the one line a command ends with."""

from __future__ import annotations

from protocol.errors import PerpsimError


def one_line(exc: BaseException) -> str:
    """``exc`` as one line: the message alone for perpsim's errors and refused values (which
    name what failed: a revert carries its custom error, a scenario error its file, line and
    key), otherwise prefixed with the exception's type."""
    message = " ".join(part.strip() for part in str(exc).splitlines() if part.strip())
    # A failed check (an invariant, a property, a replay that no longer fails) keeps its type's
    # name: it says which kind of check failed.
    if isinstance(exc, (PerpsimError, ValueError)) and not isinstance(exc, AssertionError) and message:
        return message
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
