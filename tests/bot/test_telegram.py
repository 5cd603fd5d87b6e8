"""The Telegram transport end to end: the real App on embedded defaults, aiogram talking to a fake Bot API
server (tests/bot/telegram_api.py), in polling and in webhook mode."""
import asyncio
import dataclasses
import re
import socket

import aiohttp
import pytest
import pytest_asyncio
from sqlalchemy import select

from bot.app import App
from bot.cli import build_parser
from bot.notify import Blocked, TransientError
from bot.settings import Settings, SettingsError
from bot.store import Member, SeenUpdate
from bot.transports.telegram import (
    SECRET_HEADER,
    WEBHOOK_PATH,
    CallbackDataTooLong,
    TelegramTransport,
    keyboard,
)
from bot.web.app import make_web_app, serve
from handlers.base import Button, Reply
from locales import Translator
from tests.bot.telegram_api import TelegramAPI

pytestmark = pytest.mark.asyncio(loop_scope="module")

GROUP = -100123
SECRET = "s3cret-token"
WELCOME = ("Welcome to the co-op! Food-USD is money for group food orders: one Food-USD is one dollar you gave an "
           "admin in cash. GroToken (GRO) is earned by growing food in the co-op's room, and lets you vote on "
           "co-op decisions.")
ADMIN_ID = 1


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def api():
    server = TelegramAPI()
    await server.start()
    yield server
    await server.close()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def app(api, tmp_path_factory):
    env = {"TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_BASE": api.base, "COOP_GROUP_CHAT_ID": str(GROUP)}
    settings = Settings.from_env(env, data_dir=tmp_path_factory.mktemp("data"), admins=(f"telegram:{ADMIN_ID}",))
    running = await App(settings).start()
    yield running
    await running.stop()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def polling(app, api):
    """The transport in polling mode, with the admin onboarded (in English)."""
    transport = await TelegramTransport(app, app.settings).start()
    await onboard_admin(api)
    yield transport
    await transport.stop()


async def onboard_admin(api: TelegramAPI, timeout: float = 30.0) -> None:
    """The admin (ADMIN_ID) starts the bot and chooses English."""
    mark = len(api.calls)
    await api.queue(api.message(ADMIN_ID, "/start", username="admin", lang="en"))
    choice = await api.wait_for("sendMessage", ADMIN_ID, "·", after=mark, timeout=timeout)
    await api.queue(api.press(ADMIN_ID, choice.buttons[0]["callback_data"], username="admin", lang="en"))
    await api.wait_for("sendMessage", ADMIN_ID, "What would you like to do?", after=mark)  # after the welcome


async def invite_code(api: TelegramAPI) -> str:
    mark = len(api.calls)
    await api.queue(api.message(ADMIN_ID, "/invite", username="admin"))
    text = (await api.wait_for("sendMessage", ADMIN_ID, "/start", after=mark)).params["text"]
    return re.search(r"\b([A-Z2-7]{4}(?:-[A-Z2-7]{4}){3})\b", text).group(1)


async def join(api: TelegramAPI, user_id: int, username: str, lang: str) -> None:
    code = await invite_code(api)
    mark = len(api.calls)
    await api.queue(api.message(user_id, f"/start {code}", username=username, lang=lang))
    choice = await api.wait_for("sendMessage", user_id, "·", after=mark)
    await api.queue(api.press(user_id, f"lang:{lang}", username=username, lang=lang))
    await api.wait_for("sendMessage", user_id, "Food-USD", after=mark)  # the welcome, then the menu
    await api.wait_for("sendMessage", user_id, Translator(lang).t("What would you like to do?"), after=mark)
    assert choice.buttons[0]["callback_data"] == f"lang:{lang}"


async def test_commands_are_registered_in_every_language(polling, api):
    registered = {c.params.get("language_code"): c.params["commands"] for c in api.sent(method="setMyCommands")}
    assert set(registered) == {None, "es", "bn", "fr"}  # English is the default list
    for commands in registered.values():
        assert {"start", "menu", "balance", "orders", "join", "lang", "help"} <= {c["command"] for c in commands}
        assert all(0 < len(c["description"]) <= 256 for c in commands)
    es = {c["command"]: c["description"] for c in registered["es"]}
    assert es["balance"] == "tu saldo de Food-USD, GRO y poder de voto"
    assert es["help"] == Translator("es").t("Help")
    assert {c["command"]: c["description"] for c in registered[None]}["help"] == "Help"


