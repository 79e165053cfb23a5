"""Scenario files: TOML in, a fully validated :class:`~protocol.sim.scenario.Scenario` out.

>>> from protocol.sim.loader import load_scenario, builtin_scenarios
>>> sorted(builtin_scenarios())[:2]
['crash', 'default']
>>> load_scenario("crash", overrides={"blocks": 200, "prices.ETH.shocks.start_block": 100}).blocks
200

``load_scenario`` accepts a built-in name (``protocol/sim/scenarios/<name>.toml``) or a path.
Every problem is a :class:`ScenarioError` carrying the file, the line (found by scanning the
text, since ``tomllib`` keeps no positions), the dotted key (``agents[2].leverage``,
``markets.ETH.max_leverage``) and a message; the whole file is validated before anything is
returned, and the first problem is raised.

Schema (top level): ``name``, ``description``, ``seed``, ``blocks``, ``block_time``,
``backend``, ``equity_every``, ``mode``, ``study_modes``, ``study``, and the tables ``[venue]``,
``[markets.<SYMBOL>]``, ``[prices.<SYMBOL>]`` / ``[prices.correlated]``, ``[[agents]]`` and
``[[keepers]]``. See the built-in scenarios for examples.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import re
import tomllib
import typing
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

from protocol.agents import AGENT_TYPES
from protocol.keepers import Strategy
from protocol.prices import (GBM, BrownianBridge, CorrelatedGBM, Crash, CsvReplay, FlashCrash,
                             Gap, Heston, MertonJumpDiffusion, PriceSource, RegimeSwitchingVol,
                             WithShock, combine)
from protocol.prices.liquidity import SHAPES, Liquidity
from protocol.prices.oracle import MODES as ORACLE_MODES, OracleModel
from protocol.keepers.strategy import PRICE_CHOICES
from protocol.sim.scenario import (KEEPER_TYPES, MODES, STUDIES, KeeperSpec, Population, Scenario,
                                   VenueSpec)
from protocol.margin.types import MODULE_INTERFACES
from protocol.venue import MarketConfig

__all__ = ["ScenarioError", "apply_overrides", "builtin_scenarios", "load_scenario",
           "parse_overrides", "parse_scenario"]

GWEI = 10**9
MAX_LEVERAGE = 200
BACKENDS = ("revm", "pyevm")
CORRELATED = "correlated"

Part = Union[str, int]
Path_ = tuple[Part, ...]


# ---------------------------------------------------------------------------------------------
# errors and positions


class ScenarioError(ValueError):
    """A scenario file problem: ``str()`` is ``"{file}:{line}: {key}: {message}"``."""

    def __init__(self, file: str, line: Optional[int], key: str, message: str):
        self.file = str(file)
        self.line = line
        self.key = key
        self.message = message
        super().__init__(f"{self.file}:{line}: {key}: {message}")


def format_key(parts: Iterable[Part]) -> str:
    """``("agents", 2, "leverage")`` -> ``"agents[2].leverage"``."""
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            name = p if re.fullmatch(r"[A-Za-z0-9_\-]+", p) else f'"{p}"'
            out += f".{name}" if out else name
    return out


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]]+?)\s*(\]\]?)\s*(#.*)?$")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*'))*)\s*=""")
_STRINGS = re.compile(r""""(?:[^"\\]|\\.)*"|'[^']*'""")


def _split_dotted(name: str) -> list[str]:
    parts = re.findall(r"""[A-Za-z0-9_\-]+|"[^"]*"|'[^']*'""", name)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


class _Locator:
    """Line numbers of table headers and of the keys in each table (first occurrence)."""

    def __init__(self, text: str):
        # section path -> (header line or None for the root, {key: line})
        self.sections: dict[Path_, tuple[Optional[int], dict[str, int]]] = {(): (None, {})}
        counts: dict[tuple[str, ...], int] = {}
        current: Path_ = ()
        depth = 0  # open brackets/braces of a multi-line value
        in_string: Optional[str] = None
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw
            if in_string is not None:
                if in_string in line:
                    in_string = None
                continue
            if depth > 0:
                depth += self._depth(line)
                continue
            header = _HEADER.match(line)
            if header and header.group(1) in ("[", "[[") and len(header.group(1)) == len(header.group(3)):
                names = tuple(_split_dotted(header.group(2)))
                if header.group(1) == "[[":
                    index = counts.get(names, 0)
                    counts[names] = index + 1
                    current = (*names, index)
                else:
                    current = self._resolve(names, counts)
                self.sections.setdefault(current, (number, {}))
                continue
            key = _KEY.match(line)
            if key:
                name = _split_dotted(key.group(1))
                keys = self.sections[current][1]
                keys.setdefault(name[0], number)
                rest = line[key.end():]
                for quote in ('"""', "'''"):
                    if rest.count(quote) % 2 == 1:
                        in_string = quote
                if in_string is None:
                    depth = max(0, self._depth(rest))

    @staticmethod
    def _resolve(names: tuple[str, ...], counts: dict[tuple[str, ...], int]) -> Path_:
        """``[agents.sub]`` after ``[[agents]]`` belongs to the last agents element."""
        for i in range(len(names), 0, -1):
            if names[:i] in counts:
                return (*names[:i], counts[names[:i]] - 1, *names[i:])
        return names

    @staticmethod
    def _depth(text: str) -> int:
        text = _STRINGS.sub("", text).split("#", 1)[0]
        return text.count("[") + text.count("{") - text.count("]") - text.count("}")

    def line(self, parts: Sequence[Part]) -> Optional[int]:
        parts = tuple(parts)
        for i in range(len(parts), -1, -1):
            prefix = parts[:i]
            if prefix in self.sections:
                header, keys = self.sections[prefix]
                if i < len(parts) and isinstance(parts[i], str) and parts[i] in keys:
                    return keys[parts[i]]
                if header is not None:
                    return header
                if prefix == () and i < len(parts):
                    # a table only declared implicitly: its first sub-table's header
                    nested = [h for p, (h, _) in self.sections.items()
                              if p[:1] == parts[:1] and h is not None]
                    if nested:
                        return min(nested)
                return None
        return None


