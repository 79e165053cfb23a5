"""Finished runs on disk (``runs.jsonl``, one record per line): what makes a sweep resumable.

A record is appended and flushed as soon as its run finishes, so an interrupted sweep loses at
most the runs in flight. Re-running the same sweep skips every run already stored as ``ok``;
failed runs are tried again.
"""

from __future__ import annotations

from pathlib import Path

from protocol.sweep.run import RunRecord


class RunStore:
    def __init__(self, directory: Path):
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "runs.jsonl"
        self.records: dict[str, RunRecord] = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                if line.strip():
                    record = RunRecord.from_json(line)
                    self.records[record.key] = record  # a later line (a retry) wins

    def done(self, key: str) -> bool:
        record = self.records.get(key)
        return record is not None and record.status == "ok"

    def add(self, record: RunRecord) -> None:
        self.records[record.key] = record
        with self.path.open("a") as f:
            f.write(record.to_json() + "\n")
            f.flush()
