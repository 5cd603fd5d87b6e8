// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC6372} from "@openzeppelin/contracts/interfaces/IERC6372.sol";
import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";
import {Time} from "@openzeppelin/contracts/utils/types/Time.sol";
import {CoopUpgradeable} from "./CoopUpgradeable.sol";

/// @title The co-op's register of members
/// @notice One member account per verified resident. Voting and other members-only actions read it, and
/// it remembers who was a member when, so that a vote counts the members of the day the vote opened.
/// @dev Quadratic voting is only as strong as this one-account-per-resident rule: it is the defence
/// against a resident splitting their tokens over several accounts. The history is one checkpoint trace
/// per account on a timestamp clock (ERC-6372, like the voting escrow), holding a resident number (0: not
/// a member); each resident gets its number once, the first time it is registered.
contract MemberRegistry is CoopUpgradeable, IERC6372 {
    using Checkpoints for Checkpoints.Trace208;

    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    /// @notice The resident each member account belongs to (zero when not a member).
    mapping(address account => bytes32 residentId) public residentOf;
    /// @notice The member account of each resident (zero when none).
    mapping(bytes32 residentId => address account) public accountOf;
    /// @notice How many members there are now.
    uint256 public memberCount;
    /// @dev Each account's resident number over time.
    mapping(address account => Checkpoints.Trace208) private _membership;
    /// @dev The resident each number stands for, and back; numbers start at 1.
    mapping(uint256 residentNumber => bytes32 residentId) private _residentIds;
    mapping(bytes32 residentId => uint208 residentNumber) private _residentNumbers;
    uint208 private _residentsEver;

    /// @notice `account` became the member account of resident `residentId`.
    event MemberAdded(address indexed account, bytes32 indexed residentId);
    /// @notice `account` is no longer a member account; resident `residentId` has none now.
    event MemberRemoved(address indexed account, bytes32 indexed residentId);

    /// @notice `account` already belongs to a member.
    error AlreadyMember(address account);
    /// @notice Resident `residentId` already has a member account, `account`.
    error ResidentAlreadyRegistered(bytes32 residentId, address account);
    /// @notice `account` is not a member account.
    error NotAMember(address account);
    /// @notice A member needs a non-zero account and a non-zero resident id.
    error InvalidMember();
    /// @notice Membership at `timepoint` is not settled yet: the clock shows `clock`.
    error FutureLookup(uint256 timepoint, uint48 clock);

    /// @dev Called once through the proxy.
    function initialize(address governance, address registrar) external initializer {
        __CoopUpgradeable_init(governance);
        _grantRole(REGISTRAR_ROLE, registrar);
    }

    /// @notice Whether `account` belongs to a current member.
    function isMember(address account) public view returns (bool) {
        return residentOf[account] != bytes32(0);
    }

    /// @notice The resident behind `account` at past `timepoint` (a timestamp); zero when it was no member then.
    function residentAt(address account, uint256 timepoint) external view returns (bytes32) {
        uint48 now_ = clock();
        if (timepoint >= now_) revert FutureLookup(timepoint, now_);
        uint256 number = _membership[account].upperLookupRecent(uint48(timepoint));
        return number == 0 ? bytes32(0) : _residentIds[number];
    }

    /// @notice The clock membership history is kept on: the block timestamp.
    function clock() public view returns (uint48) {
        return Time.timestamp();
    }

    /// @notice The clock counts seconds (ERC-6372).
    // forge-lint: disable-next-line(mixed-case-function)
    function CLOCK_MODE() external pure returns (string memory) {
        return "mode=timestamp";
    }

    /// @notice Registers `account` as the one member account of resident `residentId`.
    /// @dev `residentId` is an opaque, non-zero id the backend derives for a verified resident.
    function addMember(address account, bytes32 residentId) external onlyRole(REGISTRAR_ROLE) {
        if (account == address(0) || residentId == bytes32(0)) revert InvalidMember();
        if (residentOf[account] != bytes32(0)) revert AlreadyMember(account);
        address existing = accountOf[residentId];
        if (existing != address(0)) revert ResidentAlreadyRegistered(residentId, existing);
        uint208 number = _residentNumbers[residentId];
        if (number == 0) {
            number = ++_residentsEver;
            _residentNumbers[residentId] = number;
            _residentIds[number] = residentId;
        }
        residentOf[account] = residentId;
        accountOf[residentId] = account;
        memberCount += 1;
        _membership[account].push(clock(), number);
        emit MemberAdded(account, residentId);
    }

    /// @notice Removes a member (moved out, or asked to leave). Votes already open still count them.
    function removeMember(address account) external onlyRole(REGISTRAR_ROLE) {
        bytes32 residentId = residentOf[account];
        if (residentId == bytes32(0)) revert NotAMember(account);
        delete residentOf[account];
        delete accountOf[residentId];
        memberCount -= 1;
        _membership[account].push(clock(), 0);
        emit MemberRemoved(account, residentId);
    }
}
