"""The WhatsApp transport end to end: signed webhooks into the real App (embedded defaults), replies out to a
local Graph API (tests/bot/graph_api.py). One App for the module; each test talks from its own numbers."""
import asyncio
import hashlib
import hmac
import itertools
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta

import httpx
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.app import App
from bot.notify import WHATSAPP, Blocked, RetryAfter, TransientError
from bot.settings import Settings
from bot.store import Member, SeenUpdate
from bot.transports.whatsapp import SendError, WhatsAppOptions, WhatsAppTransport, render
from bot.web.app import make_web_app
from chain.db import utcnow
from handlers.base import Button, Reply
from tests.bot.console import ROOT
from tests.bot.graph_api import GraphAPI

in_module_loop = pytest.mark.asyncio(loop_scope="module")  # the App is shared by the module

TOKEN, SECRET, VERIFY, NUMBER_ID = "test-token-1", "app-secret-1", "verify-me", "1099"
TEMPLATE = "coop_notice"
ADMIN = "15550000001"
_ids = itertools.count(1)


class Clock:
    """The transport's clock: real time plus a shift a test can set (to leave the 24-hour window)."""

    def __init__(self):
        self.shift = timedelta()

    def __call__(self):
        return utcnow() + self.shift


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def graph():
    api = await GraphAPI(TOKEN, NUMBER_ID).start()
    yield api
    await api.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env(graph):
    return {"WHATSAPP_TOKEN": TOKEN, "WHATSAPP_PHONE_NUMBER_ID": NUMBER_ID, "WHATSAPP_API_BASE": graph.url,
            "WHATSAPP_APP_SECRET": SECRET, "WHATSAPP_VERIFY_TOKEN": VERIFY, "WHATSAPP_TEMPLATE_NOTIFY": TEMPLATE}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bot(env, tmp_path_factory):
    """The App, its WhatsApp transport and a client for the web app, shared by the module."""
    settings = Settings.from_env(env, data_dir=tmp_path_factory.mktemp("whatsapp"), admins=(f"whatsapp:+{ADMIN}",))
    app = App(settings)
    clock = Clock()
    transport = WhatsAppTransport(app, settings, WhatsAppOptions.from_env(env), clock=clock)
    await app.start()
    client = TestClient(TestServer(make_web_app(app, transport.add_routes)))
    await client.start_server()
    bot = Bot(app, settings, transport, client, clock, env)
    yield bot
    await client.close()
    await transport.close()
    await app.stop()


class Bot:
    def __init__(self, app, settings, transport, client, clock, env):
        self.app, self.settings, self.transport, self.client, self.clock = app, settings, transport, client, clock
        self.env = env

    async def post(self, body: bytes, signature: str | None = "valid") -> int:
        headers = {"Content-Type": "application/json"}
        if signature == "valid":
            signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        response = await self.client.post("/webhooks/whatsapp", data=body, headers=headers)
        return response.status

    async def send(self, wa_id: str, text: str | None = None, press: str | None = None, kind: str = "list_reply",
                   message_id: str | None = None) -> None:
        """A member's message, signed as Meta signs it; waits until it is handled and answered."""
        assert await self.post(webhook(wa_id, text, press, kind, message_id)) == 200
        await self.transport.drain()


def webhook(wa_id: str, text: str | None = None, press: str | None = None, kind: str = "list_reply",
            message_id: str | None = None) -> bytes:
    """A Cloud API webhook body carrying one message from `wa_id`."""
    message = {"from": wa_id, "id": message_id or f"wamid.test{next(_ids)}", "timestamp": "1700000000"}
    if press is not None:
        message |= {"type": "interactive", "interactive": {"type": kind, kind: {"id": press, "title": "x"}}}
    else:
        message |= {"type": "text", "text": {"body": text}}
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": "15550009999", "phone_number_id": NUMBER_ID},
             "contacts": [{"profile": {"name": f"Resident {wa_id[-4:]}"}, "wa_id": wa_id}], "messages": [message]}
    return json.dumps({"object": "whatsapp_business_account",
                       "entry": [{"id": "WABA1", "changes": [{"value": value, "field": "messages"}]}]}).encode()


