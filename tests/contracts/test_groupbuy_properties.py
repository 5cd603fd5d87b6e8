"""GroupBuy under random sequences of orders, joins (now and then by a non-member), raises, tolerance
changes, cancellations, deadlines, finalizations, stale refunds and claims: a hypothesis state machine on
the session's deployed co-op, whose members are all registered.

A Python model computes every expected result without reading the contract's views: which calls revert
and with which custom error, the whole cases bought (Foodsoft's rule), the first-come-first-served
allocation (units by first join, then tolerance), what the supplier is paid and what each member gets
back. After every step the GroupBuy contract must hold exactly what came in minus what went out, and
the step's Food-USD transfers must be exactly the model's (so none is created or lost; every balance is
compared at the end of each example).

The members (and the outsider, who is not one) get their Food-USD once for the whole run (a deposit each and an unlimited approval):
funding every join with its own deposit and approval would triple the transactions of a run.

COOP_HYPOTHESIS_EXAMPLES scales the number of examples up for a longer local run.
"""
import os
import time
from dataclasses import dataclass, field

from eth_utils import keccak
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from tests.conftest import DAY, FUSD
from tests.helpers import events, reverts

EXAMPLES = int(os.environ.get("COOP_HYPOTHESIS_EXAMPLES", "12"))
STEPS = 15
MAX_ORDERS = 8
FUNDS = 10**7 * FUSD  # each member's Food-USD, deposited once for the whole run
GAS = 1_000_000
STALE_AFTER = 14 * DAY  # GroupBuy.STALE_AFTER: an order still open this long after its deadline may be refunded

# GroupBuy.Status
OPEN, EXECUTED, REFUNDED, CANCELLED = 1, 2, 3, 4
CLOSED = (EXECUTED, REFUNDED, CANCELLED)

OK = None  # an expected outcome: success, or (custom error name, {argument: value})


def whole_cases(units: int, tolerance: int, case_size: int) -> int:
    """Foodsoft's case rule: whole cases of the units ordered, plus the last case if tolerance completes it."""
    cases, rest = divmod(units, case_size)
    if rest > 0 and rest + tolerance >= case_size:
        cases += 1
    return cases * case_size


@dataclass
class Part:
    """A member's part in an order, as the model sees it."""

    seq: int
    units: int = 0
    tolerance: int = 0
    paid: int = 0  # Food-USD the member actually moved in (joins, tolerance changes)
    allocated: int = 0
    claimed: bool = False


@dataclass
class OrderModel:
    id: int
    price: int
    target: int
    minimum: int
    cap: int
    case: int
    deadline: int
    status: int = OPEN
    parts: dict[str, Part] = field(default_factory=dict)
    bought: int = 0
    paid_in: int = 0
    paid_out: int = 0

    @property
    def units(self) -> int:
        return sum(p.units for p in self.parts.values())

    @property
    def tolerance(self) -> int:
        return sum(p.tolerance for p in self.parts.values())

    def join_order(self) -> list[str]:
        return sorted(self.parts, key=lambda a: self.parts[a].seq)

    def refund_of(self, address: str) -> int:
        part = self.parts[address]
        return part.paid - part.allocated * self.price