class _Ctx:
    """Where errors point: the file, its text positions and the overridden keys."""

    def __init__(self, file: str, text: str, overridden: Iterable[Path_] = ()):
        self.file = file
        self.locator = _Locator(text)
        self.overridden = [tuple(p) for p in overridden]

    def error(self, parts: Sequence[Part], message: str,
              where: Optional[Sequence[Part]] = None) -> ScenarioError:
        parts = tuple(parts)
        line = self.locator.line(where if where is not None else parts)
        for over in self.overridden:
            if parts[:len(over)] == over:
                line, message = None, f"{message} (set by override)"
                break
        return ScenarioError(self.file, line, format_key(parts), message)


# ---------------------------------------------------------------------------------------------
# typed access to raw TOML values


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "table"
    if isinstance(value, (datetime.date, datetime.time)):
        return "datetime"
    return type(value).__name__


def _got(value: Any) -> str:
    shown = repr(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return f"{_type_name(value)} {shown}"


class _Table:
    """One raw TOML table at ``parts``; tracks which keys were read so leftovers are errors."""

    def __init__(self, ctx: _Ctx, parts: Path_, data: Any):
        self.ctx, self.parts = ctx, tuple(parts)
        if not isinstance(data, dict):
            raise ctx.error(self.parts, f"expected table, got {_got(data)}")
        self.data: dict[str, Any] = data

    def err(self, key: Part, message: str) -> ScenarioError:
        return self.ctx.error((*self.parts, key), message)

    def check_keys(self, allowed: Iterable[str]) -> None:
        allowed = list(allowed)
        for key in self.data:
            if key not in allowed:
                raise self.err(key, f"unknown key; valid keys: {', '.join(allowed)}")

    def has(self, key: str) -> bool:
        return key in self.data

    def integer(self, key: str, default: Any = None, *, lo: Optional[int] = None,
                hi: Optional[int] = None, required: bool = False) -> Any:
        if key not in self.data:
            if required:
                raise self.err(key, "required")
            return default
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.err(key, f"expected integer, got {_got(value)}")
        self._bounds(key, value, lo, hi)
        return value

    def number(self, key: str, default: Any = None, *, lo: Optional[float] = None,
               hi: Optional[float] = None, lo_open: bool = False, hi_open: bool = False,
               required: bool = False) -> Any:
        if key not in self.data:
            if required:
                raise self.err(key, "required")
            return default
        value = _number(self, key, self.data[key])
        self._bounds(key, value, lo, hi, lo_open, hi_open)
        return value

    def decimal(self, key: str, default: Any = None, **bounds: Any) -> Any:
        value = self.number(key, None, **bounds)
        return default if value is None else Decimal(str(value))

    def boolean(self, key: str, default: Any = None) -> Any:
        if key not in self.data:
            return default
        value = self.data[key]
        if not isinstance(value, bool):
            raise self.err(key, f"expected boolean, got {_got(value)}")
        return value

    def string(self, key: str, default: Any = None, *, choices: Optional[Sequence[str]] = None,
               required: bool = False) -> Any:
        if key not in self.data:
            if required:
                raise self.err(key, "required" + (f"; one of {', '.join(choices)}"
                                                  if choices else ""))
            return default
        value = self.data[key]
        if not isinstance(value, str):
            raise self.err(key, f"expected string, got {_got(value)}")
        if choices is not None and value not in choices:
            raise self.err(key, f"must be one of {', '.join(choices)}; got {value!r}")
        return value

    def array(self, key: str, default: Any = None, *, required: bool = False) -> Any:
        if key not in self.data:
            if required:
                raise self.err(key, "required")
            return default
        value = self.data[key]
        if not isinstance(value, list):
            raise self.err(key, f"expected array, got {_got(value)}")
        return value

    def table(self, key: str) -> Optional["_Table"]:
        if key not in self.data:
            return None
        return _Table(self.ctx, (*self.parts, key), self.data[key])

    def _bounds(self, key: str, value: Any, lo: Any, hi: Any, lo_open: bool = False,
                hi_open: bool = False) -> None:
        if lo is not None and (value <= lo if lo_open else value < lo):
            raise self.err(key, f"must be {'>' if lo_open else '>='} {lo}, got {value}")
        if hi is not None and (value >= hi if hi_open else value > hi):
            raise self.err(key, f"must be {'<' if hi_open else '<='} {hi}, got {value}")


def _number(table: _Table, key: Part, value: Any) -> Union[int, float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise table.err(key, f"expected number, got {_got(value)}")
    if value != value or value in (float("inf"), float("-inf")):
        raise table.err(key, f"must be finite, got {value}")
    return value


def _numbers(table: _Table, key: str, value: Any, n: Optional[int] = None) -> list:
    if not isinstance(value, list):
        raise table.err(key, f"expected array of numbers, got {_got(value)}")
    if n is not None and len(value) != n:
        raise table.err(key, f"expected {n} values, got {len(value)}")
    for i, x in enumerate(value):
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            raise table.ctx.error((*table.parts, key, i), f"expected number, got {_got(x)}",
                                  where=(*table.parts, key))
    return list(value)


def _model_error(table: _Table, exc: Exception, given: Iterable[str], fallback: str) -> ScenarioError:
    """A price model's / dataclass's ``ValueError`` ("name ...", "name: ...") as a ScenarioError
    naming the key it is about."""
    message = str(exc)
    match = re.match(r"([A-Za-z_][A-Za-z0-9_]*)", message)
    key = fallback
    if match and match.group(1) in given:
        key = match.group(1)
    return table.err(key, message)


# ---------------------------------------------------------------------------------------------
# overrides


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """``["markets.ETH.max_leverage=10", "mode=cross"]`` -> dotted-key dict. Values are TOML
    values (``10``, ``0.5``, ``true``, ``[2, 5]``, ``"x"``); anything else is taken as a string."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ScenarioError("<override>", None, item, "expected key=value")
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
            raise ScenarioError("<override>", None, key, "malformed key")
        if match.group(1):
            parts.append(int(match.group(1)) if match.group(1).isdigit() and parts else
                         match.group(1))
        parts.extend(int(i) for i in re.findall(r"\[(\d+)\]", match.group(2)))
    return parts


def apply_overrides(raw: Mapping[str, Any], overrides: Optional[Mapping[str, Any]],
                    *, _applied: Optional[list] = None) -> dict[str, Any]:
    """A deep copy of the raw scenario dict with dotted-key ``overrides`` set.

    ``markets.ETH.max_leverage`` sets one value (creating missing tables); on an array of tables
    (``agents``, ``keepers``, ``prices.ETH.shocks``) a key without an index applies to every
    element (``keepers.latency``), ``agents[1].count`` or ``agents.1.count`` to one.
    """
    data = copy.deepcopy(dict(raw))
    for key, value in (overrides or {}).items():
        parts = _override_parts(key)
        targets: list[tuple[Any, Path_]] = [(data, ())]
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            following: list[tuple[Any, Path_]] = []
            for node, where in targets:
                if isinstance(node, list):
                    if isinstance(part, int):
                        if not 0 <= part < len(node):
                            raise ScenarioError("<override>", None, key,
                                                f"{format_key(where)} has {len(node)} elements")
                        items = [(node, part, (*where, part))]
                    else:  # every element
                        items = []
                        for i, element in enumerate(node):
                            if not isinstance(element, dict):
                                raise ScenarioError("<override>", None, key,
                                                    f"{format_key((*where, i))} is not a table")
                            items.append((element, part, (*where, i, part)))
                elif isinstance(node, dict):
                    if isinstance(part, int):
                        raise ScenarioError("<override>", None, key,
                                            f"{format_key(where) or 'the scenario'} is not an array")
                    items = [(node, part, (*where, part))]
                else:
                    raise ScenarioError("<override>", None, key,
                                        f"{format_key(where)} is not a table")
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


# ---------------------------------------------------------------------------------------------
# loading


def builtin_scenarios() -> dict[str, str]:
    """Built-in scenario name -> its one-line description."""
    out = {}
    for entry in sorted(_builtin_dir().iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            try:
                raw = tomllib.loads(entry.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError:
                continue
            description = raw.get("description", "")
            out[entry.name[:-5]] = description if isinstance(description, str) else ""
    return out


def _builtin_dir():
    return resources.files("protocol.sim") / "scenarios"


def load_scenario(name_or_path: Union[str, Path],
                  overrides: Optional[Mapping[str, Any]] = None) -> Scenario:
    """A built-in scenario by name, or a TOML file by path, validated (``ScenarioError``).

    ``overrides`` are dotted keys set on the raw TOML before validation (see
    :func:`apply_overrides`)."""
    text, file, base = _read(name_or_path)
    return parse_scenario(text, file=file, base_dir=base, overrides=overrides,
                          default_name=Path(file).stem)


def _read(name_or_path: Union[str, Path]) -> tuple[str, str, Path]:
    if isinstance(name_or_path, str) and "/" not in name_or_path and "\\" not in name_or_path \
            and not name_or_path.endswith(".toml"):
        entry = _builtin_dir() / f"{name_or_path}.toml"
        if entry.is_file():
            return entry.read_text(encoding="utf-8"), str(entry), Path(str(entry)).parent
        if not Path(name_or_path).is_file():
            raise ScenarioError(name_or_path, None, "scenario",
                                f"no built-in scenario or file named {name_or_path!r}; "
                                f"built-ins: {', '.join(builtin_scenarios())}")
    path = Path(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(str(path), None, "scenario", f"cannot read: {exc.strerror or exc}")
    except UnicodeDecodeError as exc:
        raise ScenarioError(str(path), None, "scenario", f"not UTF-8 text: {exc}")
    return text, str(path), path.resolve().parent


def parse_scenario(text: str, *, file: str = "<string>", base_dir: Union[str, Path, None] = None,
                   overrides: Optional[Mapping[str, Any]] = None,
                   default_name: Optional[str] = None) -> Scenario:
    """Validate TOML ``text`` into a ``Scenario``; ``file`` is used in errors, ``base_dir`` for
    relative CSV paths (default: the current directory)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r"\(at line (\d+), column \d+\)", message)
        line = int(match.group(1)) if match else None
        if "(at end of document)" in message:
            line = len(text.splitlines()) or 1
        message = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "",
                         message) or "invalid TOML"
        raise ScenarioError(file, line, "toml", f"syntax error: {message}") from None
    applied: list[Path_] = []
    raw = apply_overrides(raw, overrides, _applied=applied)
    ctx = _Ctx(file, text, applied)
    return _Builder(ctx, Path(base_dir) if base_dir is not None else Path.cwd(),
                    default_name or Path(file).stem).build(raw)