def rows(message: dict) -> list[dict]:
    assert message["type"] == "interactive" and message["interactive"]["type"] == "list", message
    return [row for section in message["interactive"]["action"]["sections"] for row in section["rows"]]


def reply_buttons(message: dict) -> list[dict]:
    assert message["type"] == "interactive" and message["interactive"]["type"] == "button", message
    return [b["reply"] for b in message["interactive"]["action"]["buttons"]]


def body(message: dict) -> str:
    return message["text"]["body"] if message["type"] == "text" else message["interactive"]["body"]["text"]


async def onboard(bot: Bot, graph: GraphAPI, wa_id: str, code: str | None = None) -> None:
    before = len(graph.messages(wa_id))
    await bot.send(wa_id, f"/start {code}" if code else "/start")
    choice = graph.messages(wa_id)[before]
    await bot.send(wa_id, press=rows(choice)[0]["id"])


@in_module_loop
async def test_the_handshake_echoes_the_challenge_only_for_the_verify_token(bot):
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": VERIFY}
    response = await bot.client.get("/webhooks/whatsapp", params=query)
    assert response.status == 200 and await response.text() == "1158201444"
    for wrong in ({**query, "hub.verify_token": "guess"}, {**query, "hub.mode": "unsubscribe"},
                  {k: v for k, v in query.items() if k != "hub.verify_token"}):
        assert (await bot.client.get("/webhooks/whatsapp", params=wrong)).status == 403


@in_module_loop
async def test_start_shows_the_languages_as_a_list_and_a_choice_welcomes(bot, graph):
    await bot.send(ADMIN, "/start")
    [choice] = graph.messages(ADMIN)
    assert [(r["title"], r["id"]) for r in rows(choice)] == [
        ("English", "lang:en"), ("Español", "lang:es"), ("বাংলা", "lang:bn"), ("Français", "lang:fr")]
    assert "Elige tu idioma" in body(choice)
    assert all(c.authorized for c in graph.calls)

    await bot.send(ADMIN, press="lang:en", kind="list_reply")
    welcome, menu = graph.messages(ADMIN)[1:]
    assert "Food-USD" in body(welcome) and welcome["type"] == "text"
    assert [r["id"] for r in rows(menu)][:2] == ["cmd:balance", "cmd:orders"]  # 6 buttons: a list


@in_module_loop
async def test_forged_or_missing_signatures_are_refused_and_nothing_happens(bot, graph):
    stranger = "15550000002"
    payload = webhook(stranger, "/help", message_id="wamid.forged1")
    forged = "sha256=" + hmac.new(b"not-the-secret", payload, hashlib.sha256).hexdigest()
    for signature in (forged, None, "sha256=", "sha1=" + hashlib.sha1(payload).hexdigest()):
        assert await bot.post(payload, signature) == 401
    tampered = payload.replace(b"/help", b"/menu")
    good_for_original = "sha256=" + hmac.new(SECRET.encode(), payload, hashlib.sha256).hexdigest()
    assert await bot.post(tampered, good_for_original) == 401
    await bot.transport.drain()
    assert graph.messages(stranger) == []
    async with bot.app.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(SeenUpdate).where(
            SeenUpdate.update_id.like(f"{stranger}:%")))).scalar() == 0

    await bot.send(stranger, "/help", message_id="wamid.forged1")  # the same message, signed: handled
    assert "/start CODE" in body(graph.messages(stranger)[0])


