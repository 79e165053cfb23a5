// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {PRBMathUD60x18} from "prb-math/contracts/PRBMathUD60x18.sol";

import {IClearinghouseViews} from "../interfaces/IClearinghouseViews.sol";
import {IPricingModule, ImpactInput, ImpactResult} from "../interfaces/IPricingModule.sol";
import {MarginMath} from "../libraries/MarginMath.sol";

/// @title ImpactPricing
/// @notice GMX v2.2's position price impact (gmx-synthetics' PositionPricingUtils, PricingUtils,
/// PositionUtils and DecreasePositionCollateralUtils) as a pricing module; docs/SPEC.md §5.1.
/// impact = F(diff before) - F(diff after) on the long/short open-interest imbalance (USD at
/// entry value by default, size x price as an option), F(x) = factor x x^exponent, positive
/// factor and exponent at most the negative ones; a crossover gets F_positive(before) -
/// F_negative(after). An increase holds its impact as the position's pending impact in index
/// tokens; a decrease realises the proportional pending impact plus its own, negative capped at
/// maxNegativeImpactBps of the size decreased, positive capped per trade and by the impact pool.
/// @dev Computes in GMX's units so that token amounts and prices equal GMX's to the wei: USD in 30
/// decimals, index-token amounts in the token's smallest unit (`indexDecimals`), prices in
/// 30-decimal USD per such unit; fractional exponents through prb-math 2.4.3's pow, as GMX's
/// Precision.applyExponentFactor. The venue's WAD units go in and out, converted against the
/// trader. Mirrored exactly by `protocol/margin/pricing.py`.
contract ImpactPricing is IPricingModule, AccessControl {
    uint256 internal constant WAD = MarginMath.WAD;
    uint256 internal constant BPS = MarginMath.BPS;
    uint256 internal constant FLOAT = 1e30; // GMX's FLOAT_PRECISION
    uint256 internal constant FLOAT_TO_WEI = 1e12; // GMX's FLOAT_TO_WEI_DIVISOR; WAD USD -> 30 decimals
    uint256 public constant MIN_EXPONENT = 1e18;
    uint256 public constant MAX_EXPONENT = 3e18;

    /// @notice One market's impact rule, in GMX's terms (config/markets.ts keys in brackets).
    struct ImpactConfig {
        uint128 factorPositive; // 30 decimals per USD^(exponent - 1) [positivePositionImpactFactor]
        uint128 factorNegative; // [negativePositionImpactFactor]
        uint64 exponentPositive; // WAD, 1 to 3 [positivePositionImpactExponentFactor]
        uint64 exponentNegative; // [negativePositionImpactExponentFactor]
        uint16 maxPositiveImpactBps; // of the trade's size in USD [positiveMaxPositionImpactFactor]
        uint16 maxNegativeImpactBps; // of the size decreased [negativeMaxPositionImpactFactor]
        uint16 maxLiquidationImpactBps; // counted by health [maxPositionImpactFactorForLiquidations]
        uint8 indexDecimals; // the index token's decimals: the unit of impact amounts
        bool openInterestInTokens; // balance on size x price [USE_OPEN_INTEREST_IN_TOKENS_FOR_BALANCE]
    }

    /// @notice The venue this module prices for (its deployment names it; answers come from the
    /// inputs the venue passes).
    IClearinghouseViews public immutable clearinghouse;
    mapping(uint256 market => ImpactConfig) internal configs;

    /// @notice A parameter outside its bound: exponents in [1, 3] (WAD), caps in [0, 10,000]
    /// bps, decimals at most 18.
    error ImpactConfigOutOfBounds(bytes32 field, uint256 value);
    /// @notice An increase whose negative impact would take all its size in tokens, or a
    /// decrease whose negative impact is more than its size in USD (GMX's error). 30 decimals.
    error PriceImpactLargerThanOrderSize(int256 impactUsd, uint256 sizeDeltaUsd);
    /// @notice A decrease whose execution price would fall to 0 or below (GMX's error).
    error NegativeExecutionPrice(int256 executionPrice);

    event ImpactConfigSet(uint256 indexed market, ImpactConfig config);

    constructor(IClearinghouseViews clearinghouse_, address admin) {
        clearinghouse = clearinghouse_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Set a market's rule. A market never set has factors 0: no impact.
    function setImpactConfig(uint256 market, ImpactConfig calldata config) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (config.exponentPositive < MIN_EXPONENT || config.exponentPositive > MAX_EXPONENT) {
            revert ImpactConfigOutOfBounds("exponentPositive", config.exponentPositive);
        }
        if (config.exponentNegative < MIN_EXPONENT || config.exponentNegative > MAX_EXPONENT) {
            revert ImpactConfigOutOfBounds("exponentNegative", config.exponentNegative);
        }
        if (config.maxPositiveImpactBps > BPS) revert ImpactConfigOutOfBounds("maxPositiveImpactBps", config.maxPositiveImpactBps);
        if (config.maxNegativeImpactBps > BPS) revert ImpactConfigOutOfBounds("maxNegativeImpactBps", config.maxNegativeImpactBps);
        if (config.maxLiquidationImpactBps > BPS) {
            revert ImpactConfigOutOfBounds("maxLiquidationImpactBps", config.maxLiquidationImpactBps);
        }
        if (config.indexDecimals > 18) revert ImpactConfigOutOfBounds("indexDecimals", config.indexDecimals);
        configs[market] = config;
        emit ImpactConfigSet(market, config);
    }

    function impactConfig(uint256 market) external view returns (ImpactConfig memory) {
        return configs[market];
    }

    function supportsInterface(bytes4 interfaceId) public view override(AccessControl, IERC165) returns (bool) {
        return interfaceId == type(IPricingModule).interfaceId || super.supportsInterface(interfaceId);
    }

    // ------------------------------------------------------------------ GMX's math
    /// @notice Precision.applyExponentFactor, the exponent in WAD: 0 below $1, the value at
    /// exponent 1, else prb-math's pow on the 18-decimal value, back to 30 decimals.
    function applyExponentFactor(uint256 floatValue, uint256 exponent) public pure returns (uint256) {
        if (floatValue < FLOAT) return 0;
        if (exponent == WAD) return floatValue;
        return PRBMathUD60x18.pow(floatValue / FLOAT_TO_WEI, exponent) * FLOAT_TO_WEI;
    }

    /// @notice The impact of changing one side's open interest by `usdDelta` (30 decimals, + in
    /// the trader's favour), before any cap (PositionPricingUtils._getPriceImpactUsd).
    function priceImpactUsd(uint256 market, uint256 longOi, uint256 shortOi, int256 usdDelta, bool isLong)
        external
        view
        returns (int256)
    {
        return _priceImpactUsd(configs[market], longOi, shortOi, usdDelta, isLong);
    }

    function _applyImpactFactor(uint256 diff, uint256 factor, uint256 exponent) private pure returns (uint256) {
        return Math.mulDiv(applyExponentFactor(diff, exponent), factor, FLOAT);
    }

    function _priceImpactUsd(ImpactConfig memory c, uint256 longOi, uint256 shortOi, int256 usdDelta, bool isLong)
        private
        pure
        returns (int256)
    {
        uint256 nextLong = longOi;
        uint256 nextShort = shortOi;
        uint256 deltaAbs = _abs(usdDelta);
        // as GMX: a decrease larger than the side's open interest takes it to 0
        if (isLong) nextLong = usdDelta < 0 ? (deltaAbs > longOi ? 0 : longOi - deltaAbs) : longOi + deltaAbs;
        else nextShort = usdDelta < 0 ? (deltaAbs > shortOi ? 0 : shortOi - deltaAbs) : shortOi + deltaAbs;
        uint256 initial = _diff(longOi, shortOi);
        uint256 next = _diff(nextLong, nextShort);
        // the positive factor and exponent at most the negative ones (getAdjustedPositionImpactFactors)
        uint256 fp = Math.min(c.factorPositive, c.factorNegative);
        uint256 ep = Math.min(c.exponentPositive, c.exponentNegative);
        if ((longOi <= shortOi) == (nextLong <= nextShort)) {
            bool improved = next < initial;
            (uint256 factor, uint256 exponent) = improved ? (fp, ep) : (uint256(c.factorNegative), uint256(c.exponentNegative));
            uint256 delta = _diff(_applyImpactFactor(initial, factor, exponent), _applyImpactFactor(next, factor, exponent));
            return improved ? int256(delta) : -int256(delta);
        }
        return int256(_applyImpactFactor(initial, fp, ep)) - int256(_applyImpactFactor(next, c.factorNegative, c.exponentNegative));
    }

    /// @dev capPositiveImpactUsdByMaxPositionImpact, the positive cap at most the negative one.
    function _capPositive(ImpactConfig memory c, int256 impact, uint256 sizeDeltaUsd) private pure returns (int256) {
        if (impact < 0) return impact;
        uint256 cap = Math.mulDiv(sizeDeltaUsd, Math.min(c.maxPositiveImpactBps, c.maxNegativeImpactBps), BPS);
        return impact > int256(cap) ? int256(cap) : impact;
    }

    /// @dev The trade's own impact, capped by the positive max: on entry notional, or on size x
    /// price with the token-based balance.
    function _tradeImpact(ImpactConfig memory c, ImpactInput calldata t, uint256 sizeDeltaUsd, bool isLong, bool increase)
        private
        pure
        returns (int256)
    {
        uint256 longOi;
        uint256 shortOi;
        uint256 usdDelta;
        if (c.openInterestInTokens) {
            longOi = _tokensToUsd(t.longSize, t.price, false);
            shortOi = _tokensToUsd(t.shortSize, t.price, false);
            usdDelta = _tokensToUsd(_abs(t.sizeDelta), t.price, false);
        } else {
            (longOi, shortOi, usdDelta) = (t.longEntry * FLOAT_TO_WEI, t.shortEntry * FLOAT_TO_WEI, sizeDeltaUsd);
        }
        int256 impact = _priceImpactUsd(c, longOi, shortOi, increase ? int256(usdDelta) : -int256(usdDelta), isLong);
        return _capPositive(c, impact, sizeDeltaUsd);
    }

    // ------------------------------------------------------------------ the module
    /// @notice PositionUtils.getExecutionPriceForIncrease: the impact is held as pending impact
    /// in index tokens (positive rounded down, negative up in size); the execution price is the
    /// size in USD over the size in tokens plus (long) or minus (short) the impact tokens.
    function increaseImpact(ImpactInput calldata t) external view returns (ImpactResult memory r) {
        ImpactConfig memory c = configs[t.market];
        bool isLong = t.sizeDelta > 0;
        uint256 sizeAbs = _abs(t.sizeDelta);
        // the entry notional the venue adds: a long's rounded up, a short's down
        uint256 sizeDeltaUsd = Math.mulDiv(sizeAbs, t.price, WAD, isLong ? Math.Rounding.Ceil : Math.Rounding.Floor) * FLOAT_TO_WEI;
        if (sizeDeltaUsd == 0) {
            r.executionPrice = t.price;
            return r;
        }
        int256 impact = _tradeImpact(c, t, sizeDeltaUsd, isLong, true);
        int256 amount = _signed(_usdToTokens(c, _abs(impact), t.price, impact < 0), impact < 0);
        int256 tokens = isLong ? int256(sizeAbs) + amount : int256(sizeAbs) - amount;
        if (tokens <= 0) revert PriceImpactLargerThanOrderSize(impact, sizeDeltaUsd);
        uint256 price30 = sizeDeltaUsd * _quantum(c) / uint256(tokens);
        r.executionPrice = _priceToWad(c, price30, isLong);
        r.impactUsd = _floatToWad(impact);
        r.pendingDelta = amount;
    }

    /// @notice DecreasePositionCollateralUtils.processCollateral's impact: the proportional
    /// pending impact plus the decrease's own; negative capped at maxNegativeImpactBps of the
    /// size decreased for the pool (the trader pays the excess too, held for it: `held`),
    /// positive capped per trade and by the impact pool
    /// (nothing is lent); paid in collateral tokens (a payment rounded up, a payout down), the
    /// pool moving by the index tokens paid in (down) or out (up). A liquidation is a decrease
    /// here, as on GMX (its own cap is only in `healthImpact`).
    function decreaseImpact(ImpactInput calldata t, bool) external view returns (ImpactResult memory r) {
        ImpactConfig memory c = configs[t.market];
        bool isLong = t.size > 0;
        uint256 sizeAbs = _abs(t.size);
        uint256 closeAbs = _abs(t.sizeDelta);
        uint256 entry = t.entryNotional;
        uint256 closed = closeAbs == sizeAbs
            ? entry
            : Math.mulDiv(entry, closeAbs, sizeAbs, isLong ? Math.Rounding.Ceil : Math.Rounding.Floor);
        uint256 sizeDeltaUsd = closed * FLOAT_TO_WEI;
        uint256 sizeInUsd = entry * FLOAT_TO_WEI;
        r.executionPrice = t.price;
        if (sizeDeltaUsd == 0) return r;
        int256 impact = _tradeImpact(c, t, sizeDeltaUsd, isLong, false);
        r.impactUsd = _floatToWad(impact);
        r.executionPrice = _decreasePrice(c, t, impact, sizeInUsd, sizeDeltaUsd, isLong);
        // the proportional pending impact, in index-token units, rounded up in size when negative
        int256 pendingUnits = t.pendingImpact / int256(_quantum(c));
        uint256 share = Math.mulDiv(
            _abs(pendingUnits), sizeDeltaUsd, sizeInUsd, pendingUnits < 0 ? Math.Rounding.Ceil : Math.Rounding.Floor
        );
        int256 proportional = _signed(share * _quantum(c), pendingUnits < 0);
        r.pendingDelta = -proportional;
        int256 total = _signed(_tokensToUsd(_abs(proportional), t.price, proportional < 0), proportional < 0) + impact;
        uint256 tokenUsd = FLOAT_TO_WEI * t.scale; // 30-decimal USD per collateral token unit
        if (total < 0) {
            int256 floor = -int256(Math.mulDiv(sizeDeltaUsd, c.maxNegativeImpactBps, BPS));
            if (total < floor) {
                // the whole impact is paid, rounded up; what the cap keeps from the pool is held
                r.held = Math.ceilDiv(uint256(-total), tokenUsd) - Math.ceilDiv(uint256(-floor), tokenUsd);
                total = floor;
            }
        }
        total = _capPositive(c, total, sizeDeltaUsd);
        if (total > 0) {
            uint256 pool = t.impactPool > 0 ? _tokensToUsd(uint256(t.impactPool), t.price, false) : 0;
            uint256 paidOut = Math.min(uint256(total), pool);
            r.realized = int256(paidOut / tokenUsd);
            r.poolDelta = -int256(_usdToTokens(c, paidOut, t.price, true));
        } else if (total < 0) {
            uint256 paid = Math.ceilDiv(uint256(-total), tokenUsd);
            r.realized = -int256(paid + r.held);
            r.poolDelta = int256(_usdToTokens(c, paid * tokenUsd, t.price, false));
        }
    }

    /// @notice PositionUtils.isPositionLiquidatable's impact: closing the whole position now
    /// (positive capped per trade) plus its pending impact at the price; positive counts 0,
    /// negative at most maxLiquidationImpactBps of its entry notional. WAD USD.
    function healthImpact(ImpactInput calldata t) external view returns (int256) {
        ImpactConfig memory c = configs[t.market];
        uint256 sizeInUsd = t.entryNotional * FLOAT_TO_WEI;
        if (t.size == 0 || sizeInUsd == 0) return 0;
        int256 impact = _tradeImpact(c, t, sizeInUsd, t.size > 0, false);
        int256 pending = t.pendingImpact;
        impact += _signed(_tokensToUsd(_abs(pending), t.price, pending < 0), pending < 0);
        if (impact >= 0) return 0;
        int256 floor = -int256(Math.mulDiv(sizeInUsd, c.maxLiquidationImpactBps, BPS));
        return _floatToWad(impact < floor ? floor : impact);
    }

    /// @dev BaseOrderUtils.getExecutionPriceForDecrease: the oracle price moved by the impact
    /// per unit at the position's entry price, then WAD (exact from 12 decimals up, else
    /// rounded against the trader: a long sells lower, a short buys higher).
    function _decreasePrice(
        ImpactConfig memory c,
        ImpactInput calldata t,
        int256 impact,
        uint256 sizeInUsd,
        uint256 sizeDeltaUsd,
        bool isLong
    ) private pure returns (uint256) {
        int256 adjusted = isLong ? impact : -impact;
        if (adjusted < 0 && uint256(-adjusted) > sizeDeltaUsd) revert PriceImpactLargerThanOrderSize(impact, sizeDeltaUsd);
        uint256 magnitude = Math.mulDiv(sizeInUsd * _quantum(c), _abs(adjusted), _abs(t.size)) / sizeDeltaUsd;
        uint256 d = c.indexDecimals;
        int256 adjustment;
        if (d >= 12) {
            adjustment = _signed(magnitude * 10 ** (d - 12), adjusted < 0);
        } else {
            bool up = (adjusted < 0) == isLong; // a long's cut rounds up in size, a short's rise too
            adjustment = _signed(Math.mulDiv(magnitude, 1, 10 ** (12 - d), up ? Math.Rounding.Ceil : Math.Rounding.Floor), adjusted < 0);
        }
        int256 execution = int256(t.price) + adjustment;
        if (execution <= 0) revert NegativeExecutionPrice(execution);
        return uint256(execution);
    }

    // ------------------------------------------------------------------ units
    /// @dev WAD base units per smallest unit of the index token.
    function _quantum(ImpactConfig memory c) private pure returns (uint256) {
        return 10 ** (18 - uint256(c.indexDecimals));
    }

    /// @dev 30-decimal USD over the price, in index-token units (GMX: usd / price per unit),
    /// rounded as asked, as WAD base units.
    function _usdToTokens(ImpactConfig memory c, uint256 usd, uint256 price, bool up) private pure returns (uint256) {
        uint256 units = Math.mulDiv(usd, 10 ** uint256(c.indexDecimals), price * FLOAT_TO_WEI, up ? Math.Rounding.Ceil : Math.Rounding.Floor);
        return units * _quantum(c);
    }

    /// @dev WAD base units x price, 30-decimal USD (GMX: amount x price per unit).
    function _tokensToUsd(uint256 amount, uint256 price, bool up) private pure returns (uint256) {
        return Math.mulDiv(amount, price, WAD / FLOAT_TO_WEI, up ? Math.Rounding.Ceil : Math.Rounding.Floor);
    }

    /// @dev A GMX price (30-decimal USD per index-token unit) in WAD USD per whole unit: exact
    /// from 12 decimals up, else rounded as asked.
    function _priceToWad(ImpactConfig memory c, uint256 price30, bool up) private pure returns (uint256) {
        uint256 d = c.indexDecimals;
        if (d >= 12) return price30 * 10 ** (d - 12);
        return Math.mulDiv(price30, 1, 10 ** (12 - d), up ? Math.Rounding.Ceil : Math.Rounding.Floor);
    }

    /// @dev 30-decimal USD to WAD, towards minus infinity (against the trader).
    function _floatToWad(int256 usd) private pure returns (int256) {
        if (usd >= 0) return usd / int256(FLOAT_TO_WEI);
        return -int256(Math.ceilDiv(uint256(-usd), FLOAT_TO_WEI));
    }

    function _signed(uint256 magnitude, bool negative) private pure returns (int256) {
        return negative ? -int256(magnitude) : int256(magnitude);
    }

    function _abs(int256 x) private pure returns (uint256) {
        return x >= 0 ? uint256(x) : uint256(-x);
    }

    function _diff(uint256 a, uint256 b) private pure returns (uint256) {
        return a > b ? a - b : b - a;
    }
}
