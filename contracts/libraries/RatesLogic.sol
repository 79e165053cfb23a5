// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IClearinghouse} from "../interfaces/IClearinghouse.sol";
import {IRatesModule, IStatefulRatesModule, RatesInput, RatesMemory} from "../interfaces/IRatesModule.sol";
import {ModuleKind} from "../types/MarginMode.sol";
import {MarketMemory, StoredConfig, VenueState} from "./VenueState.sol";

/// @title RatesLogic
/// @notice A market's rates module asked and its answer checked (`Rules.rates` calls it for a
/// market that names a module; the stock rule stays inline), and the market's mark price. An
/// external library, run by DELEGATECALL on the core's storage, so the call and its checks
/// count against no caller's size; a module costs the extra call only on the markets that
/// chose one.
library RatesLogic {
    /// @notice The largest funding rate a module may answer, either way, and the largest borrow
    /// rate, WAD per second: the hard bounds of the configured `maxFundingRate` and `borrowRate`
    /// (`configureMarket`): 3.6% an hour and 315.36% a year.
    int256 internal constant MAX_FUNDING_RATE = 1e13;
    uint256 internal constant MAX_BORROW_RATE = 1e11;
    /// @notice The largest word a stateful module may keep, either way (`MarketMemory.ratesState`
    /// holds 104 bits).
    int256 internal constant MAX_RATES_STATE = type(int104).max;
    /// @notice The mark price's EMA time constant when the admin set none (Hyperliquid's 150 s),
    /// and the bounds `setMarkWindow` keeps it in (`MarkWindowOutOfBounds`).
    uint256 internal constant DEFAULT_MARK_WINDOW = 150;
    uint256 internal constant MAX_MARK_WINDOW = 1 hours;

    /// @notice The mark price after `elapsed` seconds at oracle `price`: a time-weighted EMA with
    /// time constant `window` (0: the default), mark' = (mark x window + price x elapsed) /
    /// (window + elapsed), rounded down. It is the exact (implicit Euler) step of
    /// dmark/dt = (price - mark) / window, the new sample weighted elapsed / (window + elapsed)
    /// where Hyperliquid's EMA weighs it 1 - exp(-elapsed / window): the same for short steps,
    /// in exact integers. A mark price of 0 (no accrual yet) starts at `price`.
    function markAfter(uint256 mark, uint256 window, uint256 price, uint256 elapsed) internal pure returns (uint256) {
        if (mark == 0) return price;
        if (window == 0) window = DEFAULT_MARK_WINDOW;
        // Cannot overflow: the mark and price below 2^128, the window 2^16, elapsed 2^32.
        unchecked {
            return (mark * window + price * elapsed) / (window + elapsed);
        }
    }

    /// @notice The market's mark price now, at oracle `price`: for a market that tracks memory
    /// (`StoredConfig.tracksMemory`), `markAfter` since its last accrual (so `price` itself until
    /// its first accrual after it began to track); for any other market, `price`: its mark is
    /// the oracle price.
    function markNow(VenueState storage vs, uint256 market, uint256 price) internal view returns (uint256) {
        if (!vs.configs[market].tracksMemory) return price;
        MarketMemory storage mem = vs.marketMemory[market];
        return markAfter(mem.markPrice, mem.markWindow, price, block.timestamp - vs.states[market].lastUpdate);
    }

    /// @notice The market's module's (funding, borrow) rates and the word a stateful module keeps,
    /// checked as `tryModuleRates` does; a failing module reverts with its own revert data (or
    /// `ModuleResultOutOfBounds`).
    function moduleRates(VenueState storage vs, uint256 market, uint256 price, uint256 scale)
        external
        view
        returns (int256 fundingRate, uint256 borrowRate, int256 state)
    {
        bool ok;
        bytes memory reason;
        (ok, fundingRate, borrowRate, state, reason) = tryModuleRates(vs, market, price, scale);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(reason, 32), mload(reason))
            }
        }
    }

    /// @notice The market's module asked (STATICCALL), without reverting: `ok` false with the
    /// module's revert data when it reverts, or with the `ModuleResultOutOfBounds` the venue
    /// refuses its answer with: |funding| above 1e13 (a negative rate as its two's complement),
    /// borrowing above 1e11, a stateful module's |state| above `MAX_RATES_STATE`, or an answer
    /// shorter than two words (three for a stateful module; its length). Funding needs both
    /// sides: with either side empty nobody could pay or receive it, so it is 0 (as the stock
    /// rule's), never a division by an empty side; a stateful module's word is kept all the
    /// same. A stateless module's `state` is 0.
    function tryModuleRates(VenueState storage vs, uint256 market, uint256 price, uint256 scale)
        public
        view
        returns (bool ok, int256 fundingRate, uint256 borrowRate, int256 state, bytes memory reason)
    {
        StoredConfig storage c = vs.configs[market];
        IClearinghouse.MarketState storage st = vs.states[market];
        MarketMemory storage mem = vs.marketMemory[market];
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
        address module = vs.modules[c.ratesModule - 1];
        bool stateful = mem.statefulRates;
        if (stateful) {
            uint256 elapsed = block.timestamp - st.lastUpdate;
            RatesMemory memory remembered = RatesMemory(mem.ratesState, elapsed, markAfter(mem.markPrice, mem.markWindow, price, elapsed));
            (ok, reason) = module.staticcall(abi.encodeCall(IStatefulRatesModule.statefulRates, (input, remembered)));
        } else {
            (ok, reason) = module.staticcall(abi.encodeCall(IRatesModule.rates, (input)));
        }
        if (!ok) return (false, 0, 0, 0, reason);
        uint256 refused = reason.length;
        if (refused >= (stateful ? 96 : 64)) {
            if (stateful) (fundingRate, borrowRate, state) = abi.decode(reason, (int256, uint256, int256));
            else (fundingRate, borrowRate) = abi.decode(reason, (int256, uint256));
            if (fundingRate > MAX_FUNDING_RATE || fundingRate < -MAX_FUNDING_RATE) {
                refused = uint256(fundingRate);
            } else if (borrowRate > MAX_BORROW_RATE) {
                refused = borrowRate;
            } else if (state > MAX_RATES_STATE || state < -MAX_RATES_STATE) {
                refused = uint256(state);
            } else {
                if (longSize == 0 || shortSize == 0) fundingRate = 0;
                return (true, fundingRate, borrowRate, state, "");
            }
        }
        return (false, 0, 0, 0, abi.encodeWithSelector(IClearinghouse.ModuleResultOutOfBounds.selector, ModuleKind.Rates, refused));
    }
}
