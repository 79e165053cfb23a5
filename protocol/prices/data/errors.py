"""The one exception of the market-data readers and the price replays: a malformed file."""

from __future__ import annotations

from typing import Optional

from protocol.exceptions import PerpsimError


class DataFileError(PerpsimError, ValueError):
    """A malformed or unreadable data file: ``str()`` is ``"{file}:{line}: {reason}"``
    (``"{file}: {reason}"`` when no one line is at fault, e.g. an empty file).

    ``line`` counts from 1: the text line of a CSV or JSON file, the row of a Parquet file."""

    def __init__(self, file: str, line: Optional[int], reason: str):
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {reason}")
        self.file, self.line, self.reason = file, line, reason
