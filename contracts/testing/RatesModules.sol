// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC165} from "@openzeppelin/contracts/utils/introspection/ERC165.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";

import {IRatesModule, IStatefulRatesModule, RatesInput, RatesMemory} from "../interfaces/IRatesModule.sol";
import {StockRates} from "../modules/StockRates.sol";

/// @notice Hyperliquid-style funding, for the fuzzer and tests: the premium from the skew (the stock rule:
/// factor x skew / open interest, capped) plus a constant interest leg of 0.01% per 8 hours
/// that longs pay shorts whatever the skew, as Hyperliquid's funding does. The interest does not
/// depend on the skew, so it stays charged with one side, or both, empty.
contract HyperliquidRates is StockRates {
    /// @notice 0.01% per 8 hours, WAD per second (rounded down: 3,472,222,222).
    int256 public constant INTEREST = int256(1e14) / 8 hours;

    function rates(RatesInput calldata m) public view override returns (int256 fundingRate, uint256 borrowRate) {
        (fundingRate, borrowRate) = super.rates(m);
        fundingRate += INTEREST;
    }
}

/// @notice A rates module whose answer a test sets: a fixed (funding, borrow) pair, or one of
/// the ways a module can fail (a custom error, a division by zero, a failed assert, an answer
/// too short to decode).
contract ProgrammableRates is StockRates {
    enum Mode {
        Answer,
        Revert,
        DivideByZero,
        Assert,
        ShortAnswer
    }

    error RatesUnavailable(uint256 market, uint256 longSize);

    Mode public mode;
    int256 public fundingAnswer;
    uint256 public borrowAnswer;
    uint256 public divisor; // stays 0: DivideByZero divides by it

    function setAnswer(int256 fundingRate, uint256 borrowRate) external {
        (mode, fundingAnswer, borrowAnswer) = (Mode.Answer, fundingRate, borrowRate);
    }

    function setMode(Mode m) external {
        mode = m;
    }

    function rates(RatesInput calldata m) public view override returns (int256, uint256) {
        Mode current = mode;
        if (current == Mode.Revert) revert RatesUnavailable(m.market, m.longSize);
        if (current == Mode.DivideByZero) return (int256(m.longSize / divisor), 0);
        if (current == Mode.Assert) assert(m.longSize == type(uint256).max);
        if (current == Mode.ShortAnswer) {
            assembly ("memory-safe") {
                mstore(0, 1)
                return(0, 32)
            }
        }
        return (fundingAnswer, borrowAnswer);
    }
}

/// @notice A stateful rates module whose answer a test sets, to check what the core keeps and
/// passes: its word grows by the seconds elapsed at each accrual (Answer), or is the mark price
/// it was handed (EchoMark), or is out of bounds (BadState), or it reverts (Revert).
contract ProgrammableStatefulRates is IStatefulRatesModule, ERC165 {
    enum Mode {
        Answer,
        EchoMark,
        BadState,
        Revert
    }

    error StatefulRatesUnavailable(uint256 market, int256 state);

    Mode public mode;
    int256 public fundingAnswer;
    uint256 public borrowAnswer;

    function setAnswer(int256 fundingRate, uint256 borrowRate) external {
        (mode, fundingAnswer, borrowAnswer) = (Mode.Answer, fundingRate, borrowRate);
    }

    function setMode(Mode m) external {
        mode = m;
    }

    function statefulRates(RatesInput calldata m, RatesMemory calldata mem) external view returns (int256, uint256, int256) {
        Mode current = mode;
        if (current == Mode.Revert) revert StatefulRatesUnavailable(m.market, mem.state);
        if (current == Mode.BadState) return (0, 0, int256(1) << 103);
        if (current == Mode.EchoMark) return (fundingAnswer, borrowAnswer, int256(mem.markPrice));
        return (fundingAnswer, borrowAnswer, mem.state + int256(mem.elapsed));
    }

    /// @notice The answer from a fresh state: the set rates.
    function rates(RatesInput calldata) external view returns (int256, uint256) {
        return (fundingAnswer, borrowAnswer);
    }

    function supportsInterface(bytes4 interfaceId) public view virtual override(ERC165, IERC165) returns (bool) {
        return interfaceId == type(IStatefulRatesModule).interfaceId || interfaceId == type(IRatesModule).interfaceId
            || super.supportsInterface(interfaceId);
    }
}
