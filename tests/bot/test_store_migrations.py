"""The chat side's migrations on existing data, on SQLite and PostgreSQL."""
import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.store import MIGRATIONS
from chain.db import create_engine, migrate
from tests.chain.conftest import _postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'coop.db'}"
    else:
        yield from _postgres_database()


def run(url: str, *statements: str) -> list[list[tuple]]:
    """The statements in one transaction; the rows of each SELECT."""
    async def go() -> list[list[tuple]]:
        engine = create_engine(url)
        results = []
        try:
            async with engine.begin() as connection:
                for statement in statements:
                    result = await connection.execute(text(statement))
                    results.append([tuple(row) for row in result] if result.returns_rows else [])
        finally:
            await engine.dispose()
        return results
    return asyncio.run(go())


def test_an_admin_named_by_username_follows_that_exact_member_not_a_later_holder_of_the_name(empty_url):
    migrate(empty_url, revision="0002", migrations=MIGRATIONS)
    member = ("INSERT INTO bot_members (channel, handle, chat_id, member_id, invite_code, alerts, blocked, joined_at) "
              "VALUES ('{}', '{}', '{}', '{}', 'X', false, false, '2026-11-30 12:00:00')")
    run(empty_url,
        member.format("telegram", "Ana", "2", "telegram:Ana"),  # the admin
        member.format("telegram", "ana", "9", "telegram:ana"),  # someone else, who later took the freed name
        "INSERT INTO bot_admins (channel, handle) VALUES ('telegram', 'Ana'), ('telegram', '2')")  # named twice
    migrate(empty_url, migrations=MIGRATIONS)
    admins, = run(empty_url, "SELECT channel, handle FROM bot_admins ORDER BY handle")
    assert admins == [("telegram", "2")]


def test_telegram_members_keyed_by_username_become_their_id_with_the_username_as_alias(empty_url):
    migrate(empty_url, revision="0002", migrations=MIGRATIONS)
    member = ("INSERT INTO bot_members (channel, handle, chat_id, member_id, invite_code, alerts, blocked, joined_at) "
              "VALUES ('{}', '{}', '{}', '{}', 'X', false, false, '2026-11-30 12:00:00')")
    run(empty_url,
        member.format("telegram", "Ana", "2", "telegram:Ana"),  # keyed by her username, as before
        member.format("telegram", "3", "3", "telegram:3"),  # had no username: keyed by id already
        member.format("console", "luis", "luis", "console:luis"),
        "INSERT INTO bot_admins (channel, handle) VALUES ('telegram', 'Ana'), ('telegram', 'ghost'), "
        "('console', 'luis')")
    migrate(empty_url, migrations=MIGRATIONS)
    members, admins = run(empty_url, "SELECT channel, handle, alias, chat_id, member_id FROM bot_members ORDER BY id",
                          "SELECT channel, handle FROM bot_admins ORDER BY channel, handle")
    assert members == [("telegram", "2", "ana", "2", "telegram:Ana"),  # the wallet's key is kept
                       ("telegram", "3", None, "3", "telegram:3"),
                       ("console", "luis", None, "luis", "console:luis")]
    # An admin named by username is that member's id now; a username nobody holds is no admin at all.
    assert admins == [("console", "luis"), ("telegram", "2")]
    # A second channel may share a resident's member_id (/link); an alias is one member's at a time.
    run(empty_url, member.format("whatsapp", "15550001111", "15550001111", "telegram:Ana"))
    with pytest.raises(Exception, match="(?i)unique"):
        run(empty_url, "UPDATE bot_members SET alias = 'ana' WHERE handle = '3'")


def test_orders_closed_before_told_marks_are_not_told_again(empty_url):
    migrate(empty_url)  # the chain's tables: the history the indexer kept
    migrate(empty_url, revision="0003", migrations=MIGRATIONS)
    event = ("INSERT INTO chain_history (block_number, block_hash, timestamp, tx_hash, log_index, contract, event, "
             "args) VALUES (1, '0x', 0, '0x{}', 0, '{}', '{}', '{}')")
    run(empty_url, event.format("a", "group_buy", "OrderExecuted", '{"orderId": 1, "boughtUnits": 3}'),
        event.format("b", "group_buy", "OrderRefunded", '{"orderId": 2}'),
        event.format("c", "group_buy", "Joined", '{"orderId": 3, "units": 1}'))
    migrate(empty_url, migrations=MIGRATIONS)
    keys, = run(empty_url, "SELECT key FROM bot_announcements ORDER BY key")
    assert keys == [("order:1:closed",), ("order:2:closed",)]  # the start-up catch-up skips them