class GroupBuyMachine(RuleBasedStateMachine):
    def __init__(self, coop, balances: dict[str, int]):
        super().__init__()
        self.coop = coop
        self.chain = coop.chain
        self.gb = coop.contracts.group_buy
        self.fusd = coop.contracts.food_usd
        self.snapshot = self.chain.snapshot()
        # Blocks come one second apart once the chain is ahead of the wall clock; the model relies on
        # it to know the next transaction's timestamp (checked on every transaction).
        self.chain.advance(max(self.chain.now(), int(time.time())) + DAY - self.chain.now())
        self.members = [m.address for m in coop.members]  # all registered
        self.joiners = [*self.members, coop.outsider.address]  # the outsider holds Food-USD but is no member
        self.callers = [a.address for a in (*coop.members, coop.outsider, coop.supplier)]
        self.accounts = {a.address: a for a in (*coop.members, coop.outsider, coop.supplier, coop.treasurer)}
        self.balance = dict(balances)  # Food-USD of every account that can hold some, at the start
        self.supply = sum(balances.values())
        self.initial_held = self.balance[self.gb.address]
        self.supplier_initial = self.balance[coop.supplier.address]
        self.first_id = self.gb.functions.orderCount().call() + 1
        self.orders: list[OrderModel] = []
        self.transfers_seen: list[tuple] = []  # Food-USD Transfer events of this step's transactions
        self.transfers_modelled: list[tuple] = []  # the model's moves in this step

    def teardown(self):
        try:
            for address, expected in self.balance.items():
                assert self.fusd.functions.balanceOf(address).call() == expected, address
            assert self.fusd.functions.totalSupply().call() == self.supply
        finally:
            self.chain.revert(self.snapshot)

    # ---- helpers ----

    def now(self) -> int:
        return self.chain.now()

    def next_block(self) -> int:
        """The time of the block a transaction sent now runs in (its gas estimate too): the latest + 1."""
        return self.now() + 1

    def open_orders(self) -> list[OrderModel]:
        return [o for o in self.orders if o.status == OPEN]

    def pick(self, data, likely: list, anything: list, label: str):
        """Mostly one of `likely` (what can go through), now and then one of `anything` (to see refusals)."""
        if likely and data.draw(st.integers(0, 4), label=f"{label}: any") < 4:
            return data.draw(st.sampled_from(likely), label=label)
        return data.draw(st.sampled_from(anything), label=label)

    def move(self, src: str, dst: str, amount: int) -> None:
        """Food-USD moving in the model (the contract transfers nothing when there is nothing to move)."""
        if amount == 0:
            return
        self.balance[src] -= amount
        assert self.balance[src] >= 0, f"{src} would need more Food-USD: raise FUNDS"
        self.balance[dst] += amount
        self.transfers_modelled.append((src, dst, amount))

    def send(self, call, sender: str, outcome):
        """Sends `call` from `sender`, expecting `outcome`; returns the receipt when it goes through."""
        account = self.accounts[sender]
        if outcome is not OK:
            name, args = outcome
            with reverts(name, **args):
                self.coop.tx(call, account)
            return None
        expected_time = self.next_block()
        # An explicit gas limit skips the estimate (half a transaction's time on py-evm); a transaction
        # that fails anyway still raises, after mining.
        receipt = self.coop.tx(call, account, gas=GAS)
        assert self.now() == expected_time, "the model's block timestamp assumption broke"
        self.transfers_seen += [(e["from"], e["to"], e["value"]) for e in events(receipt, self.fusd, "Transfer")]
        return receipt

    def open_check(self, order: OrderModel):
        if order.status != OPEN:
            return ("OrderNotOpen", {"orderId": order.id, "status": order.status})
        return OK

    def execute(self, order: OrderModel, bought: int) -> None:
        """The model's purchase: whole cases, first come first served (units, then tolerance), supplier paid."""
        assert bought % order.case == 0, "whole cases only"
        assert order.minimum <= bought <= min(order.units + order.tolerance, order.target)
        left = bought
        for address in order.join_order():
            part = order.parts[address]
            part.allocated = min(part.units, left)
            left -= part.allocated
        for address in order.join_order():
            part = order.parts[address]
            take = min(part.tolerance, left)
            part.allocated += take
            left -= take
        assert left == 0 and sum(p.allocated for p in order.parts.values()) == bought
        order.status = EXECUTED
        order.bought = bought
        order.paid_out += bought * order.price
        self.move(self.gb.address, self.coop.supplier.address, bought * order.price)

    def check_claimable(self, order: OrderModel) -> None:
        """The contract's claimable() for every member of an order just closed, against the model."""
        for address, part in order.parts.items():
            expected = [part.allocated, order.refund_of(address)]
            assert self.gb.functions.claimable(order.id, address).call() == expected, (order, address)

    # ---- orders ----

    # mostly cases of two or more units: only those can end partly filled
    order_terms = dict(case=st.one_of(st.integers(2, 6), st.integers(1, 6)), cases=st.integers(1, 8), data=st.data(),
                       price=st.integers(1, 100 * FUSD), hours=st.integers(1, 48))

    @initialize(**order_terms)
    def first_order(self, case, cases, data, price, hours):
        self.new_order(case, cases, data, price, hours)

    def orders_open(self, data) -> list[OrderModel]:
        """The open orders. The manager keeps one or two running: a new one when none is open, and now
        and then a second one."""
        if len(self.orders) < MAX_ORDERS and (
                not self.open_orders()
                or len(self.open_orders()) == 1 and data.draw(st.integers(0, 3), label="second order") == 3):
            terms = {k: data.draw(v, label=k) for k, v in self.order_terms.items() if k != "data"}
            self.new_order(data=data, **terms)
        return self.open_orders()

    def new_order(self, case, cases, data, price, hours):
        target = case * cases
        # mostly a minimum of at most one case, so orders with a partly filled last case get bought
        minimum = data.draw(st.one_of(st.integers(1, case), st.integers(1, target)), label="minimum")
        cap = data.draw(st.one_of(st.integers(case, target + case), st.integers(1, target + case)), label="cap")
        deadline = self.now() + hours * 3600
        receipt = self.send(self.gb.functions.createOrder(self.coop.supplier.address, keccak(text="rice"), price,
                                                          target, minimum, cap, case, deadline),
                            self.coop.treasurer.address, OK)
        order_id = self.first_id + len(self.orders)
        assert [e["orderId"] for e in events(receipt, self.gb, "OrderCreated")] == [order_id]
        self.orders.append(OrderModel(order_id, price, target, minimum, cap, case, deadline))

    @initialize(who=st.integers(0, 5), call=st.integers(0, 5))
    def unknown_order(self, who, call):
        """A call on an order id never created names it (a join of no units says so first)."""
        order_id, member = self.first_id + 1000, self.members[who]
        unknown = ("UnknownOrder", {"orderId": order_id})
        self.send(*[
            (self.gb.functions.join(order_id, 1), member, unknown),
            (self.gb.functions.join(order_id, 0), member, ("ZeroUnits", {})),
            (self.gb.functions.setTolerance(order_id, 1), member, unknown),
            (self.gb.functions.finalize(order_id, []), member, unknown),
            (self.gb.functions.cancel(order_id), self.coop.treasurer.address, unknown),
            (self.gb.functions.claim(order_id, member), member, ("NothingToClaim", {"orderId": order_id, "status": 0})),
        ][call])

    # ---- joining ----

    def join_outcome(self, order: OrderModel, address: str, units: int):
        """What join(order, units) from `address` does in the next block."""
        part = order.parts.get(address)
        if units == 0:
            return ("ZeroUnits", {})
        if address not in self.members:
            return ("NotAMember", {"account": address})
        if (outcome := self.open_check(order)) is not OK:
            return outcome
        if self.next_block() > order.deadline:
            return ("OrderClosed", {"orderId": order.id, "deadline": order.deadline})
        if units > order.target - order.units:
            return ("OrderFull", {"orderId": order.id, "unitsLeft": order.target - order.units})
        if (want := (part.units + part.tolerance if part else 0) + units) > order.cap:
            return ("MemberCapExceeded", {"orderId": order.id, "requested": want, "cap": order.cap})
        return OK

    def join(self, order: OrderModel, address: str, units: int):
        cost = units * order.price
        outcome = self.join_outcome(order, address, units)
        receipt = self.send(self.gb.functions.join(order.id, units), address, outcome)
        if receipt is None:
            return False
        part = order.parts.get(address)
        if part is None:
            part = order.parts[address] = Part(seq=len(order.parts))
        part.units += units
        part.paid += cost
        order.paid_in += cost
        self.move(address, self.gb.address, cost)
        assert events(receipt, self.gb, "Joined") == [
            {"orderId": order.id, "member": address, "seq": part.seq, "units": units, "paid": cost}]
        executed = events(receipt, self.gb, "OrderExecuted")
        if order.units == order.target:  # the target reached: bought at once, every member in full
            self.execute(order, order.target)
            assert executed == [{"orderId": order.id, "boughtUnits": order.target,
                                 "paidToSupplier": order.target * order.price}]
            self.check_claimable(order)
        else:
            assert executed == []
        return True

    # ---- the actions ----
    def join_order(self, data):
        """One to three members join an order (mostly an open one) or raise their units in it; some offer
        tolerance to complete the last case as they join."""
        order = self.pick(data, self.orders_open(data), self.orders, "order")
        for _ in range(data.draw(st.integers(1, 3), label="joins")):
            who = self.pick(data, self.members, self.joiners, "member")
            if self.join(order, who, data.draw(st.integers(1, 4), label="units")) and order.status == OPEN:
                if data.draw(st.integers(0, 2), label="with tolerance") == 2:
                    self.set_tolerance(order, who, data.draw(st.integers(1, order.case), label="tolerance"))

    def raise_units(self, data):
        """A member who joined an open order adds units."""
        units = data.draw(st.integers(1, 4), label="units")
        order = self.pick(data, [o for o in self.orders_open(data) if o.parts], self.orders, "order")
        self.join(order, self.pick(data, list(order.parts), self.members, "member"), units)

    def fill_order(self, data):
        """A member asks for all the units left (reaching the target), one less, or a few more (OrderFull)."""
        extra = data.draw(st.integers(-1, 2), label="units more than left")
        order = self.pick(data, [o for o in self.orders_open(data) if o.parts], self.orders, "order")
        who = data.draw(st.sampled_from(self.members), label="member")
        self.join(order, who, max(order.target - order.units + extra, 0))

    def change_tolerance(self, data):
        """A member of an open order offers more or less tolerance; now and then anyone on any order."""
        tolerance = data.draw(st.integers(0, 5), label="tolerance")
        order = self.pick(data, [o for o in self.open_orders() if o.parts], self.orders, "order")
        self.set_tolerance(order, self.pick(data, list(order.parts), self.members, "member"), tolerance)

    def set_tolerance(self, order: OrderModel, address: str, tolerance: int):
        part = order.parts.get(address)
        delta = (tolerance - (part.tolerance if part else 0)) * order.price
        if (outcome := self.open_check(order)) is not OK:
            pass
        elif self.next_block() > order.deadline:
            outcome = ("OrderClosed", {"orderId": order.id, "deadline": order.deadline})
        elif part is None:
            outcome = ("NotJoined", {"orderId": order.id, "member": address})
        elif part.units + tolerance > order.cap:
            outcome = ("MemberCapExceeded", {"orderId": order.id, "requested": part.units + tolerance,
                                             "cap": order.cap})
        receipt = self.send(self.gb.functions.setTolerance(order.id, tolerance), address, outcome)
        if receipt is None:
            return
        assert events(receipt, self.gb, "ToleranceChanged") == [
            {"orderId": order.id, "member": address, "tolerance": tolerance, "paid": delta}]
        part.tolerance = tolerance
        part.paid += delta
        if delta > 0:
            order.paid_in += delta
            self.move(address, self.gb.address, delta)
        elif delta < 0:
            order.paid_out -= delta
            self.move(self.gb.address, address, -delta)

    # ---- closing ----

    def time_passes(self, data):
        how = data.draw(st.sampled_from(["past a deadline", "seconds", "days"]), label="how long")
        if how == "seconds":
            self.chain.advance(data.draw(st.integers(1, 3600), label="seconds"))
        elif how == "days":
            self.chain.advance(data.draw(st.integers(1, 3 * DAY), label="seconds"))
        else:  # just past an open order's deadline (or on a little if it has passed)
            order = self.pick(data, self.open_orders(), self.orders, "order")
            extra = data.draw(st.integers(1, 120), label="seconds after")
            self.chain.advance(max(order.deadline - self.now(), 0) + extra)

    def finalize_order(self, data):
        """Anyone finalizes an order (mostly an open one members joined), mostly waiting for its deadline
        to pass first, passing its members in join order or (to see it refused where units must be
        allocated) in a wrong one."""
        order = self.pick(data, [o for o in self.open_orders() if o.parts], self.orders, "order")
        if order.status == OPEN and self.next_block() <= order.deadline and data.draw(st.integers(0, 3), label="wait"):
            self.chain.advance(order.deadline - self.now() + data.draw(st.integers(1, 3600), label="seconds after"))
        self.finalize(order, data.draw(st.sampled_from(["join order"] * 4 + ["empty", "reversed"]), label="members"))

    def settle_due_order(self, data):
        """Anyone finalizes an open order whose deadline has passed, passing its members in join order."""
        now = self.now()
        self.finalize(data.draw(st.sampled_from([o for o in self.open_orders() if o.deadline < now]), label="order"),
                      "join order")

    def refund_stale_order(self, data):
        """Anyone refunds an order (mostly an open one) as stale, mostly waiting until its deadline plus
        STALE_AFTER has passed first."""
        order = self.pick(data, self.open_orders(), self.orders, "order")
        stale_at = order.deadline + STALE_AFTER
        if order.status == OPEN and self.next_block() <= stale_at and data.draw(st.integers(0, 3), label="wait"):
            self.chain.advance(stale_at - self.now() + data.draw(st.integers(0, 3600), label="seconds after"))
        if (outcome := self.open_check(order)) is OK and self.next_block() <= stale_at:
            outcome = ("OrderNotStale", {"orderId": order.id, "staleAt": stale_at})
        receipt = self.send(self.gb.functions.refundStale(order.id), self.coop.outsider.address, outcome)
        if receipt is None:
            return
        assert events(receipt, self.gb, "OrderRefunded") == [{"orderId": order.id}]
        order.status = REFUNDED
        self.check_claimable(order)

    def cancel_order(self, data):
        """The order manager (or, to see it refused, someone else) cancels an order: mostly one closed
        already (refused too), so that cancellations stay rare; now and then any order."""
        order = self.pick(data, [o for o in self.orders if o.status in CLOSED], self.orders, "order")
        self.cancel(order, by_manager=data.draw(st.integers(0, 3), label="by an outsider") < 3)

    def cancel(self, order: OrderModel, by_manager: bool):
        """The order manager cancels an order (nobody else may)."""
        if by_manager:
            sender, outcome = self.coop.treasurer.address, self.open_check(order)
        else:  # nobody else may
            sender = self.coop.outsider.address
            outcome = ("AccessControlUnauthorizedAccount", {"account": sender,
                                                            "neededRole": keccak(text="ORDER_MANAGER_ROLE")})
        receipt = self.send(self.gb.functions.cancel(order.id), sender, outcome)
        if receipt is None:
            return
        assert events(receipt, self.gb, "OrderCancelled") == [{"orderId": order.id}]
        order.status = CANCELLED
        self.check_claimable(order)

    def finalize(self, order: OrderModel, listing: str):
        joined = order.join_order()
        given = {"join order": joined, "empty": [], "reversed": joined[::-1]}[listing]
        bought = 0
        if (outcome := self.open_check(order)) is not OK:
            pass
        elif self.next_block() <= order.deadline:
            outcome = ("DeadlineNotReached", {"orderId": order.id, "deadline": order.deadline})
        elif (bought := whole_cases(order.units, order.tolerance, order.case)) >= order.minimum \
                and bought != order.units:  # units must be allocated: the list is checked
            if len(given) != len(joined):
                outcome = ("JoinOrderRequired", {"orderId": order.id})
            elif wrong := [i for i, a in enumerate(given) if a != joined[i]]:
                outcome = ("BadJoinOrder", {"orderId": order.id, "index": wrong[0]})
        receipt = self.send(self.gb.functions.finalize(order.id, given), self.coop.outsider.address, outcome)
        if receipt is None:
            return
        if bought < order.minimum:
            assert events(receipt, self.gb, "OrderRefunded") == [{"orderId": order.id}]
            assert events(receipt, self.gb, "OrderExecuted") == []
            order.status = REFUNDED
        else:
            self.execute(order, bought)
            assert events(receipt, self.gb, "OrderExecuted") == [
                {"orderId": order.id, "boughtUnits": bought, "paidToSupplier": bought * order.price}]
            assert events(receipt, self.gb, "OrderRefunded") == []
        self.check_claimable(order)

    def claim_closed(self, data):
        """Anyone claims for a member of a closed order (claimed already or not), now and then twice."""
        order = self.pick(data, [o for o in self.orders if o.status in CLOSED and o.parts], self.orders, "order")
        member = self.pick(data, list(order.parts), self.members, "member")
        self.claim(order, member, data.draw(st.sampled_from(self.callers), label="by"),
                   again=data.draw(st.booleans(), label="twice"))

    def claim_any(self, data):
        """Anyone claims for any member on any order."""
        order = data.draw(st.sampled_from(self.orders), label="order")
        member, caller = (data.draw(st.sampled_from(x), label=k) for x, k in ((self.members, "member"), (self.callers, "by")))
        self.claim(order, member, caller, again=False)

    def claim(self, order: OrderModel, address: str, caller: str, again: bool):
        part = order.parts.get(address)
        if order.status == OPEN:
            outcome = ("NothingToClaim", {"orderId": order.id, "status": OPEN})
        elif part is None:
            outcome = ("NotJoined", {"orderId": order.id, "member": address})
        elif part.claimed:
            outcome = ("AlreadyClaimed", {"orderId": order.id, "member": address})
        else:
            outcome = OK
        receipt = self.send(self.gb.functions.claim(order.id, address), caller, outcome)
        if receipt is None:
            return
        refund = order.refund_of(address)
        if order.status != EXECUTED:  # a refunded or cancelled order: everything back
            assert part.allocated == 0 and refund == part.paid
        assert events(receipt, self.gb, "Claimed") == [
            {"orderId": order.id, "member": address, "allocatedUnits": part.allocated, "refund": refund}]
        part.claimed = True
        order.paid_out += refund
        self.move(self.gb.address, address, refund)
        if again:
            self.send(self.gb.functions.claim(order.id, address), caller,
                      ("AlreadyClaimed", {"orderId": order.id, "member": address}))

    # ---- the one rule ----

    # Each step is one action, drawn with these weights among those that can make sense now. A rule per
    # action would let hypothesis switch a random part of them off in each example ("swarm testing"):
    # with a few dozen examples most would then lack something a purchase needs (joins, the deadline
    # passing, finalizing, claiming). The first action is what hypothesis's simplest examples repeat.
    ACTIONS = {  # name: (weight, can it make sense now)
        "join_order": (6, lambda self: True),
        "raise_units": (2, lambda self: any(o.parts for o in self.open_orders())),
        "fill_order": (1, lambda self: True),
        "change_tolerance": (2, lambda self: any(o.parts for o in self.open_orders())),
        "time_passes": (3, lambda self: self.open_orders()),
        "finalize_order": (2, lambda self: any(o.parts for o in self.open_orders())),
        "settle_due_order": (2, lambda self: any(o.deadline < self.now() for o in self.open_orders())),
        "refund_stale_order": (1, lambda self: True),
        "cancel_order": (1, lambda self: True),
        "claim_closed": (3, lambda self: any(o.status in CLOSED and o.parts for o in self.orders)),
        "claim_any": (1, lambda self: any(o.status in CLOSED for o in self.orders)),
    }

    @rule(data=st.data())
    def act(self, data):
        choices = [name for name, (weight, valid) in self.ACTIONS.items() if valid(self) for _ in range(weight)]
        getattr(self, data.draw(st.sampled_from(choices), label="action"))(data)

    # ---- invariants ----

    @invariant()
    def model_books_balance(self):
        """In the model: an order holds what its members can still get back; each member paid exactly for
        their units and tolerance; an order bought whole cases, all allocated; the supplier got bought
        units x price."""
        for order in self.orders:
            for part in order.parts.values():
                assert part.paid == (part.units + part.tolerance) * order.price
            held = order.paid_in - order.paid_out
            if order.status == OPEN:
                assert held == sum(p.paid for p in order.parts.values())
            else:
                assert held == sum(order.refund_of(a) for a, p in order.parts.items() if not p.claimed)
            if order.status == EXECUTED:
                assert order.bought % order.case == 0 and 0 < order.bought <= order.target
                assert sum(p.allocated for p in order.parts.values()) == order.bought
            else:
                assert order.bought == 0 and all(p.allocated == 0 for p in order.parts.values())
        supplier_due = sum(o.bought * o.price for o in self.orders)
        assert self.balance[self.coop.supplier.address] == self.supplier_initial + supplier_due

    @invariant()
    def chain_matches_model(self):
        """On chain: the GroupBuy holds exactly the sum over orders of (paid in - paid out), and this step
        moved Food-USD exactly as the model did, transfer by transfer (so no Food-USD was created or lost,
        and every account holds what the model says: checked for all of them at the end)."""
        held = sum(o.paid_in - o.paid_out for o in self.orders)
        assert self.balance[self.gb.address] == self.initial_held + held
        assert self.fusd.functions.balanceOf(self.gb.address).call() == self.initial_held + held
        assert self.transfers_seen == self.transfers_modelled
        self.transfers_seen.clear()
        self.transfers_modelled.clear()
        assert sum(self.balance.values()) == self.supply


def test_group_buy_state_machine(deployed):
    """Random sequences of group-buy actions keep the books straight (see the module docstring)."""
    fusd, gb = deployed.contracts.food_usd, deployed.contracts.group_buy
    funded = deployed.chain.snapshot()
    try:
        assert all(deployed.contracts.registry.functions.isMember(m.address).call() for m in deployed.members)
        assert not deployed.contracts.registry.functions.isMember(deployed.outsider.address).call()
        for member in [*deployed.members, deployed.outsider]:
            deployed.deposit(member, FUNDS)
            deployed.tx(fusd.functions.approve(gb.address, 2**256 - 1), member)
        accounts = [*deployed.members, deployed.outsider, deployed.supplier, deployed.treasurer]
        balances = {a: fusd.functions.balanceOf(a).call() for a in [*(x.address for x in accounts), gb.address]}
        assert sum(balances.values()) == fusd.functions.totalSupply().call()  # no Food-USD anywhere else
        run_state_machine_as_test(
            lambda: GroupBuyMachine(deployed, balances),
            settings=settings(max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
                              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]),
        )
    finally:
        deployed.chain.revert(funded)
