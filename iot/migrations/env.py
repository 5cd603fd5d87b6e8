"""Alembic environment for the sensors' tables (version table: iot_alembic_version)."""
from chain.db import run_alembic_env
from iot.store import VERSION_TABLE, IotBase

run_alembic_env(IotBase.metadata, VERSION_TABLE)
