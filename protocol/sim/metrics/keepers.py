"""Each keeper's running profit and its ledger at the end."""

from __future__ import annotations

from typing import Any, Mapping

from protocol.plugins import BlockView, Metric, RunView
from protocol.sim.metrics.common import usd


class KeeperProfit(Metric):
    """Columns ``keeper_profit.NAME`` (net USD so far, at the keeper's ETH price); the summary's
    ``keepers``: each keeper's net profit, rewards, gas, fees, wins and losses, and the
    blocks it waited, its fee ceiling passed."""

    namespaced = False
    figures = {"keeper_profit": lambda s: {name: str(k["net_profit_usd"])
                                           for name, k in s["keepers"].items()}}

    def begin(self, run: RunView) -> None:
        self.keepers = list(run.keepers)

    def observe(self, view: BlockView) -> Mapping[str, Any]:
        return {f"keeper_profit.{bot.name}": usd(bot.ledger.net_profit_usd(bot.eth_price_usd))
                for bot in self.keepers}

    def summary(self) -> dict[str, Any]:
        return {"keepers": {bot.name: {
            "net_profit_usd": usd(bot.ledger.net_profit_usd(bot.eth_price_usd)),
            "rewards_usd": bot.ledger.rewards_usd, "gas_wei": bot.ledger.gas_wei,
            "fees_wei": bot.ledger.fees_wei, "eth_price_usd": bot.eth_price_usd,
            "wins": bot.ledger.wins, "losses": bot.ledger.losses, "waited": bot.ledger.waited}
            for bot in self.keepers}}