@in_module_loop
@pytest.mark.parametrize("payload, signed, status", [
    (b"[" * 198_000, True, 400),  # parsed as it came, it took the whole process down (SIGSEGV)
    (webhook("15550000090", "/help")[:-1] + b', "x": ' + b"[" * 40 + b"]" * 40 + b"}", True, 400),
    (b"{not json", True, 400),
    (b"[" * (1024**2 + 1), False, 413),  # refused before the signature is even checked
], ids=["deep", "deep_but_valid", "not_json", "oversized"])
async def test_a_hostile_webhook_body_is_refused_and_the_bot_still_answers(bot, graph, payload, signed, status):
    assert await bot.post(payload, "valid" if signed else None) == status
    sender = f"1555000009{len(payload) % 10}"
    await bot.send(sender, "/help")
    assert "/start CODE" in body(graph.messages(sender)[-1])


@in_module_loop
async def test_a_redelivered_message_is_handled_once(bot, graph):
    stranger = "15550000003"
    payload = webhook(stranger, "/help", message_id="wamid.again1")
    assert [await bot.post(payload) for _ in range(3)] == [200, 200, 200]  # Meta retries
    await bot.transport.drain()
    assert len(graph.messages(stranger)) == 1


@in_module_loop
async def test_a_deposit_is_offered_with_two_reply_buttons_and_told_after_confirm(bot, graph):
    member = "34600000004"  # a Spanish number: the language list offers Español first
    await bot.send(ADMIN, "/invite 1")
    code = re.search(r"\b([A-Z2-7]{4}(?:-[A-Z2-7]{4}){3})\b", body(graph.messages(ADMIN)[-1])).group(1)
    await bot.send(member, f"/start {code}")
    assert rows(graph.messages(member)[0])[0]["id"] == "lang:es"
    await bot.send(member, press="lang:es")

    await bot.send(ADMIN, f"/deposit {member} 50")
    offer = graph.messages(ADMIN)[-1]
    buttons = reply_buttons(offer)
    assert [b["id"][:3] for b in buttons] == ["ok:", "no:"] and [b["title"] for b in buttons] == ["Confirm", "Cancel"]
    assert all(len(b["title"]) <= 20 for b in buttons) and member in body(offer)

    before = len(graph.messages(ADMIN))
    await bot.send(ADMIN, press=buttons[0]["id"], kind="button_reply")
    await bot.send(ADMIN, press=buttons[0]["id"], kind="button_reply")  # a double tap
    told = await graph.wait_for(member, count=4)  # language list, welcome, menu, then the deposit
    assert "50,00" in body(told[3]) and told[3]["type"] == "text"  # pushed, inside the window: free-form
    done = await graph.wait_for(ADMIN, count=before + 3)
    assert [body(m).startswith("Recorded:") for m in done[before:]] == [False, False, True]  # told once


@in_module_loop
async def test_a_push_outside_the_window_goes_as_the_template_in_the_members_language(bot, graph):
    member = "33600000005"
    await bot.send(ADMIN, "/invite 1")
    code = re.search(r"\b([A-Z2-7]{4}(?:-[A-Z2-7]{4}){3})\b", body(graph.messages(ADMIN)[-1])).group(1)
    await onboard(bot, graph, member, code)  # French, from the +33 hint
    sent = len(graph.messages(member))
    await bot.app.push("whatsapp", Reply(member, "Commande n°1 payée.\nMerci !"))
    await bot.app.notifier.drain()
    assert graph.messages(member)[sent]["type"] == "text"  # inside the window

    bot.clock.shift = timedelta(hours=24, minutes=1)
    try:
        await bot.app.push("whatsapp", Reply(member, "Commande n°2 payée.\nMerci !",
                                             [[Button("Voir", "cmd:orders")]]))
        await bot.app.notifier.drain()
    finally:
        bot.clock.shift = timedelta()
    template = graph.messages(member)[sent + 1]
    assert template["type"] == "template" and template["template"]["name"] == TEMPLATE
    assert template["template"]["language"] == {"code": "fr"}
    [parameter] = template["template"]["components"][0]["parameters"]
    assert parameter == {"type": "text", "text": "Commande n°2 payée. · Merci !"}

    # after a restart the window is read from the store: still inside it, free-form
    restarted = WhatsAppTransport(bot.app, bot.settings, WhatsAppOptions(TEMPLATE), clock=bot.clock)
    try:
        await restarted.send(Reply(member, "Bonjour"))
    finally:
        bot.app.connect("whatsapp", bot.transport.send, WHATSAPP)
        await restarted.close()
    assert graph.messages(member)[-1]["type"] == "text"


