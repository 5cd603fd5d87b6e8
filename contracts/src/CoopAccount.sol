// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Account} from "@openzeppelin/contracts/account/Account.sol";
import {ERC7821} from "@openzeppelin/contracts/account/extensions/draft-ERC7821.sol";
import {SignerECDSA} from "@openzeppelin/contracts/utils/cryptography/signers/SignerECDSA.sol";
import {IEntryPoint} from "@openzeppelin/contracts/interfaces/IERC4337.sol";
import {Initializable} from "@openzeppelin/contracts/proxy/utils/Initializable.sol";

/// @title A member's smart account (ERC-4337)
/// @notice Holds a member's Food-USD and GRO. The co-op's backend signs for the member until the member
/// takes self-custody by moving the account to a key of their own.
/// @dev OpenZeppelin's Account with one ECDSA signer and ERC-7821 batched calls. Deployed as a
/// minimal clone by CoopAccountFactory; the EntryPoint is fixed per implementation (immutable).
contract CoopAccount is Account, SignerECDSA, ERC7821, Initializable {
    IEntryPoint private immutable _entryPoint;

    event SignerRotated(address indexed previousSigner, address indexed newSigner);

    error InvalidSigner();

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor(IEntryPoint entryPoint_) SignerECDSA(address(0)) {
        _entryPoint = entryPoint_;
        _disableInitializers();
    }

    /// @dev Called once by the factory on the fresh clone.
    function initialize(address signer_) external initializer {
        if (signer_ == address(0)) revert InvalidSigner();
        _setSigner(signer_);
        emit SignerRotated(address(0), signer_);
    }

    /// @notice The EntryPoint this account trusts.
    function entryPoint() public view override returns (IEntryPoint) {
        return _entryPoint;
    }

    /// @notice Hands the account to a new signing key (self-custody); the previous key can no longer sign.
    /// @dev Only through the account itself (a user operation signed by the current signer).
    function rotateSigner(address newSigner) external onlyEntryPointOrSelf {
        if (newSigner == address(0)) revert InvalidSigner();
        address previous = signer();
        _setSigner(newSigner);
        emit SignerRotated(previous, newSigner);
    }

    function _erc7821AuthorizedExecutor(address caller, bytes32 mode, bytes calldata executionData)
        internal
        view
        override
        returns (bool)
    {
        return caller == address(entryPoint()) || super._erc7821AuthorizedExecutor(caller, mode, executionData);
    }
}
