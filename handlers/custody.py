"""Self-custody: a member hands their account to their own wallet's key, after a plain explanation and a
confirmation. Afterwards the co-op can no longer sign for it (the backend refuses with `exported`)."""
from eth_utils import is_address, is_checksum_address, to_checksum_address

from handlers import confirm
from handlers.base import Context, Reply
from handlers.governance import exported, exported_reply

EXAMPLE = "0x52908400098527886E0F7030069857D2E4169EE7"  # EIP-55's own example of a checksummed address


def explanation(ctx: Context) -> str:
    return ctx.t("Taking self-custody means your account is controlled by your own wallet app, and you will need "
                 "it (and its recovery words) for everything from then on. The co-op can no longer act for you: "
                 "no joins, votes or locks through me, and this cannot be undone.")


async def export(ctx: Context, args: list[str]) -> list[Reply]:
    """/export ADDRESS: checks the wallet address (EIP-55 checksum), then offers the hand-over."""
    usage = ctx.t("Send the address of your own wallet after the command, exactly as your wallet shows it, for "
                  "example: /export {example}", example=EXAMPLE)
    if await exported(ctx):
        return exported_reply(ctx)
    if len(args) != 1:
        return [ctx.reply(explanation(ctx) + "\n\n" + usage)]
    address = args[0].strip()
    if not is_address(address):
        return [ctx.reply(ctx.t("That is not a wallet address: it should start with 0x and have 40 more letters "
                                "and digits. Copy it from your wallet app.") + "\n" + usage)]
    if not is_checksum_address(address):
        # A mixed-case address proves itself; one in a single case cannot, and a typo would lose everything.
        return [ctx.reply(ctx.t("That address has a typo, or its capital letters are missing: copy it from your "
                                "wallet app exactly, capitals included.") + "\n" + usage)]
    account = await ctx.services.wallet(ctx.member.member_id)
    if to_checksum_address(address) in (to_checksum_address(account), "0x" + "0" * 40):
        return [ctx.reply(ctx.t("That is the co-op account itself, not your own wallet. Send your wallet's "
                                "address.") + "\n" + usage)]
    summary = ctx.t("Hand your account to the wallet {address}?", address=address) + "\n" + explanation(ctx)
    return await confirm.offer(ctx, "export", {"intent": {"new_signer": address}}, summary)