@in_module_loop
async def test_without_a_template_a_push_outside_the_window_is_not_sent_and_logged(bot, graph, caplog):
    never_wrote = "15550000006"
    untemplated = WhatsAppTransport(bot.app, bot.settings, WhatsAppOptions(template_notify=None))
    try:
        with caplog.at_level(logging.WARNING, logger="bot.transports.whatsapp"):
            await bot.app.push("whatsapp", Reply(never_wrote, "Your order was paid."))
            await bot.app.notifier.drain()
    finally:
        bot.app.connect("whatsapp", bot.transport.send, WHATSAPP)
        await untemplated.close()
    assert graph.messages(never_wrote) == []
    assert any("outside_24h_window_and_no_template" in r.getMessage() for r in caplog.records)
    assert never_wrote not in caplog.text  # numbers are masked in the logs


@in_module_loop
async def test_group_announcements_are_skipped_and_images_are_uploaded(bot, graph, tmp_path, caplog):
    sent = len(graph.calls)
    with caplog.at_level(logging.INFO, logger="bot.transports.whatsapp"):
        await bot.transport.send(Reply("group", "Order #1 is open"))
    assert len(graph.calls) == sent and "no_bot_group_chats" in caplog.text

    chart = tmp_path / "chart.png"
    chart.write_bytes(b"\x89PNG\r\n\x1a\nchart")
    await bot.transport.send(Reply(ADMIN, "Readings", image=str(chart)))
    upload, message = graph.calls[-2:]
    assert upload.path == f"/v21.0/{NUMBER_ID}/media" and upload.upload == chart.read_bytes()
    assert upload.body == {"messaging_product": "whatsapp", "type": "image/png"}
    assert message.body["image"] == {"id": upload.answer["id"], "caption": "Readings"}


@in_module_loop
async def test_media_gets_a_hint_and_reactions_or_other_numbers_get_nothing(bot, graph):
    stranger = "15550000007"
    message = json.loads(webhook(stranger, "x"))
    value = message["entry"][0]["changes"][0]["value"]
    value["messages"][0] = {"from": stranger, "id": "wamid.photo1", "type": "image", "image": {"id": "m1"}}
    assert await bot.post(json.dumps(message).encode()) == 200
    value["messages"][0] = {"from": stranger, "id": "wamid.react1", "type": "reaction",
                            "reaction": {"message_id": "wamid.out1", "emoji": "👍"}}
    assert await bot.post(json.dumps(message).encode()) == 200
    value["messages"][0] = {"from": stranger, "id": "wamid.other1", "type": "text", "text": {"body": "/help"}}
    value["metadata"]["phone_number_id"] = "2000"  # the business's other number: not ours to answer
    assert await bot.post(json.dumps(message).encode()) == 200
    assert await bot.post(b"[]") == 200  # signed but not a webhook: acknowledged, nothing done
    await bot.transport.drain()
    [hint] = graph.messages(stranger)
    assert "/help" in body(hint)


@in_module_loop
async def test_a_refused_send_raises_and_a_pushed_one_is_logged(bot, graph, caplog):
    wrong = WhatsAppTransport(bot.app, Settings.from_env({**bot.env, "WHATSAPP_TOKEN": "expired"}))
    try:
        with pytest.raises(SendError) as refused:
            await wrong.send(Reply(ADMIN, "hello"))
        assert (refused.value.status, refused.value.code, refused.value.transient) == (401, 190, False)
        with caplog.at_level(logging.WARNING):
            await bot.app.push("whatsapp", Reply(ADMIN, "hello"))
            await bot.app.notifier.drain()
        assert "undeliverable" in caplog.text and "expired" not in caplog.text
    finally:
        bot.app.connect("whatsapp", bot.transport.send, WHATSAPP)
        await wrong.close()
    assert not graph.calls[-1].authorized


