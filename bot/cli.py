"""The `coop` command line: one subcommand per job."""
import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path


def _demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    return run_demo(out=sys.stdout)


def _deploy(args: argparse.Namespace) -> int:
    """Deploys the co-op to the node at --rpc-url, one line per step, resuming when the manifest exists."""
    key = os.environ.get("COOP_DEPLOYER_KEY")
    if not key:
        print("coop deploy: set COOP_DEPLOYER_KEY to the deployer's private key", file=sys.stderr)
        return 2
    from dataclasses import fields

    from eth_account import Account
    from web3 import Web3

    from chain.deploy import DeployParams, Roles, StepDone, deploy
    from chain.errors import ChainError

    settings = _settings("deploy", args)  # COOP_VOTING_DELAY and the other governance delays
    if settings is None:
        return 2
    try:
        overrides = json.loads(args.params) if args.params else {}
        if not isinstance(overrides, dict):
            raise ValueError("not a JSON object")
        unknown = set(overrides) - {f.name for f in fields(DeployParams)}
        if unknown:
            raise ValueError(f"unknown parameters {sorted(unknown)}")
        params = settings.deploy_params(**overrides)
    except (ValueError, TypeError) as e:
        print(f"coop deploy: --params: {e}", file=sys.stderr)
        return 2
    try:
        deployer = Account.from_key(key)
    except (ValueError, TypeError):
        print("coop deploy: COOP_DEPLOYER_KEY is not a private key", file=sys.stderr)  # never echo the key
        return 2
    try:
        roles = Roles(args.registrar, args.certifier, args.treasurer, args.guardian).checked()
    except ValueError as e:
        print(f"coop deploy: {e}", file=sys.stderr)
        return 2
    # One leaked key would hold two rights; the deployer's key is discarded after the deployment.
    accounts = [roles.registrar, roles.certifier, roles.treasurer, roles.guardian, deployer.address]
    if len(set(accounts)) < len(accounts):
        print("coop deploy: --registrar, --certifier, --treasurer and --guardian must be four different addresses, "
              "none of them the deployer's", file=sys.stderr)
        return 2
    w3 = Web3(Web3.HTTPProvider(args.rpc_url, request_kwargs={"timeout": 60}))
    if not w3.is_connected():
        print(f"coop deploy: no node answers at {args.rpc_url}", file=sys.stderr)
        return 1
    manifest = Path(args.manifest)
    if manifest.exists():
        print(f"Resuming the deployment recorded in {manifest}")

    def report(step: StepDone) -> None:
        where = f"{step.address} " if step.address else ""
        done = " (done before)" if step.resumed else ""
        when = f"block {step.block}" if step.block is not None else "already on this chain"
        print(f"[{step.index}/{step.total}] {step.name} … {where}{when}{done}", flush=True)

    try:
        system = deploy(w3, deployer, roles, params, manifest, report)
    except ChainError as e:  # a manifest that does not fit, a deployer that sent elsewhere, a revert
        print(f"coop deploy: {e}", file=sys.stderr)
        return 1
    print(f"Deployed: entry point {system.entry_point.address}, account factory {system.account_factory.address}; "
          f"manifest {manifest}")
    return 0


def _console(args: argparse.Namespace) -> int:
    """The console transport on embedded defaults (unless settings say otherwise)."""
    import asyncio
    import logging

    from bot.app import App
    from bot.settings import SettingsError
    from bot.transports import console

    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = _settings("console", args)
    if settings is None:
        return 2

    async def main() -> None:
        app = await App(settings).start(background=False)  # console.run connects, then begins
        try:
            await console.run(app)
        finally:
            await app.stop()

    try:
        asyncio.run(main())
    except SettingsError as e:
        print(f"coop console: {e}", file=sys.stderr)
        return 2
    return 0


def _settings(command: str, args: argparse.Namespace):
    """The settings from the environment and the command's options, or None when they are wrong (said why)."""
    from bot.settings import Settings, SettingsError

    try:
        # A bare --admin is on the command's own channel (`coop console --admin luis`: console:luis).
        return Settings.from_env(data_dir=args.data_dir, admins=tuple(getattr(args, "admin", ())),
                                 admin_channel=command if command in ("console", "telegram", "whatsapp") else None)
    except SettingsError as e:
        print(f"coop {command}: {e}", file=sys.stderr)
        return None


def _serve(command: str, args: argparse.Namespace, transports: list[str] | None) -> int:
    from bot.run import configured, run

    settings = _settings(command, args)
    if settings is None:
        return 2
    return run(command, settings, configured(settings) if transports is None else transports,
               telegram_webhook_url=getattr(args, "webhook_url", None))


