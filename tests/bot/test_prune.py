"""Stale rows are deleted on a schedule (bot/prune.py): update ids past every redelivery window, offers
nobody can answer any more; an update retried inside the window is still recognised as seen."""
import asyncio
import time
from datetime import timedelta

import aiohttp
import pytest
from sqlalchemy import select, update

from bot.app import App
from bot.prune import OFFER_KEPT, SEEN_KEPT
from bot.settings import Settings
from bot.store import Member, PendingAction, SeenUpdate
from bot.transports.telegram import SECRET_HEADER, WEBHOOK_PATH, TelegramTransport
from bot.web.app import make_web_app, serve
from chain.db import utcnow
from tests.bot.telegram_api import TelegramAPI

SECRET = "s3cret-token"


class Running:
    """The App with the Telegram transport in webhook mode; `post` delivers an update as the Bot API would."""

    def __init__(self, api: TelegramAPI, settings: Settings):
        self.api, self.settings = api, settings

    async def __aenter__(self) -> "Running":
        self.app = await App(self.settings).start()
        self.transport = await TelegramTransport(self.app, self.settings).start(
            webhook_url="https://coop.example/webhooks/telegram")
        self.runner = await serve(make_web_app(self.app, self.transport.add_routes), "127.0.0.1", 0)
        host, port = self.runner.addresses[0][:2]
        self.url = f"http://{host}:{port}{WEBHOOK_PATH}"
        self.client = aiohttp.ClientSession()
        return self

    async def post(self, update_: dict) -> None:
        async with self.client.post(self.url, json=update_, headers={SECRET_HEADER: SECRET}) as response:
            assert response.status == 200

    async def __aexit__(self, *exc) -> None:
        await self.client.close()
        await self.runner.cleanup()
        await self.transport.stop()
        await self.app.stop()


async def rows(app: App) -> tuple[set, set]:
    async with app.sessions() as session:
        return (set((await session.execute(select(SeenUpdate.channel, SeenUpdate.update_id))).all()),
                set((await session.execute(select(PendingAction.token))).scalars()))


@pytest.mark.asyncio
async def test_the_scheduled_prune_deletes_stale_rows_and_a_retry_inside_the_window_is_still_seen(tmp_path):
    api = TelegramAPI()
    await api.start()
    env = {"TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_BASE": api.base, "TELEGRAM_WEBHOOK_SECRET": SECRET}
    settings = Settings.from_env(env, data_dir=tmp_path / "data")
    recent = api.message(30, "/help", username="jo")
    try:
        async with Running(api, settings) as running:
            await running.post(recent)
            await api.wait_for("sendMessage", 30)
            now = utcnow()
            ttl = timedelta(seconds=settings.confirm_ttl)
            async with running.app.sessions() as session, session.begin():
                # Seen a day short of the retention: still inside every redelivery window.
                await session.execute(update(SeenUpdate).values(seen_at=now - SEEN_KEPT + timedelta(days=1)))
                for channel, update_id in [("telegram", "1"), ("whatsapp", "15550001:wamid.1")]:
                    session.add(SeenUpdate(channel=channel, update_id=update_id,
                                           seen_at=now - SEEN_KEPT - timedelta(hours=1)))
                member = Member(channel="telegram", handle="31", chat_id="31", member_id="r_31", invite_code="x")
                session.add(member)
                await session.flush()
                stale = now - ttl - OFFER_KEPT - timedelta(minutes=1)
                for token, state, created in [("old-offered", "offered", stale), ("old-cancelled", "cancelled", stale),
                                              ("old-confirmed", "confirmed", stale), ("late", "offered", now - ttl * 2),
                                              ("fresh", "offered", now)]:
                    session.add(PendingAction(token=token, member=member.id, kind="join", params={}, state=state,
                                              created_at=created, intent_id=1 if state == "confirmed" else None))

        # Restarted: the scheduler's prune runs at once, then hourly.
        async with Running(api, settings) as running:
            deadline = time.monotonic() + 30
            while (await rows(running.app))[0] != {("telegram", str(recent["update_id"]))}:
                assert time.monotonic() < deadline, await rows(running.app)
                await asyncio.sleep(0.1)
            # expired a moment ago (a late press still hears why), or confirmed (linked to its intent): kept
            assert (await rows(running.app))[1] == {"old-confirmed", "late", "fresh"}

            await running.post(recent)  # Telegram redelivers it
            await asyncio.sleep(0.5)
            assert len(api.sent(30)) == 1  # recognised as seen: answered once
    finally:
        await api.close()
