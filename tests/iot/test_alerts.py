"""Sensor alerts end to end: boards publish to the real broker, `coop console --jsonl` ingests and tells the
members who subscribed, in their language; and the alert service's timing on its own (quiet hours, restarts).

Readings carry their own `ts`, so the debounce (300 s for a warning, 120 s for a critical) is crossed by
timestamps, not by waiting.
"""
import json
import sqlite3
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from iot.alerts import OFFLINE, SUMMARY, Alerts, QuietHours
from tests.bot.console import Console, button
from tests.bot.test_console import invite_code, onboard
from tests.iot.conftest import register


def start_console(tmp_path, mqtt_url: str, site: str, quiet: str = "",
                  devices: tuple[str, ...] = ("tank1", "tank2")) -> Console:
    """The console with admin, ana (es) and bob, and boards tank1 and tank2 (or `devices`) of `site` registered;
    ana and admin get alerts."""
    console = Console(tmp_path / "data", env={"COOP_MQTT_URL": mqtt_url, "COOP_QUIET_HOURS": quiet})
    onboard(console, "admin", "en")
    onboard(console, "ana", "es", invite_code(console))
    onboard(console, "bob", "en", invite_code(console))
    for board in devices:
        console.send(**{"from": "admin", "text": f"/device add {site} {board}"})
        console.expect("admin", f"Board {board} at {site} is registered")
    for who in ("ana", "admin"):
        console.send(**{"from": who, "text": "/alerts on"})
        console.expect(who, "")
    return console


def readings_showing(console: Console, who: str, text: str) -> str:
    """/readings as `who` until it shows `text` (a reading just published is stored in a moment)."""
    deadline = time.monotonic() + 30
    while True:
        console.send(**{"from": who, "text": "/readings"})
        shown = console.expect(who, "")["text"]
        if text in shown:
            return shown
        assert time.monotonic() < deadline, f"/readings never showed {text!r}: {shown}"
        time.sleep(0.3)


def ingesting(console: Console, board, ts: float) -> None:
    """A first, normal reading; waits until /readings shows it (the console is subscribed and storing)."""
    board.reading(1, ts=ts, water_temp_c=21.0, temp_c=22.0)
    deadline = time.monotonic() + 30
    while True:
        console.send(**{"from": "bob", "text": "/readings"})
        shown = console.expect("bob", "")["text"]
        if "21.0 °C" in shown:
            return
        assert time.monotonic() < deadline, f"the console never showed the first reading: {shown}"
        time.sleep(0.3)


@pytest.fixture
def console_closer():
    made = []
    yield made.append
    for console in made:
        if console.process.poll() is None:
            console.process.kill()


def test_an_alert_once_per_subscriber_in_their_language_then_one_recovery(tmp_path, mqtt_url, boards, site,
                                                                          console_closer):
    console = start_console(tmp_path, mqtt_url, site)
    console_closer(console)
    board, t0 = boards("tank1"), time.time() - 3600
    ingesting(console, board, t0)

    # Too warm for 320 s (past the 300 s debounce): one warning each, none to the group.
    for seq, (dt, value) in enumerate([(10, 25.4), (200, 25.6), (320, 25.8), (330, 25.9)], start=2):
        board.reading(seq, ts=t0 + dt, water_temp_c=value)
    ana = console.heard("ana", "El agua está demasiado caliente")["text"]
    assert "25,8 °C" in ana and "segura hasta 24,0 °C" in ana and "(sensor tank1)" in ana
    assert "The water is too warm: 25.8 °C (safe up to 24.0 °C). Check the chiller." in \
        console.heard("admin", "too warm")["text"]
    # Back inside by the hysteresis: one recovery each.
    board.reading(6, ts=t0 + 400, water_temp_c=23.9)
    board.reading(7, ts=t0 + 410, water_temp_c=23.5)
    console.heard("ana", "Todo normal otra vez: la temperatura del agua está en 23,5 °C")
    console.heard("admin", "Back to normal")

    # A critical one also reaches the group; a board that drops off is told by its last will.
    board.reading(8, ts=t0 + 500, water_temp_c=28.2)
    board.reading(9, ts=t0 + 630, water_temp_c=28.4)
    assert console.heard("group", "Urgent: The water is too warm: 28.4 °C")
    console.heard("ana", "Urgente:")
    other = boards("tank2")
    other.publish("online", kind="status", retain=True).wait_for_publish(5)
    other.drop()
    console.heard("ana", "El sensor tank2 dejó de enviar datos")
    board.wait_sent()
    assert console.close() == 0

    told = [r for r in console.seen + console.rest() if r["to"] in ("ana", "admin", "bob", "group")]
    for who in ("ana", "admin"):
        texts = [r["text"] for r in told if r["to"] == who]
        assert sum("25,8" in t or "25.8" in t for t in texts) == 1, texts  # no repeats while it lasted
        assert sum("23,5" in t or "23.5" in t for t in texts) == 1, texts
    assert not any("tank1)" in r["text"] for r in told if r["to"] == "bob")  # bob did not subscribe
    assert [r["text"] for r in told if r["to"] == "group" and "25.8" in r["text"]] == []  # a warning