@in_module_loop
async def test_no_log_line_of_an_exchange_holds_a_whole_phone_number(bot, graph, caplog):
    number = "15557654321"
    with caplog.at_level(logging.INFO):  # what `coop run` logs
        payload = webhook(number, "/help", message_id="wamid.masked1")
        assert [await bot.post(payload) for _ in range(2)] == [200, 200]  # Meta retries: logged as a duplicate
        await bot.transport.drain()
        await bot.send(number, "/balance")  # a stranger: told how to join
        graph.failures += [(503, {"message": "Service unavailable", "code": 2})]
        await bot.app.push("whatsapp", Reply(number, "Your order was paid."))  # retried once by the notifier
        await bot.app.notifier.drain()
    assert body(graph.messages(number)[-1]) == "Your order was paid."  # after one 503
    lines = [record.getMessage() for record in caplog.records]
    assert not [line for line in lines if number in line]  # never the whole number …
    assert [line for line in lines if "•••4321" in line], lines  # … though the exchange was logged about


@in_module_loop
async def test_failures_a_retry_cannot_double_are_told_to_the_notifier_as_retryable(bot, graph):
    graph.failures += [(503, {"message": "Service unavailable", "code": 2}),
                       (400, {"message": "Rate limit hit", "code": 130429}, {"Retry-After": "0.2"})]
    with pytest.raises(TransientError):
        await bot.transport.send(Reply(ADMIN, "one"))
    with pytest.raises(RetryAfter) as limited:
        await bot.transport.send(Reply(ADMIN, "two"))
    assert limited.value.seconds == 0.2
    await asyncio.sleep(0.2)  # the pause it asked for
    graph.failures += [None, (503, {"message": "Service unavailable", "code": 2})]
    with pytest.raises(SendError) as second_part:  # the first part went out: not retryable
        await bot.transport.send(Reply(ADMIN, "x" * 5000))
    assert not isinstance(second_part.value, TransientError)


# ---- the delivery contract (bot.notify) through the Graph API's answers ----


async def invited(bot: Bot, graph: GraphAPI, wa_id: str) -> None:
    await bot.send(ADMIN, "/invite 1")
    code = re.search(r"\b([A-Z2-7]{4}(?:-[A-Z2-7]{4}){3})\b", body(graph.messages(ADMIN)[-1])).group(1)
    await onboard(bot, graph, wa_id, code)


async def blocked(bot: Bot, wa_id: str) -> bool:
    async with bot.app.sessions() as session:
        return (await session.execute(select(Member.blocked).where(
            Member.channel == "whatsapp", Member.handle == wa_id))).scalar_one()


def status_failed(wa_id: str, code: int, message_id: str | None = None) -> bytes:
    """A status webhook: a message we sent to `wa_id` (the Graph API called it `message_id`) was accepted, then
    failed with `code`."""
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": "15550009999", "phone_number_id": NUMBER_ID},
             "statuses": [{"id": message_id or f"wamid.out{next(_ids)}", "status": "failed", "timestamp": "1700000000",
                           "recipient_id": wa_id, "errors": [{"code": code, "title": "Message undeliverable."}]}]}
    return json.dumps({"object": "whatsapp_business_account",
                       "entry": [{"id": "WABA1", "changes": [{"value": value, "field": "messages"}]}]}).encode()