async def test_onboarding_by_polling_in_the_members_language(polling, api, app):
    code = await invite_code(api)
    mark = len(api.calls)
    await api.queue(api.message(2, f"/start {code}", username="ana", lang="es"))
    choice = await api.wait_for("sendMessage", 2, "·", after=mark)
    assert choice.buttons[0] == {"text": "Español", "callback_data": "lang:es"}  # her phone's language first
    assert [b["callback_data"] for b in choice.buttons] == ["lang:es", "lang:en", "lang:bn", "lang:fr"]

    press = await api.queue(api.press(2, "lang:es", username="ana", lang="es"))
    welcome = await api.wait_for("sendMessage", 2, "Food-USD", after=mark)
    assert welcome.params["text"] == Translator("es").t(WELCOME)
    await api.wait_for("sendMessage", 2, Translator("es").t("What would you like to do?"), after=mark)
    answered = await api.wait_for("answerCallbackQuery", after=mark)
    assert answered.params["callback_query_id"] == press["callback_query"]["id"]
    async with app.sessions() as session:
        ana = (await session.execute(select(Member).where(Member.channel == "telegram",
                                                          Member.handle == "2"))).scalar_one()
    assert (ana.lang, ana.chat_id, ana.alias) == ("es", "2", "ana")  # her id is who she is; her @name an alias


async def test_every_button_press_is_answered(polling, api):
    mark = len(api.calls)
    stale = await api.queue(api.press(3, "ok:no-such-token", username="carl"))
    await api.wait_for("sendMessage", 3, after=mark)  # a stranger's press still gets a reply
    answered = [c.params["callback_query_id"] for c in api.calls[mark:] if c.method == "answerCallbackQuery"]
    assert answered == [stale["callback_query"]["id"]]


async def test_a_429_is_waited_out_and_the_message_arrives_once(polling, api):
    api.throttle_next_sends(1, retry_after=1)
    mark = len(api.calls)
    await api.queue(api.message(4, "/help", username="dora", lang="fr"))
    delivered = await api.wait_for("sendMessage", 4, after=mark)
    throttled = [c for c in api.calls[mark:] if c.method == "sendMessage" and c.status == 429]
    assert len(throttled) == 1
    assert delivered.at - throttled[0].at >= 1.0
    await asyncio.sleep(0.3)
    assert len(api.sent(4)) == 1


async def test_a_member_who_blocked_the_bot_is_marked_and_skipped(polling, api, app):
    await join(api, 5, "bea", "en")
    api.block(5)
    mark = len(api.calls)
    await api.queue(api.message(5, "/menu", username="bea"))
    for _ in range(200):  # the menu's sendMessage is refused with 403, and she is marked
        if await blocked(app, "5"):
            break
        await asyncio.sleep(0.05)
    assert [c.status for c in api.calls[mark:] if c.method == "sendMessage"] == [403]
    assert await blocked(app, "5")

    before = len(api.calls)
    with pytest.raises(Blocked):  # a pushed reply: the notifier is told, and skips her
        await polling.send(Reply("5", "Your order is paid."))
    assert len(api.calls) == before  # not even tried

    api._blocked.discard("5")  # she unblocks the bot and writes again
    mark = len(api.calls)
    await api.queue(api.message(5, "/help", username="bea"))
    await api.wait_for("sendMessage", 5, after=mark)
    assert not await blocked(app, "5")


