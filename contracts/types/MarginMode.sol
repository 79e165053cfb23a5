// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice How a position is margined. `None` is an empty position slot; `Isolated` positions
/// hold their own margin (GMX); `Cross` positions share the account's cross balance
/// (Hyperliquid). The ABI carries it as a uint8: 0, 1, 2.
enum MarginMode {
    None,
    Isolated,
    Cross
}

/// @notice The rule modules a market can swap (see docs/ARCHITECTURE.md).
enum ModuleKind {
    Rates,
    Margin,
    Liquidation,
    Pricing,
    Adl
}
