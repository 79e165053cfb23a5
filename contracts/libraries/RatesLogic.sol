// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IClearinghouse} from "../interfaces/IClearinghouse.sol";
import {IRatesModule, RatesInput} from "../interfaces/IRatesModule.sol";
import {ModuleKind} from "../types/MarginMode.sol";
import {StoredConfig, VenueState} from "./VenueState.sol";

/// @title RatesLogic
/// @notice A market's rates module asked and its answer checked (`Rules.rates` calls it for a
/// market that names a module; the stock rule stays inline). An external library, run by
/// DELEGATECALL on the core's storage, so the call and its checks count against no caller's
/// size; a module costs the extra call only on the markets that chose one.
library RatesLogic {
    /// @notice The largest funding rate a module may answer, either way, and the largest borrow
    /// rate, WAD per second: the hard bounds of the configured `maxFundingRate` and `borrowRate`
    /// (`configureMarket`): 3.6% an hour and 315.36% a year.
    int256 internal constant MAX_FUNDING_RATE = 1e13;
    uint256 internal constant MAX_BORROW_RATE = 1e11;

    /// @notice The market's module's (funding, borrow) rates, checked as `tryModuleRates` does;
    /// a failing module reverts with its own revert data (or `ModuleResultOutOfBounds`).
    function moduleRates(VenueState storage vs, uint256 market, uint256 price, uint256 scale)
        external
        view
        returns (int256 fundingRate, uint256 borrowRate)
    {
        bool ok;
        bytes memory reason;
        (ok, fundingRate, borrowRate, reason) = tryModuleRates(vs, market, price, scale);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(reason, 32), mload(reason))
            }
        }
    }

    /// @notice The market's module asked (STATICCALL), without reverting: `ok` false with the
    /// module's revert data when it reverts, or with the `ModuleResultOutOfBounds` the venue
    /// refuses its answer with: |funding| above 1e13 (a negative rate as its two's complement),
    /// borrowing above 1e11, or an answer shorter than two words (its length). Funding needs
    /// both sides: with either side empty nobody could pay or receive it, so it is 0 (as the
    /// stock rule's), never a division by an empty side.
    function tryModuleRates(VenueState storage vs, uint256 market, uint256 price, uint256 scale)
        public
        view
        returns (bool ok, int256 fundingRate, uint256 borrowRate, bytes memory reason)
    {
        StoredConfig storage c = vs.configs[market];
        IClearinghouse.MarketState storage st = vs.states[market];
        uint256 longSize = st.longSize;
        uint256 shortSize = st.shortSize;
        RatesInput memory input = RatesInput({
            market: market,
            longSize: longSize,
            shortSize: shortSize,
            longOpenInterest: st.longEntry,
            shortOpenInterest: st.shortEntry,
            price: price,
            poolAssets: int256(vs.poolAssets) * int256(scale),
            fundingFactor: c.fundingFactor,
            maxFundingRate: c.maxFundingRate,
            borrowRate: c.borrowRate
        });
        (ok, reason) = vs.modules[c.ratesModule - 1].staticcall(abi.encodeCall(IRatesModule.rates, (input)));
        if (!ok) return (false, 0, 0, reason);
        uint256 refused = reason.length;
        if (refused >= 64) {
            (fundingRate, borrowRate) = abi.decode(reason, (int256, uint256));
            if (fundingRate > MAX_FUNDING_RATE || fundingRate < -MAX_FUNDING_RATE) {
                refused = uint256(fundingRate);
            } else if (borrowRate > MAX_BORROW_RATE) {
                refused = borrowRate;
            } else {
                if (longSize == 0 || shortSize == 0) fundingRate = 0;
                return (true, fundingRate, borrowRate, "");
            }
        }
        return (false, 0, 0, abi.encodeWithSelector(IClearinghouse.ModuleResultOutOfBounds.selector, ModuleKind.Rates, refused));
    }
}
