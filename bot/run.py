"""Running the assistant with its chat transports until SIGINT or SIGTERM (`coop run`, `coop telegram`,
`coop whatsapp`): the app, each transport, and the HTTP listener for webhooks and /healthz."""
import asyncio
import gc
import logging
import signal
import sys

from bot.app import App
from bot.settings import Settings, SettingsError, default_database_url
from chain.roles import KEY_SETTINGS

log = logging.getLogger(__name__)
TRANSPORTS = ("telegram", "whatsapp")


def configured(settings: Settings) -> list[str]:
    """The transports the settings enable."""
    return [name for name, token in (("telegram", settings.telegram_token), ("whatsapp", settings.whatsapp_token))
            if token]


def refusals(settings: Settings, transports: list[str]) -> list[str]:
    """Why a production command must not start on these settings, each saying what to set instead (none: it
    may). The embedded chain is for development only: anvil's accounts are unlocked, its anvil_* methods
    rewrite balances, and the master key lies in a file beside the database."""
    found = []
    if not transports:
        found.append("no chat transport is configured: set TELEGRAM_BOT_TOKEN for Telegram and/or "
                     "WHATSAPP_TOKEN, WHATSAPP_PHONE_NUMBER_ID, WHATSAPP_APP_SECRET and WHATSAPP_VERIFY_TOKEN for "
                     "WhatsApp (docs/settings.md)")
    if settings.embedded and not settings.dev:
        wanted = ["COOP_CHAIN_RPC_URL (a node the co-op was deployed to with `coop deploy`)"]
        wanted += [name for name, value in (("COOP_MASTER_KEY", settings.master_key),
                                            *((name, settings.key_of(role)) for role, name in KEY_SETTINGS.items()))
                   if not value]
        if settings.database_url == default_database_url(settings.data_dir):
            wanted.append("COOP_DATABASE_URL (e.g. postgresql+asyncpg://…; unset: SQLite in the data dir)")
        found.append("refusing to run on the embedded development chain (no COOP_CHAIN_RPC_URL). For production "
                     f"set {', '.join(wanted)}; for development set COOP_DEV=1")
    else:
        try:
            settings.require_production_secrets()
        except SettingsError as e:
            found.append(str(e))
    return found


def run(command: str, settings: Settings, transports: list[str], telegram_webhook_url: str | None = None) -> int:
    """Runs until a signal; returns the exit code (2 when the settings are incomplete or meant for development,
    said on stderr)."""
    from bot.transports.telegram import TelegramTransport
    from bot.transports.whatsapp import WhatsAppTransport
    from bot.web.app import make_web_app, serve

    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = App(settings)
    problems = refusals(settings, transports)
    started = []
    for name in transports:  # each transport checks its settings here, before the chain starts
        try:
            started.append((name, TelegramTransport(app, settings) if name == "telegram"
                            else WhatsAppTransport(app, settings)))
        except SettingsError as e:
            problems.append(str(e))
    if problems:
        for problem in problems:
            print(f"coop {command}: {problem}", file=sys.stderr)
        return 2

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await app.start(background=False)
        runner = None
        try:
            routes = []
            for name, transport in started:
                if name == "telegram":
                    # Telegram may be unreachable for a while (start retries): a signal meanwhile stops here.
                    if not await _unless_stopped(
                            transport.start(webhook_url=telegram_webhook_url or settings.telegram_webhook_url), stop):
                        return
                    if transport.webhook:
                        routes.append(transport.add_routes)
                else:
                    routes.append(transport.add_routes)
            await app.begin()  # the transports are connected: outcomes told at start find them
            gc.freeze()  # start-up's objects live as long as the process: full collections (0.2 s each) skip them
            runner = await serve(make_web_app(app, *routes), settings.http_host, settings.http_port)
            print(f"coop {command}: listening on http://{settings.http_host}:{settings.http_port} "
                  f"({', '.join(transports)}; {'leader' if app.leading else 'follower'})", file=sys.stderr, flush=True)
            if not app.leading and any(name == "telegram" and not transport.webhook for name, transport in started):
                print(f"coop {command}: Telegram long polling waits for the leader lease (only the leader polls, so "
                      "replicas do not take turns at getUpdates); set TELEGRAM_WEBHOOK_SECRET for webhook mode, where "
                      "every replica answers", file=sys.stderr, flush=True)
            await _unless_stopped(app.lease_lost.wait(), stop)
        finally:
            if runner is not None:
                await runner.cleanup()  # no new webhooks; then the ones in hand are answered
            for name, transport in started:
                await (transport.stop() if name == "telegram" else transport.close())
            await app.stop()

    try:
        asyncio.run(main())
    except SettingsError as e:
        print(f"coop {command}: {e}", file=sys.stderr)
        return 2
    if app.lease_lost.is_set():
        print(f"coop {command}: another replica took the leader lease from this one (COOP_LEADER_LEASE passed "
              "without a renewal); stopped so it never signs beside the new leader: start it again to follow",
              file=sys.stderr)
        return 1
    return 0


async def _unless_stopped(work, stop: asyncio.Event) -> bool:
    """Awaits `work` unless `stop` is set first (then cancels it): True when the work finished."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if task.done():
        task.result()  # its exception, if any
        return True
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return False
