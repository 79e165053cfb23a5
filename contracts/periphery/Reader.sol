// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";

import {Clearinghouse} from "../core/Clearinghouse.sol";
import {IClearinghouse} from "../interfaces/IClearinghouse.sol";
import {IClearinghouseViews} from "../interfaces/IClearinghouseViews.sol";
import {MarginMath} from "../libraries/MarginMath.sol";
import {CROSS_ACCOUNT} from "../types/Constants.sol";
import {MarginMode} from "../types/MarginMode.sol";
import {OrderBook} from "../orders/OrderBook.sol";

/// @title Reader
/// @notice Batch views for keepers: one call answers what would take thousands of single reads.
/// @dev Stateless. An isolated position in a market whose price is stale is reported as not
/// liquidatable (nothing can be liquidated on it) instead of failing the whole batch; a cross
/// account with a stale market is reported as the liquidation rule values it
/// (`accountLiquidationHealth`, `docs/SPEC.md` §6).
contract Reader {
    uint256 internal constant BPS = MarginMath.BPS;

    /// @notice One open position: `size` signed (+ long), `mode` isolated or cross.
    struct OpenPosition {
        address account;
        uint256 market;
        int256 size;
        MarginMode mode;
    }

    /// @notice What an account holds besides its positions: wallet tokens, pool shares, what
    /// the order book escrows for it and its cross balance (tokens).
    struct Balances {
        uint256 tokens;
        uint256 shares;
        uint256 escrowTokens;
        uint256 escrowShares;
        int256 crossBalance;
    }

    struct Health {
        address account;
        uint256 market; // CROSS_ACCOUNT for the account's cross positions
        int256 equity; // WAD USD
        uint256 maintenance; // WAD USD
        bool liquidatable;
    }

    /// @notice Health of the given (account, market) targets; `market == CROSS_ACCOUNT` reads the
    /// cross account (its equity is the cross balance when it has no cross positions; with a
    /// stale market, equity and maintenance as the liquidation values them, liquidatable only
    /// with a position in a fresh market). Missing positions read as zero and not liquidatable.
    function health(Clearinghouse ch, IClearinghouse.LiquidationTarget[] calldata targets)
        external
        view
        returns (Health[] memory out)
    {
        out = new Health[](targets.length);
        for (uint256 i; i < targets.length; ++i) {
            (address account, uint256 market) = (targets[i].account, targets[i].market);
            out[i].account = account;
            out[i].market = market;
            if (market == CROSS_ACCOUNT) {
                bool hasPositions = ch.crossMarkets(account) != 0;
                try IClearinghouseViews(address(ch)).accountHealth(account) returns (int256 e, uint256 mm, uint256, uint256) {
                    (out[i].equity, out[i].maintenance) = (e, mm);
                    out[i].liquidatable = hasPositions && e < int256(mm);
                } catch {
                    // a stale market: the liquidation rule values it conservatively
                    (int256 e, uint256 mm, uint256 fresh) = IClearinghouseViews(address(ch)).accountLiquidationHealth(account);
                    (out[i].equity, out[i].maintenance) = (e, mm);
                    out[i].liquidatable = fresh != 0 && e < int256(mm);
                }
            } else {
                IClearinghouse.Position memory p = ch.position(account, market);
                if (p.size == 0 || p.mode != MarginMode.Isolated) continue;
                try IClearinghouseViews(address(ch)).positionHealth(account, market) returns (int256 e, uint256 mm) {
                    (out[i].equity, out[i].maintenance, out[i].liquidatable) = (e, mm, e < int256(mm));
                } catch {}
            }
        }
    }

    /// @notice The registered accounts `[start, start + count)`, in registration order (the
    /// order keepers' scans report targets in), and the index to continue from.
    function registeredAccounts(Clearinghouse ch, uint256 start, uint256 count)
        external
        view
        returns (address[] memory found, uint256 next)
    {
        uint256 total = ch.accountCount();
        next = start + count < total ? start + count : total;
        found = new address[](next > start ? next - start : 0);
        for (uint256 i; i < found.length; ++i) {
            found[i] = ch.accounts(start + i);
        }
    }

    /// @notice Every open position of the registered accounts `[start, start + count)`, in
    /// account then market order, and the index to continue from (`accountCount` when done):
    /// the whole book, page by page, for an index that checks itself against the chain.
    function openPositions(Clearinghouse ch, uint256 start, uint256 count)
        external
        view
        returns (OpenPosition[] memory found, uint256 next)
    {
        uint256 total = ch.accountCount();
        next = start + count < total ? start + count : total;
        uint256 markets = ch.marketCount();
        found = new OpenPosition[]((next > start ? next - start : 0) * markets);
        uint256 n;
        for (uint256 i = start; i < next; ++i) {
            address account = ch.accounts(i);
            for (uint256 m; m < markets; ++m) {
                IClearinghouse.Position memory p = ch.position(account, m);
                if (p.size != 0) found[n++] = OpenPosition(account, m, p.size, p.mode);
            }
        }
        assembly ("memory-safe") {
            mstore(found, n)
        }
    }

    /// @notice Liquidatable isolated positions and cross accounts among registered accounts
    /// `[start, start + count)`, and the index to continue from (`accountCount` when done).
    function liquidatable(Clearinghouse ch, uint256 start, uint256 count)
        external
        view
        returns (IClearinghouse.LiquidationTarget[] memory found, uint256 next)
    {
        return _scan(ch, start, count, BPS);
    }

    /// @notice Like `liquidatable`, but reports every target whose equity is below
    /// `thresholdBps / 10_000` times its maintenance margin: a keeper watches these closely and
    /// scans everything else less often.
    function atRisk(Clearinghouse ch, uint256 start, uint256 count, uint256 thresholdBps)
        external
        view
        returns (IClearinghouse.LiquidationTarget[] memory found, uint256 next)
    {
        return _scan(ch, start, count, thresholdBps);
    }

    /// @notice Total equity per account in WAD USD: wallet tokens, cross account, isolated
    /// positions, and LP shares of `pool` valued at its share price. What an OrderBook holds in
    /// escrow for the account is not counted: use the form that takes the book.
    function equities(Clearinghouse ch, IERC4626 pool, address[] calldata accounts)
        external
        view
        returns (int256[] memory out)
    {
        return _equities(ch, pool, OrderBook(address(0)), accounts);
    }

    /// @notice `equities` with what `book` holds in escrow for each account: order collateral
    /// and LP deposit assets (tokens), and LP redemption shares, valued with the account's own
    /// shares at the pool's share price.
    function equities(Clearinghouse ch, IERC4626 pool, OrderBook book, address[] calldata accounts)
        external
        view
        returns (int256[] memory out)
    {
        return _equities(ch, pool, book, accounts);
    }

    /// @notice What each account holds: its `Balances`, and its position in each market
    /// (`positions[i * marketCount + m]`): for an index that values accounts itself, reading
    /// again only those an event has named since.
    function accountStates(Clearinghouse ch, IERC20 pool, OrderBook book, address[] calldata accounts)
        external
        view
        returns (Balances[] memory wallets, IClearinghouse.Position[] memory positions)
    {
        wallets = new Balances[](accounts.length);
        IERC20 token = ch.collateral();
        uint256 markets = ch.marketCount();
        positions = new IClearinghouse.Position[](accounts.length * markets);
        for (uint256 i; i < accounts.length; ++i) {
            address account = accounts[i];
            Balances memory b = wallets[i];
            b.tokens = token.balanceOf(account);
            b.shares = pool.balanceOf(account);
            (b.escrowTokens, b.escrowShares) = book.escrow(account);
            b.crossBalance = ch.crossBalance(account);
            for (uint256 m; m < markets; ++m) {
                positions[i * markets + m] = ch.position(account, m);
            }
        }
    }

    /// @notice Token balances of many accounts (wallets, LP shares) in one call.
    function balances(IERC20 token, address[] calldata accounts) external view returns (uint256[] memory out) {
        out = new uint256[](accounts.length);
        for (uint256 i; i < accounts.length; ++i) {
            out[i] = token.balanceOf(accounts[i]);
        }
    }

    /// @notice Of the open orders at positions `[start, start + count)` of the book's open list
    /// (`OrderBook.openOrderIds`), those `executeOrder` would run now; `next` is where the next
    /// page starts, `openOrderCount()` once the list is done. The cost grows with the orders
    /// open, not with every order ever created.
    function executableOrders(OrderBook book, uint256 start, uint256 count)
        external
        view
        returns (uint256[] memory ids, uint256 next)
    {
        return _executable(book.isExecutable, book.openOrderIds(start, count), start);
    }

    /// @notice Of the order `ids` given (open or not), those `executeOrder` would run now, in
    /// the order given: for a keeper that knows the open orders from events and asks only about
    /// those its own check says may be due.
    function executableOrdersAmong(OrderBook book, uint256[] calldata ids) external view returns (uint256[] memory) {
        (uint256[] memory found,) = _executable(book.isExecutable, ids, 0);
        return found;
    }

    /// @notice `executableOrdersAmong` for LP requests.
    function executableLpRequestsAmong(OrderBook book, uint256[] calldata ids) external view returns (uint256[] memory) {
        (uint256[] memory found,) = _executable(book.isLpRequestExecutable, ids, 0);
        return found;
    }

    /// @notice Of the open LP requests at positions `[start, start + count)` of the book's open
    /// list, those `executeLpRequest` would run now (see `executableOrders`).
    function executableLpRequests(OrderBook book, uint256 start, uint256 count)
        external
        view
        returns (uint256[] memory ids, uint256 next)
    {
        return _executable(book.isLpRequestExecutable, book.openLpRequestIds(start, count), start);
    }

    function _equities(Clearinghouse ch, IERC4626 pool, OrderBook book, address[] calldata accounts)
        internal
        view
        returns (int256[] memory out)
    {
        out = new int256[](accounts.length);
        IERC20 token = ch.collateral();
        int256 scale = int256(ch.scale());
        uint256 markets = ch.marketCount();
        for (uint256 i; i < accounts.length; ++i) {
            address account = accounts[i];
            uint256 crossMask = ch.crossMarkets(account);
            (int256 equity,,,) = IClearinghouseViews(address(ch)).accountHealth(account);
            for (uint256 m; m < markets; ++m) {
                if ((crossMask >> m) & 1 != 0) continue;
                IClearinghouse.Position memory p = ch.position(account, m);
                if (p.size == 0) continue;
                (int256 e,) = IClearinghouseViews(address(ch)).positionHealth(account, m);
                equity += e;
            }
            uint256 shares = pool.balanceOf(account);
            uint256 tokens = token.balanceOf(account);
            if (address(book) != address(0)) {
                (uint256 escrowedTokens, uint256 escrowedShares) = book.escrow(account);
                (tokens, shares) = (tokens + escrowedTokens, shares + escrowedShares);
            }
            tokens += shares == 0 ? 0 : pool.convertToAssets(shares);
            out[i] = equity + int256(tokens) * scale;
        }
    }

    function _executable(
        function(uint256) external view returns (bool) isExecutable,
        uint256[] memory open,
        uint256 start
    ) internal view returns (uint256[] memory ids, uint256 next) {
        next = start + open.length;
        ids = new uint256[](open.length);
        uint256 n;
        for (uint256 i; i < open.length; ++i) {
            if (isExecutable(open[i])) ids[n++] = open[i];
        }
        assembly ("memory-safe") {
            mstore(ids, n)
        }
    }

    function _scan(Clearinghouse ch, uint256 start, uint256 count, uint256 thresholdBps)
        internal
        view
        returns (IClearinghouse.LiquidationTarget[] memory found, uint256 next)
    {
        uint256 total = ch.accountCount();
        next = start + count < total ? start + count : total;
        uint256 markets = ch.marketCount();
        found = new IClearinghouse.LiquidationTarget[]((next > start ? next - start : 0) * (markets + 1));
        uint256 n;
        bool[] memory stale = _staleMarkets(ch, markets);
        for (uint256 i = start; i < next; ++i) {
            address account = ch.accounts(i);
            uint256 crossMask = ch.crossMarkets(account);
            for (uint256 m; m < markets; ++m) {
                if (stale[m] || (crossMask >> m) & 1 != 0) continue;
                if (_positionFlagged(ch, account, m, thresholdBps)) {
                    found[n++] = IClearinghouse.LiquidationTarget(account, m);
                }
            }
            if (crossMask != 0 && _accountFlagged(ch, account, thresholdBps, _anyStale(stale, crossMask))) {
                found[n++] = IClearinghouse.LiquidationTarget(account, CROSS_ACCOUNT);
            }
        }
        assembly ("memory-safe") {
            mstore(found, n)
        }
    }

    /// @dev At the maintenance margin itself one call suffices (isLiquidatable returns early
    /// for an empty slot); other thresholds need the position and its health.
    function _positionFlagged(Clearinghouse ch, address account, uint256 m, uint256 thresholdBps)
        internal
        view
        returns (bool)
    {
        if (thresholdBps == BPS) return IClearinghouseViews(address(ch)).isLiquidatable(account, m);
        IClearinghouse.Position memory p = ch.position(account, m);
        if (p.size == 0 || p.mode != MarginMode.Isolated) return false;
        (int256 e, uint256 mm) = IClearinghouseViews(address(ch)).positionHealth(account, m);
        return _below(e, mm, thresholdBps);
    }

    /// @dev An account with a position in a stale market is compared with a threshold as the
    /// liquidation values it (`accountHealth` needs every price fresh): at the maintenance
    /// margin itself it is flagged when liquidatable (a fresh market to close); above it, when
    /// below the threshold even if nothing can be closed yet, so a keeper watching it acts as
    /// soon as the feed returns.
    function _accountFlagged(Clearinghouse ch, address account, uint256 thresholdBps, bool anyStale)
        internal
        view
        returns (bool)
    {
        if (thresholdBps == BPS) return IClearinghouseViews(address(ch)).isAccountLiquidatable(account);
        (int256 e, uint256 mm) = _accountHealth(ch, account, anyStale);
        return _below(e, mm, thresholdBps);
    }

    function _accountHealth(Clearinghouse ch, address account, bool anyStale) internal view returns (int256 e, uint256 mm) {
        if (anyStale) (e, mm,) = IClearinghouseViews(address(ch)).accountLiquidationHealth(account);
        else (e, mm,,) = IClearinghouseViews(address(ch)).accountHealth(account);
    }

    function _staleMarkets(Clearinghouse ch, uint256 markets) internal view returns (bool[] memory stale) {
        stale = new bool[](markets);
        for (uint256 m; m < markets; ++m) {
            try ch.oracle().freshPrice(m) returns (uint256) {} catch { stale[m] = true; }
        }
    }

    function _below(int256 equity, uint256 maintenance, uint256 thresholdBps) internal pure returns (bool) {
        return equity * int256(BPS) < int256(maintenance * thresholdBps);
    }

    function _anyStale(bool[] memory stale, uint256 mask) internal pure returns (bool) {
        for (uint256 m; mask != 0; ++m) {
            if (mask & 1 != 0 && stale[m]) return true;
            mask >>= 1;
        }
        return false;
    }
}
