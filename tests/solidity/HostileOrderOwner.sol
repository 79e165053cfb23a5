// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {OrderBook} from "contracts/orders/OrderBook.sol";

/// @notice A trader that is a contract: it places orders, and its receive() can burn every gas
/// unit it is given, so the execution fee's refund could run the keeper's transaction out of gas
/// after the trade (a free option if that undid the trade). Tests only.
contract HostileOrderOwner {
    bool public burn;

    function setBurn(bool on) external {
        burn = on;
    }

    function approve(IERC20 token, address spender) external {
        token.approve(spender, type(uint256).max);
    }

    function place(OrderBook book, OrderBook.CreateOrderParams calldata p) external payable returns (uint256) {
        return book.createOrder{value: msg.value}(p);
    }

    receive() external payable {
        if (burn) {
            while (true) {}
        }
    }
}
