"""Where the Python time goes: cProfile of the revm keeper workload, top functions by tottime."""

from __future__ import annotations

import cProfile
import os
import pstats
from typing import Any

from protocol.bench.workload import run_workload


def _name(key: tuple[str, int, str]) -> str:
    filename, line, function = key
    if filename == "~":  # built-ins: "<built-in method ...>"
        return function
    parts = filename.replace(os.sep, "/").split("/")
    for anchor in ("protocol", "site-packages"):
        if anchor in parts:
            parts = parts[parts.index(anchor) + (anchor == "site-packages"):]
            break
    else:
        parts = parts[-2:]
    return f"{'/'.join(parts)}:{line}({function})"


def hot_spots(profiler: cProfile.Profile, top: int = 15) -> list[dict[str, Any]]:
    stats = pstats.Stats(profiler)
    rows = []
    for key, (_, calls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]  # typeshed omits Stats.stats
        rows.append({"function": _name(key), "calls": calls, "tottime": tottime,
                     "cumtime": cumtime})
    rows.sort(key=lambda r: -r["tottime"])
    return rows[:top]


def profile_workload(backend: str = "revm", traders: int = 1000, seed: int = 1,
                     top: int = 15) -> dict[str, Any]:
    """The timed part of :func:`run_workload` under cProfile (setup not profiled)."""
    profiler = cProfile.Profile()
    result = run_workload(backend, traders, seed, profiler=profiler)
    total = sum(r[2] for r in pstats.Stats(profiler).stats.values())  # type: ignore[attr-defined]  # typeshed omits Stats.stats
    return {"backend": backend, "traders": traders, "workload": result,
            "total_tottime": total, "top": hot_spots(profiler, top)}