async def test_a_429_on_a_push_pauses_the_whole_channel_then_it_arrives_once(polling, api, app):
    api.throttle_next_sends(1, retry_after=2)
    mark = len(api.calls)
    await app.push("telegram", Reply("31", "Your order is paid."))
    while not [c for c in api.calls[mark:] if c.status == 429]:
        await asyncio.sleep(0.02)
    await app.push("telegram", Reply("32", "Order #3 is open."))  # another chat, during the pause
    first = await api.wait_for("sendMessage", 31, "Your order is paid.", after=mark)
    other = await api.wait_for("sendMessage", 32, "Order #3 is open.", after=mark)
    await app.notifier.drain()
    throttled = [c for c in api.calls[mark:] if c.status == 429]
    assert len(throttled) == 1 and throttled[0].params["chat_id"] == "31"
    assert first.at - throttled[0].at >= 2.0
    assert other.at - throttled[0].at >= 1.9  # the other chat waited too: nothing was sent during the pause
    assert [c.status for c in api.calls[mark:] if c.method == "sendMessage"] == [429, 200, 200]


async def test_a_push_to_a_member_who_blocked_the_bot_marks_them_and_stops_further_sends(polling, api, app):
    await join(api, 33, "hana", "en")
    api.block(33)
    mark = len(api.calls)
    await app.push("telegram", Reply("33", "Your order is paid."))
    await app.push("telegram", Reply("33", "Order #4 is open."))
    await app.notifier.drain()
    assert [c.status for c in api.calls[mark:]] == [403]  # the second was not even tried
    assert await blocked(app, "33")
    app.notifier.unblock("telegram", "33")  # as after a restart: the notifier's memory is gone, the store's mark is not
    await app.push("telegram", Reply("33", "Order #5 is open."))
    await app.notifier.drain()
    assert api.calls[mark + 1:] == [] and await blocked(app, "33")


async def test_a_5xx_on_a_push_is_retried_and_it_arrives_once(polling, api, app):
    api.fail_next("sendMessage", 2, status=502)
    mark = len(api.calls)
    await app.push("telegram", Reply("34", "Your order is paid."))
    await api.wait_for("sendMessage", 34, "Your order is paid.", after=mark)
    await app.notifier.drain()
    assert [c.status for c in api.calls[mark:]] == [502, 502, 200]
    assert len(api.sent(34)) == 1


async def test_a_push_the_bot_api_refuses_is_logged_and_not_retried(polling, api, app, caplog):
    api.fail_next("sendMessage", 1, status=400)  # e.g. "chat not found": trying again would not help
    mark = len(api.calls)
    with caplog.at_level("ERROR", logger="bot.notify"):
        await app.push("telegram", Reply("35", "Your order is paid."))
        await app.notifier.drain()
    assert [c.status for c in api.calls[mark:]] == [400]
    assert "undeliverable" in caplog.text and api.token not in caplog.text


async def test_a_bot_api_that_refuses_the_connection_is_a_transient_failure(app):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transport = TelegramTransport(app, dataclasses.replace(app.settings, telegram_api_base=f"http://127.0.0.1:{port}"))
    try:
        with pytest.raises(TransientError):  # certainly not sent: the notifier may try again
            await transport.send(Reply("36", "Your order is paid."))
    finally:
        await transport.bot.session.close()


async def test_pushed_replies_reach_the_members_chat_and_the_group(polling, api, app, tmp_path):
    await join(api, 6, "eve", "fr")
    mark = len(api.calls)
    await app.push("telegram", Reply("6", "Done."))  # the App's sink is the transport
    await api.wait_for("sendMessage", 6, "Done.", after=mark)
    chart = tmp_path / "chart.png"
    chart.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    await app.push("telegram", Reply("group", "Readings", image=str(chart),
                                     buttons=[[Button("More", "cmd:readings")]]))
    photo = await api.wait_for("sendPhoto", GROUP, "Readings", after=mark)
    assert photo.params["photo"] == {"filename": "chart.png", "size": 72}
    assert photo.buttons == [{"text": "More", "callback_data": "cmd:readings"}]


async def test_text_goes_out_plain_so_a_title_shows_as_typed(polling, api, app):
    title = "New proposal #2 “Buy a fan <b>now</b> *today* [x](https://e.vil) _y_”"
    mark = len(api.calls)
    await app.push("telegram", Reply("group", title))
    sent = await api.wait_for("sendMessage", GROUP, title, after=mark)
    assert sent.params["text"] == title and "parse_mode" not in sent.params and "entities" not in sent.params


