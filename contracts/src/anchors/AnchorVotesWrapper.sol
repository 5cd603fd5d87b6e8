// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {ERC20Wrapper} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Wrapper.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {Time} from "@openzeppelin/contracts/utils/types/Time.sol";

/// @title Benchmark anchor: a stock OpenZeppelin voting wrapper (ERC20Wrapper + ERC20Votes, timestamp clock)
/// @dev Only for `make bench`; never deployed by the app. Depositing a token for votes is the stock
/// flow closest to locking GRO in the VotingEscrow.
contract AnchorVotesWrapper is ERC20, ERC20Permit, ERC20Votes, ERC20Wrapper {
    constructor(IERC20 underlying_) ERC20("Wrapped", "WRP") ERC20Permit("Wrapped") ERC20Wrapper(underlying_) {}

    function clock() public view override returns (uint48) {
        return Time.timestamp();
    }

    // forge-lint: disable-next-line(mixed-case-function)
    function CLOCK_MODE() public pure override returns (string memory) {
        return "mode=timestamp";
    }

    function decimals() public view override(ERC20, ERC20Wrapper) returns (uint8) {
        return super.decimals();
    }

    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Votes) {
        super._update(from, to, value);
    }

    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }
}
