"""Identity end to end: a member is who the channel says (Telegram's numeric id, WhatsApp's number), never a name
they can give away. One App for the module with both transports: Telegram by polling a local Bot API server,
WhatsApp by signed webhooks answered through a local Graph API."""
import asyncio
import hashlib
import hmac
import re
from datetime import timedelta

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from eth_utils import keccak
from sqlalchemy import delete, func, select

from bot.app import App
from bot.settings import Settings, SettingsError
from bot.store import Admin, Invite, Member, PendingAction
from bot.transports.telegram import TelegramTransport
from bot.transports.whatsapp import WhatsAppTransport
from bot.web.app import make_web_app
from chain.db import Intent, SmartAccount
from core.admin import new_code
from core.onboarding import PER_SENDER, InviteAttempts
from handlers.base import Inbound
from locales import Translator
from tests.bot.graph_api import GraphAPI
from tests.bot.telegram_api import BOT_USER, TelegramAPI
from tests.bot.test_whatsapp import NUMBER_ID, SECRET, TOKEN, VERIFY, body, reply_buttons, rows, webhook

in_module_loop = pytest.mark.asyncio(loop_scope="module")  # the App is shared by the module

BOSS = 1  # the Telegram admin
WA_ADMIN = "15551234567"  # the WhatsApp admin's number
BUSINESS = "15550009999"  # the co-op's WhatsApp business number, for click-to-chat links
CODE = re.compile(r"\b([A-Z2-7]{4}(?:-[A-Z2-7]{4}){3})\b")
STRANGER = "You are not a member yet. Ask an admin for an invite code and send /start CODE."
NEEDS_INVITE = "Welcome! To join the co-op's assistant you need an invite code from an admin."
ONLY_ADMINS = "Sorry, only the co-op's admins can do that."


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def coop(tmp_path_factory):
    api, graph = TelegramAPI(), await GraphAPI(TOKEN, NUMBER_ID).start()
    await api.start()
    env = {"TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_BASE": api.base, "WHATSAPP_TOKEN": TOKEN,
           "WHATSAPP_PHONE_NUMBER_ID": NUMBER_ID, "WHATSAPP_API_BASE": graph.url, "WHATSAPP_APP_SECRET": SECRET,
           "WHATSAPP_VERIFY_TOKEN": VERIFY, "COOP_WHATSAPP_NUMBER": "+1 555 000 9999",
           "COOP_ADMINS": f"telegram:{BOSS}, whatsapp:+{WA_ADMIN}"}
    settings = Settings.from_env(env, data_dir=tmp_path_factory.mktemp("identity"))
    app = App(settings)
    whatsapp = WhatsAppTransport(app, settings)
    await app.start()
    telegram = await TelegramTransport(app, settings).start()
    client = TestClient(TestServer(make_web_app(app, whatsapp.add_routes)))
    await client.start_server()
    coop = Coop(app, api, graph, whatsapp, client)
    await coop.tg(BOSS, "/start", "boss", "·")
    await coop.tg_press(BOSS, "lang:en", "boss", "What would you like to do?")
    await coop.wa(WA_ADMIN, "/start")
    await coop.wa(WA_ADMIN, press="lang:en")
    yield coop
    await client.close()
    await whatsapp.close()
    await telegram.stop()
    await app.stop()
    await api.close()
    await graph.close()


