"""The units and time spans every layer counts in, stated once (the contracts state theirs once,
in ``contracts/libraries/MarginMath.sol``). Standard library only: the reference model uses them."""

WAD = 10**18  # 1.0 in 18-decimal fixed point: prices, rates and USD amounts on chain
BPS = 10_000  # basis points in 1.0
GWEI = 10**9  # wei in a gwei (gas prices)
MAX_UINT = 2**256 - 1
ZERO_ADDRESS = "0x" + "00" * 20  # address(0): no contract, e.g. the stock rule where a module could be
SECONDS_PER_HOUR = 3_600
SECONDS_PER_DAY = 86_400
SECONDS_PER_YEAR = 365 * SECONDS_PER_DAY  # crypto trades every day: rates per year use 365 days
