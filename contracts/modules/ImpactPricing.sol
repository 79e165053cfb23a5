// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {IClearinghouse} from "../interfaces/IClearinghouse.sol";
import {IClearinghouseViews} from "../interfaces/IClearinghouseViews.sol";
import {IPricingModule} from "../interfaces/IPricingModule.sol";

/// @title ImpactPricing
/// @notice GMX v2's price impact as a pricing module. A trade that widens the market's open
/// interest imbalance fills worse than the oracle price, one that narrows it fills better:
/// impact = F(diff before) - F(diff after), F(x) = factor x x^exponent, diff = |long OI - short OI|
/// in USD at the oracle price. A trade that flips the larger side gets F_positive(diff before)
/// - F_negative(diff after). Positive impact is paid from the market's impact pool (what
/// negative impact paid in) and capped by it; negative impact is capped at
/// `maxNegativeImpactBps` of the trade's notional, a liquidation's at `maxLiquidationImpactBps`.
/// @dev Exponents are whole numbers (1 to 3) so that the rule is exact integer math, on chain
/// and in the reference model. Rounding is against the trader: negative impact up, positive
/// impact down, and the fill price moves by the impact per unit rounded the same way.
contract ImpactPricing is IPricingModule, AccessControl {
    uint256 internal constant WAD = 1e18;
    uint256 internal constant BPS = 10_000;
    uint256 public constant MAX_EXPONENT = 3;

    /// @notice One market's impact rule. Factors are WAD per USD^(exponent - 1): with exponent
    /// 2, a factor of 1e6 (1e-12 per USD) makes a $1M imbalance cost $1.
    struct ImpactConfig {
        uint128 factorPositive;
        uint128 factorNegative;
        uint8 exponentPositive;
        uint8 exponentNegative;
        uint16 maxNegativeImpactBps;
        uint16 maxLiquidationImpactBps;
    }

    /// @notice The venue whose open interest and impact pool the rule reads.
    IClearinghouseViews public immutable clearinghouse;
    mapping(uint256 market => ImpactConfig) internal configs;

    error ImpactConfigOutOfBounds(bytes32 field, uint256 value);

    event ImpactConfigSet(uint256 indexed market, ImpactConfig config);

    constructor(IClearinghouseViews clearinghouse_, address admin) {
        clearinghouse = clearinghouse_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Set a market's rule; exponents in [1, 3], caps in [0, 10,000] bps. A market
    /// never set has factors 0: no impact.
    function setImpactConfig(uint256 market, ImpactConfig calldata config) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (config.exponentPositive == 0 || config.exponentPositive > MAX_EXPONENT) {
            revert ImpactConfigOutOfBounds("exponentPositive", config.exponentPositive);
        }
        if (config.exponentNegative == 0 || config.exponentNegative > MAX_EXPONENT) {
            revert ImpactConfigOutOfBounds("exponentNegative", config.exponentNegative);
        }
        if (config.maxNegativeImpactBps > BPS) revert ImpactConfigOutOfBounds("maxNegativeImpactBps", config.maxNegativeImpactBps);
        if (config.maxLiquidationImpactBps > BPS) {
            revert ImpactConfigOutOfBounds("maxLiquidationImpactBps", config.maxLiquidationImpactBps);
        }
        configs[market] = config;
        emit ImpactConfigSet(market, config);
    }

    function impactConfig(uint256 market) external view returns (ImpactConfig memory) {
        return configs[market];
    }

    function fillPrice(uint256 market, int256 sizeDelta, uint256 oraclePrice) external view returns (uint256) {
        ImpactConfig memory c = configs[market];
        return _fill(market, c, sizeDelta, oraclePrice, c.maxNegativeImpactBps);
    }

    function liquidationFillPrice(uint256 market, int256 sizeDelta, uint256 oraclePrice) external view returns (uint256) {
        ImpactConfig memory c = configs[market];
        return _fill(market, c, sizeDelta, oraclePrice, c.maxLiquidationImpactBps);
    }

    /// @notice The signed impact of a trade in WAD USD (+ in the trader's favour), before the
    /// caps that depend on the trade's kind and the pool: (positive, negative) parts.
    function impactParts(uint256 market, int256 sizeDelta, uint256 oraclePrice)
        public
        view
        returns (uint256 positive, uint256 negative)
    {
        return _parts(configs[market], market, sizeDelta, oraclePrice);
    }

    function supportsInterface(bytes4 interfaceId) public view override(AccessControl, IERC165) returns (bool) {
        return interfaceId == type(IPricingModule).interfaceId || super.supportsInterface(interfaceId);
    }

    function _fill(uint256 market, ImpactConfig memory c, int256 sizeDelta, uint256 price, uint256 capBps)
        private
        view
        returns (uint256)
    {
        if (sizeDelta == 0 || (c.factorPositive == 0 && c.factorNegative == 0)) return price;
        (uint256 positive, uint256 negative) = _parts(c, market, sizeDelta, price);
        uint256 sizeAbs = sizeDelta > 0 ? uint256(sizeDelta) : uint256(-sizeDelta);
        negative = Math.min(negative, Math.mulDiv(Math.mulDiv(sizeAbs, price, WAD), capBps, BPS, Math.Rounding.Floor));
        int256 pool = clearinghouse.impactPool(market);
        positive = Math.min(positive, pool > 0 ? uint256(pool) : 0);
        bool buy = sizeDelta > 0;
        if (positive >= negative) {
            uint256 better = Math.mulDiv(positive - negative, WAD, sizeAbs); // per unit, down
            if (buy) return better < price ? price - better : 1;
            return price + better;
        }
        uint256 worse = Math.mulDiv(negative - positive, WAD, sizeAbs, Math.Rounding.Ceil);
        if (buy) return price + worse;
        return worse < price ? price - worse : 1;
    }

    function _parts(ImpactConfig memory c, uint256 market, int256 sizeDelta, uint256 price)
        private
        view
        returns (uint256 positive, uint256 negative)
    {
        (uint256 longSize, uint256 shortSize) = _sizes(market);
        int256 net = int256(longSize) - int256(shortSize);
        int256 next = net + sizeDelta;
        uint256 before = _usd(net, price);
        uint256 after_ = _usd(next, price);
        if ((net > 0 && next < 0) || (net < 0 && next > 0)) {
            return (_f(c.factorPositive, c.exponentPositive, before, false), _f(c.factorNegative, c.exponentNegative, after_, true));
        }
        if (after_ <= before) {
            return (
                _f(c.factorPositive, c.exponentPositive, before, false) - _f(c.factorPositive, c.exponentPositive, after_, false),
                0
            );
        }
        return (0, _f(c.factorNegative, c.exponentNegative, after_, true) - _f(c.factorNegative, c.exponentNegative, before, true));
    }

    function _sizes(uint256 market) private view returns (uint256, uint256) {
        IClearinghouse.MarketState memory s = clearinghouse.marketState(market);
        return (s.longSize, s.shortSize);
    }

    /// @dev |size| x price, WAD USD, rounded down.
    function _usd(int256 size, uint256 price) private pure returns (uint256) {
        return Math.mulDiv(size >= 0 ? uint256(size) : uint256(-size), price, WAD);
    }

    /// @dev factor x (x / 1e18)^exponent x 1e18 / 1e18: WAD USD, rounded up or down.
    function _f(uint256 factor, uint256 exponent, uint256 x, bool up) private pure returns (uint256 r) {
        if (factor == 0 || x == 0) return 0;
        Math.Rounding rounding = up ? Math.Rounding.Ceil : Math.Rounding.Floor;
        r = x;
        for (uint256 i = 1; i < exponent; ++i) {
            r = Math.mulDiv(r, x, WAD, rounding);
        }
        r = Math.mulDiv(r, factor, WAD, rounding);
    }
}
