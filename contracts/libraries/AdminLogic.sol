// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IClearinghouse} from "../interfaces/IClearinghouse.sol";
import {IAdlModule} from "../interfaces/IAdlModule.sol";
import {ILiquidationModule} from "../interfaces/ILiquidationModule.sol";
import {IMarginModule} from "../interfaces/IMarginModule.sol";
import {IPricingModule} from "../interfaces/IPricingModule.sol";
import {IRatesModule, IStatefulRatesModule} from "../interfaces/IRatesModule.sol";
import {MAX_MARKETS, MAX_MODULES, MAX_RISK_CHANGE_DELAY} from "../types/Constants.sol";
import {ModuleKind} from "../types/MarginMode.sol";
import {Buckets} from "./Buckets.sol";
import {MarginMath} from "./MarginMath.sol";
import {Markets} from "./Markets.sol";
import {RatesLogic} from "./RatesLogic.sol";
import {Solvency} from "./Solvency.sol";
import {StockRules} from "./StockRules.sol";
import {Env, MarketMemory, StoredConfig, Tier, VenueState} from "./VenueState.sol";

/// @title AdminLogic
/// @notice The core's rarely used paths: market configuration within hard bounds, rule module
/// registration, and the pool's withdrawal check and value. An external library, run by
/// DELEGATECALL on the core's storage, so none of it counts against the core's size.
library AdminLogic {
    using SafeCast for uint256;

    /// @dev A market's margin rule as a risk comparison sees it: mmf and max leverage, and its
    /// tiers (lower bounds, max leverages, deductions; none: notional x mmf).
    struct MarginRule {
        uint256 mmf;
        uint256 maxLeverage;
        uint256[] bounds;
        uint256[] leverages;
        uint256[] deductions;
    }

    function configureMarket(VenueState storage vs, Env memory env, uint256 market, bytes32 symbol, IClearinghouse.MarketConfig calldata c)
        external
    {
        _checkBounds(c);
        if (market < vs.marketCount && !_configChangeDue(vs, market, symbol, c)) return;
        _configure(vs, env, market, symbol, c);
    }

    function _configure(VenueState storage vs, Env memory env, uint256 market, bytes32 symbol, IClearinghouse.MarketConfig calldata c)
        private
    {
        uint256 count = vs.marketCount;
        if (market > count) revert IClearinghouse.UnknownMarket(market);
        if (market == count) {
            if (market == MAX_MARKETS) revert IClearinghouse.TooManyMarkets();
            vs.marketCount = uint8(market + 1);
            vs.states[market].lastUpdate = uint32(block.timestamp);
        } else {
            (uint256 price,,) = env.oracle.latest(market);
            Markets.accrue(vs, market, price, env.scale);
        }
        StoredConfig storage stored = vs.configs[market];
        stored.mmf = c.mmf;
        stored.fundingFactor = uint48(c.fundingFactor);
        stored.maxFundingRate = uint48(c.maxFundingRate);
        stored.borrowRate = uint48(c.borrowRate);
        stored.maxLeverage = c.maxLeverage;
        stored.takerFeeBps = c.takerFeeBps;
        stored.liquidationFeeBps = c.liquidationFeeBps;
        stored.keeperShareBps = c.keeperShareBps;
        stored.reserveFactorBps = c.reserveFactorBps;
        stored.partialLiquidationBps = c.partialLiquidationBps;
        stored.liquidationCooldown = c.liquidationCooldown;
        stored.minCollateral = c.minCollateral;
        stored.openBufferBps = c.openBufferBps;
        stored.maxLongOi = c.maxLongOi;
        stored.maxShortOi = c.maxShortOi;
        stored.partialThreshold = c.partialThreshold;
        vs.marketSymbol[market] = symbol;
        emit IClearinghouse.MarketConfigured(market, symbol, c);
    }

    /// @dev The hard bounds of every market parameter, in one place (the Python client reads
    /// the same numbers from `protocol.venue.bounds`, checked against these by a test).
    function _checkBounds(IClearinghouse.MarketConfig calldata c) private pure {
        if (c.maxLeverage == 0 || c.maxLeverage > 200) revert IClearinghouse.ParamOutOfBounds("maxLeverage", c.maxLeverage);
        // mmf < 1 / maxLeverage, so an opened position always starts above maintenance.
        if (c.mmf == 0 || uint256(c.mmf) * c.maxLeverage >= MarginMath.WAD) revert IClearinghouse.ParamOutOfBounds("mmf", c.mmf);
        if (c.takerFeeBps > 100) revert IClearinghouse.ParamOutOfBounds("takerFeeBps", c.takerFeeBps);
        if (c.liquidationFeeBps > 500) revert IClearinghouse.ParamOutOfBounds("liquidationFeeBps", c.liquidationFeeBps);
        if (c.keeperShareBps > 10_000) revert IClearinghouse.ParamOutOfBounds("keeperShareBps", c.keeperShareBps);
        if (c.reserveFactorBps == 0 || c.reserveFactorBps > 50_000) {
            revert IClearinghouse.ParamOutOfBounds("reserveFactorBps", c.reserveFactorBps);
        }
        if (c.partialLiquidationBps == 0 || c.partialLiquidationBps > 10_000) {
            revert IClearinghouse.ParamOutOfBounds("partialLiquidationBps", c.partialLiquidationBps);
        }
        // Rate caps keep the packed indices of MarketState far from overflow: 3.6%/hour funding
        // and 315%/year borrowing (and the stored fields below 2^48).
        if (c.maxFundingRate > 1e13) revert IClearinghouse.ParamOutOfBounds("maxFundingRate", c.maxFundingRate);
        if (c.fundingFactor > 1e13) revert IClearinghouse.ParamOutOfBounds("fundingFactor", c.fundingFactor);
        if (c.borrowRate > 1e11) revert IClearinghouse.ParamOutOfBounds("borrowRate", c.borrowRate);
        if (c.minCollateral == 0) revert IClearinghouse.ParamOutOfBounds("minCollateral", 0);
        if (c.liquidationCooldown > 1 days) revert IClearinghouse.ParamOutOfBounds("liquidationCooldown", c.liquidationCooldown);
        // Never 0: an open always keeps a margin of accrual above maintenance (SPEC §5).
        if (c.openBufferBps == 0 || c.openBufferBps > 1_000) revert IClearinghouse.ParamOutOfBounds("openBufferBps", c.openBufferBps);
    }

    function setMarketTiers(VenueState storage vs, uint256 market, uint256[] calldata lowerBounds, uint256[] calldata maxLeverages)
        external
    {
        uint256 count = lowerBounds.length;
        if (count != maxLeverages.length || count > 16) revert IClearinghouse.InvalidTiers(count);
        StoredConfig storage c = vs.configs[market];
        MarginRule memory next = MarginRule(c.mmf, c.maxLeverage, lowerBounds, maxLeverages, new uint256[](count));
        uint256 deduction;
        uint256 previous;
        for (uint256 i; i < count; ++i) {
            uint256 bound = lowerBounds[i];
            uint256 leverage = maxLeverages[i];
            bool bad = i == 0 ? bound != 0 || leverage != c.maxLeverage
                : bound <= lowerBounds[i - 1] || leverage > maxLeverages[i - 1] || leverage == 0;
            if (bad || bound > type(uint96).max) revert IClearinghouse.InvalidTiers(i);
            uint256 fraction = StockRules.tierFraction(leverage);
            // Continuity at the bound: deduction(n) = deduction(n-1) + bound x (mmr(n) - mmr(n-1)).
            if (i != 0) deduction += bound * (fraction - previous) / MarginMath.WAD;
            previous = fraction;
            next.deductions[i] = deduction.toUint96();
        }
        if (_raisesRisk(_current(vs, market, c), next, c.marginModule != 0)) {
            if (!_due(vs, market, keccak256(abi.encode(market, lowerBounds, maxLeverages)))) return;
        }
        Tier[16] storage tiers = vs.tiers[market];
        for (uint256 i; i < count; ++i) {
            tiers[i] = Tier(uint96(lowerBounds[i]), uint96(next.deductions[i]), uint16(maxLeverages[i]));
        }
        c.tierCount = uint8(count);
        emit IClearinghouse.MarketTiersSet(market, lowerBounds, maxLeverages);
    }

    function setRiskChangeDelay(VenueState storage vs, uint256 delay) external {
        if (delay > MAX_RISK_CHANGE_DELAY) revert IClearinghouse.ParamOutOfBounds("riskChangeDelay", delay);
        vs.riskChangeDelay = delay;
        emit IClearinghouse.RiskChangeDelaySet(delay);
    }

    /// @dev A change of mmf or max leverage that raises risk (`_raisesRisk`) waits (`_due`).
    function _configChangeDue(VenueState storage vs, uint256 market, bytes32 symbol, IClearinghouse.MarketConfig calldata c)
        private
        returns (bool)
    {
        StoredConfig storage stored = vs.configs[market];
        MarginRule memory current = _current(vs, market, stored);
        MarginRule memory next = MarginRule(c.mmf, c.maxLeverage, current.bounds, current.leverages, current.deductions);
        if (!_raisesRisk(current, next, stored.marginModule != 0)) return true;
        return _due(vs, market, keccak256(abi.encode(market, symbol, c)));
    }

    /// @dev Whether a risk-increasing change applies now: with no delay, at once; otherwise the
    /// first call schedules it and the same call from `readyAt` on applies it.
    function _due(VenueState storage vs, uint256 market, bytes32 change) private returns (bool) {
        uint256 delay = vs.riskChangeDelay;
        if (delay == 0) return true;
        uint256 readyAt = vs.changeReadyAt[change];
        if (readyAt == 0) {
            readyAt = block.timestamp + delay;
            vs.changeReadyAt[change] = readyAt;
            emit IClearinghouse.MarketChangeScheduled(market, change, readyAt);
            return false;
        }
        if (block.timestamp < readyAt) revert IClearinghouse.MarketChangeNotReady(market, readyAt);
        delete vs.changeReadyAt[change];
        return true;
    }

    /// @dev The margin rule a market applies now: mmf, max leverage and its tiers.
    function _current(VenueState storage vs, uint256 market, StoredConfig storage c) private view returns (MarginRule memory r) {
        uint256 count = c.tierCount;
        r = MarginRule(c.mmf, c.maxLeverage, new uint256[](count), new uint256[](count), new uint256[](count));
        Tier[16] storage tiers = vs.tiers[market];
        for (uint256 i; i < count; ++i) {
            Tier storage t = tiers[i];
            (r.bounds[i], r.leverages[i], r.deductions[i]) = (t.lowerBound, t.maxLeverage, t.deduction);
        }
    }

    /// @dev Whether `next` charges more maintenance than `current`, or allows less leverage, at
    /// some notional (SPEC §2). Maintenance is piecewise linear in the notional (notional x mmf,
    /// or notional x the tier's fraction - its deduction, rounded up alike), so comparing the
    /// exact lines at 0, at every bound of both rules (from each side) and their slopes past the
    /// last bound covers every notional; leverage is a step function changing only at bounds.
    /// With a margin module, maintenance is the module's: only leverage counts, and a higher
    /// mmf, which the module may read.
    function _raisesRisk(MarginRule memory current, MarginRule memory next, bool module) private pure returns (bool) {
        if (module && next.mmf > current.mmf) return true;
        if (_worseAt(current, next, 0, module)) return true;
        for (uint256 i; i < current.bounds.length; ++i) {
            if (_worseAt(current, next, current.bounds[i], module)) return true;
        }
        for (uint256 i; i < next.bounds.length; ++i) {
            if (_worseAt(current, next, next.bounds[i], module)) return true;
        }
        if (module) return false;
        (uint256 slope,) = _line(current, type(uint256).max);
        (uint256 nextSlope,) = _line(next, type(uint256).max);
        return nextSlope > slope;
    }

    function _worseAt(MarginRule memory current, MarginRule memory next, uint256 notional, bool module)
        private
        pure
        returns (bool)
    {
        if (_leverageAt(next, notional) < _leverageAt(current, notional)) return true;
        if (module) return false;
        // the pieces that start at this notional, and the pieces that end there (its left limit)
        return _higher(current, next, notional, notional) || (notional != 0 && _higher(current, next, notional - 1, notional));
    }

    /// @dev Whether `next`'s maintenance line in force at `at`, taken at `notional`, is above
    /// `current`'s, exactly: N x fraction / WAD - deduction, compared before rounding up (the
    /// deductions are whole, so no higher line means no higher rounded maintenance).
    function _higher(MarginRule memory current, MarginRule memory next, uint256 at, uint256 notional)
        private
        pure
        returns (bool)
    {
        (uint256 fraction, uint256 deduction) = _line(current, at);
        (uint256 nextFraction, uint256 nextDeduction) = _line(next, at);
        return notional * nextFraction + deduction * MarginMath.WAD > notional * fraction + nextDeduction * MarginMath.WAD;
    }

    /// @dev The maintenance line (fraction, deduction) in force at `notional`.
    function _line(MarginRule memory r, uint256 notional) private pure returns (uint256, uint256) {
        if (r.bounds.length == 0) return (r.mmf, 0);
        uint256 i = _tierIndex(r, notional);
        return (StockRules.tierFraction(r.leverages[i]), r.deductions[i]);
    }

    /// @dev The leverage allowed at `notional`: the market's maximum, and the tier's if lower.
    function _leverageAt(MarginRule memory r, uint256 notional) private pure returns (uint256) {
        if (r.bounds.length == 0) return r.maxLeverage;
        return Math.min(r.maxLeverage, r.leverages[_tierIndex(r, notional)]);
    }

    /// @dev The last tier whose lower bound `notional` reaches (`Rules.tier`).
    function _tierIndex(MarginRule memory r, uint256 notional) private pure returns (uint256 i) {
        i = r.bounds.length - 1;
        while (i > 0 && notional < r.bounds[i]) --i;
    }

    function setMarketModule(VenueState storage vs, Env memory env, uint256 market, ModuleKind kind, address module) external {
        uint8 id;
        if (module != address(0)) {
            if (!_supports(module, _interfaceOf(kind))) revert IClearinghouse.ModuleInterfaceMissing(kind, module);
            address[] storage modules = vs.modules;
            uint256 n = modules.length;
            for (uint256 i; i < n; ++i) {
                if (modules[i] == module) id = uint8(i + 1);
            }
            if (id == 0) {
                if (n == MAX_MODULES) revert IClearinghouse.TooManyModules();
                modules.push(module);
                id = uint8(n + 1);
            }
        }
        (uint256 price,,) = env.oracle.latest(market);
        // The old rates rule applies up to now, unless it fails: then nothing accrues for the
        // time since the last accrual, so a failing module can always be replaced.
        Markets.accrueOrSkip(vs, market, price, env.scale);
        StoredConfig storage c = vs.configs[market];
        if (kind == ModuleKind.Rates) c.ratesModule = id;
        else if (kind == ModuleKind.Margin) c.marginModule = id;
        else if (kind == ModuleKind.Liquidation) c.liquidationModule = id;
        else if (kind == ModuleKind.Pricing) c.pricingModule = id;
        else c.adlModule = id;
        if (kind == ModuleKind.Rates) _resetRatesMemory(vs, market, module);
        emit IClearinghouse.MarketModuleSet(market, kind, module);
    }

    /// @dev A new rates rule starts from a fresh word; it is an `IStatefulRatesModule` if it
    /// says so (ERC-165), and is then asked `statefulRates` instead of `rates`. The market tracks
    /// memory (`StoredConfig.tracksMemory`) while its rule is stateful or its mark window is set;
    /// one that stops tracking forgets its mark price (0), so that the EMA starts again from the
    /// oracle price at the first accrual after it tracks again (`RatesLogic.markAfter`).
    function _resetRatesMemory(VenueState storage vs, uint256 market, address module) private {
        MarketMemory storage mem = vs.marketMemory[market];
        bool stateful = module != address(0) && _supports(module, type(IStatefulRatesModule).interfaceId);
        bool tracks = stateful || mem.markWindow != 0;
        mem.statefulRates = stateful;
        mem.ratesState = 0;
        if (!tracks) mem.markPrice = 0;
        vs.configs[market].tracksMemory = tracks;
    }

    /// @notice The time constant of `market`'s mark price (its EMA of the oracle price), in
    /// seconds, within [1, `RatesLogic.MAX_MARK_WINDOW`]; the market tracks memory from now on
    /// (`StoredConfig.tracksMemory`). Accrual first, so the old window applies up to now (a
    /// failing rates module refuses the change until it is replaced); a market that did not
    /// track memory has a mark price of 0, which its next accrual starts at the oracle price.
    function setMarkWindow(VenueState storage vs, Env memory env, uint256 market, uint256 window) external {
        if (window == 0 || window > RatesLogic.MAX_MARK_WINDOW) {
            revert IClearinghouse.MarkWindowOutOfBounds(window, RatesLogic.MAX_MARK_WINDOW);
        }
        (uint256 price,,) = env.oracle.latest(market);
        Markets.accrue(vs, market, price, env.scale);
        vs.marketMemory[market].markWindow = uint16(window);
        vs.configs[market].tracksMemory = true;
        emit IClearinghouse.MarkWindowSet(market, window);
    }

    function _interfaceOf(ModuleKind kind) private pure returns (bytes4) {
        if (kind == ModuleKind.Rates) return type(IRatesModule).interfaceId;
        if (kind == ModuleKind.Margin) return type(IMarginModule).interfaceId;
        if (kind == ModuleKind.Liquidation) return type(ILiquidationModule).interfaceId;
        if (kind == ModuleKind.Pricing) return type(IPricingModule).interfaceId;
        return type(IAdlModule).interfaceId;
    }

    function _supports(address module, bytes4 interfaceId) private view returns (bool) {
        if (module.code.length == 0) return false;
        try IERC165(module).supportsInterface(interfaceId) returns (bool ok) {
            return ok;
        } catch {
            return false;
        }
    }

    /// @notice Take `amount` out of the pool's assets, keeping what the reserve rule needs
    /// (`Solvency.reserveKept`) and what keeps the profit cap from binding (`Solvency.capKept`),
    /// which `maxPoolWithdrawal` reports.
    function checkPoolWithdrawal(VenueState storage vs, Env memory env, uint256 amount) external {
        int256 assets = vs.poolAssets - amount.toInt256();
        if (assets < 0) revert IClearinghouse.PoolInsolvent(vs.poolAssets, amount.toInt256());
        vs.poolAssets = int128(assets);
        (uint256 kept, uint256 market, uint256 oi) = Solvency.reserveKept(vs, env);
        if (uint256(assets) < kept) {
            revert IClearinghouse.ReserveExceeded(market, oi, Buckets.reserve(vs, vs.configs[market], env.scale));
        }
        Solvency.checkNotBinding(vs, env);
    }

    /// @notice The profit cap and auto-deleveraging thresholds (bps of the pool). ADL starts
    /// above its trigger and stops at its floor, below the trigger; a cap of 0 is no cap.
    function setPnlFactors(VenueState storage vs, uint256 maxTraders, uint256 maxAdl, uint256 minAfterAdl) external {
        if (maxTraders > MarginMath.BPS) revert IClearinghouse.ParamOutOfBounds("maxPnlFactorTraders", maxTraders);
        if (maxAdl == 0 || maxAdl > MarginMath.BPS) revert IClearinghouse.ParamOutOfBounds("maxPnlFactorAdl", maxAdl);
        if (minAfterAdl == 0 || minAfterAdl >= maxAdl) {
            revert IClearinghouse.ParamOutOfBounds("minPnlFactorAfterAdl", minAfterAdl);
        }
        (vs.maxPnlFactorTraders, vs.maxPnlFactorAdl, vs.minPnlFactorAfterAdl) = (uint16(maxTraders), uint16(maxAdl), uint16(minAfterAdl));
        emit IClearinghouse.PnlFactorsSet(maxTraders, maxAdl, minAfterAdl);
    }

    /// @notice Release `amount` of `account`'s held impact into its cross balance.
    function releaseHeldImpact(VenueState storage vs, address account, uint256 amount) external {
        uint256 held = vs.heldImpact[account];
        if (amount > held) revert IClearinghouse.ReleaseExceedsHeld(account, held, amount);
        vs.heldImpact[account] = held - amount;
        Buckets.credit(vs, account, amount.toInt256());
        emit IClearinghouse.HeldImpactReleased(account, amount);
    }
}
