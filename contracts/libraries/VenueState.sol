// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IClearinghouse} from "../interfaces/IClearinghouse.sol";
import {PriceOracle} from "../oracle/PriceOracle.sol";

/// @dev A market's configuration as stored. Slot 0 is all that valuation and accrual read, and
/// it also names the market's rule modules (0: the stock rule), so choosing modules costs no
/// extra read, and says whether the market tracks memory (`tracksMemory`), so a market that
/// does not reads nor writes its `VenueState.marketMemory` slot at no accrual; slot 1 is what a trade reads, slot 2 the open-interest caps, slot 3 only
/// liquidation. The rate fields are narrower than in `IClearinghouse.MarketConfig`: their hard
/// bounds (`configureMarket`) keep them below 2^48. `lockedAccounts` is not a parameter: the
/// accounts whose market-order lock (`VenueState.orderLocks`) names this market, kept in the
/// slot `removeMargin` reads anyway so that it looks the lock up only when one may bind.
struct StoredConfig {
    uint64 mmf;
    uint48 fundingFactor;
    uint48 maxFundingRate;
    uint48 borrowRate;
    uint8 ratesModule;
    uint8 marginModule;
    uint8 liquidationModule;
    uint8 pricingModule;
    uint8 tierCount; // 0: the maintenance margin is notional x mmf
    // Whether accrual steps the market's `marketMemory` (its mark price and its rates module's
    // word): set while its rates module is stateful or once the admin has set its mark window
    // (`AdminLogic`), i.e. `marketMemory.statefulRates || marketMemory.markWindow != 0`.
    bool tracksMemory;
    uint16 maxLeverage;
    uint16 takerFeeBps;
    uint16 liquidationFeeBps;
    uint16 keeperShareBps;
    uint16 reserveFactorBps;
    uint16 partialLiquidationBps;
    uint32 liquidationCooldown;
    uint64 minCollateral;
    uint16 openBufferBps; // slot 1, beside the fields a trade reads
    uint32 lockedAccounts;
    uint128 maxLongOi;
    uint128 maxShortOi;
    uint128 partialThreshold;
    uint8 adlModule; // slot 3: read only by auto-deleveraging (`IAdlModule`; 0: the stock rule)
}

