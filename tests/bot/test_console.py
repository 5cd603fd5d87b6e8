"""The assistant end to end through `coop console --jsonl` (a subprocess on embedded defaults)."""
import re
import time


from handlers import admin
from locales import Translator
from tests.bot.console import Console, button, open_order


def onboard(console: Console, name: str, lang: str, code: str | None = None, language_button: int = 0) -> None:
    console.send(**{"from": name, "text": f"/start {code}" if code else "/start", "lang": lang})
    choice = console.expect(name, "·")
    console.send(**{"from": name, "press": button(choice, language_button)})
    console.expect(name)  # the welcome
    console.expect(name)  # the menu


def test_onboarding_a_deposit_and_a_join_with_confirmations(console):
    onboard(console, "admin", "en")
    console.send(**{"from": "admin", "text": "/invite 1"})
    invite = console.expect("admin", "/start")["text"]
    assert "tap" not in invite  # the console has no link to tap: the code alone is offered
    code = re.search(r"\b([A-Z2-7]{4}(?:-[A-Z2-7]{4}){3})\b", invite).group(1)

    console.send(**{"from": "ana", "text": "/join 1 2", "lang": "es"})
    console.expect("ana", "/start")  # a stranger is told how to join
    console.send(**{"from": "ana", "text": f"/start {code}", "lang": "es-419"})
    choice = console.expect("ana", "·")
    assert button(choice, 0) == "lang:es"  # her phone's language first
    console.send(**{"from": "ana", "press": "lang:es"})
    console.expect("ana", "Food-USD")

    console.send(**{"from": "admin", "text": "/deposit ana 50"})
    offer = console.expect("admin", "ana")
    assert [b["data"][:3] for row in offer["buttons"] for b in row] == ["ok:", "no:"]
    console.send(**{"from": "admin", "press": button(offer, 0)})
    console.expect("admin")
    console.expect("ana", "50,00")  # told of the deposit, in Spanish

    open_order(console, "/neworder rice 18.50 10 2 7")
    console.heard("admin", "Order #1 is open")  # open on chain
    console.expect("group", "#1")
    console.send(**{"from": "ana", "text": "/join 1 2"})
    offer = console.expect("ana", "#1")
    console.send(**{"from": "ana", "press": button(offer, 0)})
    console.expect("ana")  # on its way
    console.send(**{"from": "ana", "press": button(offer, 0)})  # a double tap
    console.heard("ana", "Ya lo confirmaste; se hace una sola vez.")
    console.heard("ana", "Listo. Tu saldo de Food-USD ahora es 13,00")  # 50 − 2 × 18,50, once
    assert console.close() == 0
    assert sum("Listo." in r["text"] for r in console.seen + console.rest() if r["to"] == "ana") == 1


def invite_code(console: Console) -> str:
    console.send(**{"from": "admin", "text": "/invite 1"})
    return re.search(r"\b([A-Z2-7]{4}(?:-[A-Z2-7]{4}){3})\b", console.expect("admin", "/start")["text"]).group(1)


def confirm(console: Console, who: str, offer: dict) -> None:
    console.send(**{"from": who, "press": button(offer, 0)})


def test_order_reaching_its_target_is_bought_and_members_hear_it(console):
    onboard(console, "admin", "en")
    onboard(console, "raj", "bn", invite_code(console))
    console.send(**{"from": "admin", "text": "/deposit raj 10"})
    confirm(console, "admin", console.expect("admin", "raj"))
    console.expect("raj", "১০.০০")  # told in Bengali, with Bengali digits
    open_order(console, "/neworder beans 2.50 2 2 3")
    console.expect("group", "#1")
    console.send(**{"from": "raj", "text": "/join ১ ২"})  # Bengali digits typed
    offer = console.expect("raj", "৫.০০")
    confirm(console, "raj", offer)
    console.expect("group", "#1")  # reached its goal and was bought
    console.expect("raj", "২")  # his two units
    assert console.close() == 0


def test_spanish_amounts_are_read_the_spanish_way(console):
    onboard(console, "admin", "es", language_button=0)
    onboard(console, "eva", "es", invite_code(console))
    console.send(**{"from": "admin", "text": "/deposit eva 12,50"})
    confirm(console, "admin", console.expect("admin", "eva"))
    console.expect("eva", "12,50")
    console.send(**{"from": "admin", "text": "/deposit eva 12,505"})
    assert "12,50" in console.expect("admin", "")["text"]  # too many decimals: an example in her format
    console.send(**{"from": "admin", "text": "/deposit eva -5"})
    console.expect("admin", "")
    console.send(**{"from": "admin", "text": "/deposit eva 0"})  # nothing to record: no confirmation offered
    refusal = console.expect("admin", "")
    assert "buttons" not in refusal and refusal["text"].startswith(Translator("es").t(
        "“{typed}” is zero; it must be more than zero. For example: {example}", typed="0", example="12,50"))
    assert console.close() == 0


