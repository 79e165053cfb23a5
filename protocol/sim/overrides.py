"""Overrides: dotted keys set on a scenario's raw TOML before it is validated
(``perpsim run --set markets.ETH.max_leverage=10``, sweeps' parameters).

One key is not a path: ``preset`` (``perpsim run --preset NAME``) puts a venue preset over the
file. It sets ``venue.preset`` and removes from the file what the preset sets (those keys of
its markets' ``[markets.<SYMBOL>]`` tables, the whole margin rule -- ``max_leverage``, ``tiers``,
``mmf`` -- when the preset sets part of it, and the preset's ``[venue]`` keys), so that the
command line's preset outranks the file as ``--set`` does; the other overrides apply after it.
A file's own ``venue.preset`` is the other way round: the keys the file states outrank it.
"""

from __future__ import annotations

import copy
import re
import tomllib
from typing import Any, Iterable, Mapping, Optional

from protocol.sim.locate import Part, Parts, ScenarioError, format_key
from protocol.venue.presets import MARGIN_RULE, UnknownPreset, preset

OVERRIDE_FILE = "<override>"
#: The override key of the command line's preset (``perpsim run --preset``).
PRESET_KEY = "preset"


def _bad(key: str, message: str) -> ScenarioError:
    return ScenarioError(OVERRIDE_FILE, None, key, message)


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """``["markets.ETH.max_leverage=10", "mode=cross"]`` -> dotted-key dict. Values are TOML
    values (``10``, ``0.5``, ``true``, ``[2, 5]``, ``"x"``); anything else is taken as a string."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise _bad(item, "expected key=value")
        try:
            value = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = text.strip()
        out[key.strip()] = value
    return out


def _override_parts(key: str) -> list[Part]:
    parts: list[Part] = []
    for piece in key.split("."):
        match = re.fullmatch(r"([^\[\]]*)((?:\[\d+\])*)", piece)
        if not match or (not match.group(1) and not match.group(2)):
            raise _bad(key, "malformed key")
        if match.group(1):
            parts.append(int(match.group(1)) if match.group(1).isdigit() and parts else
                         match.group(1))
        parts.extend(int(i) for i in re.findall(r"\[(\d+)\]", match.group(2)))
    return parts


def apply_overrides(raw: Mapping[str, Any], overrides: Optional[Mapping[str, Any]],
                    *, _applied: Optional[list[Parts]] = None) -> dict[str, Any]:
    """A deep copy of the raw scenario dict with dotted-key ``overrides`` set.

    ``markets.ETH.max_leverage`` sets one value (creating missing tables); on an array of tables
    (``agents``, ``keepers``, ``prices.ETH.shocks``) a key without an index applies to every
    element (``keepers.latency``), ``agents[1].count`` or ``agents.1.count`` to one.
    ``preset`` applies first, whatever its place (see the module's docstring).
    """
    data = copy.deepcopy(dict(raw))
    overrides = dict(overrides or {})
    if PRESET_KEY in overrides:
        _put_preset(data, overrides.pop(PRESET_KEY))
        if _applied is not None:
            _applied.append(("venue", PRESET_KEY))
    for key, value in overrides.items():
        parts = _override_parts(key)
        targets: list[tuple[Any, Parts]] = [(data, ())]
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            following: list[tuple[Any, Parts]] = []
            for node, where in targets:
                items: list[tuple[Any, Part, Parts]]  # (container, key or index, path)
                if isinstance(node, list):
                    if isinstance(part, int):
                        if not 0 <= part < len(node):
                            raise _bad(key, f"{format_key(where)} has {len(node)} elements")
                        items = [(node, part, (*where, part))]
                    else:  # every element
                        items = []
                        for i, element in enumerate(node):
                            if not isinstance(element, dict):
                                raise _bad(key, f"{format_key((*where, i))} is not a table")
                            items.append((element, part, (*where, i, part)))
                elif isinstance(node, dict):
                    if isinstance(part, int):
                        raise _bad(key, f"{format_key(where) or 'the scenario'} is not an array")
                    items = [(node, part, (*where, part))]
                else:
                    raise _bad(key, f"{format_key(where)} is not a table")
                for container, k, path in items:
                    if last:
                        container[k] = copy.deepcopy(value)
                        if _applied is not None:
                            _applied.append(path)
                    else:
                        if isinstance(container, dict) and k not in container:
                            container[k] = {}
                        following.append((container[k], path))
            targets = following
    return data


def _put_preset(data: dict[str, Any], name: Any) -> None:
    """Set ``venue.preset`` to ``name`` and remove from ``data`` the keys the preset sets."""
    try:
        chosen = preset(name if isinstance(name, str) else str(name))
    except UnknownPreset as exc:
        raise _bad(PRESET_KEY, str(exc)) from None
    venue = data.setdefault("venue", {})
    if not isinstance(venue, dict):
        raise _bad(PRESET_KEY, "venue is not a table")
    for key in chosen.venue_values():
        venue.pop(key, None)
    venue[PRESET_KEY] = chosen.name
    markets = data.get("markets")
    if not isinstance(markets, dict):
        return  # the loader reports a scenario without markets
    for symbol, table in markets.items():
        if not isinstance(table, dict) or symbol not in chosen.markets:
            continue  # a symbol the preset lacks is the loader's error, at its table
        fields = set(chosen.fields(symbol))
        if fields & set(MARGIN_RULE):
            fields |= set(MARGIN_RULE)
        for key in fields:
            table.pop(key, None)
