// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {CoopUpgradeable} from "./CoopUpgradeable.sol";
import {MemberRegistry} from "./MemberRegistry.sol";

/// @title Group buying in Food-USD
/// @notice Members pool Food-USD to buy in bulk. When an order reaches its target it is bought at
/// once and the supplier is paid; at the deadline it is bought if the minimum was reached, otherwise
/// everyone gets back exactly what they paid. Money left over for a member (tolerance not used,
/// units that did not fit a whole case, a refunded order) is theirs to claim.
/// @dev Suppliers sell by the case. A member may add a tolerance: extra units they would accept only
/// to complete the last case (Foodsoft's box filling). An order buys whole cases only; units are
/// allocated first come, first served by the member's first join, then tolerance the same way.
/// Only registered members join (a look-up in the member registry on every join): otherwise throwaway
/// accounts holding a little Food-USD could fill an order's member places with one-unit joins.
/// An order still open `STALE_AFTER` past its deadline (its finalization keeps failing) can be refunded
/// by anyone, so members' money never stays stuck. There is no join by ERC-2612 permit: the co-op's
/// members join from smart accounts, which cannot sign one, and approve in the same batch instead.
/// Members are not stored in a list (a list would cost every join a storage slot): each member gets
/// a sequence number, and the rare finalization that must allocate takes the members in join order
/// as calldata (from the Joined events) and checks it against those numbers.
contract GroupBuy is CoopUpgradeable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    bytes32 public constant ORDER_MANAGER_ROLE = keccak256("ORDER_MANAGER_ROLE");
    /// @notice Latest deadline an order may have, counted from its creation: long enough for any group
    /// buy, short enough that members' money is not tied up for a season.
    uint256 public constant MAX_ORDER_DURATION = 90 days;
    /// @notice How long after its deadline an order still open may be refunded by anyone: two weeks for
    /// the keeper (or anyone) to finalize it normally first.
    uint256 public constant STALE_AFTER = 14 days;

    enum Status {
        None,
        Open,
        Executed,
        Refunded,
        Cancelled
    }

    /// @dev Four slots: a join reads the first two and writes the second.
    struct Order {
        // slot 0: the terms and status, what a join reads
        uint64 unitPrice; // Food-USD minor units
        uint40 deadline;
        uint32 targetUnits;
        uint32 minUnits;
        uint32 maxUnitsPerMember; // units + tolerance
        uint32 caseSize;
        Status status;
        // slot 1: the supplier and the progress, what a join writes
        address supplier;
        uint32 units; // committed by members
        uint32 tolerance; // offered by members
        uint32 members;
        // slot 2: set at execution
        uint32 boughtUnits;
        bool allocatedInFull; // every member got exactly their units (no list needed)
        // slot 3
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
    /// @notice The register of members; only its members join orders.
    /// @custom:oz-upgrades-unsafe-allow state-variable-immutable
    MemberRegistry public immutable registry;
    /// @notice Most members one order can have: a finalization that allocates walks them all in one
    /// transaction, and this bound keeps it well inside a block.
    /// @custom:oz-upgrades-unsafe-allow state-variable-immutable
    uint32 public immutable maxMembersPerOrder;
    uint256 public orderCount;
    mapping(uint256 orderId => Order) private _orders;
    mapping(uint256 orderId => mapping(address member => Member)) private _members;

    /// @notice Order `orderId` was opened with these terms (deadline in Unix seconds).
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
    /// @notice `member` (the order's `seq`-th member, from 0) joined or raised their units by `units`, paying `paid`.
    event Joined(uint256 indexed orderId, address indexed member, uint256 seq, uint256 units, uint256 paid);
    /// @notice `member` set their tolerance to `tolerance` units, paying `paid` more (negative: paid back).
    event ToleranceChanged(uint256 indexed orderId, address indexed member, uint256 tolerance, int256 paid);
    /// @notice The order bought `boughtUnits` units and paid the supplier `paidToSupplier`.
    event OrderExecuted(uint256 indexed orderId, uint256 boughtUnits, uint256 paidToSupplier);
    /// @notice The order will not buy; each member claims back what they paid.
    event OrderRefunded(uint256 indexed orderId);
    /// @notice The order manager cancelled the order; each member claims back what they paid.
    event OrderCancelled(uint256 indexed orderId);
    /// @notice The order manager closed the order before its deadline; `OrderExecuted` or `OrderRefunded` follows.
    event ClosedEarly(uint256 indexed orderId);
    /// @notice `member` was paid `refund` from the closed order, in which `allocatedUnits` were bought for them.
    event Claimed(uint256 indexed orderId, address indexed member, uint256 allocatedUnits, uint256 refund);

    /// @notice The order's terms are not valid (no supplier or price, minimum above target, target not whole
    /// cases, deadline passed or more than `MAX_ORDER_DURATION` away…).
    error InvalidOrder();
    /// @notice There is no order `orderId`.
    error UnknownOrder(uint256 orderId);
    /// @notice Order `orderId` is no longer open (`status`).
    error OrderNotOpen(uint256 orderId, Status status);
    /// @notice Order `orderId`'s deadline passed; it takes no more joins or tolerance changes.
    error OrderClosed(uint256 orderId, uint256 deadline);
    /// @notice Order `orderId` cannot be finalized before its deadline.
    error DeadlineNotReached(uint256 orderId, uint256 deadline);
    /// @notice Order `orderId` has only `unitsLeft` units left.
    error OrderFull(uint256 orderId, uint256 unitsLeft);
    /// @notice `requested` units (with tolerance) is more than the `cap` one member may take in the order.
    error MemberCapExceeded(uint256 orderId, uint256 requested, uint256 cap);
    /// @notice A join of zero units.
    error ZeroUnits();
    /// @notice `member` has not joined order `orderId`.
    error NotJoined(uint256 orderId, address member);
    /// @notice `member` already claimed what was theirs from order `orderId`.
    error AlreadyClaimed(uint256 orderId, address member);
    /// @notice Order `orderId` is not closed yet (`status`): nothing to claim.
    error NothingToClaim(uint256 orderId, Status status);
    /// @notice Finalizing order `orderId` must allocate units: pass its members in join order.
    error JoinOrderRequired(uint256 orderId);
    /// @notice The member at `index` of the list given is not the order's `index`-th member.
    error BadJoinOrder(uint256 orderId, uint256 index);
    /// @notice Order `orderId` has its `maxMembers` members already.
    error TooManyMembers(uint256 orderId, uint256 maxMembers);
    /// @notice `account` is not a registered member, so it cannot join orders.
    error NotAMember(address account);
    /// @notice Order `orderId` may be refunded as stale only after `staleAt` (its deadline plus `STALE_AFTER`).
    error OrderNotStale(uint256 orderId, uint256 staleAt);
    /// @notice `implementation` was built with another Food-USD token or member registry than this contract.
    error UpgradeChangesImmutables(address implementation);

    /// @dev The token, the registry and the member bound are fixed in the code (immutables) rather than in
    /// storage: a join reads them for free. A new implementation must be built with the same token and
    /// registry (`_authorizeUpgrade` checks).
    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor(IERC20 foodUsd_, MemberRegistry registry_, uint32 maxMembersPerOrder_) {
        foodUsd = foodUsd_;
        registry = registry_;
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
                || deadline <= block.timestamp || deadline > block.timestamp + MAX_ORDER_DURATION
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
    /// paying for them now in Food-USD (approve the order contract first). Registered members only.
    function join(uint256 orderId, uint32 units) external nonReentrant {
        if (units == 0) revert ZeroUnits();
        if (!registry.isMember(msg.sender)) revert NotAMember(msg.sender);
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
        _close(orderId, o, joinOrder);
    }

    /// @notice Ends an open order now, before its deadline: bought if the whole cases it can buy reach its
    /// minimum, otherwise everyone is refunded — as at the deadline.
    /// @dev For when the co-op cannot wait (the supplier's stock, a price that changes). Tolerance counts as
    /// it would at the deadline, so a member's extra units may be used. Past the deadline `finalize` closes it
    /// (anyone may call that), so this reverts with `OrderClosed`.
    /// @param orderId the open order to close.
    /// @param joinOrder as for `finalize`: the order's members in join order, needed only when units must be
    /// allocated, otherwise an empty list.
    function closeEarly(uint256 orderId, address[] calldata joinOrder)
        external
        onlyRole(ORDER_MANAGER_ROLE)
        nonReentrant
    {
        Order storage o = _openOrder(orderId);
        if (block.timestamp > o.deadline) revert OrderClosed(orderId, o.deadline);
        emit ClosedEarly(orderId);
        _close(orderId, o, joinOrder);
    }

    /// @notice Refunds an order still open `STALE_AFTER` past its deadline (its finalization keeps failing):
    /// each member then claims back what they paid. Anyone may call it.
    function refundStale(uint256 orderId) external nonReentrant {
        Order storage o = _openOrder(orderId);
        uint256 staleAt = uint256(o.deadline) + STALE_AFTER;
        if (block.timestamp <= staleAt) revert OrderNotStale(orderId, staleAt);
        o.status = Status.Refunded;
        emit OrderRefunded(orderId);
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

    /// @dev An upgrade keeps the token and the registry: a new implementation built with others would
    /// silently move every order's money to another token, or let anyone in.
    function _authorizeUpgrade(address newImplementation) internal override {
        super._authorizeUpgrade(newImplementation);
        GroupBuy next = GroupBuy(newImplementation);
        if (next.foodUsd() != foodUsd || next.registry() != registry) {
            revert UpgradeChangesImmutables(newImplementation);
        }
    }

    function _openOrder(uint256 orderId) private view returns (Order storage o) {
        o = _orders[orderId];
        if (o.status == Status.None) revert UnknownOrder(orderId);
        if (o.status != Status.Open) revert OrderNotOpen(orderId, o.status);
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

    /// @dev Buys the order if the whole cases it can buy reach its minimum, else refunds it.
    function _close(uint256 orderId, Order storage o, address[] calldata joinOrder) private {
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

    function _execute(uint256 orderId, Order storage o, uint256 bought) private {
        o.status = Status.Executed;
        o.boughtUnits = uint32(bought);
        o.allocatedInFull = bought == o.units;
        uint256 payment = bought * o.unitPrice;
        emit OrderExecuted(orderId, bought, payment);
        foodUsd.safeTransfer(o.supplier, payment);
    }
}