@in_module_loop
async def test_a_rate_limit_on_a_push_pauses_the_whole_channel_then_it_arrives_once(bot, graph):
    first, other = "15550000021", "15550000022"
    await bot.send(first, "/help")  # strangers who wrote: inside their windows
    await bot.send(other, "/help")
    mark = len(graph.calls)
    graph.failures += [(429, {"message": "(#130429) Rate limit hit", "code": 130429}, {"Retry-After": "2"})]
    await bot.app.push("whatsapp", Reply(first, "Your order was paid."))
    while not [c for c in graph.calls[mark:] if c.status == 429]:
        await asyncio.sleep(0.02)
    await bot.app.push("whatsapp", Reply(other, "Order #3 is open."))  # another member, during the pause
    await bot.app.notifier.drain()
    limited, *tries = graph.calls[mark:]
    assert (limited.body["to"], limited.status) == (first, 429)
    assert sorted((c.body["to"], c.status) for c in tries) == [(first, 200), (other, 200)]
    assert all(c.at - limited.at >= 1.9 for c in tries)  # nothing went out during the pause
    assert [body(m) for m in graph.messages(first)].count("Your order was paid.") == 1


@in_module_loop
async def test_a_member_whatsapp_cannot_reach_is_marked_and_sent_nothing_more(bot, graph):
    member = "15550000023"
    await invited(bot, graph, member)
    mark = len(graph.tries(member))
    graph.failures += [(400, {"message": "(#131026) Message undeliverable", "code": 131026})]
    await bot.app.push("whatsapp", Reply(member, "Your order was paid."))
    await bot.app.push("whatsapp", Reply(member, "Order #4 is open."))
    await bot.app.notifier.drain()
    assert [c.status for c in graph.tries(member)[mark:]] == [400]  # the second was not even tried
    assert await blocked(bot, member)
    bot.app.notifier.unblock("whatsapp", member)  # as after a restart: the store's mark is what remains
    await bot.app.push("whatsapp", Reply(member, "Order #5 is open."))
    await bot.app.notifier.drain()
    assert len(graph.tries(member)) == mark + 1 and await blocked(bot, member)

    await bot.send(member, "/help")  # she writes again: reachable
    assert not await blocked(bot, member) and "/balance" in body(graph.messages(member)[-1])


@in_module_loop
async def test_a_failure_reported_later_by_webhook_marks_an_unreachable_member(bot, graph):
    member = "15550000024"
    await invited(bot, graph, member)
    assert await bot.post(status_failed(member, 131026)) == 200
    assert await blocked(bot, member)
    mark = len(graph.tries(member))
    with pytest.raises(Blocked):
        await bot.transport.send(Reply(member, "Order #6 is open."))
    assert len(graph.tries(member)) == mark


@in_module_loop
async def test_a_5xx_on_a_push_is_retried_and_it_arrives_once(bot, graph):
    number = "15550000025"
    await bot.send(number, "/help")
    mark = len(graph.tries(number))
    graph.failures += [(503, {"message": "Service unavailable", "code": 2}),
                       (500, {"message": "Something went wrong", "code": 131000})]
    await bot.app.push("whatsapp", Reply(number, "Your order was paid."))
    await bot.app.notifier.drain()
    assert [c.status for c in graph.tries(number)[mark:]] == [503, 500, 200]
    assert [body(m) for m in graph.messages(number)].count("Your order was paid.") == 1


@in_module_loop
async def test_a_window_the_graph_api_says_is_closed_gets_the_template_instead(bot, graph):
    number = "15550000026"
    await bot.send(number, "/help")
    mark = len(graph.tries(number))
    graph.failures += [(400, {"message": "(#131047) Re-engagement message", "code": 131047})]
    await bot.app.push("whatsapp", Reply(number, "Your order was paid."))
    await bot.app.notifier.drain()
    assert [(c.status, c.body["type"]) for c in graph.tries(number)[mark:]] == [(400, "text"), (200, "template")]