ADMIN_COMMANDS = ["/admin", "/invite 2", "/neworder rice 18.50 10", "/deposit admin 20", "/certify admin lot-1 2",
                  "/broadcast hello", "/stats", "/threshold temp_c 18 27", "/device add hq esp32-a1", "/link tom",
                  "/closeorder 1", "/withdraw admin 1", "/members"]


def test_a_non_admin_gets_a_polite_refusal_for_every_admin_command(console):
    assert {command.split()[0][1:] for command in ADMIN_COMMANDS} == set(admin.COMMANDS)  # the table is complete
    onboard(console, "admin", "en")
    onboard(console, "tom", "en", invite_code(console))
    for command in ADMIN_COMMANDS:
        console.send(**{"from": "tom", "text": command})
        reply = console.expect("tom", "")
        assert "only the co-op's admins" in reply["text"] and "buttons" not in reply, command
    console.send(**{"from": "tom", "text": "/balance"})
    assert "$0.00" in console.expect("tom", "Food-USD")["text"]  # no deposit happened
    assert console.close() == 0
    assert not any(r["to"] == "group" for r in console.seen + console.rest())  # no order, no broadcast


def test_cancel_then_confirm_does_nothing_and_says_so(console):
    onboard(console, "admin", "en")
    onboard(console, "zoe", "fr", invite_code(console))  # French
    console.send(**{"from": "admin", "text": "/deposit zoe 5"})
    offer = console.expect("admin", "zoe")
    console.send(**{"from": "admin", "press": button(offer, 1)})  # cancel
    console.expect("admin", "Cancelled")
    console.send(**{"from": "admin", "press": button(offer, 0)})  # confirm after cancel
    console.expect("admin", "already cancelled")
    console.send(**{"from": "zoe", "text": "/balance"})
    assert "0,00" in console.expect("zoe", "Food-USD")["text"]  # nothing was deposited; French number format
    assert console.close() == 0


def test_a_confirm_pressed_before_a_crash_completes_after_it(tmp_path):
    data = tmp_path / "data"
    first = Console(data)
    onboard(first, "admin", "en")
    onboard(first, "ken", "en", invite_code(first))
    first.send(**{"from": "admin", "text": "/deposit ken 7"})
    offer = first.expect("admin", "ken")
    first.send(**{"from": "admin", "press": button(offer, 0)})
    first.expect("admin", "On its way")
    first.process.kill()  # before the outcome (or right after): nothing may be lost or done twice
    first.process.wait()
    again = Console(data)
    try:
        again.expect("ken", "$7.00")  # the outcome, told after the restart
        again.send(**{"from": "ken", "text": "/balance"})
        assert "$7.00" in again.expect("ken", "Food-USD")["text"]  # the deposit happened, once
        assert again.close() == 0
    finally:
        if again.process.poll() is None:
            again.process.kill()


def test_the_chat_side_runs_on_postgresql(tmp_path):
    """COOP_DATABASE_URL at PostgreSQL: onboarding and a confirmed deposit (CI has PostgreSQL)."""
    from tests.chain.conftest import _postgres_database

    for url in _postgres_database():
        c = Console(tmp_path / "data", env={"COOP_DATABASE_URL": url})
        try:
            onboard(c, "admin", "en")
            onboard(c, "liv", "es", invite_code(c))
            c.send(**{"from": "admin", "text": "/deposit liv 3"})
            confirm(c, "admin", c.expect("admin", "liv"))
            c.expect("liv", "3,00")
            assert c.close() == 0
        finally:
            if c.process.poll() is None:
                c.process.kill()


def test_the_console_says_on_stderr_when_it_is_ready_and_stdout_stays_protocol(console):
    deadline = time.monotonic() + 120
    while "ready: type JSON lines\n" not in console.stderr:
        assert time.monotonic() < deadline and console.process.poll() is None, "".join(console.stderr)[-3000:]
        time.sleep(0.1)
    # Once ready, members are answered in their languages, and every stdout line is JSON (expect parses it).
    onboard(console, "admin", "en")
    console.send(**{"from": "admin", "text": "/help"})
    console.expect("admin", "/balance")
    console.send(**{"from": "ana", "text": "/balance", "lang": "es"})
    stranger = console.expect("ana", "/start")["text"]
    assert stranger == Translator("es").t("You are not a member yet. Ask an admin for an invite code and send "
                                          "/start CODE."), stranger
    assert console.close() == 0
    assert console.stderr.count("ready: type JSON lines\n") == 1
