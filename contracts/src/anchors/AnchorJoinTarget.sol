// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title Benchmark anchor: the least an ERC-2771-aware group buy's join does
/// @dev Only for `make bench`. GroupBuy reads msg.sender, so it cannot be called through a forwarder: this
/// target does a join's writes (the member's record in a fresh slot, the order's running total, an event)
/// and pulls the price with a stock ERC-20's transferFrom, the caller taken from the trusted forwarder.
contract AnchorJoinTarget is ERC2771Context {
    using SafeERC20 for IERC20;

    IERC20 public immutable token;
    uint256 public immutable unitPrice;
    mapping(uint256 orderId => uint256) public orderUnits;
    mapping(uint256 orderId => mapping(address member => uint256)) public memberUnits;

    event Joined(uint256 indexed orderId, address indexed member, uint256 units, uint256 cost);

    constructor(address forwarder, IERC20 token_, uint256 unitPrice_) ERC2771Context(forwarder) {
        token = token_;
        unitPrice = unitPrice_;
    }

    function join(uint256 orderId, uint32 units) external {
        address member = _msgSender();
        memberUnits[orderId][member] += units;
        orderUnits[orderId] += units;
        uint256 cost = uint256(units) * unitPrice;
        emit Joined(orderId, member, units, cost);
        token.safeTransferFrom(member, address(this), cost);
    }
}
