"""Sensor alerts in plain words: subscribing (/alerts on|off, or its buttons), admins' safe bands (/threshold),
the warnings waiting for the end of quiet hours, and the words of each alert (iot/alerts.py decides when; this
says what, in the reader's language)."""
from datetime import datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from core.members import set_alerts
from handlers.base import Button, Context, Reply
from handlers.numbers import bad_number
from iot.alerts import EASED, ENDED, OFFLINE, ONLINE, REMINDER, SUMMARY, Notice
from iot.rules import ANY_SITE, CRITICAL, HIGH, WARNING, Rule
from locales import AmountError, Translator, format_clock, format_list, format_number, parse_amount

UNITS = {"temp_c": " °C", "water_temp_c": " °C", "rh_pct": " %", "ec_ms_cm": " mS/cm", "water_level_pct": " %",
         "lux": " lx", "ph": ""}
LATE = 600  # seconds: a notice about something older says when it happened
DECIMALS = {"ph": 1, "ec_ms_cm": 2, "lux": 0, "rh_pct": 0, "water_level_pct": 0}  # else 1


def number_text(key: str, value: float, lang: str) -> str:
    """A reading without its unit, the language's way: "27,4"."""
    decimals = DECIMALS.get(key, 1)
    return format_number(Decimal(str(round(value, decimals))), lang, decimals=decimals)


def value_text(key: str, value: float, lang: str) -> str:
    """A reading with its unit, the language's way: "27,4 °C"."""
    return number_text(key, value, lang) + UNITS.get(key, "")


def safe_text(tr: Translator, rule: Rule) -> str:
    """A safe band in a few words: "safe 18,0–27,0 °C"."""
    if rule.low is None:
        return tr.t("safe up to {limit}", limit=value_text(rule.key, rule.high, tr.lang))
    if rule.high is None:
        return tr.t("safe from {limit}", limit=value_text(rule.key, rule.low, tr.lang))
    return tr.t("safe {low}–{high}", low=number_text(rule.key, rule.low, tr.lang),
                high=value_text(rule.key, rule.high, tr.lang))


def reading_name(tr: Translator, key: str) -> str:
    return {
        "temp_c": tr.t("the air temperature"), "rh_pct": tr.t("the humidity"),
        "water_temp_c": tr.t("the water temperature"), "ph": tr.t("the pH"),
        "ec_ms_cm": tr.t("the nutrient strength (EC)"), "water_level_pct": tr.t("the water level"),
        "lux": tr.t("the light"),
    }.get(key, key)


def _problem(tr: Translator, n: Notice) -> str:
    """What is wrong and what to do: "The water is too warm: 27,4 °C (safe up to 24 °C). Check the chiller." """
    high = n.side == HIGH
    value = value_text(n.key, n.value, tr.lang)
    limit = value_text(n.key, n.high if high else n.low, tr.lang)
    fields = dict(value=value, limit=limit)
    texts = {
        ("temp_c", True): tr.t("The grow room is too warm: {value} (safe up to {limit}). Open the vents or turn on "
                               "the fan.", **fields),
        ("temp_c", False): tr.t("The grow room is too cold: {value} (safe from {limit}). Check the heater.", **fields),
        ("rh_pct", True): tr.t("The air is too humid: {value} (safe up to {limit}). Turn on the fan or the "
                               "dehumidifier.", **fields),
        ("rh_pct", False): tr.t("The air is too dry: {value} (safe from {limit}). Check the humidifier.", **fields),
        ("water_temp_c", True): tr.t("The water is too warm: {value} (safe up to {limit}). Check the chiller.",
                                     **fields),
        ("water_temp_c", False): tr.t("The water is too cold: {value} (safe from {limit}). Check the water heater.",
                                      **fields),
        ("ph", True): tr.t("The water's pH is too high: {value} (safe up to {limit}). Add pH down, a little at a "
                           "time.", **fields),
        ("ph", False): tr.t("The water's pH is too low: {value} (safe from {limit}). Add pH up, a little at a time.",
                            **fields),
        ("ec_ms_cm", True): tr.t("The nutrients are too strong: {value} (safe up to {limit}). Add fresh water.",
                                 **fields),
        ("ec_ms_cm", False): tr.t("The nutrients are too weak: {value} (safe from {limit}). Add nutrient solution.",
                                  **fields),
    }
    return texts.get((n.key, high)) or tr.t("{reading} is out of its safe range: {value}.",
                                             reading=reading_name(tr, n.key).capitalize(), value=value)


def notice_text(tr: Translator, n: Notice, zone: ZoneInfo, now: float) -> str:
    """The message for one notice, in `tr`'s language. One that happened a while ago (held for the quiet
    hours' summary, or read from a board's backlog) says when, on the co-op's clock."""
    if n.kind == SUMMARY:
        lines = [tr.t("While it was quiet hours:")]
        lines += ["• " + notice_text(tr, held, zone, now) for held in n.held]
        return "\n".join(lines)
    text = _what_happened(tr, n)
    if now - n.at > LATE:
        moment = datetime.fromtimestamp(n.at, timezone.utc).astimezone(zone)
        text = tr.t("At {time}:", time=format_clock(moment, tr.lang)) + " " + text
    return text


