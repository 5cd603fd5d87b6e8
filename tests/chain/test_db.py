"""The chain, bot and iot tables migrate on SQLite and PostgreSQL, a second migration run changes nothing, and
a database error never carries the values it was given into a log."""
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from chain.db import ChainBase, create_engine, migrate


async def test_migrations_create_every_table(database_url):
    migrate(database_url)  # again: already at head
    engine = create_engine(database_url)
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
    await engine.dispose()
    assert set(ChainBase.metadata.tables) | {"chain_alembic_version"} <= tables


def test_migrations_match_the_models(database_url):
    """A model changed without its migration fails here (Alembic's autogenerate finds the difference)."""
    from alembic import command

    from bot.store import MIGRATIONS as BOT_MIGRATIONS
    from bot.store import migrate as migrate_bot
    from chain.db import MIGRATIONS, alembic_config
    from iot.store import MIGRATIONS as IOT_MIGRATIONS
    from iot.store import migrate as migrate_iot

    migrate_bot(database_url)
    migrate_iot(database_url)
    for migrations in (MIGRATIONS, BOT_MIGRATIONS, IOT_MIGRATIONS):
        command.check(alembic_config(database_url, migrations))


async def test_a_database_error_keeps_its_bound_values_out_of_its_message(database_url):
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(sa.text("CREATE TABLE people (number VARCHAR(20) PRIMARY KEY)"))
            await connection.execute(sa.text("INSERT INTO people VALUES (:n)"), {"n": "15557654321"})
        with pytest.raises(IntegrityError) as raised:
            async with engine.begin() as connection:
                await connection.execute(sa.text("INSERT INTO people VALUES (:n)"), {"n": "15557654321"})
        assert "people" in str(raised.value) and "15557654321" not in str(raised.value)
    finally:
        await engine.dispose()
