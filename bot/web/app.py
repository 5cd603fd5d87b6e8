"""One aiohttp application for everything that listens on HTTP: `GET /healthz` and the transports'
webhooks (each transport adds its own routes), at COOP_HTTP_HOST:COOP_HTTP_PORT."""
import asyncio
from collections.abc import Callable

from aiohttp import web
from sqlalchemy import text

from bot.app import App
from bot.web.bodies import MAX_WEBHOOK_BYTES

APP_KEY = web.AppKey("coop", App)


async def healthz(request: web.Request) -> web.Response:
    """Database and chain status, and whether this replica leads, as JSON; 503 when either is down."""
    app = request.app[APP_KEY]
    status = {"database": "ok", "chain": "ok"}
    try:
        async with app.sessions() as session:
            await session.execute(text("SELECT 1"))
    except Exception as e:  # noqa: BLE001 - any failure is "down", with its type for the operator
        status["database"] = f"down: {type(e).__name__}"
    try:
        status["block"] = await asyncio.wait_for(app.read(lambda: app.w3.eth.block_number), 5)
    except Exception as e:  # noqa: BLE001
        status["chain"] = f"down: {type(e).__name__}"
    status["role"] = "leader" if app.leading else "follower"  # of replicas on one database (chain/lease.py)
    healthy = status["database"] == "ok" and status["chain"] == "ok"
    return web.json_response(status, status=200 if healthy else 503)


def make_web_app(app: App, *route_adders: Callable[[web.Application], None]) -> web.Application:
    """The HTTP application: health, plus whatever routes each transport adds (its webhook)."""
    # Routes read JSON bodies through bot/web/bodies.py (a size cap, then a depth cap before parsing); this
    # caps whatever reads a body another way.
    web_app = web.Application(client_max_size=MAX_WEBHOOK_BYTES)
    web_app[APP_KEY] = app
    web_app.router.add_get("/healthz", healthz)
    for add in route_adders:
        add(web_app)
    return web_app


async def serve(web_app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(web_app)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
