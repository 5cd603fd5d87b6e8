"""Plain sentences in the chat: what handlers/understand.py reads runs the same handler as its command (so a
join still ends in its confirmation), and when two readings are close we ask back with buttons."""
import re
from collections.abc import Awaitable, Callable

from core.orders import open_orders, product_name, product_names
from handlers import explain
from handlers.base import Button, Context, Reply
from handlers.understand import Intent, Understanding, request_of, understand
from locales import format_number

UNITS = "units:"  # a button's data: ask how many units of the order whose number follows
QUICK_UNITS = (1, 2, 3, 4, 5)  # the "how many?" buttons
GROUP_MENTION = "@bot"  # how a group addresses the bot where it has no Telegram @username (the console)

Run = Callable[[Context, str, list[str]], Awaitable[list[Reply]]]


def not_understood(ctx: Context) -> list[Reply]:
    return [ctx.reply(ctx.t("Sorry, I did not understand. Send /help to see what I can do."))]


def addressed(text: str, bot_username: str | None) -> str | None:
    """The words said to the bot in a group message that mentions it, else None (the group's own talk)."""
    mention = re.escape(f"@{bot_username}" if bot_username else GROUP_MENTION)
    found = re.search(rf"{mention}(?!\w)", text, re.IGNORECASE)  # "@bot", not "@botanist"
    if found is None:
        return None
    return (text[:found.start()] + text[found.end():]).strip(" ,:")


async def reading(ctx: Context, text: str) -> Understanding:
    """The sentence read with the products the co-op orders (their open orders are looked up only for a join).
    A sentence clear without them ("balance") costs no read of the products."""
    understanding = understand(text)
    if understanding.intent is not None and understanding.intent.name != "join":
        return understanding
    return understand(text, (await product_names(ctx.services.core)).values())


def command_of(understanding: Understanding) -> str | None:
    """The command a clear reading runs (a join is the /join flow, a vote without its details the list)."""
    return request_of(understanding.intent)[0] if understanding.intent else None


async def answer(ctx: Context, understanding: Understanding, run: Run) -> list[Reply]:
    if understanding.choices:
        # Close readings may come to one command (a vote without its details is the list of proposals).
        buttons = list({b.data: b for b in (_choice(ctx, intent) for intent in understanding.choices)}.values())
        if len(buttons) > 1:
            return [ctx.reply(ctx.t("Did you mean…?"), [[button] for button in buttons])]
        command, *args = buttons[0].data[len("cmd:"):].split()
        return await run(ctx, command, args)
    intent = understanding.intent
    if intent is None:
        return not_understood(ctx)
    if intent.name == "join":
        return await _join(ctx, intent, run)
    command, args = request_of(intent)
    return await run(ctx, command, args)


async def _join(ctx: Context, intent: Intent, run: Run) -> list[Reply]:
    """The /join flow for an order named by its product (or number) and a quantity, asking what is missing."""
    units = intent.numbers[0] if intent.numbers else None
    if intent.number_of is not None:
        return await (run(ctx, "join", [str(intent.number_of), str(units)]) if units
                      else how_many(ctx, intent.number_of))
    if not intent.products:
        if len(intent.numbers) == 2:  # "join 1 2", as the command has it
            return await run(ctx, "join", [str(n) for n in intent.numbers])
        return await run(ctx, "orders", [])  # which order is missing: the list says how to join
    names = await product_names(ctx.services.core)
    matching = [(order.id, product_name(names, order)) for order in await open_orders(ctx.services.core)
                if product_name(names, order) in intent.products]
    if not matching:
        return [ctx.reply(ctx.t("There is no open order for {product} right now. Send /orders to see the open ones.",
                                product=" / ".join(intent.products)))]
    if len(matching) == 1:
        order_id = matching[0][0]
        return await (run(ctx, "join", [str(order_id), str(units)]) if units else how_many(ctx, order_id))
    buttons = [[Button(f"#{format_number(order_id, ctx.lang)} {product}",
                       f"cmd:join {order_id} {units}" if units else f"{UNITS}{order_id}")]
               for order_id, product in matching]
    return [ctx.reply(ctx.t("Which order do you mean?"), buttons)]


async def how_many(ctx: Context, order_id: int) -> list[Reply]:
    """Asks how many units to join order `order_id` with; each button runs /join (and its confirmation)."""
    shown = format_number(order_id, ctx.lang)
    buttons = [[Button(format_number(n, ctx.lang), f"cmd:join {order_id} {n}") for n in QUICK_UNITS]]
    return [ctx.reply(ctx.t("How many units of order #{id} would you like? Or send /join {id} UNITS.", id=shown),
                      buttons)]


def _choice(ctx: Context, intent: Intent) -> Button:
    """A button for one of the close readings: its name in the member's words, and the command it runs."""
    if intent.name == "explain":
        return Button(explain.title(ctx, intent.args[0]), f"cmd:explain {intent.args[0]}")
    if intent.name == "join":
        return Button(ctx.t("Join an order"), "cmd:orders")
    command, args = request_of(intent)
    label = {"balance": ctx.t("Balance"), "orders": ctx.t("Orders"), "history": ctx.t("History"),
             "proposals": ctx.t("Proposals"), "vote": ctx.t("Vote"), "readings": ctx.t("Sensors"),
             "alerts": ctx.t("Alerts"), "lang": ctx.t("Language"), "help": ctx.t("Help"),
             "menu": ctx.t("Menu")}[command]
    return Button(label, "cmd:" + " ".join([command, *args]))