TOP_KEYS = ("name", "description", "seed", "blocks", "block_time", "backend", "equity_every",
            "mode", "study_modes", "study", "venue", "markets", "prices", "liquidity", "oracle",
            "agents", "keepers")
LIQUIDITY_KEYS = ("depth", "shape", "half_life_blocks")
PNL_FACTOR_KEYS = ("max_pnl_factor_traders", "max_pnl_factor_adl", "min_pnl_factor_after_adl")
VENUE_KEYS = ("modules", "contracts", "pool_liquidity", "insurance", "instant_trading", "max_price_age",
              "market_order_timeout", "min_execution_fee", *PNL_FACTOR_KEYS)
KEEPER_KEYS = ("type", "name", "poll_interval", "latency", "gas_price_gwei", "min_profit_usd",
               "batch_size", "scan_chunk", "full_scan_interval", "watch_threshold_bps",
               "price_choice")
ORACLE_KEYS = ("mode", "deviation_bps", "heartbeat", "delay_blocks", "outages")
MARKET_FIELDS = tuple(f.name for f in dataclasses.fields(MarketConfig) if f.name != "symbol")
BPS_FIELDS = ("taker_fee_bps", "liquidation_fee_bps", "keeper_share_bps", "reserve_factor_bps",
              "partial_liquidation_bps")
