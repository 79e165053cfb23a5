// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

import {ADL_ROUND, AdlInput, AdlRoundInput, IAdlModule} from "../interfaces/IAdlModule.sol";
import {IClearinghouse} from "../interfaces/IClearinghouse.sol";
import {ADL_KEEPER_ROLE} from "../types/Constants.sol";
import {ModuleKind} from "../types/MarginMode.sol";
import {MarginMath} from "./MarginMath.sol";
import {Markets} from "./Markets.sol";
import {Solvency} from "./Solvency.sol";
import {Env, VenueState} from "./VenueState.sol";

/// @title AdlLogic
/// @notice Auto-deleveraging rules as modules (`IAdlModule`, SPEC §8.1): how much a close may
/// take, and the rounds of a round rule (a pro-rata haircut), which the core keeps: the members
/// (the winners when a round begins, with their sizes then), the fraction the module fixes, and
/// which members are cut. An external library run by DELEGATECALL on the core's storage.
library AdlLogic {
    uint256 private constant WAD = 1e18;
    uint256 private constant CUT = 1 << 128;

    /// @notice The ADL rule of a market: its module (none: the stock rule) and the module's
    /// flags (the stock rule: ADL_RANKED).
    function rule(VenueState storage vs, uint256 market) internal view returns (IAdlModule module, uint256 flags) {
        uint256 id = vs.configs[market].adlModule;
        if (id == 0) return (module, 1);
        module = IAdlModule(vs.modules[id - 1]);
        flags = module.rule(market);
    }

    /// @notice Whether a round is in progress.
    function roundActive(VenueState storage vs) internal view returns (bool) {
        return uint64(vs.adlRound >> 64) != 0;
    }

    /// @notice The size a non-round module's close takes: `sizeAbs` (`all`: the module's most),
    /// refused `AdlSizeNotAllowed` beyond what the module allows.
    function limit(IAdlModule module, uint256 market, uint256 current, uint256 sizeAbs, bool all)
        external
        view
        returns (uint256)
    {
        (uint256 most, bool exact) = module.closeLimit(AdlInput(market, current, 0, 0));
        return _checked(most, exact, current, sizeAbs, all);
    }

    function _checked(uint256 most, bool exact, uint256 current, uint256 sizeAbs, bool all) private pure returns (uint256) {
        if (most > current) revert IClearinghouse.ModuleResultOutOfBounds(ModuleKind.Adl, most);
        if (all) sizeAbs = most;
        if (sizeAbs == 0 || (exact ? sizeAbs != most : sizeAbs > most)) {
            revert IClearinghouse.AdlSizeNotAllowed(all ? type(uint256).max : sizeAbs, most);
        }
        return sizeAbs;
    }

    /// @notice A round rule's close of `account`'s position in `market` (size now `current`):
    /// begins a round when none is in progress (`_begin`), checks the position is a member not
    /// cut yet, asks the module its cut, marks it cut, and ends the round with its last member.
    /// Returns the size to close.
    function roundClose(
        VenueState storage vs,
        Env memory env,
        IAdlModule module,
        address account,
        uint256 market,
        uint256 current,
        uint256 sizeAbs,
        bool all
    ) external returns (uint256) {
        uint256 r = vs.adlRound;
        if (uint64(r >> 64) == 0) r = _begin(vs, env, module, vs.configs[market].adlModule, uint64(r) + 1);
        uint256 id = uint64(r);
        uint256 entry = vs.adlRoundEntry[account][market];
        if (entry >> 192 != id) revert IClearinghouse.AdlNotInRound(account, market, id);
        if (entry & CUT != 0) revert IClearinghouse.AdlAlreadyCut(account, market, id);
        (uint256 most, bool exact) = module.closeLimit(AdlInput(market, current, uint128(entry), r >> 136));
        sizeAbs = _checked(most, exact, current, sizeAbs, all);
        vs.adlRoundEntry[account][market] = entry | CUT;
        uint256 remaining = uint64(r >> 64) - 1;
        vs.adlRound = (r & ~(uint256(type(uint64).max) << 64)) | (remaining << 64);
        if (remaining == 0) emit IClearinghouse.AdlRoundEnded(id, 0);
        return sizeAbs;
    }

    /// @dev Begin round `id`: every position of the markets whose ADL module is `moduleId` that
    /// is in profit at its market's fresh price, on a side in profit net (the sides pending
    /// profit counts), is a member with its size now; the module fixes the fraction from the
    /// venue's pending profit, pool assets and budget, the members' profit and count, and the
    /// floor. Stale markets' positions are not members.
    function _begin(VenueState storage vs, Env memory env, IAdlModule module, uint256 moduleId, uint256 id)
        private
        returns (uint256 r)
    {
        uint256 count = vs.marketCount;
        uint256[] memory prices = new uint256[](count);
        uint256 longs;
        uint256 shorts;
        for (uint256 m; m < count; ++m) {
            if (vs.configs[m].adlModule != moduleId) continue;
            IClearinghouse.MarketState storage s = vs.states[m];
            if (s.longSize == 0 && s.shortSize == 0) continue;
            (uint256 price, bool fresh) = env.oracle.valuationPrice(m);
            if (!fresh) continue;
            prices[m] = price;
            if (MarginMath.notionalUp(s.longSize, price) > s.longEntry) longs |= 1 << m;
            if (s.shortEntry > MarginMath.notionalDown(s.shortSize, price)) shorts |= 1 << m;
        }
        AdlRoundInput memory input;
        uint256 sides = longs | shorts;
        uint256 accounts = vs.accounts.length;
        for (uint256 i; i < accounts && sides != 0; ++i) {
            address account = vs.accounts[i];
            for (uint256 m; sides >> m != 0; ++m) {
                if ((sides >> m) & 1 == 0) continue;
                IClearinghouse.Position storage p = vs.positions[account][m];
                int256 size = p.size;
                if (size == 0 || ((size > 0 ? longs : shorts) >> m) & 1 == 0) continue;
                int256 pnl = MarginMath.pnl(size, p.entryNotional, prices[m]);
                if (pnl <= 0) continue;
                vs.adlRoundEntry[account][m] = (id << 192) | Markets.abs(size);
                input.winnersProfit += uint256(pnl);
                ++input.members;
            }
        }
        (input.profit,) = Solvency.pendingProfit(vs, env);
        input.assets = Solvency.poolWad(vs, env.scale);
        input.budget = Solvency.profitCap(vs, env.scale, input.profit);
        input.floor = uint256(vs.minPnlFactorAfterAdl) * WAD / MarginMath.BPS;
        input.scale = env.scale;
        uint256 fraction = module.roundFraction(input);
        if (fraction > WAD) revert IClearinghouse.ModuleResultOutOfBounds(ModuleKind.Adl, fraction);
        r = (fraction << 136) | (moduleId << 128) | (input.members << 64) | id;
        vs.adlRound = r;
        emit IClearinghouse.AdlRoundStarted(id, address(module), fraction, input.members, input.profit, input.winnersProfit);
    }

    /// @notice End the round in progress early: an ADL keeper once the pnl factor is at or below
    /// the trigger (`AdlRoundStillNeeded` before), the admin at any time. Members not cut yet
    /// keep their positions.
    function endRound(VenueState storage vs, Env memory env) external {
        bool admin = IAccessControl(address(this)).hasRole(0x00, msg.sender);
        if (!admin && !IAccessControl(address(this)).hasRole(ADL_KEEPER_ROLE, msg.sender)) {
            revert IClearinghouse.Unauthorized(msg.sender, address(0));
        }
        uint256 r = vs.adlRound;
        uint256 remaining = uint64(r >> 64);
        if (remaining == 0) revert IClearinghouse.AdlNoRound();
        if (!admin) {
            uint256 factor = Solvency.pnlFactor(vs, env);
            uint256 trigger = uint256(vs.maxPnlFactorAdl) * WAD / MarginMath.BPS;
            if (factor > trigger) revert IClearinghouse.AdlRoundStillNeeded(factor, trigger);
        }
        vs.adlRound = r & ~(uint256(type(uint64).max) << 64);
        emit IClearinghouse.AdlRoundEnded(uint64(r), remaining);
    }

    /// @notice (round id, fraction WAD, members not cut yet, module) of the round in progress
    /// or the last one (members 0: none in progress).
    function round(VenueState storage vs) internal view returns (uint256 id, uint256 fraction, uint256 remaining, address module) {
        uint256 r = vs.adlRound;
        uint256 moduleId = uint8(r >> 128);
        return (uint64(r), r >> 136, uint64(r >> 64), moduleId == 0 ? address(0) : vs.modules[moduleId - 1]);
    }

    /// @notice What a round rule lets one close take of `account`'s position in `market` now:
    /// 0 unless a round is in progress and the position a member not cut yet.
    function entitlement(VenueState storage vs, address account, uint256 market) internal view returns (uint256) {
        uint256 r = vs.adlRound;
        if (uint64(r >> 64) == 0) return 0;
        uint256 entry = vs.adlRoundEntry[account][market];
        if (entry >> 192 != uint64(r) || entry & CUT != 0) return 0;
        uint256 moduleId = uint8(r >> 128);
        if (vs.configs[market].adlModule != moduleId) return 0;
        uint256 current = Markets.abs(vs.positions[account][market].size);
        (uint256 most,) = IAdlModule(vs.modules[moduleId - 1]).closeLimit(AdlInput(market, current, uint128(entry), r >> 136));
        return most > current ? 0 : most;
    }

    function flagsRound(uint256 flags) internal pure returns (bool) {
        return flags & ADL_ROUND != 0;
    }
}
