"""Locking GRO into the vote escrow for voting power (veGRO): a new lock, more GRO in it, a later end, and
the GRO taken back once the lock has ended.

Power follows Curve's model, as VotingEscrow computes it: amount / MAXTIME per second left until the
unlock time, which the escrow rounds down to a whole week and caps at four years. The previews use the
chain's clock (`ports.ledger.clock()`, which the escrow goes by; a dev chain may run ahead of the wall
clock) and the same integer arithmetic, so they show what the member gets at the moment the action is
confirmed (it then shrinks week by week as the unlock time nears).
"""
from dataclasses import dataclass

from core import offers
from core.ports import Ports
from core.results import Offered, Refused
from core.custody import exported
from core.wallet import Spendable, spendable

WEEK = 7 * 86400
MAXTIME = 4 * 365 * 86400  # VotingEscrow.MAXTIME
MAX_WEEKS = MAXTIME // WEEK  # 208: the longest whole-week lock


def voting_power(amount: int, unlock_time: int, now: int) -> int:
    """veGRO for `amount` GRO (18 decimals) locked until `unlock_time` (VotingEscrow's arithmetic)."""
    return (amount // MAXTIME) * max(unlock_time - now, 0)


def unlock_after(weeks: int, now: int) -> int:
    """The end of a lock of `weeks` from `now`, as the escrow rounds it (down to a whole week)."""
    return (now + weeks * WEEK) // WEEK * WEEK


@dataclass(frozen=True)
class LockTerms:
    kind: str  # lock (a new one) | increase_lock (more GRO, the same end) | extend_lock (the same GRO, a later end)
    amount: int  # GRO added, minor units (0 when extending)
    locked: int  # GRO in the lock once done
    unlock_time: int
    power: int  # veGRO at the moment of the preview


async def _offer(ports: Ports, member: int, terms: LockTerms, intent: dict) -> Offered[LockTerms]:
    return Offered(await offers.offer(ports.uow, ports.clock, member, terms.kind, {
        "intent": intent, "until": terms.unlock_time, **offers.spends(gro=terms.amount)}), terms)


async def _held(ports: Ports, member_id: str) -> tuple[Spendable, int] | Refused:
    """What the member may spend (their confirmed actions' GRO left out) and the chain's time; refused
    `exported`."""
    if await exported(ports.uow, member_id):
        return Refused("exported")
    return await spendable(ports, member_id), await ports.ledger.clock()


def _weeks(weeks: int) -> Refused | None:
    return Refused("weeks_out_of_range", {"max": MAX_WEEKS}) if not 1 <= weeks <= MAX_WEEKS else None


def _amount(amount: int, held: Spendable) -> Refused | None:
    if amount <= 0:
        return Refused("not_positive")
    if amount > held.gro:
        return Refused("over_held", {"amount": amount, "held": held.gro, "on_its_way": held.coming.gro})
    return None


def _running(held: Spendable, now: int) -> Refused | None:
    """A lock must be running to add to it or extend it."""
    if not held.chain.locked:
        return Refused("no_lock")
    if held.chain.unlock_time <= now:
        return Refused("lock_ended", {"end": held.chain.unlock_time})
    return None


async def lock(ports: Ports, member: int, member_id: str, amount: int, weeks: int) -> Offered[LockTerms] | Refused:
    """Locks `amount` GRO for `weeks`. With a lock already running, the amount is added to it and its end
    stays (as /lock AMOUNT WEEKS always did). Refused: exported, weeks_out_of_range (`max`), not_positive,
    over_held (`amount`, `held`, `on_its_way`: GRO the member's confirmed actions are taking, left out of `held`),
    lock_ended (`end`: the earlier lock's GRO must be taken back first)."""
    found = await _held(ports, member_id)
    if isinstance(found, Refused):
        return found
    held, now = found
    refused = _weeks(weeks) or _amount(amount, held)
    if refused:
        return refused
    if held.chain.locked:
        return await _add(ports, member, held, now, amount)
    end = unlock_after(weeks, now)
    return await _offer(ports, member, LockTerms("lock", amount, amount, end, voting_power(amount, end, now)),
                        {"amount": str(amount), "unlock_time": end})


async def add(ports: Ports, member: int, member_id: str, amount: int) -> Offered[LockTerms] | Refused:
    """Adds `amount` GRO to the running lock, which keeps its end. Refused: exported, not_positive, over_held,
    no_lock, lock_ended."""
    found = await _held(ports, member_id)
    if isinstance(found, Refused):
        return found
    held, now = found
    return _amount(amount, held) or await _add(ports, member, held, now, amount)


async def _add(ports: Ports, member: int, held: Spendable, now: int, amount: int) -> Offered[LockTerms] | Refused:
    refused = _running(held, now)
    if refused:
        return refused
    end, locked = held.chain.unlock_time, held.chain.locked + amount
    return await _offer(ports, member, LockTerms("increase_lock", amount, locked, end, voting_power(locked, end, now)),
                        {"amount": str(amount)})


async def extend(ports: Ports, member: int, member_id: str, weeks: int) -> Offered[LockTerms] | Refused:
    """Moves the running lock's end to `weeks` from now. Refused: exported, weeks_out_of_range, no_lock,
    lock_ended, not_later (`end`: the lock's end now, `asked`: the end asked for)."""
    found = await _held(ports, member_id)
    if isinstance(found, Refused):
        return found
    held, now = found
    refused = _weeks(weeks) or _running(held, now)
    if refused:
        return refused
    end, locked = unlock_after(weeks, now), held.chain.locked
    if end <= held.chain.unlock_time:
        return Refused("not_later", {"end": held.chain.unlock_time, "asked": end})
    return await _offer(ports, member, LockTerms("extend_lock", 0, locked, end, voting_power(locked, end, now)),
                        {"unlock_time": end})


@dataclass(frozen=True)
class UnlockTerms:
    amount: int  # GRO taken back, minor units
    gro_after: int
    on_its_way: int = 0  # GRO the member's earlier confirmed actions are taking, counted in gro_after


async def unlock(ports: Ports, member: int, member_id: str) -> Offered[UnlockTerms] | Refused:
    """Takes back all the GRO of a lock that has ended. Refused: exported, no_lock, not_ended (`end`)."""
    found = await _held(ports, member_id)
    if isinstance(found, Refused):
        return found
    held, now = found
    locked = held.chain.locked
    if not locked:
        return Refused("no_lock")
    if held.chain.unlock_time > now:
        return Refused("not_ended", {"end": held.chain.unlock_time})
    token = await offers.offer(ports.uow, ports.clock, member, "withdraw_lock", {"intent": {}})
    return Offered(token, UnlockTerms(locked, held.gro + locked, held.coming.gro))
