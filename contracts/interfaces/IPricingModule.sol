// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";

/// @notice A trade (an increase, a decrease, a liquidation, or the whole position closing, for
/// a health check) as the pricing rule sees it: the market's open interest before it, the
/// position it changes and the market's impact pool.
struct ImpactInput {
    uint256 market;
    int256 sizeDelta; // the trade, WAD base units, + buys (a long's decrease sells)
    uint256 price; // the oracle price, WAD USD per unit
    uint256 longSize; // the market's open interest before the trade, WAD base units
    uint256 shortSize;
    uint256 longEntry; // ... and as entry notional (GMX's sizeInUsd sums), WAD USD
    uint256 shortEntry;
    int256 size; // the position before the trade (0: none yet), WAD base units
    uint256 entryNotional; // its entry notional, WAD USD
    int256 pendingImpact; // its pending impact, WAD base units
    int256 impactPool; // the market's impact pool, WAD base units
    uint256 scale; // WAD USD per unit of the collateral token
}

/// @notice What the venue applies: the position's pending impact and the impact pool move by
/// their deltas, the trader is paid (or pays) `realized` collateral tokens from (to) the pool.
/// Of a payment, `held` tokens do not go to the pool: the venue holds them for the trader
/// (GMX's claimable collateral, the negative impact above a cap) until the admin releases them.
/// Were they waived instead, a second account could collect them as positive impact.
struct ImpactResult {
    uint256 executionPrice; // WAD USD per unit: what events report and orders' acceptable prices check
    int256 impactUsd; // the trade's own impact, WAD USD, + in the trader's favour (events)
    int256 pendingDelta; // added to the position's pending impact, WAD base units
    int256 realized; // collateral tokens to (+) or from (-) the trader now
    int256 poolDelta; // added to the market's impact pool, WAD base units
    uint256 held; // of a payment (-realized), the tokens held for the trader; 0 on an increase
}

/// @title IPricingModule
/// @notice Price impact: what an increase holds as pending impact, what a decrease or a
/// liquidation realises, what a health check counts. The venue opens positions at the oracle
/// price, keeps each position's pending impact (`IClearinghouse.Position.pendingImpact`) and each
/// market's impact pool (`impactPool`), and applies the answers; it refuses an execution price
/// of 0 and a positive health term (`ModuleResultOutOfBounds`). Called with STATICCALL, and only
/// for markets that name a pricing module: the stock rule is the oracle price, no impact.
interface IPricingModule is IERC165 {
    /// @notice An increase of `t.sizeDelta`: its execution price and the impact the position holds.
    function increaseImpact(ImpactInput calldata t) external view returns (ImpactResult memory);

    /// @notice A decrease (or, with `liquidation`, a liquidation) of |t.sizeDelta| of the position:
    /// its execution price and what it realises of the position's pending impact and its own.
    function decreaseImpact(ImpactInput calldata t, bool liquidation) external view returns (ImpactResult memory);

    /// @notice What a health check counts of the position's impact, WAD USD, never above 0
    /// (`t.sizeDelta` is minus the position: closing it whole).
    function healthImpact(ImpactInput calldata t) external view returns (int256);
}
