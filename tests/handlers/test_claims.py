"""Who still has something to claim, read from the history alone (milliseconds, no chain)."""
import asyncio
from types import SimpleNamespace

from chain.db import HistoryEvent, create_engine, migrate, sessionmaker
from handlers.claims import unclaimed

A, B, C = "0x" + "a" * 40, "0x" + "b" * 40, "0x" + "c" * 40


def test_members_of_closed_orders_who_have_not_claimed_are_found(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'coop.db'}"
    migrate(url)

    async def run():
        engine = create_engine(url)
        sessions = sessionmaker(engine)
        events = [("Joined", A, 1), ("Joined", B, 1), ("Joined", A, 2), ("Joined", C, 3),  # order 2 still open
                  ("OrderRefunded", None, 1), ("OrderExecuted", None, 3), ("Claimed", B, 1)]
        async with sessions() as session, session.begin():
            for n, (event, account, order_id) in enumerate(events):
                session.add(HistoryEvent(block_number=n, block_hash="0x", timestamp=0, tx_hash=f"0x{n}", log_index=0,
                                         contract="group_buy", event=event, account=account,
                                         args={"orderId": order_id}))
        services = SimpleNamespace(sessions=sessions)
        try:
            return await unclaimed(services), await unclaimed(services, A), await unclaimed(services, B)
        finally:
            await engine.dispose()

    everyone, only_a, only_b = asyncio.run(run())
    assert everyone == [(1, A), (3, C)]
    assert only_a == [(1, A)] and only_b == []
