// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC165} from "@openzeppelin/contracts/utils/introspection/ERC165.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {ADL_ROUND, AdlInput, AdlRoundInput, IAdlModule} from "../interfaces/IAdlModule.sol";

/// @title ProRataAdl
/// @notice Pro-rata haircut across all winners (SPEC §8.1): ADL runs in rounds the venue keeps.
/// When a round begins, its members are the winners of the markets with this module (in profit
/// at a fresh price, on a side in profit net), and the round fixes one fraction f; each member
/// is then cut once by f of the size it had when the round began, in any order (no rank).
///
/// The fraction. Cutting f of every member realises f of the members' profit W (PnL is linear in
/// size), so pending profit P falls by f x W, and the pool pays f x W x q, where q = min(B, P) / P
/// is the fraction the profit cap pays (1 while it does not bind; B / P constant through a cap
/// episode, SPEC §8.1). The factor after the round is (P - f W) / (A - f W q); setting it to the
/// floor T and solving: f = (P - T A) / (W - T W q). Each member's payout rounds down to a token
/// unit, which leaves up to one token unit more per member in the pool, so A is taken as
/// A + n x scale: the round lands at or above the floor, within n token units of pool assets.
/// Rounding: T (A + n scale) up, T W q down (so the denominator up), f down; f is at most 1.
/// A member's cut is ceil(roundSize x f): rounded up, in the venue's favour (at most one base
/// wei more per member, far inside the n-token margin). The owner's own reductions during the
/// round count toward the cut: a member reduced by d since the round began owes max(cut - d, 0).
contract ProRataAdl is IAdlModule, ERC165 {
    uint256 private constant WAD = 1e18;

    function rule(uint256) public view virtual returns (uint256) {
        return ADL_ROUND;
    }

    function roundFraction(AdlRoundInput calldata r) public view virtual returns (uint256) {
        if (r.profit == 0 || r.winnersProfit == 0) return 0;
        uint256 kept = Math.mulDiv(r.floor, r.assets + r.members * r.scale, WAD, Math.Rounding.Ceil);
        if (r.profit <= kept) return 0;
        uint256 paid = r.budget < r.profit ? Math.mulDiv(r.winnersProfit, r.budget, r.profit) : r.winnersProfit;
        uint256 den = r.winnersProfit - Math.mulDiv(paid, r.floor, WAD);
        return Math.min(WAD, Math.mulDiv(r.profit - kept, WAD, den));
    }

    function closeLimit(AdlInput calldata p) public view virtual returns (uint256 most, bool) {
        uint256 cut = Math.mulDiv(p.roundSizeAbs, p.fraction, WAD, Math.Rounding.Ceil);
        if (p.sizeAbs < p.roundSizeAbs) {
            uint256 reduced = p.roundSizeAbs - p.sizeAbs;
            cut = cut > reduced ? cut - reduced : 0;
        }
        return (Math.min(cut, p.sizeAbs), true);
    }

    function supportsInterface(bytes4 interfaceId) public view virtual override(ERC165, IERC165) returns (bool) {
        return interfaceId == type(IAdlModule).interfaceId || super.supportsInterface(interfaceId);
    }
}