def test_quiet_hours_hold_a_warning_and_pass_a_critical_and_say_so_to_who_asks(tmp_path, mqtt_url, boards, site,
                                                                                   console_closer):
    here = datetime.now(ZoneInfo("America/New_York"))  # COOP_TIMEZONE's default
    end = f"{(here + timedelta(hours=1)):%H:%M}"
    quiet = f"{(here - timedelta(hours=1)):%H:%M}-{end}"  # now is quiet
    console = start_console(tmp_path, mqtt_url, site, quiet=quiet)
    console_closer(console)
    board, t0 = boards("tank1"), time.time() - 3600
    ingesting(console, board, t0)
    board.reading(2, ts=t0 + 10, temp_c=28.0)  # air: a warning band (27) only
    board.reading(3, ts=t0 + 320, temp_c=28.1)
    board.reading(4, ts=t0 + 330, water_temp_c=28.0)  # water: critical band (27)
    board.reading(5, ts=t0 + 460, water_temp_c=28.1)
    console.heard("ana", "Urgente: El agua está demasiado caliente: 28,1 °C")
    # Whoever gets alerts and asks hears that a warning waits, and until when; bob, who does not, is not told.
    waiting = f"1 warning is waiting until {end} (quiet hours). Urgent alerts are never held."
    assert waiting in readings_showing(console, "admin", "28.1")
    console.send(**{"from": "ana", "text": "/alerts"})
    assert (f"1 advertencia espera hasta las {end} (horas de silencio). Las alertas urgentes nunca se retienen."
            in console.expect("ana", "Tus alertas de los sensores están activadas.")["text"])
    assert "waiting" not in readings_showing(console, "bob", "28.1")
    board.wait_sent()
    assert console.close() == 0
    told = [r["text"] for r in console.seen + console.rest() if r["to"] == "ana"]
    assert not any("La sala de cultivo está demasiado caliente" in text for text in told), told
    with sqlite3.connect(tmp_path / "data" / "coop.db") as db:  # it waits for the summary after quiet hours
        held = [json.loads(row[0]) for row in db.execute("SELECT notice FROM iot_held_notices")]
    # (the shared broker's retained statuses of other tests' boards are held too: only this site's count)
    assert [(n["kind"], n["key"], n["value"]) for n in held if n["site"] == site] == [("started", "temp_c", 28.1)]


async def test_held_warnings_arrive_as_one_summary_when_quiet_hours_end_and_a_restart_forgets_nothing(
        sessions):
    now = [1_764_050_400.0]  # 2025-11-25 01:00 in New York: quiet
    told = []

    async def deliver(notice):
        told.append(notice)

    def service() -> Alerts:
        return Alerts(sessions, deliver, quiet=QuietHours.parse("22:00-07:00"), offline_after=600,
                      clock=lambda: now[0])

    alerts = service()
    await alerts.load()
    await alerts.reading("s", "d1", {"temp_c": 28.0}, now[0])
    await alerts.reading("s", "d1", {"temp_c": 28.0}, now[0] + 301)
    await alerts.status("s", "d2", False, now[0])
    assert told == []  # both held

    # A restart during the night: the open alert is not told again, the held notices are kept.
    alerts = service()
    await alerts.load()
    await alerts.reading("s", "d1", {"temp_c": 28.2}, now[0] + 400)
    await alerts.status("s", "d2", False, now[0] + 400)
    await alerts.check()
    assert told == []

    now[0] += 6.5 * 3600  # 07:30: d1 has been silent since 01:00 as well
    await alerts.check()
    assert [(n.kind, n.device) for n in told] == [(OFFLINE, "d1"), (SUMMARY, "")]
    assert [(n.kind, n.device) for n in told[1].held] == [("started", "d1"), (OFFLINE, "d2")]
    await alerts.check()
    assert len(told) == 2  # told once

    await alerts.reading("s", "d1", {"temp_c": 25.0}, now[0])
    assert [(n.kind, n.device) for n in told[2:]] == [("online", "d1"), ("ended", "d1")]


