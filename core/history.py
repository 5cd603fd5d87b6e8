"""The co-op's history as the indexer keeps it (chain_history): a member's recent events, and who took part in
an order or a proposal."""
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from chain.db import HistoryEvent
from chain.indexer import history as history_of
from core.governance import in_history
from core.ports import Ports, UnitOfWork


async def accounts_about(uow: UnitOfWork, contract: str, events: tuple[str, ...], arg: str, value: int
                         ) -> list[tuple[str, dict[str, Any]]]:
    """(account, arguments) of the indexed `events` whose argument `arg` is `value`, oldest first: who joined an
    order, who voted on a proposal. (The argument sits in JSON, compared here rather than in each database's
    JSON syntax.)"""
    async with uow.read() as session:
        found = (await session.execute(select(HistoryEvent.account, HistoryEvent.args).where(
            HistoryEvent.contract == contract, HistoryEvent.event.in_(events))
            .order_by(HistoryEvent.block_number, HistoryEvent.log_index))).all()
    return [(account, args) for account, args in found if int(args[arg]) == value]


@dataclass(frozen=True)
class Recent:
    events: list[HistoryEvent]  # newest first
    proposal_numbers: dict[str, int]  # a proposal's id (as text) -> its number for members (#1, #2…)


async def recent(ports: Ports, member_id: str, limit: int) -> Recent:
    """The member's newest `limit` events."""
    account = await ports.wallet(member_id)
    async with ports.uow.read() as session:
        events = await history_of(session, account, limit)
    return Recent(events, {str(p.proposal_id): p.number for p in await in_history(ports.uow)})
