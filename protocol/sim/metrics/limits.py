"""Which of the venue's limits bound in a run, and when: the profit cap, auto-deleveraging, bad
debt and the insurance fund running dry; the refusals traders met; the venue's worst block."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any, Mapping, Optional

from protocol.plugins import BlockView, Metric, RunView
from protocol.sim.metrics.common import usd

#: A limit's name -> the event that shows it bound; on a tie in :func:`describe`, the first
#: listed is named (the graver: a write-off the fund could not cover says more than one it did).
LIMITS = {"insurance_exhausted": "BadDebt", "bad_debt": "BadDebt", "adl": "AutoDeleveraged",
          "pnl_cap": "ProfitCapped"}
#: An event's name -> the limits it shows, in LIMITS' order (one lookup per event).
_BY_EVENT = {event: tuple(limit for limit, shown in LIMITS.items() if shown == event)
             for event in LIMITS.values()}
#: What a reader is told a limit did, for :func:`describe`.
WORDS = {"pnl_cap": "pnl cap reached", "adl": "auto-deleveraging began",
         "bad_debt": "bad debt first written off", "insurance_exhausted":
         "insurance fund exhausted (bad debt charged to the pool)"}


#: What :func:`describe` says of a run in which nothing bound.
NO_LIMIT = "no limit bound"


class Limits(Metric):
    """No columns; the summary's ``limits`` (per limit: the first block it bound, or None, and
    how many times: ``pnl_cap`` a ``ProfitCapped`` close, ``adl`` an ``AutoDeleveraged``
    position, ``bad_debt`` a ``BadDebt`` write-off, ``insurance_exhausted`` one the insurance fund
    could not cover in full), ``refused`` (the traders' refused transactions by error name, over
    the run) and ``worst_block``: the block in which the venue's backstop lost most, and how much
    (USD; None if it never lost): the fall of the LP share price times the shares outstanding
    the block before, plus the insurance fund's fall (LPs' deposits and redemptions, which move
    the pool's value but not a share's, are not losses)."""

    namespaced = False
    figures = {"limits": lambda s: s["limits"], "refused": lambda s: s["refused"],
               "worst_block": lambda s: None if s["worst_block"] is None else {
                   "block": s["worst_block"]["block"], "loss": str(s["worst_block"]["loss"])}}

    def begin(self, run: RunView) -> None:
        self.agents = list(run.agents)
        self.first: dict[str, Optional[int]] = dict.fromkeys(LIMITS)
        self.count: Counter[str] = Counter()
        self.before: Optional[tuple[Decimal, Decimal, Decimal]] = None  # share price, pool, fund
        self.worst: Optional[tuple[int, Decimal]] = None

    def observe(self, view: BlockView) -> Mapping[str, Any]:
        for receipt in view.receipts:
            for event in receipt.events:
                for limit in _BY_EVENT.get(event.name, ()):
                    if limit != "insurance_exhausted" or event["fromPool"] > 0:
                        self.count[limit] += 1
                        if self.first[limit] is None:
                            self.first[limit] = view.block
        row = view.row
        now = (row["lp_share_price"], row["pool_value"], row["insurance_fund"])
        if self.before is not None:
            price, pool, fund = self.before
            shares = pool / price if price > 0 else Decimal(0)
            # what LPs lost per share, on the shares they held, and what the fund lost: LPs
            # depositing or redeeming move the pool's value, not what a share is worth
            loss = (price - now[0]) * shares + (fund - now[2])
            if loss > 0 and (self.worst is None or loss > self.worst[1]):
                self.worst = (view.block, loss)
        self.before = now
        return {}

    def summary(self) -> dict[str, Any]:
        refused: Counter[str] = Counter()
        for agent in self.agents:
            for error, count in agent.activity.refused.items():
                refused[error or "unnamed revert"] += count
        return {
            "limits": {limit: {"first_block": self.first[limit], "count": self.count[limit]}
                       for limit in LIMITS},
            "refused": dict(sorted(refused.items())),
            "worst_block": None if self.worst is None else {
                "block": self.worst[0], "loss": usd(self.worst[1])},
        }


def describe(limits: Mapping[str, Any], refused: Mapping[str, int]) -> str:
    """The limit that bound first, in words ("pnl cap reached at block 312"); with none, the
    refusal traders met most ("OpenInterestAboveLimit refused 1,204 transactions"); else
    "no limit bound"."""
    order = list(LIMITS)
    bound = [(v["first_block"], order.index(limit), limit) for limit, v in limits.items()
             if v["first_block"] is not None]
    if bound:
        block, _, limit = min(bound)
        return f"{WORDS[limit]} at block {block}"
    if refused:
        error, count = max(refused.items(), key=lambda item: (item[1], item[0]))
        return f"{error} refused {count:,} transaction{'s' if count != 1 else ''}"
    return NO_LIMIT