async def test_a_board_that_fell_silent_while_the_assistant_was_down_is_noticed(sessions):
    from datetime import datetime, timedelta, timezone

    from iot.store import Device

    now = time.time()
    heard = datetime.fromtimestamp(now, timezone.utc).replace(tzinfo=None)
    async with sessions() as session, session.begin():
        session.add_all([Device(site="s", device="old", first_seen=heard, last_seen=heard - timedelta(hours=2)),
                         Device(site="s", device="fresh", first_seen=heard, last_seen=heard),
                         Device(site="s", device="stranger", first_seen=heard, last_seen=heard - timedelta(hours=2))])
    await register(sessions, "s", "old", "fresh")  # "stranger" published before the allow-list: not a board
    told = []

    async def deliver(notice):
        told.append(notice)

    alerts = Alerts(sessions, deliver, offline_after=600, clock=lambda: now)
    await alerts.load()
    await alerts.check()
    assert [(n.kind, n.device) for n in told] == [(OFFLINE, "old")]


def test_an_admin_moves_a_safe_band_for_a_site(tmp_path, mqtt_url, boards, site, console_closer):
    console = start_console(tmp_path, mqtt_url, site)
    console_closer(console)
    console.send(**{"from": "admin", "text": f"/threshold {site} water_temp_c 30 20"})
    console.expect("admin", "The low limit must be below the high one.")
    console.send(**{"from": "admin", "text": f"/threshold {site} water_temp_c 18 26"})
    console.expect("admin", "Saved: the water temperature is safe from 18.0 °C to 26.0 °C.")
    board, t0 = boards("tank1"), time.time() - 3600
    ingesting(console, board, t0)
    for seq, (dt, value) in enumerate([(10, 25.5), (320, 25.6), (330, 26.5), (640, 26.6)], start=2):
        board.reading(seq, ts=t0 + dt, water_temp_c=value)
    assert "safe up to 26.0 °C" in console.heard("admin", "The water is too warm: 26.6 °C")["text"]
    board.wait_sent()
    assert console.close() == 0
    told = [r["text"] for r in console.seen + console.rest() if r["to"] == "admin"]
    assert not any("25.6 °C" in text for text in told), told  # inside the site's own band


async def test_a_readings_two_bands_tell_one_story(sessions):
    """Too hot for the critical band: one urgent alert (not a second, milder one when the warning's longer
    debounce passes); cooling into the warning band: less urgent, not yet safe; then back to normal, once."""
    told = []

    async def deliver(notice):
        told.append(notice)

    alerts = Alerts(sessions, deliver, clock=time.time)
    t0 = time.time()
    for dt, value in [(0, 28.0), (130, 28.1), (310, 28.2), (400, 25.5), (500, 23.5), (510, 23.4)]:
        await alerts.reading("s", "d1", {"water_temp_c": value}, t0 + dt)
    assert [(n.kind, n.severity, n.value) for n in told] == [
        ("started", "critical", 28.1), ("eased", "critical", 25.5), ("ended", "warning", 23.5)]
    assert (told[0].low, told[0].high) == (18.0, 24.0)  # what people are told is safe: the warning band


def test_a_notice_about_the_past_says_when_it_happened():
    from handlers.alerts import notice_text
    from iot.alerts import Notice
    from locales import Translator

    zone = ZoneInfo("America/New_York")
    at = datetime(2026, 11, 25, 2, 10, tzinfo=zone).timestamp()
    warm = Notice("started", "s", "tank1", "warning", at, "water_temp_c", "high", 25.8, 18.0, 24.0)
    assert notice_text(Translator("en"), warm, zone, at + 30) == \
        "The water is too warm: 25.8 °C (safe up to 24.0 °C). Check the chiller. (sensor tank1)"
    summary = Notice(SUMMARY, "", "", "warning", at + 5 * 3600, held=(warm,))
    assert notice_text(Translator("bn"), summary, zone, at + 5 * 3600).splitlines()[1].startswith("• ০২:১০-এ: পানি খুব গরম")


