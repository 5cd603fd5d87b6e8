// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {CoopUpgradeable} from "./CoopUpgradeable.sol";

/// @title The co-op's register of members
/// @notice One member account per verified resident. Voting and other members-only actions read it.
/// @dev Quadratic voting is only as strong as this one-account-per-resident rule: it is the defence
/// against a resident splitting their tokens over several accounts.
contract MemberRegistry is CoopUpgradeable {
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    /// @notice The resident each member account belongs to (zero when not a member).
    mapping(address account => bytes32 residentId) public residentOf;
    /// @notice The member account of each resident (zero when none).
    mapping(bytes32 residentId => address account) public accountOf;
    /// @notice How many members there are now.
    uint256 public memberCount;

    event MemberAdded(address indexed account, bytes32 indexed residentId);
    event MemberRemoved(address indexed account, bytes32 indexed residentId);

    error AlreadyMember(address account);
    error ResidentAlreadyRegistered(bytes32 residentId, address account);
    error NotAMember(address account);
    error InvalidMember();

    /// @dev Called once through the proxy.
    function initialize(address governance, address registrar) external initializer {
        __CoopUpgradeable_init(governance);
        _grantRole(REGISTRAR_ROLE, registrar);
    }

    /// @notice Whether `account` belongs to a current member.
    function isMember(address account) public view returns (bool) {
        return residentOf[account] != bytes32(0);
    }

    /// @notice Registers `account` as the one member account of resident `residentId`.
    /// @dev `residentId` is an opaque, non-zero id the backend derives for a verified resident.
    function addMember(address account, bytes32 residentId) external onlyRole(REGISTRAR_ROLE) {
        if (account == address(0) || residentId == bytes32(0)) revert InvalidMember();
        if (residentOf[account] != bytes32(0)) revert AlreadyMember(account);
        address existing = accountOf[residentId];
        if (existing != address(0)) revert ResidentAlreadyRegistered(residentId, existing);
        residentOf[account] = residentId;
        accountOf[residentId] = account;
        memberCount += 1;
        emit MemberAdded(account, residentId);
    }

    /// @notice Removes a member (moved out, or asked to leave).
    function removeMember(address account) external onlyRole(REGISTRAR_ROLE) {
        bytes32 residentId = residentOf[account];
        if (residentId == bytes32(0)) revert NotAMember(account);
        delete residentOf[account];
        delete accountOf[residentId];
        memberCount -= 1;
        emit MemberRemoved(account, residentId);
    }
}
