// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";

/// @title IPricingModule
/// @notice The price a trade or a liquidation fills at, from the oracle price and the trade
/// (price impact). The venue books the difference from the oracle price into the market's
/// impact pool (`impactPool`), which the module may read to cap what it pays out.
interface IPricingModule is IERC165 {
    /// @param sizeDelta the trade's signed size change (+ buys, - sells), WAD base units
    /// @param oraclePrice WAD USD per unit
    /// @return fillPrice WAD USD per unit
    function fillPrice(uint256 market, int256 sizeDelta, uint256 oraclePrice) external view returns (uint256 fillPrice);

    /// @notice The fill price of a liquidation closing `sizeDelta`: its own caps apply, as GMX
    /// caps liquidations' negative impact so that they cannot cascade on chain.
    function liquidationFillPrice(uint256 market, int256 sizeDelta, uint256 oraclePrice)
        external
        view
        returns (uint256 fillPrice);
}