async def test_a_balance_asked_in_the_group_is_answered_in_the_private_chat(polling, api):
    mark = len(api.calls)
    group = {"id": GROUP, "type": "supergroup", "title": "Co-op"}
    await api.queue(api.message(ADMIN_ID, "/balance@coop_test_bot", username="admin", chat=group))
    await api.wait_for("sendMessage", ADMIN_ID, "Your Food-USD balance is", after=mark)
    await api.wait_for("sendMessage", GROUP, "I sent you the answer in a private chat.", after=mark)
    await asyncio.sleep(0.3)
    # Telegram refuses a bot's private message to someone who never opened its chat: the pointer says how.
    assert [c.params["text"] for c in api.calls[mark:] if c.method == "sendMessage"
            and c.params["chat_id"] == str(GROUP)] == [
        "I sent you the answer in a private chat. If it is not there, open https://t.me/coop_test_bot, "
        "press Start, and ask again."]


async def test_button_data_over_64_bytes_is_refused():
    assert keyboard([[Button("ok", "x" * 64)]]).inline_keyboard[0][0].callback_data == "x" * 64
    with pytest.raises(CallbackDataTooLong):
        keyboard([[Button("ok", "é" * 33)]])  # 66 bytes


# ---- webhook mode ----


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def hook_api():
    server = TelegramAPI(first_update_id=900_000)
    await server.start()
    yield server
    await server.close()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def webhook(app, hook_api):
    """A second transport on the same App, in webhook mode against its own Bot API server; yields the URL."""
    settings = dataclasses.replace(app.settings, telegram_api_base=hook_api.base, telegram_webhook_secret=SECRET)
    transport = await TelegramTransport(app, settings).start(webhook_url="https://coop.example/webhooks/telegram")
    runner = await serve(make_web_app(app, transport.add_routes), "127.0.0.1", 0)
    host, port = runner.addresses[0][:2]
    async with aiohttp.ClientSession() as client:
        yield client, f"http://{host}:{port}{WEBHOOK_PATH}"
    await runner.cleanup()
    await transport.stop()


async def test_webhook_mode_sets_the_webhook_and_does_not_poll(webhook, hook_api):
    registered = hook_api.sent(method="setWebhook")
    assert [(c.params["url"], c.params["secret_token"]) for c in registered] == [
        ("https://coop.example/webhooks/telegram", SECRET)]
    assert not [c for c in hook_api.calls if c.method in ("getUpdates", "deleteWebhook")]


async def test_a_webhook_with_the_secret_is_handled(webhook, hook_api):
    client, url = webhook
    async with client.post(url, json=hook_api.message(20, "/help", username="fay"),
                           headers={SECRET_HEADER: SECRET}) as response:
        assert response.status == 200
    reply = await hook_api.wait_for("sendMessage", 20)
    assert "/balance" in reply.params["text"]


@pytest.mark.parametrize("headers", [{}, {SECRET_HEADER: "wrong"}], ids=["missing", "wrong"])
async def test_a_webhook_without_the_secret_is_refused_and_not_handled(webhook, hook_api, app, headers):
    client, url = webhook
    update = hook_api.message(21, "/help", username="gus")
    async with client.post(url, json=update, headers=headers) as response:
        assert response.status == 401
    await asyncio.sleep(0.3)
    assert hook_api.sent(21) == []
    async with app.sessions() as session:
        assert await session.get(SeenUpdate, ("telegram", str(update["update_id"]))) is None


async def test_a_retried_webhook_is_handled_once(webhook, hook_api):
    client, url = webhook
    update = hook_api.message(22, "/help", username="hal")
    for _ in range(2):
        async with client.post(url, json=update, headers={SECRET_HEADER: SECRET}) as response:
            assert response.status == 200
    await hook_api.wait_for("sendMessage", 22)
    await asyncio.sleep(0.3)
    assert len(hook_api.sent(22)) == 1


async def test_the_same_update_twice_at_once_is_handled_once(webhook, hook_api):
    client, url = webhook
    update = hook_api.message(23, "/help", username="ivy")

    async def post() -> int:
        async with client.post(url, json=update, headers={SECRET_HEADER: SECRET}) as response:
            return response.status

    assert await asyncio.gather(post(), post()) == [200, 200]
    await asyncio.sleep(0.3)
    assert len(hook_api.sent(23)) == 1


