"""The network's base fee over a run: constant, a schedule, or EIP-1559 answering how full each
block was, with spikes on top.

Keepers bid their tip above it (:attr:`protocol.keepers.Strategy.gas_price`) and wait while
base fee plus tip would pass their ``max_fee``, so a congested network raises what a liquidation
costs and, for keepers with a ceiling, how long it waits. Fees are integer wei; the EIP-1559
update is the specification's integer arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Optional

from protocol.constants import GWEI

MODELS = ("constant", "schedule", "eip1559")


@dataclass(frozen=True)
class GasSpike:
    """The base fee times ``multiplier`` (> 0) from ``start_block`` for ``blocks`` blocks (>= 1):
    a burst of demand from outside the venue (an NFT mint, a market-wide rush to the exits)."""

    start_block: int
    blocks: int
    multiplier: Decimal

    def __post_init__(self) -> None:
        if self.start_block < 1:
            raise ValueError(f"start_block: must be >= 1, got {self.start_block}")
        if self.blocks < 1:
            raise ValueError(f"blocks: must be >= 1, got {self.blocks}")
        if not Decimal(self.multiplier) > 0:
            raise ValueError(f"multiplier: must be > 0, got {self.multiplier}")


@dataclass(frozen=True)
class GasModel:
    """How the base fee moves. ``constant``: ``base_fee_gwei`` throughout. ``schedule``:
    ``(from block, gwei)`` steps, the first from block 1 (``base_fee_gwei`` before none applies
    is not allowed: the first step must start at block 1). ``eip1559``: from ``base_fee_gwei``
    (> 0), each block's fee is the last one's moved by at most 1/``change_denominator`` toward
    how far the previous block's gas was above or below ``target_gas`` (EIP-1559:
    denominator 8, target 15M). ``spikes`` multiply whatever the model gives, without feeding
    back into EIP-1559's state."""

    model: str = "constant"
    base_fee_gwei: Decimal = Decimal(0)
    schedule: tuple[tuple[int, Decimal], ...] = ()
    target_gas: int = 15_000_000
    change_denominator: int = 8
    spikes: tuple[GasSpike, ...] = ()

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"model: must be one of {', '.join(MODELS)}, got {self.model!r}")
        if Decimal(self.base_fee_gwei) < 0:
            raise ValueError(f"base_fee_gwei: must be >= 0, got {self.base_fee_gwei}")
        if self.model == "eip1559" and not Decimal(self.base_fee_gwei) > 0:
            raise ValueError("base_fee_gwei: EIP-1559 needs a starting fee > 0 (a zero fee "
                             "never moves)")
        if self.model == "schedule":
            if not self.schedule:
                raise ValueError("schedule: a schedule needs at least one (block, gwei) step")
            blocks = [b for b, _ in self.schedule]
            if blocks[0] != 1 or blocks != sorted(set(blocks)):
                raise ValueError("schedule: steps must start at block 1, blocks rising, got "
                                 f"{blocks}")
            if any(Decimal(g) < 0 for _, g in self.schedule):
                raise ValueError("schedule: fees must be >= 0 gwei")
        elif self.schedule:
            raise ValueError(f"schedule: only for model = \"schedule\", not {self.model!r}")
        if self.target_gas < 1:
            raise ValueError(f"target_gas: must be >= 1, got {self.target_gas}")
        if self.change_denominator < 1:
            raise ValueError(f"change_denominator: must be >= 1, got {self.change_denominator}")

    def market(self) -> "GasMarket":
        """A fresh base-fee tracker for one run."""
        return GasMarket(self)


def _wei(gwei: Decimal) -> int:
    return int(Decimal(gwei) * GWEI)


class GasMarket:
    """One run's base fee: :meth:`fee` for the block about to be built, :meth:`record` with the
    gas the block used once it is built."""

    def __init__(self, model: GasModel):
        self.model = model
        self.base = _wei(model.base_fee_gwei)  # EIP-1559's state: the fee before spikes

    def fee(self, block: int) -> int:
        """The base fee (wei) keepers see in ``block``."""
        m = self.model
        if m.model == "schedule":
            base = next(_wei(g) for b, g in reversed(m.schedule) if b <= block)
        else:
            base = self.base
        for spike in m.spikes:
            if spike.start_block <= block < spike.start_block + spike.blocks:
                base = int(base * Decimal(spike.multiplier))
        return base

    def record(self, block: int, gas_used: int) -> None:
        """The block's gas: under EIP-1559 it sets the next block's fee (the specification's
        integer update, an increase of at least 1 wei)."""
        m = self.model
        if m.model != "eip1559":
            return
        target, parent = m.target_gas, self.base
        if gas_used > target:
            self.base = parent + max(parent * (gas_used - target) // target
                                     // m.change_denominator, 1)
        elif gas_used < target:
            self.base = parent - parent * (target - gas_used) // target // m.change_denominator


def gwei(wei: Optional[int]) -> Optional[Decimal]:
    """Wei as gwei, exactly (None stays None)."""
    return None if wei is None else Decimal(wei) / GWEI
