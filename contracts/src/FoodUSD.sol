// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20Upgradeable} from "@openzeppelin/contracts-upgradeable/token/ERC20/ERC20Upgradeable.sol";
import {ERC20PermitUpgradeable} from "@openzeppelin/contracts-upgradeable/token/ERC20/extensions/ERC20PermitUpgradeable.sol";
import {ERC20PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/token/ERC20/extensions/ERC20PausableUpgradeable.sol";
import {CoopUpgradeable} from "./CoopUpgradeable.sol";

/// @title Food-USD (FUSD), the co-op's US-dollar token
/// @notice One FUSD is one US dollar the co-op holds in cash for a member. It is created when a
/// cash deposit is recorded and destroyed when cash is paid back out.
/// @dev 6 decimals. Each deposit and withdrawal carries a unique reference so a replayed record
/// can never mint or burn twice.
contract FoodUSD is CoopUpgradeable, ERC20Upgradeable, ERC20PermitUpgradeable, ERC20PausableUpgradeable {
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");
    bytes32 public constant BURNER_ROLE = keccak256("BURNER_ROLE");
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @notice Deposit and withdrawal references already recorded.
    mapping(bytes32 ref => bool) public recorded;

    /// @notice A cash deposit of `amount` for `member` was recorded (reference `ref`) and that much Food-USD created.
    event DepositRecorded(address indexed member, uint256 amount, bytes32 indexed ref);
    /// @notice Cash of `amount` was paid out to `member` (reference `ref`) and that much of their Food-USD destroyed.
    event WithdrawalRecorded(address indexed member, uint256 amount, bytes32 indexed ref);

    /// @notice A deposit or withdrawal with reference `ref` was recorded already; it is not recorded twice.
    error AlreadyRecorded(bytes32 ref);
    /// @notice A deposit or withdrawal of zero.
    error ZeroAmount();

    /// @dev Called once through the proxy.
    function initialize(address governance, address treasurer) external initializer {
        __CoopUpgradeable_init(governance);
        __ERC20_init("Food-USD", "FUSD");
        __ERC20Permit_init("Food-USD");
        __ERC20Pausable_init();
        _grantRole(MINTER_ROLE, treasurer);
        _grantRole(BURNER_ROLE, treasurer);
        _grantRole(PAUSER_ROLE, treasurer);
    }

    /// @notice Cents to the millionth: 6 decimals, like USDC.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Records a cash deposit of `amount` for `member` and creates that much Food-USD.
    function recordDeposit(address member, uint256 amount, bytes32 ref) external onlyRole(MINTER_ROLE) {
        _record(ref, amount);
        _mint(member, amount);
        emit DepositRecorded(member, amount, ref);
    }

    /// @notice Records cash paid out to `member` and destroys that much of their Food-USD.
    /// @dev The member authorises it first (approve or permit to the burner).
    function recordWithdrawal(address member, uint256 amount, bytes32 ref) external onlyRole(BURNER_ROLE) {
        _record(ref, amount);
        _spendAllowance(member, _msgSender(), amount);
        _burn(member, amount);
        emit WithdrawalRecorded(member, amount, ref);
    }

    /// @notice Stops all transfers, deposits and withdrawals (an emergency brake).
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Lets transfers run again.
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// @dev A zero record would spend a reference and say nothing happened.
    function _record(bytes32 ref, uint256 amount) private {
        if (amount == 0) revert ZeroAmount();
        if (recorded[ref]) revert AlreadyRecorded(ref);
        recorded[ref] = true;
    }

    function _update(address from, address to, uint256 value)
        internal
        override(ERC20Upgradeable, ERC20PausableUpgradeable)
    {
        super._update(from, to, value);
    }
}
