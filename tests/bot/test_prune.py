"""Stale rows are deleted on a schedule (bot/prune.py): update ids past every redelivery window, offers
nobody can answer any more; an update retried inside the window is still recognised as seen."""
import asyncio
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


@pytest.mark.asyncio
async def test_a_prune_tick_deletes_stale_rows_and_keeps_what_a_retry_needs(tmp_path):
    api = TelegramAPI()
    await api.start()
    env = {"TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_BASE": api.base, "TELEGRAM_WEBHOOK_SECRET": SECRET}
    app = await App(Settings.from_env(env, data_dir=tmp_path / "data")).start()
    transport = await TelegramTransport(app, app.settings).start(webhook_url="https://coop.example/webhooks/telegram")
    runner = await serve(make_web_app(app, transport.add_routes), "127.0.0.1", 0)
    host, port = runner.addresses[0][:2]
    url = f"http://{host}:{port}{WEBHOOK_PATH}"
    try:
        async with aiohttp.ClientSession() as client:
            async def post(body: dict) -> None:
                async with client.post(url, json=body, headers={SECRET_HEADER: SECRET}) as response:
                    assert response.status == 200

            recent = api.message(30, "/help", username="jo")
            await post(recent)
            await api.wait_for("sendMessage", 30)
            now = utcnow()
            ttl = timedelta(seconds=app.settings.confirm_ttl)
            async with app.sessions() as session, session.begin():
                # Seen a day short of the retention: still inside the redelivery window.
                await session.execute(update(SeenUpdate).values(seen_at=now - SEEN_KEPT + timedelta(days=1)))
                session.add(SeenUpdate(channel="telegram", update_id="1", seen_at=now - SEEN_KEPT - timedelta(hours=1)))
                session.add(SeenUpdate(channel="whatsapp", update_id="15550001:wamid.1",
                                       seen_at=now - SEEN_KEPT - timedelta(hours=1)))
                member = Member(channel="telegram", handle="31", chat_id="31", member_id="r_31", invite_code="x")
                session.add(member)
                await session.flush()
                stale = now - ttl - OFFER_KEPT - timedelta(minutes=1)
                for token, state, created in [("old-offered", "offered", stale), ("old-cancelled", "cancelled", stale),
                                              ("old-confirmed", "confirmed", stale), ("late", "offered", now - ttl * 2),
                                              ("fresh", "offered", now)]:
                    session.add(PendingAction(token=token, member=member.id, kind="join", params={},
                                              state=state, created_at=created))

            await app.prune()  # the scheduled job's one tick

            async with app.sessions() as session:
                seen = set((await session.execute(select(SeenUpdate.channel, SeenUpdate.update_id))).all())
                offers = set((await session.execute(select(PendingAction.token))).scalars())
            assert seen == {("telegram", str(recent["update_id"]))}
            # expired a moment ago (a late press still hears why), or confirmed (linked to its intent): kept
            assert offers == {"old-confirmed", "late", "fresh"}

            await post(recent)  # Telegram redelivers it
            await asyncio.sleep(0.5)
            assert len(api.sent(30)) == 1  # recognised as seen: answered once
    finally:
        await runner.cleanup()
        await transport.stop()
        await app.stop()
        await api.close()
