// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {CoopUpgradeable} from "./CoopUpgradeable.sol";

/// @title Group buying in Food-USD
/// @notice Members pool Food-USD to buy in bulk. When an order reaches its target it is bought at
/// once and the supplier is paid; at the deadline it is bought if the minimum was reached, otherwise
/// everyone gets back exactly what they paid. Money left over for a member (tolerance not used,
/// units that did not fit a whole case, a refunded order) is theirs to claim.
/// @dev Suppliers sell by the case. A member may add a tolerance: extra units they would accept only
/// to complete the last case (Foodsoft's box filling). An order buys whole cases only; units are
/// allocated first come, first served by the member's first join, then tolerance the same way.
/// Joining is open to any account holding Food-USD (which only reaches accounts through recorded member
/// deposits): the backend offers joins to registered members only, and a registry look-up here would
/// cost every join two more cold contract reads through the registry's proxy.
/// Members are not stored in a list (a list would cost every join a storage slot): each member gets
/// a sequence number, and the rare finalization that must allocate takes the members in join order
/// as calldata (from the Joined events) and checks it against those numbers.
contract GroupBuy is CoopUpgradeable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    bytes32 public constant ORDER_MANAGER_ROLE = keccak256("ORDER_MANAGER_ROLE");

    enum Status {
        None,
        Open,
        Executed,
        Refunded,
        Cancelled
    }

    /// @dev Two slots: what a join reads, and what a join writes (plus the supplier).
    struct Order {
        // slot 1
        uint64 unitPrice; // Food-USD minor units
        uint40 deadline;
        uint32 targetUnits;
        uint32 minUnits;
        uint32 maxUnitsPerMember; // units + tolerance
        uint32 caseSize;
        Status status;
        // slot 2
        address supplier;
        uint32 units; // committed by members
        uint32 tolerance; // offered by members
        uint32 members;
        // slot 3
        uint32 boughtUnits; // set at execution
        bool allocatedInFull; // every member got exactly their units (no list needed)
        bytes32 productId;
    }

    struct Member {
        uint32 units;
        uint32 tolerance;
        uint32 seq; // join order, from 0
        uint32 allocated; // units bought for the member (when not allocatedInFull)
        bool joined;
        bool claimed;
    }

    /// @notice The token orders are paid in (Food-USD).
    /// @custom:oz-upgrades-unsafe-allow state-variable-immutable
    IERC20 public immutable foodUsd;
    /// @notice Most members one order can have: a finalization that allocates walks them all in one
    /// transaction, and this bound keeps it well inside a block.
    /// @custom:oz-upgrades-unsafe-allow state-variable-immutable
    uint32 public immutable maxMembersPerOrder;
    uint256 public orderCount;
    mapping(uint256 orderId => Order) private _orders;
    mapping(uint256 orderId => mapping(address member => Member)) private _members;

    event OrderCreated(
        uint256 indexed orderId,
        address indexed supplier,
        bytes32 indexed productId,
        uint256 unitPrice,
        uint256 targetUnits,
        uint256 minUnits,
        uint256 maxUnitsPerMember,
        uint256 caseSize,
        uint256 deadline
    );
    event Joined(uint256 indexed orderId, address indexed member, uint256 seq, uint256 units, uint256 paid);
    event ToleranceChanged(uint256 indexed orderId, address indexed member, uint256 tolerance, int256 paid);
    event OrderExecuted(uint256 indexed orderId, uint256 boughtUnits, uint256 paidToSupplier);
    event OrderRefunded(uint256 indexed orderId);
    event OrderCancelled(uint256 indexed orderId);
    event Claimed(uint256 indexed orderId, address indexed member, uint256 allocatedUnits, uint256 refund);

    error InvalidOrder();
    error UnknownOrder(uint256 orderId);
    error OrderNotOpen(uint256 orderId, Status status);
    error OrderClosed(uint256 orderId, uint256 deadline);
    error DeadlineNotReached(uint256 orderId, uint256 deadline);
    error OrderFull(uint256 orderId, uint256 unitsLeft);
    error MemberCapExceeded(uint256 orderId, uint256 requested, uint256 cap);
    error ZeroUnits();
    error NotJoined(uint256 orderId, address member);
    error AlreadyClaimed(uint256 orderId, address member);
    error NothingToClaim(uint256 orderId, Status status);
    error JoinOrderRequired(uint256 orderId);
    error BadJoinOrder(uint256 orderId, uint256 index);
    error TooManyMembers(uint256 orderId, uint256 maxMembers);

    /// @dev The token and the member bound are fixed in the code (immutables) rather than in storage: a
    /// join reads them for free. A new implementation is built with the same values.
    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor(IERC20 foodUsd_, uint32 maxMembersPerOrder_) {
        foodUsd = foodUsd_;
        maxMembersPerOrder = maxMembersPerOrder_;
    }

    /// @dev Called once through the proxy.
    function initialize(address governance, address orderManager) external initializer {
        __CoopUpgradeable_init(governance);
        _grantRole(ORDER_MANAGER_ROLE, orderManager);
    }

    // ---- views ----

    /// @notice An order's terms and progress.
    function getOrder(uint256 orderId) external view returns (Order memory) {
        return _orders[orderId];
    }

    /// @notice A member's part in an order.
    function getMember(uint256 orderId, address member) external view returns (Member memory) {
        return _members[orderId][member];
    }

    /// @notice What `member` can claim from `orderId` now: units bought for them and Food-USD to refund.
    function claimable(uint256 orderId, address member) public view returns (uint256 units, uint256 refund) {
        Order storage o = _orders[orderId];
        Member storage m = _members[orderId][member];
        if (!m.joined || m.claimed || o.status == Status.Open || o.status == Status.None) return (0, 0);
        uint256 paid = (uint256(m.units) + m.tolerance) * o.unitPrice;
        if (o.status == Status.Executed) units = o.allocatedInFull ? m.units : m.allocated;
        refund = paid - units * o.unitPrice;
    }

    // ---- orders ----

    /// @notice Opens a group-buy order.
    /// @param caseSize units per case the supplier sells (1 when sold by the unit); the target must be whole cases.
    function createOrder(
        address supplier,
        bytes32 productId,
        uint64 unitPrice,
        uint32 targetUnits,
        uint32 minUnits,
        uint32 maxUnitsPerMember,
        uint32 caseSize,
        uint40 deadline
    ) external onlyRole(ORDER_MANAGER_ROLE) returns (uint256 orderId) {
        if (
            supplier == address(0) || unitPrice == 0 || caseSize == 0 || targetUnits == 0 || minUnits == 0
                || minUnits > targetUnits || targetUnits % caseSize != 0 || maxUnitsPerMember == 0
                || deadline <= block.timestamp
        ) revert InvalidOrder();
        orderId = ++orderCount;
        Order storage o = _orders[orderId];
        o.unitPrice = unitPrice;
        o.deadline = deadline;
        o.targetUnits = targetUnits;
        o.minUnits = minUnits;
        o.maxUnitsPerMember = maxUnitsPerMember;
        o.caseSize = caseSize;
        o.status = Status.Open;
        o.supplier = supplier;
        o.productId = productId;
        emit OrderCreated(
            orderId, supplier, productId, unitPrice, targetUnits, minUnits, maxUnitsPerMember, caseSize, deadline
        );
    }

    /// @notice Joins order `orderId` with `units` more units (or raises your units if you joined already),
    /// paying for them now in Food-USD (approve the order contract first).
    function join(uint256 orderId, uint32 units) external nonReentrant {
        _join(orderId, units);
    }

    /// @notice Like {join}, with a signed Food-USD permit instead of a prior approval.
    function joinWithPermit(uint256 orderId, uint32 units, uint256 permitDeadline, uint8 v, bytes32 r, bytes32 s)
        external
        nonReentrant
    {
        uint256 cost = uint256(units) * _orders[orderId].unitPrice;
        // A front-run permit is harmless: the allowance is already there.
        try IERC20Permit(address(foodUsd)).permit(msg.sender, address(this), cost, permitDeadline, v, r, s) {} catch {}
        _join(orderId, units);
    }

    /// @notice Sets how many extra units you would accept to complete the last case, until the deadline.
    /// You pay for them now; what is not used comes back to you.
    function setTolerance(uint256 orderId, uint32 tolerance) external nonReentrant {
        Order storage o = _openOrder(orderId);
        if (block.timestamp > o.deadline) revert OrderClosed(orderId, o.deadline);
        Member storage m = _members[orderId][msg.sender];
        if (!m.joined) revert NotJoined(orderId, msg.sender);
        uint256 want = uint256(m.units) + tolerance;
        if (want > o.maxUnitsPerMember) revert MemberCapExceeded(orderId, want, o.maxUnitsPerMember);
        uint32 previous = m.tolerance;
        m.tolerance = tolerance;
        o.tolerance = o.tolerance - previous + tolerance;
        int256 delta = (int256(uint256(tolerance)) - int256(uint256(previous))) * int256(uint256(o.unitPrice));
        emit ToleranceChanged(orderId, msg.sender, tolerance, delta);
        if (delta > 0) foodUsd.safeTransferFrom(msg.sender, address(this), uint256(delta));
        else if (delta < 0) foodUsd.safeTransfer(msg.sender, uint256(-delta));
    }

    /// @notice After the deadline, buys the order if the whole cases it can buy reach its minimum, or
    /// refunds everyone. Anyone may call it.
    /// @param joinOrder the order's members in join order (from the Joined events); needed only when
    /// units must be allocated (a partly filled last case), otherwise pass an empty list.
    function finalize(uint256 orderId, address[] calldata joinOrder) external nonReentrant {
        Order storage o = _openOrder(orderId);
        if (block.timestamp <= o.deadline) revert DeadlineNotReached(orderId, o.deadline);
        // The minimum applies to what would really be bought: whole cases, tolerance included.
        uint256 bought = _wholeCases(o.units, o.tolerance, o.caseSize);
        if (bought < o.minUnits) {
            o.status = Status.Refunded;
            emit OrderRefunded(orderId);
            return;
        }
        if (bought != o.units) _allocate(orderId, o, bought, joinOrder);
        _execute(orderId, o, bought);
    }

    /// @notice Cancels an open order; everyone gets back what they paid.
    function cancel(uint256 orderId) external onlyRole(ORDER_MANAGER_ROLE) {
        Order storage o = _openOrder(orderId);
        o.status = Status.Cancelled;
        emit OrderCancelled(orderId);
    }

    /// @notice Pays `member` what is theirs from a closed order (refund of unused Food-USD).
    /// Anyone may call it for any member; the money only ever goes to the member.
    function claim(uint256 orderId, address member) public nonReentrant {
        Order storage o = _orders[orderId];
        Member storage m = _members[orderId][member];
        if (o.status == Status.Open || o.status == Status.None) revert NothingToClaim(orderId, o.status);
        if (!m.joined) revert NotJoined(orderId, member);
        if (m.claimed) revert AlreadyClaimed(orderId, member);
        (uint256 units, uint256 refund) = claimable(orderId, member);
        m.claimed = true;
        emit Claimed(orderId, member, units, refund);
        if (refund > 0) foodUsd.safeTransfer(member, refund);
    }

    // ---- internals ----

    function _openOrder(uint256 orderId) private view returns (Order storage o) {
        o = _orders[orderId];
        if (o.status == Status.None) revert UnknownOrder(orderId);
        if (o.status != Status.Open) revert OrderNotOpen(orderId, o.status);
    }

    function _join(uint256 orderId, uint32 units) private {
        if (units == 0) revert ZeroUnits();
        Order storage o = _openOrder(orderId);
        if (block.timestamp > o.deadline) revert OrderClosed(orderId, o.deadline);
        uint256 left = o.targetUnits - o.units;
        if (units > left) revert OrderFull(orderId, left);
        Member storage m = _members[orderId][msg.sender];
        uint256 want = uint256(m.units) + m.tolerance + units;
        if (want > o.maxUnitsPerMember) revert MemberCapExceeded(orderId, want, o.maxUnitsPerMember);
        if (!m.joined) {
            if (o.members == maxMembersPerOrder) revert TooManyMembers(orderId, maxMembersPerOrder);
            m.joined = true;
            m.seq = o.members++;
        }
        m.units += units;
        o.units += units;
        uint256 cost = uint256(units) * o.unitPrice;
        emit Joined(orderId, msg.sender, m.seq, units, cost);
        foodUsd.safeTransferFrom(msg.sender, address(this), cost);
        if (o.units == o.targetUnits) _execute(orderId, o, o.units);
    }

    /// @dev Whole cases from `units` ordered, completing the last case from `tolerance` when it can.
    function _wholeCases(uint256 units, uint256 tolerance, uint256 caseSize) private pure returns (uint256) {
        uint256 cases = units / caseSize;
        uint256 rest = units % caseSize;
        if (rest > 0 && rest + tolerance >= caseSize) cases += 1;
        return cases * caseSize;
    }

    /// @dev First come, first served: units, then tolerance, until `bought` is filled.
    function _allocate(uint256 orderId, Order storage o, uint256 bought, address[] calldata joinOrder) private {
        if (joinOrder.length != o.members) revert JoinOrderRequired(orderId);
        uint256 left = bought;
        for (uint256 i = 0; i < joinOrder.length; ++i) {
            Member storage m = _members[orderId][joinOrder[i]];
            if (!m.joined || m.seq != i) revert BadJoinOrder(orderId, i);
            uint256 take = m.units < left ? m.units : left;
            m.allocated = uint32(take);
            left -= take;
        }
        for (uint256 i = 0; i < joinOrder.length && left > 0; ++i) {
            Member storage m = _members[orderId][joinOrder[i]];
            uint256 take = m.tolerance < left ? m.tolerance : left;
            m.allocated += uint32(take);
            left -= take;
        }
    }

    function _execute(uint256 orderId, Order storage o, uint256 bought) private {
        o.status = Status.Executed;
        o.boughtUnits = uint32(bought);
        o.allocatedInFull = bought == o.units;
        uint256 payment = bought * o.unitPrice;
        emit OrderExecuted(orderId, bought, payment);
        foodUsd.safeTransfer(o.supplier, payment);
    }
}