def test_an_unregistered_board_raises_no_alert_until_an_admin_adds_it(tmp_path, mqtt_url, boards, site,
                                                                       console_closer):
    console = start_console(tmp_path, mqtt_url, site)
    console_closer(console)
    console.send(**{"from": "bob", "text": f"/device add {site} intruder"})
    console.expect("bob", "only the co-op's admins")
    for text, answer in [("/device add", "Send: /device add SITE DEVICE"),
                         (f"/device add {site} bad+name", "Site and board names are letters, digits"),
                         (f"/device remove {site} nobody", f"There is no registered board nobody at {site}."),
                         ("/device", f"Registered boards: {site}/tank1, {site}/tank2.")]:
        console.send(**{"from": "admin", "text": text})
        console.expect("admin", answer)

    t0 = time.time() - 3600
    intruder = boards("intruder")
    for seq, dt in enumerate([0, 130, 140], start=1):  # critical for longer than its 120 s debounce
        intruder.reading(seq, ts=t0 + dt, water_temp_c=28.4)
    intruder.wait_sent()
    ingesting(console, boards("tank1"), t0)  # a registered board's reading, stored after the intruder's
    console.send(**{"from": "bob", "text": "/readings"})
    assert "intruder" not in console.expect("bob", "")["text"]

    console.send(**{"from": "admin", "text": f"/device add {site} intruder"})
    console.expect("admin", f"Board intruder at {site} is registered: its readings count from now on.")
    for seq, dt in enumerate([200, 330, 340], start=4):
        intruder.reading(seq, ts=t0 + dt, water_temp_c=29.5)
    assert "(sensor intruder)" in console.heard("group", "Urgent: The water is too warm: 29.5 °C")["text"]
    console.send(**{"from": "admin", "text": f"/device remove {site} intruder"})
    console.expect("admin", f"Board intruder at {site} is removed")
    intruder.wait_sent()
    assert console.close() == 0
    told = [r["text"] for r in console.seen + console.rest()]
    assert not any("28.4" in text or "28,4" in text for text in told), told


async def test_a_board_an_admin_removed_is_not_reported_silent_and_its_alerts_close_quietly(sessions):
    now = [time.time()]
    told = []

    async def deliver(notice):
        told.append(notice)

    alerts = Alerts(sessions, deliver, offline_after=600, clock=lambda: now[0])
    for dt in (0, 130, 140):  # critical for longer than its debounce
        await alerts.reading("s", "gone", {"water_temp_c": 29.0}, now[0] + dt)
    assert [n.kind for n in told] == ["started"]
    await alerts.forget("s", "gone")
    now[0] += 7200
    await alerts.check()  # neither "offline" nor a reminder about a board nobody listens to any more
    assert [n.kind for n in told] == ["started"]
    restarted = Alerts(sessions, deliver, offline_after=600, clock=lambda: now[0])
    await restarted.load()
    await restarted.check()
    assert [n.kind for n in told] == ["started"]


def test_the_alerts_status_has_a_button_to_turn_them_on_or_off(tmp_path, mqtt_url, site, console_closer):
    console = start_console(tmp_path, mqtt_url, site)  # ana (es) gets alerts, bob does not
    console_closer(console)
    console.send(**{"from": "bob", "text": "/alerts"})
    status = console.expect("bob", "Sensor alerts are off for you.")
    assert [[b["text"] for b in row] for row in status["buttons"]] == [["Turn alerts on"]]
    console.send(**{"from": "bob", "press": button(status, 0)})
    turned = console.expect("bob", "Sensor alerts are on: I will tell you when the grow room needs attention.")
    assert [[b["text"] for b in row] for row in turned["buttons"]] == [["Turn alerts off"]]

    console.send(**{"from": "ana", "text": "/menu"})  # the menu's Alerts button
    menu = console.expect("ana", "")
    alerts = next(b for row in menu["buttons"] for b in row if b["text"] == "Alertas")
    console.send(**{"from": "ana", "press": alerts["data"]})
    status = console.expect("ana", "Tus alertas de los sensores están activadas.")
    assert [[b["text"] for b in row] for row in status["buttons"]] == [["Desactivar alertas"]]
    console.send(**{"from": "ana", "press": button(status, 0)})
    turned = console.expect("ana", "Las alertas de los sensores están desactivadas.")
    assert button(turned, 0) == "cmd:alerts on"
    console.send(**{"from": "ana", "text": "/alerts"})
    console.expect("ana", "Tus alertas de los sensores están desactivadas.")
    assert console.close() == 0


