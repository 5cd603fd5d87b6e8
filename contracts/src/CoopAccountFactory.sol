// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {IEntryPoint} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {CoopAccount} from "./CoopAccount.sol";

/// @title Creates members' smart accounts at addresses known in advance
/// @notice A member's account address is fixed before the account exists, so Food-USD can be sent to it
/// first; the account itself is created with the member's first operation.
/// @dev CREATE2 minimal clones of one CoopAccount implementation; the salt binds the initial signer.
contract CoopAccountFactory {
    /// @notice The account code every clone runs.
    CoopAccount public immutable implementation;

    event AccountCreated(address indexed account, address indexed signer, uint256 salt);

    constructor(IEntryPoint entryPoint) {
        implementation = new CoopAccount(entryPoint);
    }

    /// @notice The address the account of `signer` with `salt` has (whether created yet or not).
    function predictAddress(address signer, uint256 salt) public view returns (address) {
        return Clones.predictDeterministicAddress(address(implementation), _salt(signer, salt));
    }

    /// @notice Creates the account of `signer` with `salt`, or returns it if it exists already.
    function createAccount(address signer, uint256 salt) external returns (address account) {
        account = predictAddress(signer, salt);
        if (account.code.length == 0) {
            Clones.cloneDeterministic(address(implementation), _salt(signer, salt));
            CoopAccount(payable(account)).initialize(signer);
            emit AccountCreated(account, signer, salt);
        }
    }

    function _salt(address signer, uint256 salt) private pure returns (bytes32) {
        return keccak256(abi.encode(signer, salt));
    }
}
