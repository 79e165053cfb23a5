// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";

/// @dev `IAdlModule.rule` flags. RANKED: the core checks the Hyperliquid rank (the target
/// ranks at least as high as every other position ADL could close now in a ranked market).
/// ROUND: the market's closes form a round the core keeps (SPEC §8.1): its members are the
/// winners when it begins, each cut once by the module's `closeLimit`.
uint256 constant ADL_RANKED = 1;
uint256 constant ADL_ROUND = 2;

/// @notice What the module is told when a round begins (all WAD USD unless said otherwise).
struct AdlRoundInput {
    uint256 profit; // P: venue-wide pending profit (`Solvency.pendingProfit`)
    uint256 assets; // A: pool assets
    uint256 budget; // B: what the pool pays out now at most (`profitCap`; P with the cap off)
    uint256 winnersProfit; // W: the members' profit at their fresh prices
    uint256 members; // n: how many positions are members
    uint256 floor; // T: `minPnlFactorAfterAdl`, WAD (1e18 = 100%)
    uint256 scale; // 10 ** (18 - collateral decimals): one token unit in WAD
}

/// @notice A position as an ADL close sees it.
struct AdlInput {
    uint256 market;
    uint256 sizeAbs; // its size now, base units WAD
    uint256 roundSizeAbs; // its size when the round began (0 outside a round)
    uint256 fraction; // the round's fraction, WAD (0 outside a round)
}

/// @title IAdlModule
/// @notice Auto-deleveraging as a market's rule (SPEC §2.1, §8.1): who may be closed (`rule`:
/// ranked or keeper-chosen; round members), how much (`closeLimit`, `roundFraction`) and in
/// which order (`rule`'s RANKED flag). The venue keeps the venue-wide checks (the trigger, the
/// target in profit, the factor lowered, the floor) and settles the close. The module applying
/// to a close is the module of the target position's market; a market with none applies the
/// stock rule (`StockAdl`).
interface IAdlModule is IERC165 {
    /// @return flags ADL_RANKED and/or ADL_ROUND
    function rule(uint256 market) external view returns (uint256 flags);

    /// @notice The fraction of its round-start size each member is cut by (WAD, at most 1e18);
    /// asked once, when a round begins (ROUND rules only).
    function roundFraction(AdlRoundInput calldata r) external view returns (uint256 fraction);

    /// @return most the most one close may take now (at most `sizeAbs`)
    /// @return exact whether a close must take exactly `most` (CLOSE_ALL asks for `most`)
    function closeLimit(AdlInput calldata p) external view returns (uint256 most, bool exact);
}
