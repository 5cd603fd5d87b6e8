"""The boards that are heard: admins register and remove them (/device), since any client that can reach the
broker could otherwise publish readings and raise alerts to the whole co-op."""

from bot.identity import identity_key
from chain.db import utcnow
from handlers.base import Context, Reply
from iot.schema import valid_name
from iot.store import register_device, registered_devices, unregister_device


async def device(ctx: Context, args: list[str]) -> list[Reply]:
    """/device add|remove SITE DEVICE; /device alone lists the registered boards."""
    usage = ctx.t("Send: /device add SITE DEVICE or /device remove SITE DEVICE, for example: /device add hq esp32-a1")
    sessions = ctx.services.sessions
    if not args:
        boards = await registered_devices(sessions)
        listed = (ctx.t("Registered boards: {boards}.", boards=", ".join(f"{s}/{d}" for s, d in boards)) if boards
                  else ctx.t("No board is registered yet: readings are dropped until an admin adds one."))
        return [ctx.reply(listed + "\n" + usage)]
    action = args[0].lower()
    if len(args) != 3 or action not in ("add", "remove"):
        return [ctx.reply(usage)]
    site, name = args[1], args[2]
    if not (valid_name(site) and valid_name(name)):
        return [ctx.reply(ctx.t("Site and board names are letters, digits, dots, dashes and underscores (at most "
                                "64), as the board's topic has them.") + " " + usage)]
    if action == "add":
        if await register_device(sessions, site, name, identity_key(ctx.inbound.channel, ctx.inbound.user), utcnow()):
            return [ctx.reply(ctx.t("Board {device} at {site} is registered: its readings count from now on.",
                                    device=name, site=site))]
        return [ctx.reply(ctx.t("Board {device} at {site} was already registered.", device=name, site=site))]
    if not await unregister_device(sessions, site, name):
        return [ctx.reply(ctx.t("There is no registered board {device} at {site}.", device=name, site=site))]
    await ctx.services.alerts.forget(site, name)
    return [ctx.reply(ctx.t("Board {device} at {site} is removed: what it sends is dropped from now on. Its past "
                            "readings stay.", device=name, site=site))]