def _run(args: argparse.Namespace) -> int:
    """Production: every chat transport the settings enable, the webhooks and /healthz, until a signal."""
    return _serve("run", args, None)


def _telegram(args: argparse.Namespace) -> int:
    """The Telegram transport alone: long polling, or (TELEGRAM_WEBHOOK_SECRET set) the webhook."""
    return _serve("telegram", args, ["telegram"])


def _whatsapp(args: argparse.Namespace) -> int:
    """The WhatsApp Cloud API transport alone: its webhook and /healthz."""
    return _serve("whatsapp", args, ["whatsapp"])


def _rotate_master_key(args: argparse.Namespace) -> int:
    """Re-wraps every member key under COOP_NEW_MASTER_KEY (opened with COOP_MASTER_KEY), in one transaction."""
    current, new = os.environ.get("COOP_MASTER_KEY"), os.environ.get("COOP_NEW_MASTER_KEY")
    if not current or not new:
        print("coop rotate-master-key: set COOP_MASTER_KEY (the key in use) and COOP_NEW_MASTER_KEY (its "
              "replacement) in the environment", file=sys.stderr)
        return 2
    import asyncio

    from chain.db import create_engine, migrate, sessionmaker
    from chain.keystore import Keystore, KeystoreError

    async def rotate() -> int:
        engine = create_engine(args.database_url)
        try:
            keystore = Keystore(sessionmaker(engine), current)
            await keystore.open()
            return await keystore.rotate_master(new)
        finally:
            await engine.dispose()

    migrate(args.database_url)
    try:
        count = asyncio.run(rotate())
    except KeystoreError as e:
        print(f"coop rotate-master-key: {e}", file=sys.stderr)
        return 1
    print(f"Rotated: {count} member keys now open with the new master key. Set COOP_MASTER_KEY to it and "
          "restart every coop process.")
    return 0


def _ingest(args: argparse.Namespace) -> int:
    """Stores the boards' telemetry only, sharing the stream with the other `coop ingest` processes (bot/ingest.py)."""
    from bot.ingest import run

    settings = _settings("ingest", args)
    if settings is None:
        return 2
    return run(settings, args.name)


def _simulate(args: argparse.Namespace) -> int:
    """Simulated sensor boards publishing to the broker (iot/simulator.py): --url, else COOP_MQTT_URL, else
    the embedded broker of the assistant running on --data-dir, else a broker on this machine's 1883. With
    that embedded broker (a development set-up) the boards are registered in the data dir's database, and
    follow the broker to the URL a restarted console writes."""
    from bot.sensors import MQTT_URL_FILE
    from iot.simulator import run

    settings = _settings("simulate", args)
    if settings is None:
        return 2
    embedded = settings.data_dir / MQTT_URL_FILE
    if not (args.url or args.url_file or settings.mqtt_url) and embedded.exists():
        args.url_file, args.register = embedded, True
    args.url = args.url or settings.mqtt_url or "mqtt://127.0.0.1:1883"
    args.database_url = args.database_url or settings.database_url
    return run(args)


DATA_DIR_HELP = "where the embedded database, chain and keys live"


