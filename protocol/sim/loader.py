"""Scenario files: TOML in, a fully validated :class:`~protocol.sim.scenario.Scenario` out.

>>> from protocol.sim.loader import load_scenario, builtin_scenarios
>>> sorted(builtin_scenarios())[:2]
['adl', 'cascade']
>>> load_scenario("crash", overrides={"blocks": 200, "prices.ETH.shocks.start_block": 100}).blocks
200

``load_scenario`` accepts a built-in name (``protocol/sim/scenarios/<name>.toml``) or a path.
Every problem is a :class:`ScenarioError` carrying the file, the line, the dotted key
(``agents[2].leverage``, ``markets.ETH.max_leverage``) and a message; the tables' shapes and
types are the pydantic models of :mod:`protocol.sim.models`, the rules across tables are
checked here, and the first problem is raised.

Schema (top level): ``name``, ``description``, ``seed``, ``blocks``, ``block_time``,
``backend``, ``equity_every``, ``positions_every``, ``mode``, ``study_modes``, ``study``, and the
tables ``[venue]``,
``[markets.<SYMBOL>]``, ``[prices.<SYMBOL>]`` / ``[prices.correlated]``, ``[liquidity]``,
``[oracle.<SYMBOL>]``, ``[[agents]]``, ``[[keepers]]`` and ``[[metrics]]``. Agents, keepers,
price models and metrics may be plug-ins (:mod:`protocol.plugins`). See the built-in scenarios
for examples.

``venue.preset`` names a venue preset (:mod:`protocol.venue.presets`: ``"gmx-v2"``,
``"hyperliquid"``): each ``[markets.<SYMBOL>]`` starts from the preset's parameters for that
symbol (a symbol the preset lacks is an error at its table) and its venue-wide values (the pnl
factors) fill ``[venue]``; a key the scenario states outranks the preset's. The override
``preset`` (``perpsim run --preset``) instead outranks the file (:mod:`protocol.sim.overrides`).
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import replace
from decimal import ROUND_CEILING, Decimal
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, TypeVar, Union, cast

from pydantic import BaseModel

from protocol import plugins
from protocol.constants import GWEI
from protocol.keepers import Strategy
from protocol.prices import CorrelatedGBM, Crash, CsvReplay, FlashCrash, Gap, PriceSource, WithShock, combine
from protocol.prices.data import ColumnNames, iso_seconds, read_candles, read_depth_snapshots
from protocol.prices.gas import GasModel, GasSpike
from protocol.prices.history import HistoryReplay, iso_time
from protocol.prices.liquidity import DepthSchedule, Liquidity, Thinning, schedule_from_times
from protocol.prices.oracle import OracleModel
from protocol.prices.shocks import Shock
from protocol.sim import models as m
from protocol.sim.locate import Part, Parts, ScenarioError, Where
from protocol.sim.overrides import apply_overrides, parse_overrides
from protocol.sim.scenario import KeeperSpec, MetricSpec, Population, Scenario, VenueSpec
from protocol.venue import MarketConfig
from protocol.venue.presets import Preset, UnknownPreset, preset

T = TypeVar("T")

__all__ = ["ScenarioError", "apply_overrides", "builtin_scenarios", "load_scenario",
           "parse_overrides", "parse_scenario"]

CORRELATED = "correlated"
SHOCKS: dict[str, type] = {"crash": Crash, "flash_crash": FlashCrash, "gap": Gap}
#: Shock keys bounded by the scenario's length: key -> (lowest, highest - blocks).
SHOCK_BLOCKS = {"start_block": (0, -1), "at_block": (1, 0)}


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


def _builtin_dir() -> Traversable:
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
        line = int(match.group(1)) if match else len(text.splitlines()) or 1
        message = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "",
                         message) or "invalid TOML"
        raise ScenarioError(file, line, "toml", f"syntax error: {message}") from None
    applied: list[Parts] = []
    raw = apply_overrides(raw, overrides, _applied=applied)
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    scenario = _Builder(Where(file, text, applied), base, default_name or Path(file).stem).build(raw)
    return replace(scenario, raw=_as_run(raw, scenario, base), overrides=dict(overrides or {}))


def _as_run(raw: dict[str, Any], scenario: Scenario, base_dir: Path) -> dict[str, Any]:
    """The validated table with its name set and its file paths (``venue.contracts``,
    ``prices.<SYMBOL>.file``) absolute, so that it runs from anywhere."""
    out = {"name": scenario.name, **raw}
    venue = out.get("venue")
    if isinstance(venue, dict) and isinstance(venue.get("contracts"), str):
        venue["contracts"] = str((base_dir / venue["contracts"]).resolve())
    for table in (out.get("prices") or {}).values():
        if isinstance(table, dict) and isinstance(table.get("file"), str):
            table["file"] = str((base_dir / table["file"]).resolve())
    liquidity = out.get("liquidity")
    for table in (liquidity.values() if isinstance(liquidity, dict) else ()):
        if isinstance(table, dict) and isinstance(table.get("depth"), str):
            table["depth"] = str((base_dir / table["depth"]).resolve())
    return out


# ---------------------------------------------------------------------------------------------
# rules across tables


#: The keeper strategy's settings, which a ``[[keepers]]`` table may set.
STRATEGY_FIELDS = frozenset(f.name for f in dataclasses.fields(Strategy))


def _given(model: BaseModel, skip: Iterable[str] = ()) -> dict[str, Any]:
    """The keys the table set (not the model's defaults), minus ``skip``, in the model's
    order."""
    return {k: getattr(model, k) for k in type(model).model_fields
            if k in model.model_fields_set and k not in skip}


class _Builder:
    def __init__(self, where: Where, base_dir: Path, default_name: str):
        self.where, self.base_dir, self.default_name = where, base_dir, default_name
        #: the unix time of block 0 when history prices date the run, else None
        self.start_time: Optional[Decimal] = None
        #: the history tables, in the order of their sources
        self._histories: list[tuple[Parts, m.HistoryPrice]] = []

    def err(self, parts: Sequence[Part], message: str) -> ScenarioError:
        return self.where.error(parts, message)

    def construct(self, parts: Parts, build: Callable[[], T], given: Iterable[str],
                  fallback: Optional[str] = None, keys: Optional[Mapping[str, str]] = None) -> T:
        """``build()``; its ``ValueError`` ("name ...", "name: ...") reported at the key it
        names (``keys``: the table's key of a field named otherwise), else at ``fallback``, else
        at the table."""
        try:
            return build()
        except (ValueError, TypeError) as exc:
            text = str(exc)
            match = re.match(r"([A-Za-z_][A-Za-z0-9_]*)(: )?", text)
            key = fallback
            if match and match.group(1) in given:
                key = (keys or {}).get(match.group(1), match.group(1))
                if match.group(2):  # "name: message": the key says the name
                    text = text[match.end():]
            raise self.err(parts if key is None else (*parts, key), text) from None

    def build(self, raw: dict[str, Any]) -> Scenario:
        top = m.check(self.where, m.Top, raw)
        self.blocks, self.block_time = top.blocks, top.block_time
        self.preset = self.venue_preset(top.venue)
        markets = self.markets(top.markets)
        kwargs: dict[str, Any] = dict(
            name=top.name if top.name is not None else self.default_name,
            markets=tuple(markets.values()), prices=self.prices(top.prices, markets),
            agents=self.agents(top.agents, markets), blocks=top.blocks,
            block_time=top.block_time, seed=top.seed, backend=top.backend,
            venue=self.venue(top.venue), description=top.description,
            equity_every=top.equity_every, positions_every=top.positions_every, mode=top.mode,
            verify_index=top.verify_index, spot_check_every=top.spot_check_every,
            study_modes=tuple(top.study_modes),
            study=top.study, source=self.where.file, oracles=self.oracles(top.oracle, markets),
            metrics=self.metrics(top.metrics))
        kwargs["liquidity"], kwargs["feedback"] = self.liquidity(top.liquidity, markets)
        if top.gas is not None:
            kwargs["gas"] = self.gas(top.gas)
        if top.keepers is not None:
            kwargs["keepers"] = self.keepers(top.keepers)
        try:
            return Scenario(**kwargs)
        except ValueError as exc:  # rules across tables (lp agents need an order keeper)
            key, _, text = str(exc).partition(": ")
            raise self.err((key,), text) from None

    # -- venue ---------------------------------------------------------------------------------

    def venue_preset(self, venue: m.Venue) -> Optional[Preset]:
        """``venue.preset``: the venue preset the markets start from, if any."""
        name: Optional[str] = getattr(venue, "preset", None)  # a key of the generated model
        if name is None:
            return None
        try:
            return preset(name)
        except UnknownPreset as exc:
            raise self.err(("venue", "preset"), str(exc)) from None

    def venue(self, venue: m.Venue) -> VenueSpec:
        values = _given(venue, ("modules", "contracts", "mirrors"))
        if self.preset is not None:  # the preset's venue-wide values, under the table's own
            values = {**self.preset.venue_values(), **values}
        modules = {k: v for k, v in venue.modules.model_dump().items() if v is not None}
        mirrors = {k: self._mirror_path(v) for k, v in venue.mirrors.model_dump().items() if v is not None}
        contracts = None if venue.contracts is None else str(self.base_dir / venue.contracts)
        return self.construct(("venue",), lambda: VenueSpec(**values, modules=modules, contracts=contracts,
                                                            mirrors=mirrors), values)

    def _mirror_path(self, name: str) -> str:
        """A mirror in a .py file is named relative to the scenario, as ``contracts`` is."""
        module, colon, attribute = name.partition(":")
        if module.endswith(".py") and colon:
            return f"{self.base_dir / module}:{attribute}"
        return name

    # -- markets -------------------------------------------------------------------------------

    def markets(self, tables: Mapping[str, BaseModel]) -> dict[str, MarketConfig]:
        if not tables:
            raise self.err(("markets",), "required: at least one [markets.<SYMBOL>] table")
        out = {}
        for symbol, table in tables.items():
            parts = ("markets", symbol)
            if not symbol or symbol != symbol.strip() or len(symbol.encode()) > 32:
                raise self.err(parts, "symbol must be 1-32 bytes without surrounding spaces")
            if symbol == CORRELATED:
                raise self.err(parts, f"{CORRELATED!r} is reserved")
            given = _given(table)
            if self.preset is None:
                market = self.construct(parts, lambda: MarketConfig(symbol=symbol, **given), given)
            else:
                if symbol not in self.preset.markets:
                    raise self.err(parts, str(UnknownPreset(self.preset.name, symbol,
                                                            self.preset.symbols)))
                name = self.preset.name
                market = self.construct(parts, lambda: MarketConfig.preset(name, symbol, **given),
                                        given)
            if market.taker_fee_bps * market.max_leverage > 10_000:
                # the opening fee on max-leverage notional would eat all the margin
                raise self.err((*parts, "taker_fee_bps"),
                               f"{market.taker_fee_bps} bps of a {market.max_leverage}x "
                               "position exceeds its whole margin")
            out[symbol] = market
        return out

    def _known(self, parts: Parts, symbol: str, markets: Mapping[str, Any]) -> None:
        if symbol not in markets:
            raise self.err(parts, f"no market {symbol!r}; markets: {', '.join(markets)}")

    # -- liquidity and oracles -----------------------------------------------------------------

    def liquidity(self, table: Optional[m.Liquidity], markets: Mapping[str, MarketConfig]
                  ) -> tuple[dict[str, Liquidity], bool]:
        """``[liquidity]``: ``feedback`` (default true) and one ``[liquidity.<SYMBOL>]`` table
        per market with depth outside the venue."""
        if table is None:
            return {}, True
        out = {}
        for symbol, spec in (table.model_extra or {}).items():
            parts = ("liquidity", symbol)
            self._known(parts, symbol, markets)
            depth = spec.depth
            if isinstance(depth, str):
                depth = self.depth_file((*parts, "depth"), symbol, depth)
            elif isinstance(depth, dict):
                depth = self.depth_table((*parts, "depth"), depth)
            thinning = None
            if spec.thinning is not None:
                th = spec.thinning
                thinning = self.construct((*parts, "thinning"), lambda: Thinning(
                    factor=th.factor, window=th.window_blocks, threshold=th.threshold,
                    half_life=th.half_life_blocks), ("factor", "window", "threshold", "half_life"),
                    keys={"window": "window_blocks", "half_life": "half_life_blocks"})
            out[symbol] = self.construct(
                parts, lambda: Liquidity(depth=depth, shape=spec.shape,
                                         half_life=spec.half_life_blocks, thinning=thinning),
                ("depth", "shape", "half_life"), keys={"half_life": "half_life_blocks"})
        return out, table.feedback

    def _dated(self, parts: Parts, what: str) -> Decimal:
        if self.start_time is None:
            raise self.err(parts, f"{what} need(s) the run dated: price a market with "
                           'model = "history" (block 0 is then its start), or give block numbers')
        return self.start_time

    def depth_table(self, parts: Parts, table: Mapping[str, Decimal]) -> DepthSchedule:
        """``{block or ISO time: depth}``: each depth holds from its block (a time's first block
        at or after it) until the next."""
        steps: dict[int, tuple[str, Decimal]] = {}
        times: list[tuple[Decimal, str, Decimal]] = []
        for key, depth in table.items():
            if key.isdigit():
                block = int(key)
                if block > self.blocks:
                    raise self.err((*parts, key), f"block {block} is after the last block "
                                   f"({self.blocks})")
                steps[block] = (key, depth)
                continue
            when = iso_seconds(key)
            if when is None:
                raise self.err((*parts, key), "a depth table's keys are block numbers or ISO "
                               f"8601 date-times, got {key!r}")
            times.append((when, key, depth))
        if times:
            t0, step = self._dated((*parts, times[0][1]), "time keys"), Decimal(self.block_time)
            before = [x for x in sorted(times) if x[0] <= t0]
            for when, key, depth in sorted(times):
                if before and when < before[-1][0]:
                    continue  # an earlier time before block 0: the later one is in force there
                block = int(((when - t0) / step).to_integral_value(rounding=ROUND_CEILING))
                block = max(block, 0)
                if block > self.blocks:
                    raise self.err((*parts, key), f"{key} is after the last block "
                                   f"({iso_time(t0 + self.blocks * step)})")
                if block in steps:
                    raise self.err((*parts, key), f"{key} falls in block {block}, as "
                                   f"{steps[block][0]} does")
                steps[block] = (key, depth)
        if 0 not in steps:
            raise self.err(parts, "no depth at block 0: give a key 0 (or a time at or before "
                           "the start)")
        try:
            return DepthSchedule.of({b: d for b, (_, d) in steps.items()})
        except ValueError as exc:
            bad = next((k for b, (k, d) in steps.items() if d <= 0), None)
            raise self.err(parts if bad is None else (*parts, bad), str(exc)) from None

    def depth_file(self, parts: Parts, symbol: str, file: str) -> DepthSchedule:
        """A depth snapshot file: each block has the last snapshot at or before its time (the
        market's symbol in the file, or the file's one symbol)."""
        path = Path(file)
        if not path.is_absolute():
            path = self.base_dir / path
        t0 = self._dated(parts, "a depth file")
        try:
            by_symbol = read_depth_snapshots(path)
        except ValueError as exc:
            raise self.err(parts, str(exc)) from None
        rows = by_symbol.get(symbol)
        if rows is None:
            if len(by_symbol) != 1:
                raise self.err(parts, f"{file} has no rows of {symbol} (it has "
                               f"{', '.join(by_symbol)})")
            rows = next(iter(by_symbol.values()))
        try:
            return schedule_from_times([(r.time, r.bid_1pct, r.ask_1pct) for r in rows], t0,
                                       Decimal(self.block_time), self.blocks)
        except ValueError as exc:
            raise self.err(parts, f"{file}: {exc}") from None

    def oracles(self, tables: Mapping[str, m.Oracle], markets: Mapping[str, MarketConfig]
                ) -> dict[str, OracleModel]:
        """``[oracle.<SYMBOL>]``: how that market's oracle reports (``protocol.prices.oracle``);
        markets left out push every block."""
        out = {}
        for symbol, t in tables.items():
            parts = ("oracle", symbol)
            self._known(parts, symbol, markets)
            if t.heartbeat is not None and t.heartbeat < self.block_time:
                raise self.err((*parts, "heartbeat"), f"must be at least one block "
                               f"({self.block_time} s), got {t.heartbeat}")
            for i, (_, end) in enumerate(t.outages):
                if end > self.blocks:
                    raise self.err((*parts, "outages", i), f"ends at block {end}, past the "
                                   f"scenario's last block ({self.blocks})")
            out[symbol] = self.construct(parts, lambda: OracleModel(
                mode=t.mode, deviation_bps=t.deviation_bps, heartbeat=t.heartbeat,
                delay_blocks=t.delay_blocks, outages=tuple(t.outages),
                max_deviation_bps=t.max_deviation_bps), type(t).model_fields)
        return out

    def gas(self, t: m.Gas) -> GasModel:
        """``[gas]``: the network's base fee over the run (``protocol.prices.gas``)."""
        spikes = []
        for i, spike in enumerate(t.spikes):
            if spike.start_block > self.blocks:
                raise self.err(("gas", "spikes", i, "start_block"), f"must be at most the last "
                               f"block ({self.blocks}), got {spike.start_block}")
            spikes.append(self.construct(("gas", "spikes", i), lambda: GasSpike(
                spike.start_block, spike.blocks, Decimal(str(spike.multiplier))),
                type(spike).model_fields))
        return self.construct(("gas",), lambda: GasModel(
            model=t.model, base_fee_gwei=Decimal(str(t.base_fee_gwei)), schedule=t.schedule,
            target_gas=t.target_gas, change_denominator=t.change_denominator,
            spikes=tuple(spikes)), type(t).model_fields)

    # -- prices --------------------------------------------------------------------------------

    def prices(self, tables: Mapping[str, dict[str, Any]], markets: dict[str, MarketConfig]) -> PriceSource:
        for key in tables:
            if key != CORRELATED:
                self._known(("prices", key), key, markets)
        sources: list[PriceSource] = []
        covered: set[str] = set()
        if CORRELATED in tables:
            correlated = self.correlated(tables[CORRELATED], markets)
            sources.append(correlated)
            covered.update(correlated.symbols)
        shocks: list[Shock] = []
        for symbol in markets:
            parts = ("prices", symbol)
            if symbol not in tables:
                if symbol not in covered:
                    raise self.where.error(parts, f"market {symbol} has no price source (add a "
                                           f"[prices.{symbol}] table or list it in "
                                           "prices.correlated.symbols)", at=("markets", symbol))
                continue
            data = tables[symbol]
            if symbol in covered:
                extra = next((k for k in data if k != "shocks"), None)
                if extra is not None:
                    raise self.err((*parts, extra), f"{symbol} is priced by prices.correlated; "
                                   "this table may only hold shocks")
                table = m.check(self.where, m.SinglePrice, data, parts)
            else:
                single, table = self.single(symbol, data, markets[symbol])
                sources.append(single)
                covered.add(symbol)
            shocks += self.shocks(symbol, table.shocks, markets[symbol])
        self.align(sources)
        source: PriceSource = combine(*sources)
        for shock in shocks:
            source = WithShock(source, shock)
        return source

    def correlated(self, data: dict[str, Any], markets: Mapping[str, MarketConfig]) -> CorrelatedGBM:
        parts = ("prices", CORRELATED)
        t = m.check(self.where, m.Correlated, data, parts)
        for s in t.symbols:
            self._known((*parts, "symbols"), s, markets)
        n = len(t.symbols)
        # a market's initial price is required (m.Market)
        starts = t.starts if t.starts is not None else [cast(Decimal, markets[s].initial_price)
                                                        for s in t.symbols]
        drifts = t.drifts if t.drifts is not None else [0.0] * n

        def build() -> CorrelatedGBM:
            return CorrelatedGBM(tuple(t.symbols), tuple(starts), tuple(drifts),
                                 tuple(t.volatilities), tuple(tuple(r) for r in t.correlation))
        try:
            return build()
        except ValueError as exc:
            text = str(exc)
            key = "correlation" if "correlation" in text else "symbols"
            for name in ("starts", "drifts", "volatilities"):
                if text.startswith(name):
                    key = name
            raise self.err((*parts, key), text) from None

    def single(self, symbol: str, data: dict[str, Any], market: MarketConfig) -> tuple[PriceSource, Any]:
        parts = ("prices", symbol)
        kind = m.check(self.where, m.PriceModelKind, data, parts)
        key = "model" if kind.type is None else "type"  # the key that names the model
        if kind.type is not None and "model" in data and kind.type != kind.model:
            raise self.err((*parts, "type"), f"type = {kind.type!r} and model = {kind.model!r} "
                           "name different price models (type is model's synonym: give one)")
        name = kind.model if kind.type is None else kind.type
        try:
            cls = plugins.find("prices", name)
        except plugins.PluginError as exc:
            raise self.err((*parts, key), str(exc)) from None
        builtin = plugins.is_builtin("prices", name)
        if name == "constant":
            model: type[BaseModel] = m.SinglePrice
        elif name == "csv":
            model = m.CsvPrice
        elif name == "history":
            model = m.HistoryPrice
        elif name == "bridge":
            model = m.BridgePrice
        elif builtin:
            model = m.params_model(cls, m.SinglePrice, ("symbol", "start"))
        else:
            model = m.params_model(cls.Params, m.SinglePrice)
        t = m.check(self.where, model, data, parts)
        start = t.start if t.start is not None else market.initial_price
        params = _given(t, m.SinglePrice.model_fields)
        if name == "constant":
            return cls(symbol, start, 0.0, 0.0), t
        if name == "csv":
            return self.csv(parts, t), t
        if name == "history":
            return self.history(parts, t), t
        if not builtin:
            return self.construct(parts, lambda: cls(symbol, start, cls.Params(**params)),
                                  (*params, "start"), key), t
        if name == "bridge" and isinstance(t.targets, dict):
            for block in t.targets:
                if block > self.blocks:
                    raise self.err((*parts, "targets"), f"target block {block} is after the "
                                   f"last block ({self.blocks})")
        return self.construct(parts, lambda: cls(symbol, start, **params),
                              (*params, "start"), key), t

    def history(self, parts: Parts, t: m.HistoryPrice) -> HistoryReplay:
        """Candles read from ``file`` in ``format``; the window and alignment across symbols
        are :meth:`align`'s."""
        symbol = str(parts[1])
        path = Path(t.file)
        if not path.is_absolute():
            path = self.base_dir / path
        columns = None
        if t.format == "columns":
            if t.columns is None:
                raise self.err((*parts, "format"), 'format = "columns" needs columns = { time = '
                               '"...", open = "...", high = "...", low = "...", close = "..." } '
                               '(or price = "...")')
            given = _given(t.columns)
            columns = self.construct((*parts, "columns"), lambda: ColumnNames(**given), ())
            if t.symbol is not None and columns.symbol is None:
                raise self.err((*parts, "symbol"), "picks rows by the file's symbol column: "
                               "name it in columns (symbol = \"...\")")
        else:
            for option in ("columns", "symbol", "time_unit"):
                if getattr(t, option) is not None:
                    raise self.err((*parts, option), f'only for format = "columns", not '
                                   f'{t.format!r}')
        if t.interval is not None and t.format in ("binance", "hyperliquid"):
            raise self.err((*parts, "interval"), f"{t.format} files state their interval")
        try:
            candles = read_candles(path, t.format, columns=columns, interval=t.interval,
                                   symbol=(t.symbol or symbol) if columns and columns.symbol
                                   else None, time_unit=t.time_unit or "auto")
        except ValueError as exc:
            raise self.err((*parts, "file"), str(exc)) from None
        source = self.construct(parts, lambda: HistoryReplay(symbol, candles, t.bridge, t.start,
                                                             t.end), ("start", "end"), "file")
        self._histories.append((parts, t))
        return source

    def align(self, sources: list[PriceSource]) -> None:
        """History sources start together: at the ``start`` they give (one time, if several
        give one), else at the latest first candle; each must then cover the run."""
        found = [(i, src) for i, src in enumerate(sources) if isinstance(src, HistoryReplay)]
        if not found:
            return
        tables = [t for _, t in self._histories]
        places = [p for p, _ in self._histories]
        given = [(p, t.start) for p, t in zip(places, tables) if t.start is not None]
        for p, when in given[1:]:
            if when != given[0][1]:
                raise self.err((*p, "start"), f"history prices start together: "
                               f"{iso_time(when)} here, {iso_time(given[0][1])} at "
                               f"{'.'.join(map(str, given[0][0]))}.start")
        t0 = given[0][1] if given else max(src.candles.start for _, src in found)
        for (i, src), parts, t in zip(found, places, tables):
            if src.start_time != t0:
                try:
                    src = HistoryReplay(src.symbol, src.candles, src.bridge, t0, t.end)
                except ValueError as exc:
                    raise self.err((*parts, "file"), f"{t.file}: {exc} (the run starts at "
                                   f"{iso_time(t0)}, with the other history prices)") from None
                sources[i] = src
            try:
                src.check(self.blocks, self.block_time)
            except ValueError as exc:
                text = str(exc)
                key = "bridge" if "bridge" in text else "end" if t.end is not None else "file"
                raise self.err((*parts, key), text) from None
        self.start_time = t0

    def csv(self, parts: Parts, t: m.CsvPrice) -> PriceSource:
        path = Path(t.file)
        if not path.is_absolute():
            path = self.base_dir / path
        if t.start is not None:
            raise self.err((*parts, "start"), "a csv replay starts at the file's first price")
        try:
            source = CsvReplay(path, (cast(str, parts[1]),))  # ("prices", symbol)
            limit = source.max_blocks(self.block_time)
        except ValueError as exc:
            raise self.err((*parts, "file"), str(exc)) from None
        if limit < self.blocks:
            raise self.err((*parts, "file"), f"{t.file} covers only {limit} blocks of "
                           f"{self.block_time}s; the scenario runs {self.blocks}")
        return source

    def shocks(self, symbol: str, items: list[Any], market: MarketConfig) -> list[Shock]:
        out: list[Shock] = []
        for i, item in enumerate(items):
            parts = ("prices", symbol, "shocks", i)
            kind = m.check(self.where, m.Kind, item, parts).type
            if kind not in SHOCKS:
                raise self.err((*parts, "type"),
                               f"must be one of {', '.join(SHOCKS)}; got {kind!r}")
            cls = SHOCKS[kind]
            t = m.check(self.where, m.params_model(cls, m.Shock, ("symbol", "start")), item, parts)
            params = _given(t, ("type",))
            for key, (low, high) in SHOCK_BLOCKS.items():
                value = params.get(key)
                if value is not None and not low <= value <= self.blocks + high:
                    raise self.err((*parts, key), f"must be in [{low}, {self.blocks + high}] "
                                   f"(the scenario runs {self.blocks} blocks), got {value}")
            out.append(self.construct(parts, lambda: cls(symbol, market.initial_price, **params),
                                      params, "type"))
        return out

    # -- agents, keepers, metrics --------------------------------------------------------------

    def plugin(self, kind: str, parts: Parts, item: Any) -> tuple[str, Any]:
        name = m.check(self.where, m.Kind, item, parts).type
        try:
            found = plugins.agent_type(name) if kind == "agents" else plugins.find(kind, name)
        except plugins.PluginError as exc:
            raise self.err((*parts, "type"), str(exc)) from None
        return name, found

    def agents(self, items: list[Any], markets: dict[str, MarketConfig]) -> tuple[Population, ...]:
        out = []
        for i, item in enumerate(items):
            parts = ("agents", i)
            kind, agent_type = self.plugin("agents", parts, item)
            t = m.check(self.where, m.params_model(agent_type.params, m.Population), item, parts)
            params = _given(t, m.Population.model_fields)
            if "markets" in params:
                for s in params["markets"]:
                    self._known((*parts, "markets"), s, markets)
            if isinstance(params.get("leverage"), tuple):  # a [low, high] range
                self.leverage(parts, params, markets)
            self.construct(parts, lambda: agent_type.params(**{**agent_type.defaults, **params}),
                           params, "type")
            out.append(Population(type=kind, count=t.count, params=params, label=t.label))
        return tuple(out)

    def leverage(self, parts: Parts, params: dict[str, Any], markets: dict[str, MarketConfig]) -> None:
        low, high = params["leverage"]
        if low < 1:
            raise self.err((*parts, "leverage"), f"must be at least 1 (got {low:g})"
                           + ("; leverage cannot be negative" if low < 0 else ""))
        for symbol in params.get("markets") or markets:
            cap = markets[symbol].max_leverage
            if high > cap:
                raise self.err((*parts, "leverage"), f"up to {high:g}x exceeds "
                               f"markets.{symbol}.max_leverage = {cap}")

    def keepers(self, items: list[Any]) -> tuple[KeeperSpec, ...]:
        out: list[KeeperSpec] = []
        names: dict[str, int] = {}
        for i, item in enumerate(items):
            parts = ("keepers", i)
            kind, cls = self.plugin("keepers", parts, item)
            builtin = plugins.is_builtin("keepers", kind)
            model = m.Keeper if builtin else m.params_model(cls.Params, m.Keeper)
            t = m.check(self.where, model, item, parts)
            name = self.unique(parts, t.name, plugins.short_name(kind), i, names, "keeper")
            chosen = {k: v for k, v in _given(t).items() if k in STRATEGY_FIELDS}
            keys = {}
            for field, key in (("gas_price", "gas_price_gwei"), ("max_fee", "max_fee_gwei")):
                value = getattr(t, key)
                if value is not None:
                    chosen[field], keys[field] = int(Decimal(str(value)) * GWEI), key
            strategy = self.construct(parts, lambda: Strategy(**chosen), chosen, keys=keys)
            params = None
            if not builtin:
                given = _given(t, m.Keeper.model_fields)  # the plug-in's own parameters
                params = self.construct(parts, lambda: cls.Params(**given), given, "type")
            out.append(KeeperSpec(kind, name, strategy, params))
        return tuple(out)

    def metrics(self, items: list[Any]) -> tuple[MetricSpec, ...]:
        out: list[MetricSpec] = []
        names: dict[str, int] = {}
        for i, item in enumerate(items):
            parts = ("metrics", i)
            kind, cls = self.plugin("metrics", parts, item)
            t = m.check(self.where, m.params_model(cls.Params, m.MetricTable), item, parts)
            name = self.unique(parts, t.name, plugins.short_name(kind), i, names, "metric")
            given = _given(t, m.MetricTable.model_fields)
            params = self.construct(parts, lambda: cls.Params(**given), given, "type")
            out.append(MetricSpec(kind, name, params))
        return tuple(out)

    def unique(self, parts: Parts, name: Optional[str], default: str, i: int,
               names: dict[str, int], what: str) -> str:
        if name is None:
            name = default if default not in names else f"{default}-{i}"
        if name in names:
            raise self.err((*parts, "name"), f"duplicate {what} name {name!r} "
                           f"(also {parts[0]}[{names[name]}])")
        names[name] = i
        return name
