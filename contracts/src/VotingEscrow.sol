// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC5805} from "@openzeppelin/contracts/interfaces/IERC5805.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @title Vote-escrowed GRO (veGRO)
/// @notice Lock GRO for up to four years to get voting power. The longer the lock, the more power;
/// power shrinks week by week as the unlock date nears and is zero once the GRO can be withdrawn.
/// @dev Curve's VotingEscrow model (bias and slope points, scheduled slope changes per week) with an
/// ERC-5805 read interface on a timestamp clock so an OpenZeppelin Governor can use it. Unlike Curve's
/// it accepts contract depositors: every member holds GRO in a smart account. Power is not transferable
/// nor delegatable.
contract VotingEscrow is IERC5805, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;
    using SafeCast for int256;

    uint256 public constant WEEK = 7 days;
    uint256 public constant MAXTIME = 4 * 365 days;
    /// @dev Most week boundaries one walk of the global curve crosses while some lock is live. Every lock
    /// ends within MAXTIME (209 boundaries) of the last checkpoint, after which the slope is zero and the
    /// walk jumps to the end; more steps would mean a broken curve, so the walk refuses instead.
    uint256 private constant MAX_WEEKS_WALKED = 255;

    /// @dev One storage slot: a vote reads one point.
    struct Point {
        int96 bias;
        int96 slope;
        uint64 ts;
    }

    struct Lock {
        uint128 amount;
        uint64 end;
    }

    /// @notice The token locked (GRO).
    IERC20 public immutable token;
    string public constant name = "Vote-escrowed GRO";
    string public constant symbol = "veGRO";
    uint8 public constant decimals = 18;

    /// @notice Each account's lock: amount and unlock time.
    mapping(address account => Lock) public locked;
    /// @notice GRO locked in all.
    uint256 public totalLocked;
    Point[] private _globalPoints;
    mapping(address account => Point[]) private _accountPoints;
    /// @dev Slope to add back at each week boundary when locks ending there expire.
    mapping(uint256 weekTs => int96) public slopeChanges;

    /// @notice `account` locked `added` more GRO (`lockedAmount` in all) until `unlockTime`.
    event Locked(address indexed account, uint256 added, uint256 unlockTime, uint256 lockedAmount);
    /// @notice `account` took back their `amount` GRO after their lock ended.
    event Withdrawn(address indexed account, uint256 amount);
    /// @notice The global power curve was brought up to date at `timestamp`, when all power together was `totalPower`.
    event Checkpointed(uint256 timestamp, uint256 totalPower);

    /// @notice A lock or an addition of zero GRO.
    error ZeroAmount();
    /// @notice `account` has no GRO locked.
    error NoLock(address account);
    /// @notice `account` has a lock already: add to it instead.
    error LockExists(address account);
    /// @notice `account`'s lock ended at `unlockTime`; it can only be withdrawn.
    error LockExpired(address account, uint256 unlockTime);
    /// @notice `account`'s GRO stays locked until `unlockTime`.
    error LockNotExpired(address account, uint256 unlockTime);
    /// @notice `unlockTime`, rounded down to a whole week, is not in the future.
    error UnlockTimeTooSoon(uint256 unlockTime);
    /// @notice `unlockTime` is more than four years away (`latest`).
    error UnlockTimeTooLate(uint256 unlockTime, uint256 latest);
    /// @notice `unlockTime` is not later than the lock's `current` one.
    error UnlockTimeNotLater(uint256 unlockTime, uint256 current);
    /// @notice `timepoint` is not in the past (now is `clock`).
    error ERC5805FutureLookup(uint256 timepoint, uint48 clock);
    /// @notice Voting power is never delegated.
    error DelegationNotSupported();
    /// @notice The global curve would need more than `MAX_WEEKS_WALKED` weekly steps with live locks,
    /// which a consistent curve never does.
    error CurveWalkTooLong(uint256 from, uint256 to);

    constructor(IERC20 token_) {
        token = token_;
        _globalPoints.push(Point({bias: 0, slope: 0, ts: uint64(block.timestamp)}));
    }

    // ---- locking ----

    /// @notice Locks `amount` GRO until `unlockTime` (rounded down to a whole week, at most four years away).
    function createLock(uint256 amount, uint256 unlockTime) external nonReentrant {
        Lock memory old = locked[msg.sender];
        if (amount == 0) revert ZeroAmount();
        if (old.amount != 0) revert LockExists(msg.sender);
        uint256 end = _validUnlockTime(unlockTime);
        _update(msg.sender, old, Lock({amount: amount.toUint128(), end: uint64(end)}), amount);
    }

    /// @notice Adds `amount` GRO to your lock, keeping its unlock time.
    function increaseAmount(uint256 amount) external nonReentrant {
        Lock memory old = locked[msg.sender];
        if (amount == 0) revert ZeroAmount();
        _requireLive(msg.sender, old);
        _update(msg.sender, old, Lock({amount: (old.amount + amount).toUint128(), end: old.end}), amount);
    }

    /// @notice Moves your unlock time later, to `unlockTime` (rounded down to a whole week).
    function extendLock(uint256 unlockTime) external nonReentrant {
        Lock memory old = locked[msg.sender];
        _requireLive(msg.sender, old);
        uint256 end = _validUnlockTime(unlockTime);
        if (end <= old.end) revert UnlockTimeNotLater(end, old.end);
        _update(msg.sender, old, Lock({amount: old.amount, end: uint64(end)}), 0);
    }

    /// @notice Takes back all your GRO once the lock has ended.
    function withdraw() external nonReentrant {
        Lock memory old = locked[msg.sender];
        if (old.amount == 0) revert NoLock(msg.sender);
        if (block.timestamp < old.end) revert LockNotExpired(msg.sender, old.end);
        delete locked[msg.sender];
        totalLocked -= old.amount;
        _checkpoint(msg.sender, old, Lock({amount: 0, end: 0}));
        token.safeTransfer(msg.sender, old.amount);
        emit Withdrawn(msg.sender, old.amount);
    }

    /// @notice Brings the global power curve up to date (anyone may call; keeps later reads cheap).
    function checkpoint() external {
        _checkpoint(address(0), Lock(0, 0), Lock(0, 0));
        emit Checkpointed(block.timestamp, _totalPowerAt(block.timestamp));
    }

    // ---- ERC-5805 reads ----

    /// @notice The clock is the block timestamp.
    function clock() public view returns (uint48) {
        return uint48(block.timestamp);
    }

    /// @notice The clock counts seconds (ERC-6372).
    // forge-lint: disable-next-line(mixed-case-function)
    function CLOCK_MODE() external pure returns (string memory) {
        return "mode=timestamp";
    }

    /// @notice `account`'s voting power now.
    function getVotes(address account) external view returns (uint256) {
        return _accountPowerAt(account, block.timestamp);
    }

    /// @notice `account`'s voting power at past time `timepoint`.
    function getPastVotes(address account, uint256 timepoint) external view returns (uint256) {
        _requirePast(timepoint);
        return _accountPowerAt(account, timepoint);
    }

    /// @notice Everyone's voting power together now.
    function totalSupply() external view returns (uint256) {
        return _totalPowerAt(block.timestamp);
    }

    /// @notice Everyone's voting power together at past time `timepoint`.
    function getPastTotalSupply(uint256 timepoint) external view returns (uint256) {
        _requirePast(timepoint);
        return _totalPowerAt(timepoint);
    }

    /// @notice Power is never delegated: each account votes with its own.
    function delegates(address account) external pure returns (address) {
        return account;
    }

    /// @notice Not supported: each account votes with its own power.
    function delegate(address) external pure {
        revert DelegationNotSupported();
    }

    /// @notice Not supported: each account votes with its own power.
    function delegateBySig(address, uint256, uint256, uint8, bytes32, bytes32) external pure {
        revert DelegationNotSupported();
    }

    // ---- internals ----

    function _validUnlockTime(uint256 unlockTime) private view returns (uint256 end) {
        end = (unlockTime / WEEK) * WEEK;
        if (end <= block.timestamp) revert UnlockTimeTooSoon(unlockTime);
        uint256 latest = block.timestamp + MAXTIME;
        if (end > latest) revert UnlockTimeTooLate(unlockTime, latest);
    }

    function _requireLive(address account, Lock memory lock) private view {
        if (lock.amount == 0) revert NoLock(account);
        if (lock.end <= block.timestamp) revert LockExpired(account, lock.end);
    }

    function _requirePast(uint256 timepoint) private view {
        if (timepoint >= block.timestamp) revert ERC5805FutureLookup(timepoint, clock());
    }

    function _update(address account, Lock memory old, Lock memory next, uint256 added) private {
        uint256 powerBefore = _accountPowerAt(account, block.timestamp);
        locked[account] = next;
        totalLocked += added;
        _checkpoint(account, old, next);
        if (added > 0) token.safeTransferFrom(account, address(this), added);
        emit Locked(account, added, next.end, next.amount);
        emit DelegateVotesChanged(account, powerBefore, _accountPowerAt(account, block.timestamp));
    }

    function _pointOf(Lock memory lock) private view returns (Point memory p) {
        p.ts = uint64(block.timestamp);
        if (lock.end > block.timestamp && lock.amount > 0) {
            uint256 slope = uint256(lock.amount) / MAXTIME;
            p.slope = slope.toInt256().toInt96();
            p.bias = (slope * (uint256(lock.end) - block.timestamp)).toInt256().toInt96();
        }
    }

    /// @dev Curve's _checkpoint: walk the global curve forward week by week to now, apply the
    /// account's change, and reschedule the slope changes of the old and new unlock weeks.
    function _checkpoint(address account, Lock memory old, Lock memory next) private {
        Point memory oldPoint = _pointOf(old);
        Point memory newPoint = _pointOf(next);

        Point memory last = _advance(_globalPoints[_globalPoints.length - 1], block.timestamp);
        last.slope += newPoint.slope - oldPoint.slope;
        last.bias += newPoint.bias - oldPoint.bias;
        if (last.slope < 0) last.slope = 0;
        if (last.bias < 0) last.bias = 0;
        _push(_globalPoints, last);

        if (account == address(0)) return;
        if (old.end > block.timestamp) {
            int96 change = slopeChanges[old.end] + oldPoint.slope;
            if (next.end == old.end) change -= newPoint.slope;
            slopeChanges[old.end] = change;
        }
        if (next.end > block.timestamp && next.end > old.end) {
            slopeChanges[next.end] -= newPoint.slope;
        }
        _push(_accountPoints[account], newPoint);
    }

    function _push(Point[] storage points, Point memory p) private {
        uint256 n = points.length;
        if (n > 0 && points[n - 1].ts == p.ts) points[n - 1] = p;
        else points.push(p);
    }

    /// @dev The global point `p` carried forward to time `t`, applying the weekly slope changes. Unlike
    /// Curve's, which stops short after 255 weeks, it jumps to `t` once the slope is zero (no lock left
    /// live, so no slope change ahead) and refuses a longer walk rather than return a stale point.
    function _advance(Point memory p, uint256 t) private view returns (Point memory) {
        uint256 weekTs = (uint256(p.ts) / WEEK) * WEEK;
        int256 bias = p.bias;
        int256 slope = p.slope;
        uint256 ts = p.ts;
        for (uint256 i = 0; ts < t; ++i) {
            if (slope == 0) {
                ts = t;
                break;
            }
            if (i == MAX_WEEKS_WALKED) revert CurveWalkTooLong(p.ts, t);
            weekTs += WEEK;
            uint256 stepEnd = weekTs > t ? t : weekTs;
            bias -= slope * int256(stepEnd - ts);
            if (stepEnd == weekTs) slope += slopeChanges[weekTs];
            if (bias < 0) bias = 0;
            if (slope < 0) slope = 0;
            ts = stepEnd;
        }
        return Point({bias: bias.toInt96(), slope: slope.toInt96(), ts: uint64(ts)});
    }

    function _totalPowerAt(uint256 t) private view returns (uint256) {
        (bool found, Point memory p) = _lastPointAt(_globalPoints, t);
        if (!found) return 0;
        return uint256(int256(_advance(p, t).bias));
    }

    function _accountPowerAt(address account, uint256 t) private view returns (uint256) {
        (bool found, Point memory p) = _lastPointAt(_accountPoints[account], t);
        if (!found) return 0;
        int256 bias = int256(p.bias) - int256(p.slope) * int256(t - uint256(p.ts));
        return bias > 0 ? uint256(bias) : 0;
    }

    /// @dev Binary search for the last point at or before `t`.
    function _lastPointAt(Point[] storage points, uint256 t) private view returns (bool, Point memory) {
        uint256 low = 0;
        uint256 high = points.length;
        while (low < high) {
            uint256 mid = (low + high) / 2;
            if (points[mid].ts > t) high = mid;
            else low = mid + 1;
        }
        if (low == 0) return (false, Point(0, 0, 0));
        return (true, points[low - 1]);
    }
}
