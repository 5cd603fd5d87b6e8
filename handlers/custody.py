"""/export in the chat: self-custody (core/custody.py) explained in plain words, the wallet address read from
the member's message, and the hand-over offered: the member confirms it by typing the address's last characters,
read from their wallet app (handlers/confirm.py `typed`)."""
from core import custody as use
from core.results import Refused
from handlers import confirm
from handlers.base import Context, Reply
from handlers.governance import exported_reply
from locales import format_number


def explanation(ctx: Context) -> str:
    return ctx.t("Taking self-custody means your account is controlled by your own wallet app, and you will need "
                 "it (and its recovery words) for everything from then on. The co-op can no longer act for you: "
                 "no joins, votes or locks through me, and this cannot be undone.")


async def export(ctx: Context, args: list[str]) -> list[Reply]:
    """/export ADDRESS: checks the wallet address (EIP-55 checksum), then offers the hand-over."""
    usage = ctx.t("Send the address of your own wallet after the command, exactly as your wallet shows it, for "
                  "example: /export {example}", example=use.EXAMPLE)
    result = await use.export(ctx.services.core, ctx.member.id, ctx.member.member_id,
                              args[0] if len(args) == 1 else None)
    if isinstance(result, Refused):
        match result.reason:
            case "exported":
                return exported_reply(ctx)
            case "no_address":
                return [ctx.reply(explanation(ctx) + "\n\n" + usage)]
            case "not_an_address":
                text = ctx.t("That is not a wallet address: it should start with 0x and have 40 more letters "
                             "and digits. Copy it from your wallet app.")
            case "no_checksum":
                text = ctx.t("That address has a typo, or its capital letters are missing: copy it from your "
                             "wallet app exactly, capitals included.")
            case "example_address":
                text = ctx.t("That is the example address from my message, not your wallet. Send the address your "
                             "own wallet app shows.")
            case "own_account":
                text = ctx.t("That is the co-op account itself, not your own wallet. Send your wallet's address.")
            case "co_op_contract":
                text = ctx.t("That is one of the co-op's own contracts, not your wallet: your account would be lost. "
                             "Send the address your own wallet app shows.")
            case "co_op_account":
                text = ctx.t("That is one of the co-op's own accounts, not your wallet. Send the address your own "
                             "wallet app shows.")
            case "member_account":
                text = ctx.t("That is another member's co-op account, not your own wallet. Send the address your own "
                             "wallet app shows.")
            case _:
                raise ValueError(f"no wording for the refusal {result.reason!r}")
        return [ctx.reply(text + "\n" + usage)]
    terms = result.terms
    summary = "\n".join([
        ctx.t("Hand your account to the wallet {address}?", address=terms.address), explanation(ctx),
        ctx.tn("To confirm, type the last {count} character of that address, as your wallet app shows it.",
               "To confirm, type the last {count} characters of that address, as your wallet app shows it.",
               len(terms.confirm_with), count=format_number(len(terms.confirm_with), ctx.lang))])
    return confirm.typed_offer(ctx, result.token, summary)
