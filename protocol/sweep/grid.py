"""The parameter grid of a sweep: ``--set KEY=V1,V2,...`` axes and their cartesian product."""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass
from typing import Any, Sequence


@dataclass(frozen=True)
class Axis:
    """One swept scenario key and the values it takes."""

    key: str
    values: tuple[Any, ...]


def parse_value(text: str) -> Any:
    """A TOML scalar (``10``, ``0.5``, ``true``, ``"x"``); bare words are strings."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_axes(settings: Sequence[str], option: str = "--set") -> list[Axis]:
    """``["markets.ETH.max_leverage=10,25,50", "keepers.latency=0,2"]`` -> axes. A key may be
    given once; a setting with one value is a fixed override. Errors name ``option``."""
    axes: list[Axis] = []
    seen: set[str] = set()
    for setting in settings:
        key, sep, values = setting.partition("=")
        key = key.strip()
        if not sep or not key or not values.strip():
            raise ValueError(f"{option} {setting!r}: expected KEY=VALUE[,VALUE...]")
        if key in seen:
            raise ValueError(f"{option} {key}: given twice")
        seen.add(key)
        axes.append(Axis(key, tuple(parse_value(v.strip()) for v in values.split(","))))
    return axes


def points(axes: list[Axis]) -> list[dict[str, Any]]:
    """Every combination of the axes' values, in a stable order (last axis fastest)."""
    return [dict(zip((a.key for a in axes), combo))
            for combo in itertools.product(*(a.values for a in axes))]
