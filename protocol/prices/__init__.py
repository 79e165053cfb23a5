"""Deterministic oracle price paths for simulations (standard library only).

Every source has ``symbols`` and ``path(blocks, block_time, seed) -> PricePath``: ``blocks + 1``
``Decimal`` prices per symbol (8 decimals), reproducible from the seed on any machine (each path
uses its own ``random.Random(seed)``). Rates and volatilities are annual
(``SECONDS_PER_YEAR`` = 365 days); percentages are fractions (0.3 = 30%).

>>> from protocol.prices import GBM, Crash, WithShock, combine
>>> btc = WithShock(GBM("BTC", 60000), Crash("BTC", 1, drop_pct="0.3", start_block=10,
...                                           over_blocks=5))
>>> src = combine(GBM("ETH", 3000, volatility=0.8), btc)
>>> path = src.path(blocks=100, block_time=12, seed=7)
>>> sorted(path.at(100))
['BTC', 'ETH']

Modules: :mod:`~protocol.prices.path` (``PricePath``), :mod:`~protocol.prices.source`
(``PriceSource``, ``combine``), :mod:`~protocol.prices.gbm`, :mod:`~protocol.prices.jumps`,
:mod:`~protocol.prices.correlated`, :mod:`~protocol.prices.volatility`,
:mod:`~protocol.prices.shocks`, :mod:`~protocol.prices.bridge`, :mod:`~protocol.prices.replay`,
:mod:`~protocol.prices.history` (candles replayed bar by bar, read by
:mod:`~protocol.prices.data`);
the external market's depth (:mod:`~protocol.prices.liquidity`) and oracle models
(:mod:`~protocol.prices.oracle`) turn a path into what the venue's oracle reports.
"""

from protocol.constants import SECONDS_PER_YEAR
from protocol.prices.bridge import BrownianBridge
from protocol.prices.correlated import CorrelatedGBM
from protocol.prices.correlation import cholesky, validate_correlation
from protocol.prices.data import DataFileError
from protocol.prices.gbm import GBM
from protocol.prices.history import HistoryReplay
from protocol.prices.jumps import MertonJumpDiffusion
from protocol.prices.liquidity import DepthSchedule, ExternalMarket, Liquidity, OutsideFill, Thinning
from protocol.prices.oracle import OracleFeed, OracleModel
from protocol.prices.path import PRICE_DECIMALS, PRICE_QUANTUM, PricePath, quantize
from protocol.prices.replay import CsvReplay, CsvReplayError
from protocol.prices.shocks import Crash, FlashCrash, Gap, Shock, WithShock
from protocol.prices.source import Combined, PriceSource, combine, derive_seed
from protocol.prices.volatility import Heston, RegimeSwitchingVol

__all__ = [
    "PRICE_DECIMALS", "PRICE_QUANTUM", "SECONDS_PER_YEAR",
    "BrownianBridge", "Combined", "CorrelatedGBM", "Crash", "CsvReplay", "CsvReplayError",
    "DataFileError", "DepthSchedule", "ExternalMarket", "OutsideFill", "FlashCrash", "GBM", "Gap", "Heston",
    "HistoryReplay", "Liquidity", "MertonJumpDiffusion", "OracleFeed", "OracleModel",
    "PricePath", "PriceSource", "RegimeSwitchingVol", "Shock", "Thinning", "WithShock",
    "cholesky", "combine", "derive_seed", "quantize", "validate_correlation",
]
