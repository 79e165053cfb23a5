"""A price that stands still, falls off a cliff at one block, and stays down."""

from __future__ import annotations

import math
from dataclasses import dataclass

from protocol.plugins import PriceModel, PricePath


@dataclass(frozen=True)
class CliffParams:
    drop: float = 0.3  # fraction lost at the cliff
    at_block: int = 5

    def __post_init__(self) -> None:
        if not 0 < self.drop < 1:
            raise ValueError(f"drop: must be in (0, 1), got {self.drop}")
        if self.at_block < 1:
            raise ValueError(f"at_block: must be at least 1, got {self.at_block}")


class Cliff(PriceModel):
    """``start`` until ``at_block``, then ``start x (1 - drop)``; the seed changes nothing."""

    Params = CliffParams

    def path(self, blocks: int, block_time: float, seed: int) -> PricePath:
        fall = math.log(1 - self.params.drop)
        return self.walk(block_time, (fall if b == self.params.at_block else 0.0
                                      for b in range(1, blocks + 1)))