#: Basis-point fields whose bounds are not [0, 10,000]: the pool may back open interest up to 5x
#: its assets (``AdminLogic.configureMarket``).
BPS_BOUNDS = {"reserve_factor_bps": (1, 50_000)}

# model -> (class, parameter keys besides start; array-valued keys)
PRICE_MODELS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "gbm": (GBM, ("drift", "volatility")),
    "merton": (MertonJumpDiffusion, ("drift", "volatility", "jump_intensity", "jump_mean",
                                     "jump_std")),
    "regime": (RegimeSwitchingVol, ("drift", "vols", "switch_probability", "initial_regime")),
    "heston": (Heston, ("drift", "v0", "kappa", "theta", "xi", "rho")),
    "bridge": (BrownianBridge, ("targets", "volatility")),
    "csv": (CsvReplay, ("file",)),
    "constant": (GBM, ()),
}
SHOCKS: dict[str, tuple[Any, tuple[str, ...], tuple[str, ...]]] = {
    # type -> (class, required keys, optional keys)
    "crash": (Crash, ("drop_pct", "start_block", "over_blocks"), ("shape",)),
    "flash_crash": (FlashCrash, ("drop_pct", "at_block", "recover_blocks"), ()),
    "gap": (Gap, ("gap_pct", "at_block"), ()),
}


