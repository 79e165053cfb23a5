"""What a keeper earned and spent: exact integers inside, Decimal USD at the edge."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

ETHER = 10**18


@dataclass
class Ledger:
    """Running totals of one keeper bot.

    ``rewards_tokens``: liquidation rewards (collateral token units, credited to the keeper's
    cross balance). ``fees_wei``: order execution fees received. ``gas_wei``: sum of
    ``gas_used * gas_price`` of every transaction sent. ``wins``/``losses``: transactions that
    did their job / that reverted or did nothing (lost a race). ``txs``: transactions sent.
    ``waited``: blocks in which it had targets due but held back, the fee over its ``max_fee``.
    """

    decimals: int = 6
    rewards_tokens: int = 0
    fees_wei: int = 0
    gas_wei: int = 0
    wins: int = 0
    losses: int = 0
    txs: int = 0
    waited: int = 0

    @property
    def rewards_usd(self) -> Decimal:
        return Decimal(self.rewards_tokens) / (Decimal(10) ** self.decimals)

    def fees_usd(self, eth_price_usd: Decimal) -> Decimal:
        return Decimal(self.fees_wei) * Decimal(eth_price_usd) / ETHER

    def gas_usd(self, eth_price_usd: Decimal) -> Decimal:
        return Decimal(self.gas_wei) * Decimal(eth_price_usd) / ETHER

    @property
    def net_eth_wei(self) -> int:
        """ETH gained (fees) minus ETH spent (gas); the change of the keeper's ETH balance."""
        return self.fees_wei - self.gas_wei

    def net_profit_usd(self, eth_price_usd: Decimal) -> Decimal:
        return self.rewards_usd + Decimal(self.net_eth_wei) * Decimal(eth_price_usd) / ETHER
