"""InMemoryLedger: chain/ledger.py's CoopLedger over plain values, for use-case tests that take milliseconds.

What a test puts in is what the use cases read; anything not put in reads as the contracts would answer for
it (an order never created has status NONE, an account without money has zero balances). Only the raw
`read(*reads)` is missing: it takes encoded contract calls, which only a real chain answers.
"""
from dataclasses import dataclass, field, replace
from types import SimpleNamespace

from eth_utils import to_checksum_address

from chain.ledger import (Balances, Certification, Claim, GovernorTerms, Membership, Order, OrderStatus, Part,
                          ProposalStatus)

NO_ORDER = dict(unit_price=0, deadline=0, target_units=0, min_units=0, max_units_per_member=0, case_size=0,
                status=OrderStatus.NONE, supplier="0x" + "00" * 20, units=0, tolerance=0, members=0, bought_units=0,
                allocated_in_full=False, product_id=bytes(32))

# The deployed contracts' addresses, as CoopLedger's `contracts` carries them (web3 contracts): what a use case
# puts in an action it offers (a proposal's target).
CONTRACTS = SimpleNamespace(**{
    name: SimpleNamespace(address=to_checksum_address(f"{n:02x}" * 20)) for n, name in enumerate((
        "registry", "food_usd", "gro", "escrow", "timelock", "governor", "group_buy", "entry_point", "account_factory"),
        0xC0)})


@dataclass
class InMemoryLedger:
    now: int = 1_800_000_000  # the chain's clock
    contracts: SimpleNamespace = field(default_factory=lambda: CONTRACTS)
    orders_by_id: dict[int, Order] = field(default_factory=dict)
    parts_by: dict[tuple[int, str], Part] = field(default_factory=dict)
    claims: dict[tuple[int, str], Claim] = field(default_factory=dict)
    balances_of: dict[str, Balances] = field(default_factory=dict)
    members: dict[str, Membership] = field(default_factory=dict)
    statuses: dict[int, ProposalStatus] = field(default_factory=dict)
    voted: set[tuple[int, str]] = field(default_factory=set)
    power: dict[str, int] = field(default_factory=dict)  # veGRO at any snapshot
    certified_batches: set[bytes] = field(default_factory=set)
    terms: GovernorTerms = GovernorTerms(voting_delay=60, voting_period=3 * 86400, guardian_window=2 * 86400,
                                         timelock_delay=86400)
    certification_terms: Certification = Certification(rate_per_kg=10 * 10**18, max_per_batch=500 * 10**18,
                                                       room=2_000 * 10**18, period_ends=1_800_604_800)
    stale_after_seconds: int = 14 * 86400

    def open_order(self, **terms) -> Order:
        """A new open order: `terms` over a small one (price $2, 10 units, a week left)."""
        order = Order(id=len(self.orders_by_id) + 1, **{**NO_ORDER, **dict(
            unit_price=2_000_000, deadline=self.now + 7 * 86400, target_units=10, min_units=4, max_units_per_member=6,
            case_size=1, status=OrderStatus.OPEN, supplier="0x" + "11" * 20), **terms})
        self.orders_by_id[order.id] = order
        return order

    def join(self, order_id: int, account: str, units: int) -> None:
        order = self.orders_by_id[order_id]
        part = self.parts_by.get((order_id, account))
        self.parts_by[(order_id, account)] = Part(units + (part.units if part else 0), 0,
                                                  part.seq if part else order.members, 0, True, False)
        self.orders_by_id[order_id] = replace(order, units=order.units + units,
                                              members=order.members + (part is None))

    # ---- CoopLedger's interface ----

    async def order_count(self) -> int:
        return len(self.orders_by_id)

    async def order(self, order_id: int) -> Order:
        return self.orders_by_id.get(order_id) or Order(id=order_id, **NO_ORDER)

    async def orders(self, order_ids: list[int] | None = None) -> list[Order]:
        ids = sorted(self.orders_by_id) if order_ids is None else order_ids
        return [await self.order(i) for i in ids]

    async def part(self, order_id: int, account: str) -> Part:
        return self.parts_by.get((order_id, account), Part(0, 0, 0, 0, False, False))

    async def parts(self, order_ids: list[int], account: str) -> list[Part]:
        return [await self.part(i, account) for i in order_ids]

    async def claimable(self, order_id: int, account: str) -> Claim:
        return self.claims.get((order_id, account), Claim(0, 0))

    async def stale_after(self) -> int:
        return self.stale_after_seconds

    async def balances(self, account: str) -> Balances:
        return self.balances_of.get(account, Balances(0, 0, 0, 0, 0))

    async def membership(self, account: str) -> Membership:
        return self.members.get(account, Membership(False, bytes(32)))

    async def decimals(self) -> tuple[int, int]:
        return 6, 18

    async def certified(self, batch_id: bytes) -> bool:
        return batch_id in self.certified_batches

    async def rate_per_kg(self) -> int:
        return self.certification_terms.rate_per_kg

    async def certification(self) -> Certification:
        return self.certification_terms

    async def clock(self) -> int:
        return self.now

    async def proposals(self, proposal_ids: list[int], block: int | None = None) -> list[ProposalStatus]:
        return [self.statuses[p] for p in proposal_ids]  # the governor reverts on an unknown one too

    async def proposal(self, proposal_id: int, block: int | None = None) -> ProposalStatus:
        return self.statuses[proposal_id]

    async def proposal_snapshot(self, proposal_id: int) -> int:
        return self.statuses[proposal_id].snapshot if proposal_id in self.statuses else 0

    async def proposal_id(self, targets: list[str], values: list[int], calldatas: list[bytes],
                          description_hash: bytes) -> int:
        return int.from_bytes(description_hash, "big")  # stands in for the governor's hash

    async def has_voted(self, proposal_id: int, account: str) -> bool:
        return (proposal_id, account) in self.voted

    async def past_votes(self, account: str, timepoint: int) -> int:
        if timepoint >= self.now:  # as VotingEscrow's _requirePast
            raise ValueError(f"ERC5805FutureLookup({timepoint}, {self.now})")
        return self.power.get(account, 0)

    async def governor_terms(self) -> GovernorTerms:
        return self.terms
