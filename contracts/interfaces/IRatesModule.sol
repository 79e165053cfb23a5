// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";

/// @notice What a rates rule sees of a market when its indices accrue.
struct RatesInput {
    uint256 market;
    uint256 longSize; // base units, WAD
    uint256 shortSize;
    uint256 longOpenInterest; // entry notional, WAD USD
    uint256 shortOpenInterest;
    uint256 price; // oracle price, WAD
    int256 poolAssets; // the pool's tokens, WAD USD: utilisation = open interest / this
    uint256 fundingFactor; // the market's configured parameters, for rules that want them
    uint256 maxFundingRate;
    uint256 borrowRate;
}

/// @title IRatesModule
/// @notice Funding and borrowing rates of a market. The venue accrues them between two updates
/// of the market, so a rate may depend only on what stays constant in between: sizes, open
/// interest, configuration. Called with STATICCALL.
interface IRatesModule is IERC165 {
    /// @return fundingRate WAD per second of notional; positive: longs pay shorts
    /// @return borrowRate WAD per second of entry notional, paid to the pool by both sides
    function rates(RatesInput calldata m) external view returns (int256 fundingRate, uint256 borrowRate);
}

/// @notice What a stateful rates rule sees besides `RatesInput` (`IStatefulRatesModule`).
struct RatesMemory {
    int256 state; // the word the module answered at the market's last accrual; 0 when it was set
    uint256 elapsed; // seconds since the market's last accrual: the interval the answer covers
    uint256 markPrice; // the market's mark price now (the oracle's EMA, `markPrice`), WAD
}

/// @title IStatefulRatesModule
/// @notice A rates rule with memory (funding that drifts, as Synthetix v3's velocity or GMX
/// v2's adaptive funding): the core keeps one signed word per market for it, hands it back at
/// the next accrual with the seconds elapsed and the mark price, and stores the word the module
/// answers. Detected by ERC-165 when the module is set (`setMarketModule`), which also resets
/// the word to 0. A stateful module declares `IRatesModule` too: its `rates` is its answer from
/// a fresh state (state 0, no time elapsed, mark = oracle), which the core does not ask on a
/// market where the module is stateful. Called with STATICCALL.
interface IStatefulRatesModule is IRatesModule {
    /// @return fundingRate the rate to apply over the `elapsed` seconds just ended, WAD per
    /// second of notional (for a rate that drifts, its average over the interval), positive:
    /// longs pay shorts; bounded as `rates`' answer is
    /// @return borrowRate WAD per second of entry notional over the interval
    /// @return state the word to keep for the next accrual; |state| below 2^103
    function statefulRates(RatesInput calldata m, RatesMemory calldata mem)
        external
        view
        returns (int256 fundingRate, uint256 borrowRate, int256 state);
}
