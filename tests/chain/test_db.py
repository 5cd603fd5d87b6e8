"""The chain tables migrate on SQLite and PostgreSQL, and a second migration run changes nothing."""
import sqlalchemy as sa

from chain.db import ChainBase, create_engine, migrate


async def test_migrations_create_every_table(database_url):
    migrate(database_url)  # again: already at head
    engine = create_engine(database_url)
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
    await engine.dispose()
    assert set(ChainBase.metadata.tables) | {"chain_alembic_version"} <= tables