def _assistant_options(parser: argparse.ArgumentParser, admin_help: str) -> None:
    """The options every command that runs the assistant takes."""
    parser.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)
    parser.add_argument("--admin", action="append", default=[], metavar="NAME", help=admin_help)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coop", description="Co-op Assistant: the housing co-op's pilot bot.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser("demo", help="walk through the pilot on embedded defaults (no accounts, no network)")
    demo.set_defaults(run=_demo)
    deploy = commands.add_parser(
        "deploy", help="deploy the co-op's contracts to a node and write a manifest (resumes if it exists)",
        description="Deploys the co-op's contracts from the key in COOP_DEPLOYER_KEY, writing the manifest "
                    "after every step; run it again after an interruption to resume.")
    deploy.add_argument("--rpc-url", required=True, help="the node's JSON-RPC URL")
    deploy.add_argument("--manifest", required=True, help="where the deployment is recorded (JSON)")
    # Who holds each right (docs/chain.md, "Roles and keys"); the gas payer needs none, so is not named here.
    deploy.add_argument("--registrar", required=True, help="the address that registers members (COOP_REGISTRAR_KEY's)")
    deploy.add_argument("--certifier", required=True, help="the address that certifies produce (COOP_CERTIFIER_KEY's)")
    deploy.add_argument("--treasurer", required=True,
                        help="the address that records cash in and out and manages orders (COOP_TREASURER_KEY's)")
    deploy.add_argument("--guardian", required=True, help="the address that may cancel a proposal: the board's Safe")
    deploy.add_argument("--params", help='deployment parameters as JSON, e.g. \'{"quorum_percent": 20}\' (the '
                        'governance delays default to COOP_VOTING_DELAY, COOP_VOTING_PERIOD, COOP_TIMELOCK_DELAY)')
    deploy.set_defaults(run=_deploy, data_dir=None)
    console = commands.add_parser(
        "console", help="chat with the assistant in JSON lines on stdin/stdout (docs/interfaces.md §2)",
        description="The console transport: one JSON message per line in, one per line out.")
    console.add_argument("--jsonl", action="store_true", required=True, help="the JSON-lines protocol")
    _assistant_options(console, "a console name that is admin")
    console.set_defaults(run=_console)
    run = commands.add_parser(
        "run", help="production: every chat transport the settings enable, webhooks and /healthz",
        description="Runs the assistant with Telegram (TELEGRAM_BOT_TOKEN) and/or WhatsApp (WHATSAPP_TOKEN), the "
                    "database from COOP_DATABASE_URL and the chain from COOP_CHAIN_RPC_URL (docs/settings.md), "
                    "until SIGINT or SIGTERM.")
    _assistant_options(run, "an admin, channel:id (telegram:123456789, whatsapp:+15551234567)")
    run.add_argument("--webhook-url", metavar="URL", help="Telegram webhook mode: the public URL of /webhooks/telegram")
    run.set_defaults(run=_run)
    telegram = commands.add_parser(
        "telegram", help="run the assistant as a Telegram bot (polling, or webhook with TELEGRAM_WEBHOOK_SECRET)",
        description="The Telegram transport (docs/settings.md): TELEGRAM_BOT_TOKEN, TELEGRAM_API_BASE, "
                    "TELEGRAM_WEBHOOK_SECRET, COOP_GROUP_CHAT_ID; the webhook listens at COOP_HTTP_HOST:COOP_HTTP_PORT.")
    _assistant_options(telegram, "a Telegram numeric user id that is admin (not a @username)")
    telegram.add_argument("--webhook-url", metavar="URL",
                          help="webhook mode: the public https URL of POST /webhooks/telegram, set with setWebhook")
    telegram.set_defaults(run=_telegram)
    whatsapp = commands.add_parser(
        "whatsapp", help="serve the WhatsApp Cloud API webhook (WHATSAPP_* settings) until SIGINT/SIGTERM",
        description="The WhatsApp transport: GET/POST /webhooks/whatsapp and /healthz at "
                    "COOP_HTTP_HOST:COOP_HTTP_PORT; replies go to WHATSAPP_API_BASE.")
    _assistant_options(whatsapp, "a WhatsApp number that is admin (+15551234567)")
    whatsapp.set_defaults(run=_whatsapp)
    rotate = commands.add_parser(
        "rotate-master-key", help="re-wrap the custodial keys under a new master key",
        description="Opens the keystore with COOP_MASTER_KEY and re-wraps every member key under "
                    "COOP_NEW_MASTER_KEY, in one transaction; afterwards only the new key opens it.")
    rotate.add_argument("--database-url", required=True, help="the database holding the keys (COOP_DATABASE_URL)")
    rotate.set_defaults(run=_rotate_master_key)
    ingest = commands.add_parser(
        "ingest", help="store the sensors' telemetry, splitting the stream with other `coop ingest` processes",
        description="Joins the MQTT 5 shared subscription $share/COOP_MQTT_SHARE_GROUP/coop/+/+/telemetry at "
                    "COOP_MQTT_URL and stores what the broker gives it in COOP_DATABASE_URL, until SIGINT or "
                    "SIGTERM (docs/sensors.md, \"A broker cluster\").")
    ingest.add_argument("--name", help="this process's name, part of its MQTT client id and so of its session: "
                                       "one per process, kept across restarts (default: the host name)")
    ingest.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)
    ingest.set_defaults(run=_ingest)
    from iot.simulator import add_arguments as add_simulator_arguments  # standard library only until it runs

    simulate = commands.add_parser(
        "simulate", help="simulated sensor boards: a day's readings over MQTT, with faults on demand",
        description="Publishes realistic readings for --devices boards at --rate to COOP_MQTT_URL (or --url), "
                    "and injects faults: heat-spike, stuck, malformed, offline.")
    add_simulator_arguments(simulate)
    simulate.add_argument("--data-dir", type=Path, help="the running assistant's data dir (default COOP_DATA_DIR "
                                                         "or ~/.coop), to find its embedded broker")
    simulate.set_defaults(run=_simulate, url=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], int] | None = getattr(args, "run", None)
    if run is None:
        parser.print_help()
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
