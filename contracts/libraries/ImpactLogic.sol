// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IClearinghouse} from "../interfaces/IClearinghouse.sol";
import {IPricingModule, ImpactInput, ImpactResult} from "../interfaces/IPricingModule.sol";
import {ModuleKind} from "../types/MarginMode.sol";
import {Env, StoredConfig, VenueState} from "./VenueState.sol";

/// @title ImpactLogic
/// @notice Where the venue asks a market's pricing module (`IPricingModule`) and applies its
/// answers: a position's pending impact, the market's impact pool, the `PriceImpact` event. An
/// external library run by DELEGATECALL on the core's storage, reached (through `Rules`) only
/// for markets that name a pricing module, so stock markets pay neither its call nor its size.
library ImpactLogic {
    using SafeCast for int256;

    /// @notice An increase of `sizeDelta` (+ buys) of `account`'s position at the oracle
    /// `price`: the module's answer applied. Returns the execution price and the tokens paid to
    /// the trader now (the caller settles them against the pool).
    function increase(VenueState storage vs, address account, uint256 market, int256 sizeDelta, uint256 price, uint256 scale)
        external
        returns (uint256, int256)
    {
        IClearinghouse.Position storage p = vs.positions[account][market];
        ImpactResult memory r = _module(vs, market).increaseImpact(_input(vs, market, p, sizeDelta, price, scale));
        if (r.held != 0) revert IClearinghouse.ModuleResultOutOfBounds(ModuleKind.Pricing, r.held);
        return _apply(vs, account, market, p, sizeDelta, price, r);
    }

    /// @notice A decrease (or liquidation) of |sizeDelta| of `account`'s position: the module's
    /// answer applied, as `increase`; also returns the tokens of the payment held for the trader.
    function decrease(
        VenueState storage vs,
        address account,
        uint256 market,
        int256 sizeDelta,
        uint256 price,
        uint256 scale,
        bool liquidation
    ) external returns (uint256 fill, int256 realized, uint256 held) {
        IClearinghouse.Position storage p = vs.positions[account][market];
        ImpactResult memory r = _decrease(vs, market, p, sizeDelta, price, scale, liquidation);
        (fill, realized) = _apply(vs, account, market, p, sizeDelta, price, r);
        held = r.held;
    }

    /// @notice What a decrease of |sizeDelta| of the position `p` would realise now.
    function quoteDecrease(
        VenueState storage vs,
        IClearinghouse.Position storage p,
        uint256 market,
        int256 sizeDelta,
        uint256 price,
        uint256 scale,
        bool liquidation
    ) external view returns (ImpactResult memory) {
        return _decrease(vs, market, p, sizeDelta, price, scale, liquidation);
    }

    /// @notice The execution price an increase of `sizeDelta` would get now (no position).
    function quoteIncrease(VenueState storage vs, uint256 market, int256 sizeDelta, uint256 price, uint256 scale)
        external
        view
        returns (uint256 executionPrice)
    {
        IClearinghouse.Position storage none = vs.positions[address(0)][market];
        executionPrice = _module(vs, market).increaseImpact(_input(vs, market, none, sizeDelta, price, scale)).executionPrice;
        if (executionPrice == 0) revert IClearinghouse.ModuleResultOutOfBounds(ModuleKind.Pricing, 0);
    }

    /// @notice What health counts of the position `p`'s impact (WAD USD, never above 0): the
    /// module's answer for closing it whole; nothing under the stock rule (what a position held
    /// before its market's pricing module was removed is not counted).
    function health(VenueState storage vs, uint256 market, IClearinghouse.Position storage p, uint256 price, uint256 scale)
        external
        view
        returns (int256)
    {
        if (vs.configs[market].pricingModule == 0) return 0;
        return _health(vs, market, p, price, scale);
    }

    function _health(VenueState storage vs, uint256 market, IClearinghouse.Position storage p, uint256 price, uint256 scale)
        private
        view
        returns (int256 h)
    {
        h = _module(vs, market).healthImpact(_input(vs, market, p, -int256(p.size), price, scale));
        if (h > 0) revert IClearinghouse.ModuleResultOutOfBounds(ModuleKind.Pricing, uint256(h));
    }

    /// @notice The impact terms of `account`'s cross positions that hold pending impact, each at
    /// its market's fresh price (`Health.cross` asks only when one does).
    function crossHealth(VenueState storage vs, Env memory env, address account) external view returns (int256 sum) {
        uint256 mask = vs.crossMarkets[account];
        for (uint256 market; mask != 0; ++market) {
            if (mask & 1 != 0) {
                IClearinghouse.Position storage p = vs.positions[account][market];
                if (p.pendingImpact != 0 && vs.configs[market].pricingModule != 0) {
                    sum += _health(vs, market, p, env.oracle.freshPrice(market), env.scale);
                }
            }
            mask >>= 1;
        }
    }

    function _module(VenueState storage vs, uint256 market) private view returns (IPricingModule) {
        return IPricingModule(vs.modules[vs.configs[market].pricingModule - 1]);
    }

    /// @dev What the module sees: the market's open interest and impact pool now, the position.
    function _input(
        VenueState storage vs,
        uint256 market,
        IClearinghouse.Position storage p,
        int256 sizeDelta,
        uint256 price,
        uint256 scale
    ) private view returns (ImpactInput memory) {
        IClearinghouse.MarketState storage st = vs.states[market];
        return ImpactInput(
            market, sizeDelta, price, st.longSize, st.shortSize, st.longEntry, st.shortEntry, p.size, p.entryNotional,
            p.pendingImpact, vs.impactPool[market], scale
        );
    }

    function _decrease(
        VenueState storage vs,
        uint256 market,
        IClearinghouse.Position storage p,
        int256 sizeDelta,
        uint256 price,
        uint256 scale,
        bool liquidation
    ) private view returns (ImpactResult memory r) {
        r = _module(vs, market).decreaseImpact(_input(vs, market, p, sizeDelta, price, scale), liquidation);
        if (r.executionPrice == 0) revert IClearinghouse.ModuleResultOutOfBounds(ModuleKind.Pricing, 0);
    }

    /// @dev The position's pending impact and the market's impact pool move by their deltas,
    /// the account's held impact by what the module holds of the payment; `PriceImpact` tells,
    /// unless nothing moved off the oracle price.
    function _apply(
        VenueState storage vs,
        address account,
        uint256 market,
        IClearinghouse.Position storage p,
        int256 sizeDelta,
        uint256 price,
        ImpactResult memory r
    ) private returns (uint256, int256) {
        if (r.executionPrice == 0) revert IClearinghouse.ModuleResultOutOfBounds(ModuleKind.Pricing, 0);
        if (r.held != 0) {
            // held is part of what the trader pays: more would be paid out of nothing
            if (r.realized >= 0 || r.held > uint256(-r.realized)) {
                revert IClearinghouse.ModuleResultOutOfBounds(ModuleKind.Pricing, r.held);
            }
            vs.heldImpact[account] += r.held;
            emit IClearinghouse.ImpactHeld(account, market, r.held);
        }
        if (r.pendingDelta != 0) p.pendingImpact = (int256(p.pendingImpact) + r.pendingDelta).toInt80();
        if (r.poolDelta != 0) vs.impactPool[market] += r.poolDelta;
        if (r.executionPrice != price || r.impactUsd != 0 || r.pendingDelta != 0 || r.realized != 0 || r.poolDelta != 0) {
            emit IClearinghouse.PriceImpact(
                account, market, sizeDelta, price, r.executionPrice, r.poolDelta, r.impactUsd, r.pendingDelta, r.realized
            );
        }
        return (r.executionPrice, r.realized);
    }
}
