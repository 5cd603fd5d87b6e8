"""Running the assistant with its chat transports until SIGINT or SIGTERM (`coop run`, `coop telegram`,
`coop whatsapp`): the app, each transport, and the HTTP listener for webhooks and /healthz."""
import asyncio
import gc
import logging
import signal
import sys

from bot.app import App
from bot.settings import Settings, SettingsError

log = logging.getLogger(__name__)
TRANSPORTS = ("telegram", "whatsapp")


def configured(settings: Settings) -> list[str]:
    """The transports the settings enable."""
    return [name for name, token in (("telegram", settings.telegram_token), ("whatsapp", settings.whatsapp_token))
            if token]


def run(command: str, settings: Settings, transports: list[str], telegram_webhook_url: str | None = None) -> int:
    """Runs until a signal; returns the exit code (2 when the settings are incomplete, said on stderr)."""
    from bot.transports.telegram import TelegramTransport
    from bot.transports.whatsapp import WhatsAppTransport
    from bot.web.app import make_web_app, serve

    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = App(settings)
    try:
        # Each transport checks its settings here, before the chain starts.
        built = {"telegram": lambda: TelegramTransport(app, settings),
                 "whatsapp": lambda: WhatsAppTransport(app, settings)}
        started = [(name, built[name]()) for name in transports]
    except SettingsError as e:
        print(f"coop {command}: {e}", file=sys.stderr)
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
                    await transport.start(webhook_url=telegram_webhook_url or settings.telegram_webhook_url)
                    if transport.webhook:
                        routes.append(transport.add_routes)
                else:
                    routes.append(transport.add_routes)
            await app.begin()  # the transports are connected: outcomes told at start find them
            gc.freeze()  # start-up's objects live as long as the process: full collections (0.2 s each) skip them
            runner = await serve(make_web_app(app, *routes), settings.http_host, settings.http_port)
            print(f"coop {command}: listening on http://{settings.http_host}:{settings.http_port} "
                  f"({', '.join(transports) or 'no chat transport'})", file=sys.stderr, flush=True)
            await stop.wait()
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
    return 0
