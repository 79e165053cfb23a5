// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";

/// @notice An unhealthy isolated position as the liquidation rule sees it.
struct SliceInput {
    uint256 market;
    uint256 sizeAbs; // base units, WAD
    uint256 notional; // WAD USD
    int256 equity; // WAD USD
    uint256 maintenance; // WAD USD
    uint256 partialThreshold; // the market's configuration, for rules that want it
    uint256 partialLiquidationBps;
}

/// @title ILiquidationModule
/// @notice What a liquidation does: how much of a position it closes, and the penalty and the
/// keeper's share of it. The venue settles everything else (PnL, charges, bad debt).
interface ILiquidationModule is IERC165 {
    /// @return closeAbs the size to close: `sizeAbs` for all of it. The venue closes all of it
    /// anyway when the margin left after a slice would not be positive.
    function slice(SliceInput calldata p) external view returns (uint256 closeAbs);

    /// @param equityLeft tokens left to the account after settling the closed part (may be < 0)
    /// @param maxPenalty tokens: the closed notional times the markets' liquidation fees
    /// @param keeperShareBps the market's configured keeper share, for rules that want it
    /// @return penalty tokens taken from `equityLeft` (never more than is left); what remains
    /// goes back to the account, and a negative remainder is bad debt
    /// @return keeperReward tokens of the penalty paid to the keeper; the rest funds insurance
    function penalty(uint256 market, int256 equityLeft, uint256 maxPenalty, uint256 keeperShareBps)
        external
        view
        returns (uint256 penalty, uint256 keeperReward);
}
