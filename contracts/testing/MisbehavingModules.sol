// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {SliceInput} from "../interfaces/ILiquidationModule.sol";
import {StockLiquidation} from "../modules/StockLiquidation.sol";
import {OraclePricing} from "../modules/OraclePricing.sol";
import {ImpactInput, ImpactResult} from "../interfaces/IPricingModule.sol";
import {ADL_ROUND, AdlInput, AdlRoundInput} from "../interfaces/IAdlModule.sol";
import {GmxAdl} from "../modules/GmxAdl.sol";

/// @notice Audit modules (the fuzzer installs them: protocol/testing/adversarial.py) that answer what the venue must refuse (ModuleResultOutOfBounds).
contract GreedyLiquidation is StockLiquidation {
    function penalty(uint256, int256 equityLeft, uint256 maxPenalty, uint256)
        public
        pure
        override
        returns (uint256, uint256)
    {
        uint256 left = equityLeft > 0 ? uint256(equityLeft) : 0;
        return (left + maxPenalty + 1, 0); // more than is left
    }
}

contract ZeroPricing is OraclePricing {
    function increaseImpact(ImpactInput calldata) public pure override returns (ImpactResult memory r) {
        return r; // an execution price of 0
    }
}

/// @notice Fills at the oracle price and holds `held` tokens of a decrease's payment of
/// `paid` (and `onIncrease` on an increase, which the venue refuses): the bounds on `held`.
contract HoldingPricing is OraclePricing {
    uint256 public onIncrease;
    uint256 public paid;
    uint256 public held;

    function set(uint256 onIncrease_, uint256 paid_, uint256 held_) external {
        (onIncrease, paid, held) = (onIncrease_, paid_, held_);
    }

    function increaseImpact(ImpactInput calldata t) public view override returns (ImpactResult memory r) {
        r.executionPrice = t.price;
        r.held = onIncrease;
    }

    function decreaseImpact(ImpactInput calldata t, bool) public view override returns (ImpactResult memory r) {
        r.executionPrice = t.price;
        r.realized = -int256(paid);
        r.held = held;
    }
}

/// @notice A keeper share of 90% instead of the configured one: a module's effect, in tests.
contract GenerousLiquidation is StockLiquidation {
    function penalty(uint256 market, int256 equityLeft, uint256 maxPenalty, uint256)
        public
        view
        override
        returns (uint256, uint256)
    {
        return super.penalty(market, equityLeft, maxPenalty, 9_000);
    }
}

/// @notice A penalty of everything left but `leave` tokens (0: everything), the keeper its
/// configured share of it: the module of finding 7, whose penalty leaves a slice no margin (the
/// position, or the cross account, must then go whole, SPEC §2.1). `leave` = 1 leaves exactly
/// one token unit, the boundary.
contract TakeAllLiquidation is StockLiquidation {
    uint256 public leave;

    function setLeave(uint256 leave_) external {
        leave = leave_;
    }

    function penalty(uint256, int256 equityLeft, uint256, uint256 keeperShareBps)
        public
        view
        override
        returns (uint256 taken, uint256 keeperReward)
    {
        if (equityLeft > int256(leave)) taken = uint256(equityLeft) - leave;
        keeperReward = taken * keeperShareBps / 10_000;
    }
}

/// @notice A liquidation rule that fails while `mode` says so: 1 reverts with an error, 2 burns
/// every unit of gas it is given (INVALID); 0 is the stock rule. A batch must skip its targets
/// and liquidate the others (SPEC §6).
contract RevertingLiquidation is StockLiquidation {
    error LiquidationRuleBroken();

    uint256 public mode;

    function setMode(uint256 mode_) external {
        mode = mode_;
    }

    function slice(SliceInput calldata p) public view override returns (uint256) {
        _fail();
        return super.slice(p);
    }

    function penalty(uint256 market, int256 equityLeft, uint256 maxPenalty, uint256 keeperShareBps)
        public
        view
        override
        returns (uint256, uint256)
    {
        _fail();
        return super.penalty(market, equityLeft, maxPenalty, keeperShareBps);
    }

    function _fail() private view {
        uint256 m = mode;
        if (m == 1) revert LiquidationRuleBroken();
        if (m == 2) {
            assembly {
                invalid()
            }
        }
    }
}

/// @notice An ADL rule whose answers a test sets, to check what the venue refuses (SPEC §8.1):
/// `extra` added to the most a close may take (above the position: `ModuleResultOutOfBounds`),
/// a round rule whose fraction is `fraction` (above 1e18: `ModuleResultOutOfBounds`), or a
/// revert with its own error (the venue reverts with it).
contract ProgrammableAdl is GmxAdl {
    error AdlRuleBroken(uint256 market);

    uint256 public extra;
    uint256 public fraction;
    bool public broken;

    function setAnswer(uint256 extra_, uint256 fraction_, bool broken_) external {
        (extra, fraction, broken) = (extra_, fraction_, broken_);
    }

    function rule(uint256 market) public view override returns (uint256) {
        if (broken) revert AdlRuleBroken(market);
        return fraction == 0 ? 0 : ADL_ROUND;
    }

    function roundFraction(AdlRoundInput calldata) public view override returns (uint256) {
        return fraction;
    }

    function closeLimit(AdlInput calldata p) public view override returns (uint256, bool) {
        if (fraction != 0) return (p.roundSizeAbs * fraction / 1e18 + extra, false);
        return (p.sizeAbs + extra, false);
    }
}
