// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC165} from "@openzeppelin/contracts/utils/introspection/ERC165.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";

import {IRatesModule, IStatefulRatesModule, RatesInput, RatesMemory} from "../interfaces/IRatesModule.sol";

/// @title StatefulRates
/// @notice What every stateful rates module shares: `statefulRates` answered by the module's
/// `_rates`, `rates` as that answer from a fresh state (`IStatefulRatesModule`: word 0, no time
/// elapsed, the mark at the oracle price), and ERC-165 for both interfaces. A module inherits
/// it and implements `_rates`.
abstract contract StatefulRates is IStatefulRatesModule, ERC165 {
    /// @inheritdoc IStatefulRatesModule
    function statefulRates(RatesInput calldata m, RatesMemory calldata mem)
        external
        view
        returns (int256 fundingRate, uint256 borrowRate, int256 state)
    {
        return _rates(m, mem.state, mem.elapsed, mem.markPrice);
    }

    /// @notice The answer from a fresh state: word 0, no time elapsed, the mark at the oracle.
    function rates(RatesInput calldata m) external view returns (int256 fundingRate, uint256 borrowRate) {
        (fundingRate, borrowRate,) = _rates(m, 0, 0, m.price);
    }

    /// @dev The rule: the rates over the `elapsed` seconds since the accrual that kept `state`,
    /// with the market's mark price `markPrice`, and the word to keep.
    function _rates(RatesInput calldata m, int256 state, uint256 elapsed, uint256 markPrice)
        internal
        view
        virtual
        returns (int256 fundingRate, uint256 borrowRate, int256 next);

    function supportsInterface(bytes4 interfaceId) public view virtual override(ERC165, IERC165) returns (bool) {
        return interfaceId == type(IStatefulRatesModule).interfaceId || interfaceId == type(IRatesModule).interfaceId
            || super.supportsInterface(interfaceId);
    }
}
