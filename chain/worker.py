"""The outbox worker as a process of its own: `python -m chain.worker`.

    python -m chain.worker --database-url URL --rpc-url URL --manifest PATH [--bundler-url URL]
                           [--max-fee-gwei GWEI] [--until-idle]

Secrets come from the environment, never the command line: COOP_MASTER_KEY (opens the keystore) and the
role keys COOP_REGISTRAR_KEY, COOP_CERTIFIER_KEY, COOP_TREASURER_KEY and COOP_GAS_PAYER_KEY (hex, one
account each; chain.roles). `coop run` runs the same worker
inside its own process; this entry point is for running it apart (and for the crash tests, which
kill it at each stage with --crash-at). Run apart, it only logs a transaction left waiting at the fee
ceiling (`coop run` also tells the admins).
"""
import argparse
import asyncio
import logging
import os
import signal
from decimal import Decimal, InvalidOperation
from pathlib import Path

from web3 import Web3

from chain.db import create_engine, migrate, sessionmaker
from chain.bundler_client import BundlerClient
from chain.deploy import DeploymentError, load_manifest
from chain.keystore import Keystore, MasterKeyError
from chain.outbox import Outbox, Worker, WorkerOptions
from chain.roles import (KEY_SETTINGS, RETIRED_MESSAGE, RETIRED_SETTING, RoleKeyError, RoleKeys, missing_rights,
                         role_keys)


async def serve(database_url: str, rpc_url: str, manifest: Path, master_key: str, keys: RoleKeys,
                options: WorkerOptions, until_idle: bool, bundler_url: str | None = None) -> None:
    migrate(database_url)
    engine = create_engine(database_url)
    bundler = None
    try:
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
        worker = Worker(w3, contracts, Outbox(sessions), keystore, keys, options, bundler=bundler)
        if until_idle:
            await worker.drain(timeout=120)
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await worker.run(stop)
    finally:
        if bundler is not None:
            await bundler.close()
        await engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m chain.worker", description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rpc-url", required=True)
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--bundler-url", help="an ERC-4337 bundler for member operations (COOP_BUNDLER_URL); "
                        "by default the worker bundles them itself")
    parser.add_argument("--max-fee-gwei", default=os.environ.get("COOP_MAX_FEE_GWEI", "100"),
                        help="the most each role's account pays per gas, in gwei (COOP_MAX_FEE_GWEI; default 100)")
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
                          WorkerOptions(crash_at=args.crash_at, max_fee=max_fee), args.until_idle, args.bundler_url))
    except (MasterKeyError, DeploymentError, RoleKeyError) as e:  # said plainly, without a traceback
        parser.exit(2, f"{e}\n")


if __name__ == "__main__":
    main()
