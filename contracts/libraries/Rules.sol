// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IClearinghouse} from "../interfaces/IClearinghouse.sol";
import {ModuleKind} from "../types/MarginMode.sol";
import {ILiquidationModule, SliceInput} from "../interfaces/ILiquidationModule.sol";
import {IMarginModule} from "../interfaces/IMarginModule.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {RatesLogic} from "./RatesLogic.sol";
import {ImpactLogic} from "./ImpactLogic.sol";
import {StockRules} from "./StockRules.sol";
import {MarginMath} from "./MarginMath.sol";
import {Settlement, StoredConfig, Tier, VenueState} from "./VenueState.sol";

/// @title Rules
/// @notice Where the core asks a market's rule modules: module id 0 applies the stock rule
/// inline, any other id calls the registered module (STATICCALL; a rates module through the
/// external `RatesLogic`, which checks its answer, and a pricing module through the external
/// `ImpactLogic`). A module costs its call only on the markets that chose it.
library Rules {
    /// @notice A market's (funding, borrow) rates per second, `longSize` and `shortSize` its
    /// sides now, and the word a stateful rates module keeps (0 for any other rule): the stock
    /// rule inline, or its rates module's answer as `RatesLogic` checks it (a failing module
    /// reverts the caller with its own revert data, or `ModuleResultOutOfBounds`).
    function rates(VenueState storage s, uint256 market, StoredConfig storage c, uint256 longSize, uint256 shortSize, uint256 price, uint256 scale)
        internal
        view
        returns (int256 fundingRate, uint256 borrowRate, int256 state)
    {
        uint256 id = c.ratesModule;
        if (id == 0) {
            (fundingRate, borrowRate) = StockRules.rates(longSize, shortSize, c.fundingFactor, c.maxFundingRate, c.borrowRate);
            return (fundingRate, borrowRate, 0);
        }
        return RatesLogic.moduleRates(s, market, price, scale);
    }

    /// @notice `rates` without reverting: `ok` false, with the module's revert data (or the
    /// `ModuleResultOutOfBounds` its answer is refused with), when the market's module fails.
    function tryRates(VenueState storage s, uint256 market, StoredConfig storage c, IClearinghouse.MarketState storage st, uint256 price, uint256 scale)
        internal
        view
        returns (bool ok, int256 fundingRate, uint256 borrowRate, int256 state, bytes memory reason)
    {
        if (c.ratesModule != 0) return RatesLogic.tryModuleRates(s, market, price, scale);
        (fundingRate, borrowRate) = StockRules.rates(st.longSize, st.shortSize, c.fundingFactor, c.maxFundingRate, c.borrowRate);
        return (true, fundingRate, borrowRate, 0, reason);
    }

    function requirements(VenueState storage s, uint256 market, StoredConfig storage c, uint256 notional, uint256 leverage)
        internal
        view
        returns (uint256 initialMargin, uint256 maintenanceMargin)
    {
        uint256 id = c.marginModule;
        if (id == 0) {
            uint256 count = c.tierCount;
            if (count == 0) return StockRules.requirements(notional, leverage, c.mmf);
            Tier storage t = tier(s, market, count, notional);
            // A position keeps its leverage as its notional grows into a lower-leverage tier,
            // whose maintenance can exceed notional / leverage: the initial margin is never less.
            maintenanceMargin = StockRules.tieredMaintenance(notional, t.maxLeverage, t.deduction);
            return (Math.max(MarginMath.initial(notional, leverage), maintenanceMargin), maintenanceMargin);
        }
        (initialMargin, maintenanceMargin) = IMarginModule(s.modules[id - 1]).requirements(market, notional, leverage, c.mmf);
        // Opening at the initial margin must leave a position above maintenance.
        if (initialMargin < maintenanceMargin) revert IClearinghouse.ModuleResultOutOfBounds(ModuleKind.Margin, initialMargin);
    }

    /// @notice The tier a notional falls in: the last whose lower bound it reaches.
    function tier(VenueState storage s, uint256 market, uint256 count, uint256 notional) internal view returns (Tier storage t) {
        Tier[16] storage tiers = s.tiers[market];
        uint256 i = count - 1;
        while (i > 0 && notional < tiers[i].lowerBound) --i;
        return tiers[i];
    }

    /// @notice The most leverage a position of this notional may have (its tier's; the
    /// market's maximum without tiers).
    function maxLeverage(VenueState storage s, uint256 market, StoredConfig storage c, uint256 notional) internal view returns (uint256) {
        uint256 count = c.tierCount;
        return count == 0 ? c.maxLeverage : tier(s, market, count, notional).maxLeverage;
    }

    function slice(VenueState storage s, uint256 market, StoredConfig storage c, uint256 sizeAbs, uint256 notional, int256 equity, uint256 mm)
        internal
        view
        returns (uint256)
    {
        uint256 id = c.liquidationModule;
        if (id == 0) return StockRules.slice(sizeAbs, notional, equity, mm, c.partialThreshold, c.partialLiquidationBps);
        uint256 closeAbs = ILiquidationModule(s.modules[id - 1]).slice(
            SliceInput(market, sizeAbs, notional, equity, mm, c.partialThreshold, c.partialLiquidationBps)
        );
        if (closeAbs == 0 || closeAbs > sizeAbs) revert IClearinghouse.ModuleResultOutOfBounds(ModuleKind.Liquidation, closeAbs);
        return closeAbs;
    }

    function penalty(VenueState storage s, uint256 market, StoredConfig storage c, int256 equityLeft, uint256 maxPenalty)
        internal
        view
        returns (uint256 taken, uint256 keeperReward)
    {
        uint256 id = c.liquidationModule;
        if (id == 0) (taken, keeperReward) = StockRules.penalty(equityLeft, maxPenalty, c.keeperShareBps);
        else (taken, keeperReward) = ILiquidationModule(s.modules[id - 1]).penalty(market, equityLeft, maxPenalty, c.keeperShareBps);
        // A module may not take more than is left, nor pay the keeper more than it took.
        if (taken > (equityLeft > 0 ? uint256(equityLeft) : 0) || keeperReward > taken) {
            revert IClearinghouse.ModuleResultOutOfBounds(ModuleKind.Liquidation, taken);
        }
    }

    /// @notice A decrease (or liquidation) of |sizeDelta| of `account`'s position at the oracle
    /// `price`: under the stock rule the oracle price and nothing realised, else the pricing
    /// module's answer applied (`ImpactLogic`). Returns the execution price and the tokens paid
    /// to the trader (the caller settles them against the pool, with the PnL); what of a payment
    /// is held for the trader goes into `st.held`, which the pool does not get (`Buckets.payPool`).
    function decreaseImpact(
        VenueState storage s,
        address account,
        uint256 market,
        StoredConfig storage c,
        int256 sizeDelta,
        uint256 price,
        uint256 scale,
        bool liquidation,
        Settlement memory st
    ) internal returns (uint256 fill, int256 realized) {
        if (c.pricingModule == 0) return (price, 0);
        (fill, realized, st.held) = ImpactLogic.decrease(s, account, market, sizeDelta, price, scale, liquidation);
    }
}
