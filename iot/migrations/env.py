"""Alembic environment for the sensors' tables (version table: iot_alembic_version)."""
from chain.db import run_alembic_env
from iot.store import VERSION_TABLE, IotBase
import iot.alerts  # noqa: F401,E402 (its tables: rules, open alerts, held notices)

run_alembic_env(IotBase.metadata, VERSION_TABLE)