def _what_happened(tr: Translator, n: Notice) -> str:
    sensor = tr.t("(sensor {device})", device=n.device)
    if n.kind == OFFLINE and n.held:  # several boards at once
        several_sites = len({gone.site for gone in n.held}) > 1
        names = [f"{gone.site}/{gone.device}" if several_sites else gone.device for gone in n.held]
        return tr.tn("{count} sensor stopped reporting: {devices}. Check its power and the Wi-Fi.",
                     "{count} sensors stopped reporting: {devices}. Check their power and the Wi-Fi.", len(names),
                     count=format_number(len(names), tr.lang), devices=format_list(names, tr.lang))
    if n.kind == OFFLINE:
        return tr.t("Sensor {device} stopped reporting. Check its power and the Wi-Fi.", device=n.device)
    if n.kind == ONLINE:
        return tr.t("Sensor {device} is reporting again.", device=n.device)
    if n.kind == EASED:
        fields = dict(reading=reading_name(tr, n.key), value=value_text(n.key, n.value, tr.lang),
                      limit=value_text(n.key, n.high if n.side == HIGH else n.low, tr.lang))
        text = (tr.t("Less urgent: {reading} is {value}, but not safe yet (safe up to {limit}).", **fields)
                if n.side == HIGH else
                tr.t("Less urgent: {reading} is {value}, but not safe yet (safe from {limit}).", **fields))
        return text + " " + sensor
    if n.kind == ENDED:
        return tr.t("Back to normal: {reading} is {value} again.", reading=reading_name(tr, n.key),
                    value=value_text(n.key, n.value, tr.lang)) + " " + sensor
    text = _problem(tr, n) + " " + sensor
    if n.kind == REMINDER:
        return tr.t("Still a problem:") + " " + text
    if n.severity == CRITICAL:
        return tr.t("Urgent:") + " " + text
    return text


# ---- commands ----

async def alerts(ctx: Context, args: list[str]) -> list[Reply]:
    """/alerts on|off: sensor alerts in private messages. Without a word: whether they are on. Either way, a
    button to change it, and the warnings waiting for the end of quiet hours."""
    word = args[0].lower() if args else ""
    on = {"on": True, "off": False, "sí": True, "si": True, "no": False, "oui": True, "non": False,
          "চালু": True, "বন্ধ": False}.get(word)
    if on is None:
        on = ctx.member.alerts
        text = ctx.t("Sensor alerts are {state} for you. Send /alerts on or /alerts off.",
                     state=ctx.t("on") if on else ctx.t("off"))
    else:
        await set_alerts(ctx.services.core.uow, ctx.member.id, on)
        ctx.member.alerts = on  # the waiting warnings below are for members who get alerts
        text = (ctx.t("Sensor alerts are on: I will tell you when the grow room needs attention.") if on else
                ctx.t("Sensor alerts are off. Send /alerts on to get them again."))
    if waiting := await waiting_text(ctx):
        text += "\n" + waiting
    switch = (Button(ctx.t("Turn alerts off"), "cmd:alerts off") if on else
              Button(ctx.t("Turn alerts on"), "cmd:alerts on"))
    return [ctx.reply(text, [[switch]])]


async def waiting_text(ctx: Context) -> str | None:
    """For a member who gets alerts, in quiet hours: how many warnings wait for the summary, and until when."""
    until = ctx.services.alerts.quiet_until()
    if until is None or ctx.member is None or not ctx.member.alerts or ctx.inbound.chat == "group":
        return None
    count = len(await ctx.services.alerts.held())
    if not count:
        return None
    return ctx.tn("{count} warning is waiting until {time} (quiet hours). Urgent alerts are never held.",
                  "{count} warnings are waiting until {time} (quiet hours). Urgent alerts are never held.", count,
                  count=format_number(count, ctx.lang), time=format_clock(until, ctx.lang))


async def threshold(ctx: Context, args: list[str]) -> list[Reply]:
    """/threshold [SITE] READING LOW HIGH [critical]: an admin sets a safe band, for one site or (without SITE)
    every site that has none of its own; stored, and applied at once (to alerts already open too)."""
    usage = ctx.t("Send: /threshold [SITE] READING LOW HIGH [critical], for example: /threshold water_temp_c "
                  "{low} {high}. Readings: {keys}.", low=format_number(18, ctx.lang), high=format_number(24, ctx.lang),
                  keys=", ".join(sorted(k for k in UNITS if k != "lux")))
    site = ANY_SITE
    if args and args[0] not in UNITS:
        site, args = args[0], args[1:]
    if len(args) not in (3, 4) or args[0] not in UNITS or (len(args) == 4 and args[3].lower() != CRITICAL):
        return [ctx.reply(usage)]
    bounds = []
    for typed in args[1:3]:
        try:
            bounds.append(parse_amount(typed, ctx.lang, decimals=2))
        except AmountError as e:
            return bad_number(ctx, e, typed, usage)
    low, high = bounds
    if low >= high:
        return [ctx.reply(ctx.t("The low limit must be below the high one.") + " " + usage)]
    severity = CRITICAL if len(args) == 4 else WARNING
    current = next((r for r in ctx.services.alerts.rules.rules_for(site, args[0]) if r.severity == severity), None)
    rule = Rule(args[0], float(low), float(high), severity, current.hysteresis if current else 0.0,
                current.for_seconds if current else 60.0, site)
    await ctx.services.alerts.set_rule(rule, by=ctx.inbound.user)
    return [ctx.reply(ctx.t("Saved: {reading} is safe from {low} to {high}.",
                            reading=reading_name(ctx.translator, args[0]), low=value_text(args[0], rule.low, ctx.lang),
                            high=value_text(args[0], rule.high, ctx.lang)))]
