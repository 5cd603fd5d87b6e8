"""The outbox worker as a process of its own: `python -m chain.worker`.

    python -m chain.worker --database-url URL --rpc-url URL --manifest PATH [--bundler-url URL]
                           [--max-fee-gwei GWEI] [--until-idle]

Secrets come from the environment, never the command line: COOP_MASTER_KEY (opens the keystore) and the
role keys COOP_REGISTRAR_KEY, COOP_CERTIFIER_KEY, COOP_TREASURER_KEY and COOP_GAS_PAYER_KEY (hex, one
account each; chain.roles). `coop run` runs the same worker
inside its own process; this entry point is for running it apart (and for the crash tests, which
kill it at each stage with --crash-at). Run apart, it only logs a transaction left waiting at the fee
ceiling (`coop run` also tells the admins).

On a database `coop run` replicas use (it has their `bot_leases` table) it takes their leader lease
(chain/lease.py; COOP_LEADER_LEASE seconds, default 15) and signs only while it holds it, fenced like theirs: it
refuses to start while another process keeps the lease (exit code 2), waits out one that stopped renewing it,
stops when the lease is taken from it (exit code 1), and frees it when it stops (docs/replicas.md).
"""
import argparse
import asyncio
import logging
import os
import signal
from decimal import Decimal, InvalidOperation
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine
from web3 import Web3

from chain.db import create_engine, migrate, sessionmaker
from chain.bundler_client import BundlerClient
from chain.deploy import DeploymentError, load_manifest
from chain.keystore import Keystore, MasterKeyError
from chain.lease import LEASES, LeaderLease
from chain.outbox import Outbox, Worker, WorkerOptions
from chain.roles import (KEY_SETTINGS, RETIRED_MESSAGE, RETIRED_SETTING, RoleKeyError, RoleKeys, missing_rights,
                         role_keys)
from chain.transactions import NotLeader

log = logging.getLogger(__name__)


class LeaseHeld(Exception):
    """Another process holds the leader lease: this worker would sign beside it."""


class LeaseLost(Exception):
    """The leader lease was taken from this worker: it stopped signing."""


async def serve(database_url: str, rpc_url: str, manifest: Path, master_key: str, keys: RoleKeys,
                options: WorkerOptions, until_idle: bool, bundler_url: str | None = None,
                leader_lease: float = 15.0) -> None:
    migrate(database_url)
    engine = create_engine(database_url)
    bundler = lease = keeping = None
    stop = asyncio.Event()
    try:
        lease = await _leader_lease(engine, leader_lease)
        sessions = sessionmaker(engine)
        keystore = Keystore(sessions, master_key)
        await keystore.open()
        w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
        contracts = load_manifest(w3, manifest)
        missing = missing_rights(contracts, keys)
        if missing:
            raise RoleKeyError("; ".join(missing))
        if bundler_url:
            bundler = BundlerClient(bundler_url, contracts.entry_point.address)
        worker = Worker(w3, contracts, Outbox(sessions), keystore, keys, options, bundler=bundler,
                        may_sign=lease.may_sign if lease else None, fence=lease.fence if lease else None)
        if lease is not None:  # renewed while the worker runs; taken from it, the worker stops

            async def stopping() -> None:
                stop.set()
            keeping = asyncio.create_task(lease.keep(stop, _nothing, stopping))
        if until_idle:
            await worker.drain(timeout=120)
        else:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await worker.run(stop)
        if lease is not None and not lease.held():
            raise LeaseLost()
    except NotLeader:
        raise LeaseLost() from None
    finally:
        stop.set()
        if keeping is not None:
            await keeping
        if lease is not None:
            await lease.release()  # the worker has stopped: a replica may lead at once
        if bundler is not None:
            await bundler.close()
        await engine.dispose()


async def _leader_lease(engine: AsyncEngine, ttl: float) -> LeaderLease | None:
    """The replicas' leader lease, taken; None on a database no `coop run` has used (no lease table)."""
    async with engine.connect() as connection:
        if not await connection.run_sync(lambda sync: inspect(sync).has_table(LEASES)):
            log.info("no leader lease table: no `coop run` uses this database, so the worker signs without a lease")
            return None
    lease = LeaderLease(engine, ttl)
    if not await lease.take_unless_led():
        raise LeaseHeld()
    return lease


async def _nothing() -> None:
    pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m chain.worker", description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rpc-url", required=True)
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--bundler-url", help="an ERC-4337 bundler for member operations (COOP_BUNDLER_URL); "
                        "by default the worker bundles them itself")
    parser.add_argument("--max-fee-gwei", default=os.environ.get("COOP_MAX_FEE_GWEI", "100"),
                        help="the most each role's account pays per gas, in gwei (COOP_MAX_FEE_GWEI; default 100)")
    parser.add_argument("--leader-lease", type=float, default=float(os.environ.get("COOP_LEADER_LEASE", "15")),
                        help="seconds of the replicas' leader lease (COOP_LEADER_LEASE; default 15)")
    parser.add_argument("--until-idle", action="store_true", help="exit once no intent is pending or submitted")
    parser.add_argument("--crash-at", help=argparse.SUPPRESS)  # tests: SIGKILL at a named stage
    args = parser.parse_args(argv)
    if os.environ.get(RETIRED_SETTING):
        parser.exit(2, f"{RETIRED_MESSAGE}\n")
    if not os.environ.get("COOP_MASTER_KEY"):
        parser.exit(2, "set COOP_MASTER_KEY in the environment\n")
    try:
        keys = role_keys({role: os.environ.get(name) for role, name in KEY_SETTINGS.items()})
    except RoleKeyError as e:
        parser.exit(2, f"{e}\n")
    try:
        max_fee = int(Decimal(args.max_fee_gwei) * 10**9)
    except (InvalidOperation, ValueError, OverflowError):
        max_fee = 0
    if max_fee < 1:
        parser.error(f"--max-fee-gwei must be a fee in gwei, not {args.max_fee_gwei!r}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(serve(args.database_url, args.rpc_url, args.manifest, os.environ["COOP_MASTER_KEY"], keys,
                          WorkerOptions(crash_at=args.crash_at, max_fee=max_fee), args.until_idle, args.bundler_url,
                          args.leader_lease))
    except (MasterKeyError, DeploymentError, RoleKeyError) as e:  # said plainly, without a traceback
        parser.exit(2, f"{e}\n")
    except LeaseHeld:
        parser.exit(2, "another process holds the leader lease on this database and keeps renewing it (a `coop run` "
                       "replica, which runs the outbox worker itself, or another worker): not starting, so nothing is "
                       "signed twice (docs/replicas.md)\n")
    except LeaseLost:
        parser.exit(1, "another process took the leader lease from this worker (COOP_LEADER_LEASE passed without a "
                       "renewal): stopped, so it never signs beside the new leader\n")


if __name__ == "__main__":
    main()