class Coop:
    def __init__(self, app, api, graph, whatsapp, client):
        self.app, self.api, self.graph, self.whatsapp, self.client = app, api, graph, whatsapp, client

    async def tg(self, user: int, text: str, username: str | None = None, contains: str = "") -> str:
        """A Telegram message; the text of the first reply containing `contains`."""
        mark = len(self.api.calls)
        await self.api.queue(self.api.message(user, text, username=username, lang="en"))
        return (await self.api.wait_for("sendMessage", user, contains, after=mark)).params["text"]

    async def tg_press(self, user: int, data: str, username: str | None = None, contains: str = "") -> str:
        mark = len(self.api.calls)
        await self.api.queue(self.api.press(user, data, username=username, lang="en"))
        return (await self.api.wait_for("sendMessage", user, contains, after=mark)).params["text"]

    async def tg_offer(self, user: int, text: str, username: str | None = None) -> str:
        """The confirm button's data of the offer `text` makes."""
        mark = len(self.api.calls)
        await self.api.queue(self.api.message(user, text, username=username))
        call = await self.api.wait_for("sendMessage", user, after=mark)
        assert call.buttons, call.params["text"]
        return call.buttons[0]["callback_data"]

    async def wa(self, wa_id: str, text: str | None = None, press: str | None = None) -> list[dict]:
        """A signed WhatsApp message, handled and answered; the messages sent to `wa_id` meanwhile."""
        before = len(self.graph.messages(wa_id))
        payload = webhook(wa_id, text, press)
        signature = "sha256=" + hmac.new(SECRET.encode(), payload, hashlib.sha256).hexdigest()
        response = await self.client.post("/webhooks/whatsapp", data=payload, headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": signature})
        assert response.status == 200
        await self.whatsapp.drain()
        return self.graph.messages(wa_id)[before:]

    async def join_telegram(self, user: int, username: str) -> None:
        code = CODE.search(await self.tg(BOSS, "/invite", "boss", "/start")).group(1)
        await self.tg(user, f"/start {code}", username, "·")
        await self.tg_press(user, "lang:en", username, "What would you like to do?")

    async def member(self, channel: str, handle: str) -> Member | None:
        async with self.app.sessions() as session:
            return (await session.execute(select(Member).where(
                Member.channel == channel, Member.handle == handle))).scalar_one_or_none()

    async def count(self, model) -> int:
        async with self.app.sessions() as session:
            return (await session.execute(select(func.count()).select_from(model))).scalar_one()


@in_module_loop
async def test_a_second_telegram_user_who_takes_a_members_old_username_is_a_stranger(coop):
    await coop.join_telegram(2, "ana")
    ana = await coop.member("telegram", "2")
    assert (ana.alias, ana.member_id[:2]) == ("ana", "r_")  # keyed on her id; her own resident id
    await coop.tg(2, "/balance", "ana_rivera", "Food-USD")  # she changes her username: still her
    assert (await coop.member("telegram", "2")).alias == "ana_rivera"
    accounts = await coop.count(SmartAccount)

    # Someone else takes "ana", and the admin's old name "boss" as well.
    assert await coop.tg(77, "/balance", "ana") == STRANGER
    assert (await coop.tg(77, "/start", "ana")).startswith(NEEDS_INVITE)  # not let in
    assert await coop.tg(78, "/invite", "boss") == STRANGER
    assert (await coop.tg(78, "/start", "boss")).startswith(NEEDS_INVITE)  # an admin would need no invite
    assert await coop.member("telegram", "77") is None and await coop.member("telegram", "78") is None
    assert await coop.count(SmartAccount) == accounts  # no wallet for them

    # Admins type aliases: @ana is nobody's now (the new holder is no member); her new name is her.
    assert await coop.tg(BOSS, "/deposit @ana 5", "boss") == "There is no member called @ana."
    assert "@ana_rivera" in await coop.tg(BOSS, "/deposit @ana_rivera 5", "boss", "Record a cash deposit")


@in_module_loop
async def test_a_freed_username_taken_by_someone_else_leaves_its_old_member(coop):
    await coop.join_telegram(3, "carl")
    assert (await coop.member("telegram", "3")).alias == "carl"
    await coop.tg(79, "/help", "carl")  # Carl let the name go, someone else took it; Carl has not written since
    assert (await coop.member("telegram", "3")).alias is None
    assert await coop.tg(BOSS, "/deposit @carl 5", "boss") == "There is no member called @carl."
    assert "Record a cash deposit" in await coop.tg(BOSS, "/deposit telegram:3 5", "boss")  # by id still works


@in_module_loop
async def test_a_telegram_id_equal_to_an_admins_whatsapp_number_is_not_an_admin(coop):
    assert (await coop.tg(int(WA_ADMIN), "/start", "lookalike")).startswith(NEEDS_INVITE)
    assert await coop.tg(int(WA_ADMIN), "/invite", "lookalike") == STRANGER
    assert await coop.member("telegram", WA_ADMIN) is None
    # The number is an admin on WhatsApp, where it was written for.
    assert CODE.search(body((await coop.wa(WA_ADMIN, "/invite"))[0]))


@in_module_loop
async def test_an_invite_arrives_as_a_tappable_link_and_tapping_it_joins(coop):
    text = await coop.tg(BOSS, "/invite", "boss", "/start")
    shown = CODE.search(text).group(1)
    code = shown.replace("-", "")
    assert len(code) == 16  # 80 bits in base32
    assert f"https://t.me/{BOT_USER['username']}?start={code}" in text.split()  # a link the client makes tappable
    assert f"https://wa.me/{BUSINESS}?text=%2Fstart%20{code}" in text.split()
    # Tapping the deep link opens the chat and sends /start CODE for the new member.
    await coop.tg(4, f"/start {code}", "dee", "·")
    assert (await coop.member("telegram", "4")).invite_code == code


@in_module_loop
async def test_an_expired_confirm_does_nothing_and_says_so_in_the_members_language(coop):
    await coop.wa(WA_ADMIN, "/lang es")
    offer = await coop.wa(WA_ADMIN, f"/deposit whatsapp:+{WA_ADMIN} 5")  # the WhatsApp admin, to themself
    token = reply_buttons(offer[0])[0]["id"]
    async with coop.app.sessions() as session, session.begin():  # 16 minutes pass
        action = await session.get(PendingAction, token[3:])
        action.created_at -= timedelta(minutes=16)
    for _ in range(2):  # pressed late, and again
        said = body((await coop.wa(WA_ADMIN, press=token))[0])
        assert said == Translator("es").tn(
            "Sorry, this offer expired: offers last {minutes} minute. Nothing was done; please send the command "
            "again if you still want it.", "Sorry, this offer expired: offers last {minutes} minutes. Nothing was "
            "done; please send the command again if you still want it.", 15, minutes="15")
    async with coop.app.sessions() as session:
        action = await session.get(PendingAction, token[3:])
        assert (action.state, action.intent_id) == ("expired", None)
        assert (await session.execute(select(Intent).where(Intent.idempotency_key == token[3:]))).first() is None


@in_module_loop
async def test_a_confirm_pressed_after_the_admin_was_removed_does_nothing(coop):
    await coop.join_telegram(5, "dan")
    async with coop.app.sessions() as session, session.begin():
        session.add(Admin(channel="telegram", handle="5"))  # an admin added in the database
    confirm = await coop.tg_offer(5, "/deposit @dan 100", "dan")
    async with coop.app.sessions() as session, session.begin():
        await session.execute(delete(Admin).where(Admin.channel == "telegram", Admin.handle == "5"))
    assert await coop.tg_press(5, confirm, "dan") == ONLY_ADMINS
    async with coop.app.sessions() as session:
        action = await session.get(PendingAction, confirm[3:])
        assert (action.state, action.intent_id) == ("offered", None)
        assert (await session.execute(select(Intent).where(Intent.idempotency_key == confirm[3:]))).first() is None
    assert "$0.00" in await coop.tg(5, "/balance", "dan", "Food-USD")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@in_module_loop
async def test_ten_thousand_wrong_invite_codes_grant_nothing_and_are_throttled(coop):
    clock = Clock()
    coop.app.invite_attempts = InviteAttempts(clock=clock)
    good = CODE.search(await coop.tg(BOSS, "/invite", "boss", "/start")).group(1)
    members, invites = await coop.count(Member), await coop.count(Invite)
    invalid = Translator("en").t("Sorry, that invite code is not valid (it may be used or expired). "
                                 "Please ask an admin for a new one.")

    async def attempt(sender: int, code: str) -> str:
        replies = await coop.app.handle(Inbound(channel="telegram", user=str(sender), text=f"/start {code}"))
        return replies[0].text

    # One stranger: five tries, then a polite wait.
    answers = [await attempt(90_000, new_code()) for _ in range(PER_SENDER[0] + 1)]
    assert answers[:-1] == [invalid] * PER_SENDER[0]
    assert answers[-1] == ("Too many invite codes were tried that did not work. For everyone's safety, please wait "
                           "5 minutes and try again.")
    # Then 10,000 more from a crowd of strangers, 500 at a time, ten each.
    answers = []
    for batch in range(20):
        answers += await asyncio.gather(*(attempt(100_000 + batch * 50 + i % 50, new_code()) for i in range(500)))
    checked = sum(a == invalid for a in answers)
    assert checked <= 30  # everyone together gets few tries; the rest were not even looked up
    assert sum(a.startswith("Too many invite codes") for a in answers) == 10_000 - checked
    assert (await coop.count(Member), await coop.count(Invite)) == (members, invites)  # nobody got in

    # The good code waits too, while the door is busy; after the wait it works.
    assert (await attempt(99, good)).startswith("Too many invite codes")
    clock.now += 60
    assert (await attempt(99, good)).startswith("Choose your language")
    assert await coop.member("telegram", "99") is not None


@in_module_loop
async def test_link_makes_a_second_channel_the_same_resident_with_one_wallet_and_one_vote(coop):
    await coop.join_telegram(6, "eli")
    eli = await coop.member("telegram", "6")
    number = "15550006666"
    said = await coop.tg(BOSS, "/link @eli", "boss")
    assert said.startswith("A link code for @eli")
    code = re.search(r"[A-Z2-7]{4}(?:-[A-Z2-7]{4}){3}", said).group(0)
    assert f"?start={code.replace('-', '')}" in said  # a link to tap, as invites are

    # From WhatsApp Eli sends the code, is asked a language once, then is Eli: the same wallet.
    choice = (await coop.wa(number, f"/start {code}"))[0]
    linked = await coop.member("whatsapp", number)
    assert linked.member_id == eli.member_id
    assert [row["id"] for row in rows(choice)][0] == "lang:en"
    assert "Welcome to the co-op!" in body((await coop.wa(number, press="lang:en"))[0])
    confirm = await coop.tg_offer(BOSS, "/deposit @eli 7", "boss")
    await coop.tg_press(BOSS, confirm, "boss", "On its way")
    await coop.api.wait_for("sendMessage", 6, "A cash deposit of $7.00")  # told on Telegram…
    for _ in range(100):  # …and on WhatsApp
        if any("A cash deposit of $7.00" in body(m) for m in coop.graph.messages(number)):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the deposit was not told on WhatsApp")
    assert "$7.00" in body((await coop.wa(number, "/balance"))[0])
    assert "$7.00" in await coop.tg(6, "/balance", "eli", "Food-USD")
    async with coop.app.sessions() as session:
        accounts = list((await session.execute(select(SmartAccount).where(
            SmartAccount.member_id == eli.member_id))).scalars())
        registrations = (await session.execute(select(func.count()).select_from(Intent).where(
            Intent.kind == "register", Intent.member_id == eli.member_id))).scalar_one()
    assert (len(accounts), registrations) == (1, 1)
    # The registry counts the resident's own id, not a channel handle.
    registry = coop.app.contracts.registry.functions
    for _ in range(300):
        if await coop.app.read(registry.isMember(accounts[0].address).call):
            break
        await asyncio.sleep(0.1)
    assert await coop.app.read(registry.residentOf(accounts[0].address).call) == keccak(text=eli.member_id)

    # A member of their own who sends a link code stays who they were (two wallets are never merged); the code
    # works once, for the next identity that sends it.
    code = re.search(r"[A-Z2-7]{4}(?:-[A-Z2-7]{4}){3}", await coop.tg(BOSS, "/link @eli", "boss")).group(0)
    await coop.join_telegram(61, "fay")
    assert "Welcome back" in await coop.tg(61, f"/start {code}", "fay")
    assert (await coop.member("telegram", "61")).member_id != eli.member_id
    await coop.wa("15550007777", f"/start {code}")
    assert (await coop.member("whatsapp", "15550007777")).member_id == eli.member_id
    assert "not valid" in body((await coop.wa("15550008888", f"/start {code}"))[0])
    assert await coop.member("whatsapp", "15550008888") is None


# ---- settings ----


def test_a_bare_admin_entry_is_refused_and_says_how_to_write_it(tmp_path):
    with pytest.raises(SettingsError, match="telegram:123456789, whatsapp:"):
        Settings.from_env({"COOP_ADMINS": "luis"}, data_dir=tmp_path)
    with pytest.raises(SettingsError, match="numeric user id"):
        Settings.from_env({"COOP_ADMINS": "telegram:@ana"}, data_dir=tmp_path)
    settings = Settings.from_env({"COOP_ADMINS": "telegram:123, whatsapp:+1 (555) 123-4567, console:luis"},
                                 data_dir=tmp_path, admins=("ana",), admin_channel="console")
    assert settings.admins == {"telegram:123", "whatsapp:15551234567", "console:luis", "console:ana"}
    with pytest.raises(SettingsError, match="numeric user id"):  # `coop telegram --admin ana`
        Settings.from_env({}, data_dir=tmp_path, admins=("ana",), admin_channel="telegram")


@in_module_loop
async def test_what_the_co_op_could_not_do_by_itself_is_told_to_the_admins_on_their_own_channels(coop):
    await coop.join_telegram(7, "gil")  # a member who is no admin
    mark = len(coop.api.calls)
    await coop.app.announcer.keeper_gave_up("test:order-41", "finalize", 41, 5, None)
    await coop.api.wait_for("sendMessage", BOSS, "Order #41 could not be closed by itself", after=mark)
    for _ in range(100):
        if any("#41" in body(m) for m in coop.graph.messages(WA_ADMIN)):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the WhatsApp admin was not told")
    await asyncio.sleep(0.2)
    assert [c.params["chat_id"] for c in coop.api.calls[mark:] if "#41" in c.params.get("text", "")] == [str(BOSS)]


@in_module_loop
async def test_a_member_typed_ambiguously_is_asked_for_with_its_channel_and_nothing_is_offered(coop):
    twin = "15550004444"  # a Telegram user whose id is a WhatsApp member's number
    await coop.join_telegram(int(twin), "twin")
    code = CODE.search(await coop.tg(BOSS, "/invite", "boss", "/start")).group(1)
    await coop.wa(twin, f"/start {code}")
    await coop.wa(twin, press="lang:en")
    said = await coop.tg(BOSS, f"/deposit {twin} 5", "boss")
    assert said.startswith(f"More than one member goes by {twin} (telegram:{twin}, whatsapp:+{twin})")
    async with coop.app.sessions() as session:
        offered = (await session.execute(select(func.count()).select_from(PendingAction).where(
            PendingAction.kind == "deposit", PendingAction.params["for_member_id"].as_string().in_(
                [(await coop.member(c, twin)).member_id for c in ("telegram", "whatsapp")])))).scalar_one()
    assert offered == 0
    # Written with its channel (or as a phone number, which is WhatsApp's), it is that one member.
    assert (await coop.tg(BOSS, f"/deposit whatsapp:+{twin} 5", "boss")).startswith("Record a cash deposit")
    assert (await coop.tg(BOSS, f"/deposit +{twin} 5", "boss")).startswith("Record a cash deposit")
