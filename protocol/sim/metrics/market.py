"""The venue's state each block: prices, open interest, the pool and the insurance fund."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping

from protocol.plugins import Aggregate, BlockView, Metric, RunView
from protocol.sim.metrics.common import market_drawdowns, max_drawdown, usd
from protocol.venue.adl import pnl_factor
from protocol.venue.units import from_wad


class MarketState(Metric):
    """Columns ``price.SYM`` (the oracle's), ``market.SYM`` and ``exogenous.SYM`` (the external
    market after and before the venue's flow), ``long_oi.SYM``/``short_oi.SYM`` (USD at the
    oracle), ``pool_value``, ``skew.SYM``, ``utilisation.SYM``, ``lp_share_price``,
    ``insurance_fund`` and ``pnl_factor``; the summary's ``insurance_fund``, ``pool`` and
    ``markets`` (drawdowns)."""

    namespaced = False
    figures = {"insurance_max_drawdown": lambda s: str(s["insurance_fund"]["max_drawdown"]),
               "lp_return": lambda s: str(s["pool"]["lp_return"])}
    aggregates = (
        Aggregate("insurance_max_drawdown", "insurance max drawdown, worst", "fraction",
                  "insurance_max_drawdown", "max", "lower", rank=20),
        Aggregate("insurance_max_drawdown_mean", "insurance max drawdown, mean", "fraction",
                  "insurance_max_drawdown", "mean", "lower", rank=21),
        Aggregate("lp_return_mean", "LP return, mean", "fraction", "lp_return", "mean", "higher", rank=22),
        Aggregate("lp_return_p5", "LP return, p5", "fraction", "lp_return", "p5", "higher",
                  "LP return p5", rank=23),
    )

    def begin(self, run: RunView) -> None:
        venue = self.venue = run.venue
        self.symbols = list(venue.markets)
        self.market_ids = {s: venue.market_id(s) for s in self.symbols}
        self.one_share = 10 ** venue.pool.decimals()
        self.series: dict[str, list[Decimal]] = {"insurance_fund": [], "pool_value": [],
                                                 "lp_share_price": []}
        for s in self.symbols:
            self.series[f"exogenous.{s}"], self.series[f"market.{s}"] = [], []

    def observe(self, view: BlockView) -> Mapping[str, Any]:
        v, oracle = self.venue, view.oracle
        row: dict[str, Any] = {}
        for s in self.symbols:
            row[f"price.{s}"] = oracle[s]
        for s in self.symbols:
            row[f"market.{s}"] = view.prices[s]
            row[f"exogenous.{s}"] = view.exogenous[s]
        for s in self.symbols:
            state = v.clearinghouse.market_state(self.market_ids[s])
            row[f"long_oi.{s}"] = usd(from_wad(state[0]) * oracle[s])
            row[f"short_oi.{s}"] = usd(from_wad(state[1]) * oracle[s])
        pool = row["pool_value"] = v.pool_value()
        for s in self.symbols:
            long_oi, short_oi = row[f"long_oi.{s}"], row[f"short_oi.{s}"]
            row[f"skew.{s}"] = long_oi - short_oi
            row[f"utilisation.{s}"] = ((long_oi + short_oi) / pool).quantize(
                Decimal("0.000001")) if pool > 0 else None
        row["lp_share_price"] = v.usd(v.pool.convert_to_assets(self.one_share))
        row["insurance_fund"] = v.insurance_fund()
        row["pnl_factor"] = pnl_factor(v)
        for key, series in self.series.items():
            series.append(row[key])
        return row

    def summary(self) -> dict[str, Any]:
        fund, shares = self.series["insurance_fund"], self.series["lp_share_price"]
        pools = self.series["pool_value"]
        return {
            "insurance_fund": {"start": fund[0], "end": fund[-1], "min": min(fund),
                               "max_drawdown": max_drawdown(fund)},
            "pool": {"start_value": pools[0], "end_value": pools[-1],
                     "start_share_price": shares[0], "end_share_price": shares[-1],
                     "lp_return": ((shares[-1] - shares[0]) / shares[0]).quantize(
                         Decimal("0.000001")),
                     "max_drawdown": max_drawdown(shares)},
            "markets": {s: market_drawdowns(self.series[f"exogenous.{s}"],
                                            self.series[f"market.{s}"]) for s in self.symbols},
        }
