// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC165} from "@openzeppelin/contracts/utils/introspection/ERC165.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";

import {IRatesModule, RatesInput} from "../interfaces/IRatesModule.sol";
import {StockRules} from "../libraries/StockRules.sol";

/// @title StockRates
/// @notice The stock rates rule as a module: skew funding and a flat borrow rate, from the
/// market's configuration. A market without a rates module applies the same rule inline;
/// inherit this contract to change part of it.
contract StockRates is IRatesModule, ERC165 {
    function rates(RatesInput calldata m) public view virtual returns (int256 fundingRate, uint256 borrowRate) {
        return StockRules.rates(m.longSize, m.shortSize, m.fundingFactor, m.maxFundingRate, m.borrowRate);
    }

    function supportsInterface(bytes4 interfaceId) public view virtual override(ERC165, IERC165) returns (bool) {
        return interfaceId == type(IRatesModule).interfaceId || super.supportsInterface(interfaceId);
    }
}