@pytest.mark.parametrize("body, status", [
    (b"[" * 198_000, 400),  # parsed as it came, it took the whole process down (SIGSEGV)
    ('["\u2200",'.encode("utf-16-le") + "[".encode("utf-16-le") * 90_000, 400),  # ∀'s '"' byte hid the depth
    (b'{"update_id": 1, "x": ' + b"[" * 40 + b"]" * 40 + b"}", 400),  # well-formed, nested too deep
    (b"{not json", 400),
    (b'{"update_id": 1, "pad": "' + b"x" * (1024**2 + 1) + b'"}', 413),
], ids=["crash", "utf16", "deep_but_valid", "not_json", "oversized"])
async def test_a_hostile_webhook_body_is_refused_and_the_bot_still_answers(webhook, hook_api, body, status):
    client, url = webhook
    async with client.post(url, data=body, headers={SECRET_HEADER: SECRET,
                                                    "Content-Type": "application/json"}) as response:
        assert response.status == status
    user = 24 + len(body) % 997  # a fresh sender per case
    async with client.post(url, json=hook_api.message(user, "/help", username=f"u{user}"),
                           headers={SECRET_HEADER: SECRET}) as response:
        assert response.status == 200
    assert "/balance" in (await hook_api.wait_for("sendMessage", user)).params["text"]


# ---- helpers ----


async def blocked(app: App, handle: str) -> bool:
    async with app.sessions() as session:
        return (await session.execute(select(Member.blocked).where(
            Member.channel == "telegram", Member.handle == handle))).scalar_one()


async def test_coop_telegram_is_a_subcommand():
    args = build_parser().parse_args(["telegram", "--data-dir", "/tmp/x", "--admin", "@admin", "--admin", "42"])
    assert (args.command, args.admin, str(args.data_dir)) == ("telegram", ["@admin", "42"], "/tmp/x")


# ---- start-up while the Bot API is down (last: each transport here takes over the App's Telegram channel) ----


async def test_a_bot_api_answering_5xx_at_start_is_retried_then_polled(app, caplog):
    down = TelegramAPI(first_update_id=700_000)
    await down.start()
    down.fail_next("getMe", 1, status=502)
    down.fail_next("getMe", 1, status=502, html=True)  # a proxy's page in front of the Bot API
    transport = TelegramTransport(app, dataclasses.replace(app.settings, telegram_api_base=down.base))
    try:
        with caplog.at_level("WARNING", logger="bot.transports.telegram"):
            await asyncio.wait_for(transport.start(), 30)
        attempts = [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]
        assert len(attempts) == 2 and "attempt=1" in attempts[0] and "attempt=2" in attempts[1]
        assert "TelegramServerError" in attempts[0] and "ClientDecodeError" in attempts[1]
        assert all(down.token not in line for line in attempts)
        assert [c.status for c in down.calls if c.method == "getMe"] == [502, 502, 200]
        await down.wait_for("getUpdates")  # started: polling
    finally:
        await transport.stop()
        await down.close()


async def test_stop_ends_a_start_that_waits_for_the_bot_api(app):
    down = TelegramAPI(first_update_id=800_000)
    await down.start()
    down.fail_next("getMe", 100, status=503)
    transport = TelegramTransport(app, dataclasses.replace(app.settings, telegram_api_base=down.base))
    starting = asyncio.create_task(transport.start())
    while not [c for c in down.calls if c.method == "getMe"]:  # the first attempt failed: it waits to retry
        await asyncio.sleep(0.05)
    await asyncio.wait_for(transport.stop(), 5)
    assert await asyncio.wait_for(starting, 5) is transport
    assert not [c for c in down.calls if c.method != "getMe"]  # it never went on to poll
    await down.close()


async def test_a_token_the_bot_api_refuses_stops_start_up_with_a_settings_error(app, api):
    transport = TelegramTransport(app, dataclasses.replace(app.settings, telegram_token="999:not-the-token"))
    try:
        with pytest.raises(SettingsError, match="TELEGRAM_BOT_TOKEN"):
            await asyncio.wait_for(transport.start(), 30)
    finally:
        await transport.stop()
