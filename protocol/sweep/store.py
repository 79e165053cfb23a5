"""Finished runs on disk (``runs.jsonl``, one record per line): what makes a sweep resumable.

A record is appended in one write and flushed as soon as its run finishes, so an interrupted
sweep loses at most the runs in flight. A last line cut short (the process killed in the middle
of a write) is dropped when the store is opened. Re-running the same sweep skips every run
already stored as ``ok``; failed runs are tried again.
"""

from __future__ import annotations

import os
from pathlib import Path

from protocol.sweep.run import RunRecord


class RunStore:
    def __init__(self, directory: Path):
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "runs.jsonl"
        self.records: dict[str, RunRecord] = {}
        if self.path.exists():
            data = self.path.read_bytes()
            if data and not data.endswith(b"\n"):  # a torn last write: its run runs again
                data = data[:data.rfind(b"\n") + 1]
                os.truncate(self.path, len(data))
            for number, line in enumerate(data.decode().splitlines(), 1):
                if line.strip():
                    try:
                        record = RunRecord.from_json(line)
                    except (ValueError, TypeError) as exc:
                        raise ValueError(f"{self.path}, line {number}: not a run record "
                                         f"({exc}); remove the line to run it again") from None
                    self.records[record.key] = record  # a later line (a retry) wins

    def done(self, key: str) -> bool:
        record = self.records.get(key)
        return record is not None and record.status == "ok"

    def add(self, record: RunRecord) -> None:
        line = (record.to_json() + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            written = os.write(fd, line)  # one write of the whole line (a regular file)
            while written < len(line):
                written += os.write(fd, line[written:])
        finally:
            os.close(fd)
        self.records[record.key] = record