@in_module_loop
async def test_a_message_accepted_then_failed_for_a_closed_window_is_told_again_when_the_member_writes(bot, graph):
    member = "15550000027"
    await invited(bot, graph, member)
    await bot.app.telling.tell("test:window-closed", [("whatsapp", Reply(member, "Order #8 was bought."))])
    await bot.app.notifier.drain()
    [accepted] = [c for c in graph.tries(member) if c.status == 200 and body(c.body) == "Order #8 was bought."]
    assert await bot.post(status_failed(member, 131047, accepted.answer["messages"][0]["id"])) == 200

    await bot.app.telling.resend(all_untold=True)  # held for her: not sent again into the closed window
    await bot.app.notifier.drain()
    assert [body(m) for m in graph.messages(member)].count("Order #8 was bought.") == 1
    await bot.send(member, "/help")  # she writes: her window is open again
    await bot.app.notifier.drain()
    await bot.app.telling.resend(all_untold=True)  # told now, so not again
    await bot.app.notifier.drain()
    told = [m for m in graph.messages(member) if body(m) == "Order #8 was bought."]
    assert len(told) == 2 and told[-1]["type"] == "text"


def test_rendering_shortens_titles_and_splits_long_lists():
    long = Button("Confirmar el depósito ahora", "ok:abc")
    [message] = render(Reply("1555", "¿Seguro?", [[long, Button("Cancelar", "no:abc")]]))
    assert [b["reply"]["title"] for b in message["interactive"]["action"]["buttons"]] == [
        "Confirmar el depósi…", "Cancelar"]
    many = [[Button(f"Order number {i} of the week", f"join:{i}")] for i in range(12)]
    first, second = render(Reply("1555", "Orders", many))
    assert [len(rows(first)), len(rows(second))] == [10, 2]
    assert all(len(r["title"]) <= 24 for r in rows(first)) and rows(second)[1]["id"] == "join:11"
    long_text = "x" * 1500
    ahead, buttons = render(Reply("1555", long_text, [[long]]))
    assert ahead["text"]["body"] == long_text and len(buttons["interactive"]["body"]["text"]) <= 1024


def test_the_command_refuses_to_start_without_whatsapp_settings(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "COOP_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "whatsapp", "--data-dir", str(tmp_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "WHATSAPP_TOKEN" in done.stderr and not done.stdout


def test_the_command_serves_the_webhook_until_sigint(tmp_path, env):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "whatsapp", "--data-dir", str(tmp_path), "--admin", ADMIN], cwd=ROOT,
        env={**os.environ, **env, "COOP_HTTP_PORT": str(port), "COOP_DEV": "1"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        url = f"http://127.0.0.1:{port}/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=42&hub.verify_token={VERIFY}"
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.get(url, timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()[-2000:]
                time.sleep(0.2)
        assert answer.status_code == 200 and answer.text == "42"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
        assert process.stdout.read() == ""
    finally:
        if process.poll() is None:
            process.kill()


@in_module_loop
async def test_a_send_names_a_whatsapp_sender_to_the_recipient_by_their_numbers_last_digits_only(bot, graph):
    """The recipient is a neighbour, not someone the sender gave their phone number to."""
    member = "34600000042"
    await bot.send(ADMIN, "/invite 1")
    code = re.search(r"\b([A-Z2-7]{4}(?:-[A-Z2-7]{4}){3})\b", body(graph.messages(ADMIN)[-1])).group(1)
    await onboard(bot, graph, member, code)
    await bot.send(ADMIN, f"/deposit {member} 10")
    before = len(graph.messages(member))
    await bot.send(ADMIN, press=reply_buttons(graph.messages(ADMIN)[-1])[0]["id"], kind="button_reply")
    await graph.wait_for(member, count=before + 1)  # the deposit, told

    await bot.send(member, f"/send {ADMIN} 3")
    before = len(graph.messages(ADMIN))
    await bot.send(member, press=reply_buttons(graph.messages(member)[-1])[0]["id"], kind="button_reply")
    told = [body(m) for m in (await graph.wait_for(ADMIN, count=before + 1))[before:]]
    assert "•••0042 sent you $3.00." in told[0] and "600000042" not in told[0]