/// @dev Everything the Clearinghouse stores, in one struct so that the core and its external
/// libraries (which run by DELEGATECALL on the core's storage) share one layout.
struct VenueState {
    // Read by every trade, so packed: one cold load each instead of three and two.
    address pool;
    bool paused;
    uint8 marketCount;
    bool instantTrading;
    // The profit cap and auto-deleveraging thresholds, basis points of the pool (Solvency).
    uint16 maxPnlFactorTraders; // 0: no cap (a close the pool cannot pay reverts)
    uint16 maxPnlFactorAdl;
    uint16 minPnlFactorAfterAdl;
    // Accounts holding a market-order lock (`orderLocks`): while 0, a direct trade looks no
    // lock up. In the slot every trade reads, so the check costs a trade no extra read.
    uint24 lockedAccounts;
    // Written by every trade, so together: the second write costs 100 gas, not 2.9k.
    int128 poolAssets;
    uint128 openEntry; // entry notional of every position in every market, WAD USD
    // Funding paid and not yet received. The marker beside it (1 from construction) keeps the
    // slot non-zero, so settling funding for the first time costs a 2.9k write, not 20k.
    int128 fundingReserve;
    uint8 fundingSlotMarker;
    // What the current profit-cap episode holds back from maxPnlFactorTraders x pool assets,
    // WAD USD (Solvency); 0 outside an episode. Beside the funding reserve, which a profitable
    // close settles too, so reading it costs no extra cold slot.
    uint120 profitHeld;
    int256 insuranceFund;
    mapping(uint256 market => bytes32) marketSymbol;
    mapping(uint256 market => StoredConfig) configs;
    mapping(uint256 market => IClearinghouse.MarketState) states;
    mapping(address account => int256) crossBalance;
    mapping(address account => uint256) crossMarkets; // bitmask of CROSS positions
    mapping(address account => mapping(uint256 market => IClearinghouse.Position)) positions;
    mapping(address account => mapping(address operator => bool)) isOperator;
    address[] accounts;
    mapping(address account => bool) isRegistered;
    mapping(address account => mapping(uint256 market => uint256)) lastPartialLiquidation;
    address[] modules; // registered rule modules: id k is modules[k - 1]
    mapping(uint256 market => Tier[16]) tiers; // the first `tierCount` apply
    uint256 riskChangeDelay; // seconds a risk-increasing market change waits
    mapping(bytes32 change => uint256) changeReadyAt; // scheduled risk-increasing changes
    // Price impact paid in (negative) less paid out (positive), in index tokens, WAD base units.
    mapping(uint256 market => int256) impactPool;
    // An account's pending market order (SPEC §10), set and cleared by the OrderBook: the order
    // id (bits 0-63), when it expires (64-127) and its market (128-135); 0 when none. Until it
    // expires, its owner and operators may do nothing that could make that order fail.
    mapping(address account => uint256) orderLocks;
    // Collateral tokens of negative impact the pricing module kept from the pool (above its
    // cap), held for the account until the admin releases them; they pay its bad debt first.
    mapping(address account => uint256) heldImpact;
    // The auto-deleveraging round (`AdlLogic`, SPEC §8.1): id (bits 0-63), members not cut yet
    // (64-127; 0: no round), the module id (128-135) and the fraction, WAD (136-255).
    uint256 adlRound;
    // Each member's entry: its size when the round began (bits 0-127), cut (bit 128), round id (192-255).
    mapping(address account => mapping(uint256 market => uint256)) adlRoundEntry;
    // A market's mark price and its rates module's memory (issue 29 §3): one slot, read and
    // written at the accruals of a market that tracks memory (`StoredConfig.tracksMemory`).
    mapping(uint256 market => MarketMemory) marketMemory;
}

/// @dev What a market that tracks memory (`StoredConfig.tracksMemory`) remembers across accruals
/// besides its indices: its mark price, the EMA of the oracle price (`RatesLogic.markAfter`; 0
/// while the market does not track memory and until its first accrual after it began to), the
/// EMA's time constant (seconds; 0: not set, `RatesLogic.DEFAULT_MARK_WINDOW`), whether its rates
/// module is an `IStatefulRatesModule`, and that module's word (`RatesLogic.MAX_RATES_STATE`
/// bounds it; 0 for any other rule).
struct MarketMemory {
    uint128 markPrice;
    uint16 markWindow;
    bool statefulRates;
    int104 ratesState;
}

/// @dev A maintenance-margin tier (Hyperliquid): from `lowerBound` (WAD USD of notional) on,
/// maintenance is notional / (2 x maxLeverage) - deduction, and leverage at most `maxLeverage`.
/// The deduction makes maintenance continuous across tiers.
struct Tier {
    uint96 lowerBound;
    uint96 deduction;
    uint16 maxLeverage;
}

/// @dev What never changes after deployment (the core's immutables), handed to the libraries,
/// and `known`, a price the caller has already checked fresh.
struct Env {
    PriceOracle oracle;
    uint256 scale; // 10 ** (18 - collateral decimals)
    // A price a trade has just checked fresh, (market + 1) << 128 | price (the oracle keeps
    // prices in 128 bits), so `Health.cross` does not ask the oracle twice; 0: none.
    uint256 known;
}

/// @dev Token amounts one settlement moves between the trader and the other buckets.
struct Settlement {
    int256 pnl; // credited to the trader, taken from the pool
    int256 funding; // charged to the trader, into the funding reserve
    int256 borrowing; // charged to the trader, into the pool
    uint256 held; // of the price impact paid in `pnl`, the tokens held for the trader, not the pool's
}