def test_boards_that_go_offline_together_are_told_in_one_message(tmp_path, mqtt_url, boards, site,
                                                                  console_closer):
    console = start_console(tmp_path, mqtt_url, site, devices=("tank1", "tank2", "tank3"))
    console_closer(console)
    made = [boards(device) for device in ("tank3", "tank1", "tank2")]
    for board in made:
        board.publish("online", kind="status", retain=True).wait_for_publish(5)
    for board in made:  # a power cut: their last wills, a moment apart
        board.publish("offline", kind="status", retain=True)
    for board in made:
        board.wait_sent()
    console.heard("ana", "3 sensores dejaron de enviar datos: tank1, tank2 y tank3. Revisa su alimentación y el wifi.")
    console.heard("admin", "3 sensors stopped reporting: tank1, tank2, and tank3. Check their power and the Wi-Fi.")
    assert console.close() == 0
    told = console.seen + console.rest()
    for who, stopped in (("ana", "de enviar datos"), ("admin", "stopped reporting")):
        assert len([r for r in told if r["to"] == who and stopped in r["text"]]) == 1, told


def test_readings_mark_a_value_outside_its_safe_band(tmp_path, mqtt_url, boards, site, console_closer):
    console = start_console(tmp_path, mqtt_url, site)
    console_closer(console)
    board, t0 = boards("tank1"), time.time() - 3600
    ingesting(console, board, t0)
    board.reading(2, ts=t0 + 10, temp_c=30.7, water_temp_c=21.0, ph=7.2)
    shown = readings_showing(console, "bob", "30.7")
    assert ("Sensor tank1: ⚠️ air 30.7 °C (safe 18.0–27.0 °C) · water 21.0 °C · ⚠️ pH 7.2 (safe 5.5–6.5)"
            in shown), shown
    shown = readings_showing(console, "ana", "30,7")
    assert "⚠️ aire 30,7 °C (rango seguro 18,0–27,0 °C) · agua 21,0 °C · ⚠️ pH 7,2 (rango seguro 5,5–6,5)" in shown, \
        shown
    board.wait_sent()
    assert console.close() == 0


async def test_boards_gone_offline_between_two_checks_are_one_notice_told_once(sessions):
    from handlers.alerts import notice_text
    from locales import Translator

    now = [1_764_082_800.0]  # 2025-11-25 10:00 in New York: not quiet
    told = []

    async def deliver(notice):
        told.append(notice)

    def service() -> Alerts:
        return Alerts(sessions, deliver, quiet=QuietHours.parse("22:00-07:00"), offline_after=600,
                      clock=lambda: now[0])

    alerts = service()
    await alerts.load()
    await alerts.status("s", "d2", False, now[0])
    await alerts.status("s", "d1", False, now[0] + 1)
    assert told == []  # until the next check
    alerts = service()  # a restart before it: nothing lost, nothing told twice
    await alerts.load()
    await alerts.status("s", "d3", False, now[0] + 5)
    await alerts.check()
    await alerts.check()
    assert [(n.kind, [gone.device for gone in n.held]) for n in told] == [(OFFLINE, ["d1", "d2", "d3"])]
    zone = ZoneInfo("America/New_York")
    assert notice_text(Translator("fr"), told[0], zone, now[0] + 10) == \
        "3 capteurs n’envoient plus rien : d1, d2 et d3. Vérifiez leur alimentation et le wifi."

    await alerts.reading("s", "d1", {"temp_c": 22.0}, now[0] + 20)  # back: told at once, alone
    await alerts.status("s", "d1", False, now[0] + 30)
    await alerts.check()
    assert [(n.kind, n.device, n.held) for n in told[1:]] == [("online", "d1", ()), (OFFLINE, "d1", ())]
    assert await alerts.held() == []
