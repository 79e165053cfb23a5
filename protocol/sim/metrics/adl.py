"""How auto-deleveraging treated the winners: overshoot, haircuts and their fairness.

An ADL *episode* begins with the first ``AutoDeleveraged`` event and ends at the first block
whose pnl factor is back at or below the ADL trigger (``max_pnl_factor_adl``). At its first
block the winners are read once (every position ADL could close, with its size, as the
contract ranks them; positions closed in that block are added back); a position opened during
the episode that ADL then cuts joins them with the size it had at its first cut. Each winner's
*haircut* is the share of that size ADL closed in the episode: 0 for a winner it spared, 1 for
one it closed. Fairness is the Gini coefficient of those haircuts
(0: every winner cut alike, as a pro-rata rule does; near 1: a few winners took it all, as a
queue does).

*Overshoot* is what ADL closed beyond what brought the pnl factor back to the trigger: of a
close that took the factor from ``before`` to ``after`` across the trigger ``t``, the share
``(t - after) / (before - after)`` of its notional (the factor falls linearly in the size
closed, to first order), all of it for a close made when the factor was already at or below
``t``. The floor (``min_pnl_factor_after_adl``) lets a venue close past the trigger on purpose;
overshoot measures how much it did.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Mapping, Optional

from protocol.plugins import BlockView, Metric, RunView
from protocol.sim.metrics.common import usd
from protocol.venue.adl import ranked_candidates, solvency
from protocol.venue.units import from_wad

_PCT = Decimal("0.01")


def gini(values: list[Decimal]) -> Decimal:
    """The Gini coefficient of non-negative ``values``: the mean absolute difference over all
    ordered pairs, divided by twice the mean; 0 for none, or all zero."""
    n = len(values)
    total = sum(values, Decimal(0))
    if n == 0 or total == 0:
        return Decimal(0)
    ordered = sorted(values)
    # sum_{i<j} (x_j - x_i) = sum_i x_i (2i - n + 1) over the sorted values (0-based i)
    spread = sum((x * (2 * i - n + 1) for i, x in enumerate(ordered)), Decimal(0))
    return spread / (n * total)


class AdlFairness(Metric):
    """No columns; the summary's ``adl``: episodes, closes, the notional closed and the overshoot
    (USD and % of it), the winners at each episode's start and how many ADL cut, their
    haircuts' mean, median, 90th percentile and maximum (%), and the haircuts' Gini."""

    namespaced = False
    figures = {"adl_overshoot": lambda s: str(s["adl"]["overshoot"]),
               "adl_gini": lambda s: str(s["adl"]["gini"])}

    def begin(self, run: RunView) -> None:
        self.venue = run.venue
        self.trigger: Optional[Decimal] = None
        self.episodes = self.closes = 0
        self.notional = self.overshoot = Decimal(0)
        self.haircuts: list[Decimal] = []  # of the winners of episodes that ended
        self._start: dict[tuple[str, int], Decimal] = {}  # the open episode's winners' sizes
        self._closed: dict[tuple[str, int], Decimal] = {}

    def observe(self, view: BlockView) -> Mapping[str, Any]:
        events = [e for r in view.receipts for e in r.events if e.name == "AutoDeleveraged"]
        if events:
            if self.trigger is None:
                self.trigger = solvency(self.venue).max_pnl_factor_adl
            if not self._start:
                self._begin_episode(events)
            for event in events:
                self._close(event)
        factor = view.row.get("pnl_factor")
        if self._start and factor is not None and self.trigger is not None and factor <= self.trigger:
            self._end_episode()
        return {}

    def _begin_episode(self, events: list[Any]) -> None:
        self.episodes += 1
        for c in ranked_candidates(self.venue, list(self.venue.markets)):
            self._start[(c.account.lower(), self.venue.market_id(c.market))] = c.size
        for event in events:  # closed before the winners were read: add back what they held
            key = (event["account"].lower(), event["market"])
            self._start[key] = self._start.get(key, Decimal(0)) + abs(from_wad(event["sizeDelta"]))

    def _close(self, event: Any) -> None:
        assert self.trigger is not None
        size, price = abs(from_wad(event["sizeDelta"])), from_wad(event["price"])
        key = (event["account"].lower(), event["market"])
        if key not in self._start:  # opened after the episode began: its size then is at least this
            self._start[key] = size
        self._closed[key] = self._closed.get(key, Decimal(0)) + size
        self.closes += 1
        self.notional += size * price
        before, after = from_wad(event["factorBefore"]), from_wad(event["factorAfter"])
        if after < self.trigger:
            share = Decimal(1) if before <= self.trigger else (self.trigger - after) / (before - after)
            self.overshoot += share * size * price

    def _end_episode(self) -> None:
        for key, size in self._start.items():
            closed = self._closed.get(key, Decimal(0))
            self.haircuts.append(min(Decimal(1), closed / size) if size > 0 else Decimal(0))
        self._start, self._closed = {}, {}

    def summary(self) -> dict[str, Any]:
        if self._start:  # an episode still open at the end counts as it stands
            self._end_episode()
        cuts = sorted(self.haircuts)

        def pct(x: Decimal) -> Decimal:
            return (x * 100).quantize(_PCT)

        def quantile(q: Decimal) -> Decimal:
            return cuts[min(len(cuts) - 1, int(q * len(cuts)))] if cuts else Decimal(0)

        return {"adl": {
            "episodes": self.episodes, "closes": self.closes, "notional": usd(self.notional),
            "overshoot": usd(self.overshoot),
            "overshoot_pct": pct(self.overshoot / self.notional if self.notional else Decimal(0)),
            "winners": len(cuts), "cut": sum(1 for c in cuts if c > 0),
            "haircut_mean_pct": pct(sum(cuts, Decimal(0)) / len(cuts) if cuts else Decimal(0)),
            "haircut_median_pct": pct(quantile(Decimal("0.5"))),
            "haircut_p90_pct": pct(quantile(Decimal("0.9"))),
            "haircut_max_pct": pct(cuts[-1] if cuts else Decimal(0)),
            "gini": gini(cuts).quantize(Decimal("0.0001")),
        }}