class _Builder:
    def __init__(self, ctx: _Ctx, base_dir: Path, default_name: str):
        self.ctx, self.base_dir, self.default_name = ctx, base_dir, default_name

    def build(self, raw: dict) -> Scenario:
        top = _Table(self.ctx, (), raw)
        top.check_keys(TOP_KEYS)
        name = top.string("name", self.default_name)
        description = top.string("description", "")
        seed = top.integer("seed", 1, lo=0)
        blocks = top.integer("blocks", 1440, lo=1)
        block_time = top.integer("block_time", 60, lo=1)
        backend = top.string("backend", "revm", choices=BACKENDS)
        equity_every = top.integer("equity_every", 10, lo=1)
        mode = top.string("mode", None, choices=MODES)
        study_modes = top.array("study_modes", [])
        for i, m in enumerate(study_modes):
            if not isinstance(m, str) or m not in MODES:
                raise self.ctx.error(("study_modes", i), f"must be one of {', '.join(MODES)}; "
                                     f"got {m!r}", where=("study_modes",))
        if len(set(study_modes)) != len(study_modes):
            raise top.err("study_modes", "modes must be distinct")
        study = top.string("study", None, choices=STUDIES)
        if study and study_modes:
            raise top.err("study", "a scenario runs one study: study or study_modes, not both")
        self.blocks, self.block_time = blocks, block_time

        venue = self.venue(top.table("venue"))
        markets = self.markets(top)
        prices = self.prices(top, markets)
        liquidity, feedback = self.liquidity(top.table("liquidity"), markets)
        oracles = self.oracles(top.table("oracle"), markets)
        agents = self.agents(top, markets)
        keepers = self.keepers(top)

        kwargs: dict[str, Any] = dict(
            name=name, markets=tuple(markets.values()), prices=prices, agents=agents,
            blocks=blocks, block_time=block_time, seed=seed, backend=backend, venue=venue,
            description=description, equity_every=equity_every, mode=mode,
            study_modes=tuple(study_modes), study=study, source=self.ctx.file,
            liquidity=liquidity, feedback=feedback, oracles=oracles)
        if keepers is not None:
            kwargs["keepers"] = keepers
        try:
            return Scenario(**kwargs)
        except ValueError as exc:  # rules across tables (lp agents need an order keeper)
            key = str(exc).split(":", 1)[0]
            raise self.ctx.error((key,), str(exc)) from None

    # -- venue ---------------------------------------------------------------------------------

    def venue(self, table: Optional[_Table]) -> VenueSpec:
        if table is None:
            return VenueSpec()
        table.check_keys(VENUE_KEYS)
        d = VenueSpec()
        return VenueSpec(
            pool_liquidity=table.decimal("pool_liquidity", d.pool_liquidity, lo=0),
            insurance=table.decimal("insurance", d.insurance, lo=0),
            instant_trading=table.boolean("instant_trading", d.instant_trading),
            max_price_age=table.integer("max_price_age", d.max_price_age, lo=1, hi=86400),
            market_order_timeout=table.integer("market_order_timeout", d.market_order_timeout,
                                               lo=1, hi=86400),
            min_execution_fee=table.integer("min_execution_fee", d.min_execution_fee, lo=0),
            modules=self.modules(table.table("modules")),
            contracts=self.contracts_dir(table.string("contracts", None)),
            **self.pnl_factors(table, d),
        )

    def pnl_factors(self, table: _Table, d: VenueSpec) -> dict[str, Decimal]:
        """The profit cap and ADL thresholds: fractions of the pool in whole basis points, ADL's
        floor below its trigger (the contract's bounds)."""
        factors = {}
        for key in PNL_FACTOR_KEYS:
            value = table.decimal(key, getattr(d, key), lo=0, hi=1)
            if value * 10_000 != int(value * 10_000):
                raise table.err(key, f"must be a whole number of basis points; got {value}")
            factors[key] = value
        if factors["max_pnl_factor_adl"] == 0:
            raise table.err("max_pnl_factor_adl", "must be above 0")
        if not 0 < factors["min_pnl_factor_after_adl"] < factors["max_pnl_factor_adl"]:
            raise table.err("min_pnl_factor_after_adl",
                            f"must be above 0 and below max_pnl_factor_adl "
                            f"({factors['max_pnl_factor_adl']}); got {factors['min_pnl_factor_after_adl']}")
        return factors

    def contracts_dir(self, path: Optional[str]) -> Optional[str]:
        """A directory of the user's contracts, relative to the scenario file."""
        return None if path is None else str(self.base_dir / path)

    def modules(self, table: Optional[_Table]) -> dict[str, str]:
        if table is None:
            return {}
        table.check_keys(MODULE_INTERFACES)
        return {kind: table.string(kind) for kind in MODULE_INTERFACES if table.has(kind)}

    # -- markets -------------------------------------------------------------------------------

    def markets(self, top: _Table) -> dict[str, MarketConfig]:
        table = top.table("markets")
        if table is None:
            raise top.err("markets", "required: at least one [markets.<SYMBOL>] table")
        if not table.data:
            raise top.err("markets", "needs at least one market")
        out = {}
        for symbol in table.data:
            if not symbol or symbol != symbol.strip() or len(symbol.encode()) > 32:
                raise table.err(symbol, "symbol must be 1-32 bytes without surrounding spaces")
            if symbol == CORRELATED:
                raise table.err(symbol, f"{CORRELATED!r} is reserved")
            out[symbol] = self.market(symbol, table.table(symbol))
        return out

    def market(self, symbol: str, t: _Table) -> MarketConfig:
        t.check_keys(MARKET_FIELDS)
        d = MarketConfig(symbol=symbol)
        max_leverage = t.integer("max_leverage", d.max_leverage, lo=1, hi=MAX_LEVERAGE)
        kwargs: dict[str, Any] = {"max_leverage": max_leverage}
        for name in BPS_FIELDS:
            lo, hi = BPS_BOUNDS.get(name, (0, 10_000))
            kwargs[name] = t.integer(name, getattr(d, name), lo=lo, hi=hi)
        kwargs["liquidation_cooldown"] = t.integer("liquidation_cooldown",
                                                   d.liquidation_cooldown, lo=0)
        mmf = t.decimal("mmf", None, lo=0, lo_open=True)
        if mmf is not None and mmf >= Decimal(1) / max_leverage:
            raise t.err("mmf", f"must be below 1/max_leverage = {1 / max_leverage:g} (a position "
                               f"at max leverage would start liquidatable), got {mmf}")
        kwargs["mmf"] = mmf
        for name in ("funding_rate_per_hour", "max_funding_rate_per_hour",
                     "borrow_rate_per_year", "min_collateral_usd", "partial_threshold_usd"):
            kwargs[name] = t.decimal(name, getattr(d, name), lo=0)
        for name in ("max_long_oi_usd", "max_short_oi_usd"):
            kwargs[name] = t.decimal(name, getattr(d, name), lo=0, lo_open=True)
        for name in ("impact_factor_positive", "impact_factor_negative"):
            kwargs[name] = t.decimal(name, getattr(d, name), lo=0)
        for name in ("impact_exponent_positive", "impact_exponent_negative"):
            kwargs[name] = t.integer(name, getattr(d, name), lo=1, hi=3)
        for name in ("max_negative_impact_bps", "max_liquidation_impact_bps"):
            kwargs[name] = t.integer(name, getattr(d, name), lo=0, hi=10_000)
        kwargs["initial_price"] = t.decimal("initial_price", None, lo=0, lo_open=True,
                                            required=True)
        tiers = t.array("tiers", None)
        if tiers is not None:
            if not all(isinstance(x, list) and len(x) == 2 and all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in x) for x in tiers):
                raise t.err("tiers", "expected [[lower bound USD, max leverage], ...]")
            kwargs["tiers"] = tuple((Decimal(str(b)), int(lev)) for b, lev in tiers)
            try:
                max_leverage = MarketConfig(symbol=symbol, **kwargs).max_leverage
            except ValueError as exc:
                raise t.err("tiers", str(exc).removeprefix("tiers: ")) from None
        if kwargs["taker_fee_bps"] * max_leverage > 10_000:
            # the opening fee on max-leverage notional would eat all the margin
            raise t.err("taker_fee_bps", f"{kwargs['taker_fee_bps']} bps of a {max_leverage}x "
                        "position exceeds its whole margin")
        try:
            return MarketConfig(symbol=symbol, **kwargs)
        except ValueError as exc:  # e.g. a factor finer than 18 decimals
            key, _, message = str(exc).partition(": ")
            raise t.err(key, message) from None

    # -- liquidity -----------------------------------------------------------------------------

    def liquidity(self, table: Optional[_Table], markets: dict[str, MarketConfig]
                  ) -> tuple[dict[str, Liquidity], bool]:
        """``[liquidity]``: ``feedback`` (default true) and one ``[liquidity.<SYMBOL>]`` table
        per market with depth outside the venue."""
        if table is None:
            return {}, True
        feedback = table.boolean("feedback", True)
        out = {}
        for symbol in table.data:
            if symbol == "feedback":
                continue
            if symbol not in markets:
                raise table.err(symbol, f"no market {symbol!r}; markets: {', '.join(markets)}")
            t = table.table(symbol)
            t.check_keys(LIQUIDITY_KEYS)
            out[symbol] = Liquidity(
                depth=t.decimal("depth", None, lo=0, lo_open=True, required=True),
                shape=t.string("shape", "linear", choices=SHAPES),
                half_life=t.decimal("half_life_blocks", Decimal(30), lo=0, lo_open=True))
        return out, feedback

    # -- oracles -------------------------------------------------------------------------------

    def oracles(self, table: Optional[_Table], markets: dict[str, MarketConfig]) -> dict[str, OracleModel]:
        """``[oracle.<SYMBOL>]``: how that market's oracle reports (``protocol.prices.oracle``);
        markets left out push every block."""
        if table is None:
            return {}
        out = {}
        for symbol in table.data:
            if symbol not in markets:
                raise table.err(symbol, f"no market {symbol!r}; markets: {', '.join(markets)}")
            t = table.table(symbol)
            t.check_keys(ORACLE_KEYS)
            mode = t.string("mode", "push", choices=ORACLE_MODES)
            heartbeat = t.integer("heartbeat", None, lo=1)
            if heartbeat is not None and heartbeat < self.block_time:
                raise t.err("heartbeat", f"must be at least one block ({self.block_time} s), got {heartbeat}")
            if mode == "pull" and heartbeat is None:
                raise t.err("mode", "a pull oracle needs a heartbeat (how often traders' own updates land)")
            deviation = t.integer("deviation_bps", 0, lo=0, hi=10_000)
            if mode == "pull" and deviation:
                raise t.err("deviation_bps", "a pull oracle has no deviation trigger")
            outages = []
            for i, item in enumerate(t.array("outages", [])):
                if not (isinstance(item, list) and len(item) == 2
                        and all(isinstance(x, int) and not isinstance(x, bool) for x in item)):
                    raise self.ctx.error((*t.parts, "outages", i), "expected [first block, last block]",
                                         where=(*t.parts, "outages"))
                start, end = item
                if not 1 <= start <= end:
                    raise self.ctx.error((*t.parts, "outages", i), f"need 1 <= first <= last, got {item}",
                                         where=(*t.parts, "outages"))
                if end > self.blocks:
                    raise self.ctx.error((*t.parts, "outages", i), f"ends at block {end}, past the "
                                         f"scenario's last block ({self.blocks})", where=(*t.parts, "outages"))
                outages.append((start, end))
            out[symbol] = OracleModel(mode=mode, deviation_bps=deviation, heartbeat=heartbeat,
                                      delay_blocks=t.integer("delay_blocks", 0, lo=0),
                                      outages=tuple(outages))
        return out

    # -- prices --------------------------------------------------------------------------------

    def prices(self, top: _Table, markets: dict[str, MarketConfig]) -> PriceSource:
        table = top.table("prices")
        if table is None:
            first = next(iter(markets))
            raise self.ctx.error(("prices", first), f"market {first} has no price source "
                                 f"(add a [prices.{first}] table)", where=("markets", first))
        sources: list[PriceSource] = []
        covered: dict[str, str] = {}  # symbol -> "correlated" / "own"
        tables: dict[str, _Table] = {}
        for key in table.data:
            if key != CORRELATED and key not in markets:
                raise table.err(key, f"no market {key!r}; markets: {', '.join(markets)}")
        if CORRELATED in table.data:
            corr, syms = self.correlated(table.table(CORRELATED), markets)
            sources.append(corr)
            covered.update({s: CORRELATED for s in syms})
        for symbol in markets:
            if symbol not in table.data:
                continue
            t = table.table(symbol)
            tables[symbol] = t
            if symbol in covered:
                if set(t.data) - {"shocks"}:
                    extra = next(k for k in t.data if k != "shocks")
                    raise t.err(extra, f"{symbol} is priced by prices.correlated; this table "
                                       "may only hold shocks")
                continue
            sources.append(self.single(symbol, t, markets[symbol]))
            covered[symbol] = "own"
        for symbol in markets:
            if symbol not in covered:
                raise self.ctx.error(("prices", symbol), f"market {symbol} has no price source "
                                     f"(add a [prices.{symbol}] table or list it in "
                                     "prices.correlated.symbols)", where=("markets", symbol))
        source: PriceSource = combine(*sources)
        for symbol, t in tables.items():
            for shock in self.shocks(symbol, t, markets[symbol]):
                source = WithShock(source, shock)
        return source

    def correlated(self, t: _Table, markets: dict[str, MarketConfig]):
        t.check_keys(("symbols", "starts", "drifts", "volatilities", "correlation"))
        symbols = t.array("symbols", required=True)
        if not symbols:
            raise t.err("symbols", "must not be empty")
        for i, s in enumerate(symbols):
            if not isinstance(s, str):
                raise self.ctx.error((*t.parts, "symbols", i), f"expected string, got {_got(s)}",
                                     where=(*t.parts, "symbols"))
            if s not in markets:
                raise t.err("symbols", f"no market {s!r}; markets: {', '.join(markets)}")
        if len(set(symbols)) != len(symbols):
            raise t.err("symbols", "symbols must be distinct")
        n = len(symbols)
        vols = _numbers(t, "volatilities", t.array("volatilities", required=True), n)
        for i, x in enumerate(vols):
            if x < 0:
                raise t.err("volatilities", f"volatilities[{i}] must be >= 0, got {x}")
        drifts = _numbers(t, "drifts", t.array("drifts", [0.0] * n), n)
        if t.has("starts"):
            starts = [Decimal(str(x)) for x in _numbers(t, "starts", t.data["starts"], n)]
            for i, x in enumerate(starts):
                if x <= 0:
                    raise t.err("starts", f"starts[{i}] must be > 0, got {x}")
        else:
            starts = [markets[s].initial_price for s in symbols]
        matrix = t.array("correlation", required=True)
        for i, row in enumerate(matrix):
            _numbers(t, "correlation", row)
        try:
            return CorrelatedGBM(tuple(symbols), tuple(starts), tuple(float(x) for x in drifts),
                                 tuple(float(x) for x in vols),
                                 tuple(tuple(float(x) for x in row) for row in matrix)), symbols
        except ValueError as exc:
            message = str(exc)
            key = "correlation" if "correlation" in message else "symbols"
            for name in ("starts", "drifts", "volatilities"):
                if message.startswith(name):
                    key = name
            raise t.err(key, message) from None

    def single(self, symbol: str, t: _Table, market: MarketConfig) -> PriceSource:
        model = t.string("model", "gbm", choices=tuple(PRICE_MODELS))
        cls, params = PRICE_MODELS[model]
        t.check_keys(("model", "start", "shocks", *params))
        start = t.decimal("start", market.initial_price, lo=0, lo_open=True)
        if model == "constant":
            return GBM(symbol, start, 0.0, 0.0)
        if model == "csv":
            name = t.string("file", required=True)
            path = Path(name)
            if not path.is_absolute():
                path = self.base_dir / path
            if t.has("start"):
                raise t.err("start", "a csv replay starts at the file's first price")
            try:
                source = CsvReplay(path, (symbol,))
                limit = source.max_blocks(self.block_time)
            except ValueError as exc:
                raise t.err("file", str(exc)) from None
            if limit < self.blocks:
                raise t.err("file", f"{name} covers only {limit} blocks of {self.block_time}s; "
                                    f"the scenario runs {self.blocks}")
            return source
        kwargs: dict[str, Any] = {}
        for key in params:
            if key not in t.data:
                continue
            value = t.data[key]
            if key == "vols":
                if not value:
                    raise t.err(key, "must not be empty")
                kwargs[key] = tuple(float(x) for x in _numbers(t, key, value))
            elif key == "initial_regime":
                kwargs[key] = t.integer(key, lo=0)
            elif key == "targets":
                if isinstance(value, dict):
                    pins = {}
                    for block, price in value.items():
                        if not block.isdigit():
                            raise self.ctx.error((*t.parts, key, block),
                                                 "targets keys must be block numbers",
                                                 where=(*t.parts, key))
                        pins[int(block)] = Decimal(str(_number(t, key, price)))
                        if int(block) > self.blocks:
                            raise t.err(key, f"target block {block} is after the last block "
                                             f"({self.blocks})")
                    kwargs[key] = pins
                else:
                    kwargs[key] = Decimal(str(_number(t, key, value)))
            else:
                kwargs[key] = float(_number(t, key, value))
        if model == "bridge" and "targets" not in kwargs:
            raise t.err("targets", "required for model 'bridge'")
        try:
            return cls(symbol, start, **kwargs)
        except ValueError as exc:
            raise _model_error(t, exc, (*params, "start"), "model") from None

    def shocks(self, symbol: str, t: _Table, market: MarketConfig) -> list:
        out = []
        for i, item in enumerate(t.array("shocks", [])):
            s = _Table(self.ctx, (*t.parts, "shocks", i), item)
            kind = s.string("type", required=True, choices=tuple(SHOCKS))
            cls, required, optional = SHOCKS[kind]
            s.check_keys(("type", *required, *optional))
            kwargs: dict[str, Any] = {}
            for key in required:
                if key in ("drop_pct", "gap_pct"):
                    kwargs[key] = s.decimal(key, required=True)
                elif key in ("start_block",):
                    kwargs[key] = s.integer(key, required=True, lo=0, hi=self.blocks - 1)
                elif key == "at_block":
                    kwargs[key] = s.integer(key, required=True, lo=1, hi=self.blocks)
                else:
                    kwargs[key] = s.integer(key, required=True, lo=1)
            if "shape" in s.data:
                kwargs["shape"] = s.string("shape", choices=("linear", "geometric"))
            try:
                out.append(cls(symbol, market.initial_price, **kwargs))
            except ValueError as exc:
                raise _model_error(s, exc, (*required, *optional), "type") from None
        return out

    # -- agents --------------------------------------------------------------------------------

    def agents(self, top: _Table, markets: dict[str, MarketConfig]) -> tuple[Population, ...]:
        items = top.array("agents", [])
        out = []
        for i, item in enumerate(items):
            out.append(self.population(_Table(self.ctx, ("agents", i), item), markets))
        return tuple(out)

    def population(self, t: _Table, markets: dict[str, MarketConfig]) -> Population:
        kind = t.string("type", required=True, choices=tuple(AGENT_TYPES))
        agent_type = AGENT_TYPES[kind]
        hints = typing.get_type_hints(agent_type.params)
        fields = [f.name for f in dataclasses.fields(agent_type.params)]
        t.check_keys(("type", "count", "label", *fields))
        count = t.integer("count", required=True, lo=0)
        label = t.string("label", None)
        if label is not None and not label.strip():
            raise t.err("label", "must not be empty")
        params: dict[str, Any] = {}
        for name in fields:
            if name in t.data:
                params[name] = self.param(t, name, hints[name], markets)
        if "leverage" in params:
            low, high = params["leverage"]
            if low < 1:
                raise t.err("leverage", f"must be at least 1 (got {low:g})"
                            + ("; leverage cannot be negative" if low < 0 else ""))
            traded = params.get("markets") or tuple(markets)
            for symbol in traded:
                cap = markets[symbol].max_leverage
                if high > cap:
                    raise t.err("leverage", f"up to {high:g}x exceeds "
                                f"markets.{symbol}.max_leverage = {cap}")
        try:
            agent_type.params(**{**agent_type.defaults, **params})
        except (ValueError, TypeError) as exc:
            raise _model_error(t, exc, params, "type") from None
        return Population(type=kind, count=count, params=params, label=label)

    def param(self, t: _Table, name: str, hint: Any, markets: dict[str, MarketConfig]) -> Any:
        value = t.data[name]
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        optional = origin is Union and type(None) in args
        if optional:
            hint = next(a for a in args if a is not type(None))
            origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin is tuple and args == (float, float):
            if not isinstance(value, list) or len(value) != 2:
                raise t.err(name, f"expected a [low, high] array of 2 numbers, got {_got(value)}")
            low, high = (float(x) for x in _numbers(t, name, value, 2))
            if high < low:
                raise t.err(name, f"need low <= high, got [{low:g}, {high:g}]")
            return (low, high)
        if origin is tuple:  # tuple[str, ...]: markets
            if not isinstance(value, list):
                raise t.err(name, f"expected array of strings, got {_got(value)}")
            for i, s in enumerate(value):
                if not isinstance(s, str):
                    raise self.ctx.error((*t.parts, name, i), f"expected string, got {_got(s)}",
                                         where=(*t.parts, name))
                if name == "markets" and s not in markets:
                    raise t.err(name, f"no market {s!r}; markets: {', '.join(markets)}")
            if not value:
                raise t.err(name, "must not be empty")
            return tuple(value)
        if hint is float:
            return float(_number(t, name, value))
        if hint is int:
            return t.integer(name, lo=0)
        if hint is str:
            if name == "mode":
                return t.string(name, choices=MODES)
            return t.string(name)
        if hint is bool:
            return t.boolean(name)
        return value  # pragma: no cover - no other field types today

    # -- keepers -------------------------------------------------------------------------------

    def keepers(self, top: _Table) -> Optional[tuple[KeeperSpec, ...]]:
        if not top.has("keepers"):
            return None
        items = top.array("keepers")
        out, names = [], {}
        for i, item in enumerate(items):
            t = _Table(self.ctx, ("keepers", i), item)
            t.check_keys(KEEPER_KEYS)
            kind = t.string("type", required=True, choices=KEEPER_TYPES)
            name = t.string("name", None)
            if name is None:
                name = kind if kind not in names else f"{kind}-{i}"
            if not name.strip():
                raise t.err("name", "must not be empty")
            if name in names:
                raise t.err("name", f"duplicate keeper name {name!r} (also keepers[{names[name]}])")
            names[name] = i
            d = Strategy()
            gwei = t.number("gas_price_gwei", None, lo=0)
            strategy = Strategy(
                poll_interval=t.integer("poll_interval", d.poll_interval, lo=1),
                latency=t.integer("latency", d.latency, lo=0),
                gas_price=d.gas_price if gwei is None else int(Decimal(str(gwei)) * GWEI),
                min_profit_usd=t.decimal("min_profit_usd", d.min_profit_usd, lo=0),
                batch_size=t.integer("batch_size", d.batch_size, lo=1),
                scan_chunk=t.integer("scan_chunk", d.scan_chunk, lo=1),
                full_scan_interval=t.integer("full_scan_interval", d.full_scan_interval, lo=1),
                watch_threshold_bps=t.integer("watch_threshold_bps", d.watch_threshold_bps,
                                              lo=10_000),
                price_choice=t.string("price_choice", d.price_choice, choices=PRICE_CHOICES),
            )
            out.append(KeeperSpec(kind, name, strategy))
        return tuple(out)
