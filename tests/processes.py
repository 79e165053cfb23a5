"""The processes a test started: what a sweep or a fuzz campaign leaves running."""

from __future__ import annotations

from pathlib import Path


def session_processes(sid: int) -> list[int]:
    """Live processes of session ``sid`` (the sweep was started in a session of its own)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
        if int(fields[3]) == sid and fields[0] != "Z":
            found.append(int(entry.name))
    return found
