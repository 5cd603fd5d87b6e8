"""Who someone is on a channel, written `channel:id`: `telegram:123456789`, `whatsapp:+15551234567`, `console:luis`.

A member is who the channel says (docs/interfaces.md §3): Telegram's numeric user id, WhatsApp's number (its wa_id:
digits only, no "+"), the console's `from` name. A Telegram @username is never an identity (usernames change
hands); it is only an alias an admin may type. COOP_ADMINS, `--admin` and MEMBER read identities here.
"""
import re

CHANNELS = ("telegram", "whatsapp", "console")
EXAMPLES = "telegram:123456789, whatsapp:+15551234567 or console:luis"


class IdentityError(ValueError):
    """Not a `channel:id` this assistant can use; the message says how to write one."""


def parse_identity(text: str, channel: str | None = None) -> tuple[str, str]:
    """(channel, handle) from `channel:id`; a bare id is taken on `channel` when one is given.

    Telegram ids must be numbers (a username is refused: whoever takes it next would be that person);
    WhatsApp numbers lose their "+", spaces and dashes, as the Cloud API's wa_id writes them."""
    text = text.strip()
    named, sep, rest = text.partition(":")
    if sep and named.lower() in CHANNELS:
        channel, handle = named.lower(), rest.strip()
    elif channel is not None:
        handle = text
    else:
        raise IdentityError(f"{text!r} does not name its channel: write it as {EXAMPLES}")
    if channel == "telegram":
        if not handle.isdigit():
            raise IdentityError(f"{text!r}: a Telegram identity is the numeric user id (e.g. telegram:123456789), "
                                "not a @username, which anyone may take once it is freed")
    elif channel == "whatsapp":
        handle = re.sub(r"[\s().-]", "", handle).removeprefix("+")
        if not re.fullmatch(r"[1-9]\d{5,14}", handle):
            raise IdentityError(f"{text!r}: a WhatsApp identity is the phone number with its country code "
                                "(e.g. whatsapp:+15551234567)")
    elif not handle:
        raise IdentityError(f"{text!r}: the console identity needs a name (e.g. console:luis)")
    return channel, handle


def identity_key(channel: str, handle: str) -> str:
    """The one written form of an identity, as Settings.admins holds them."""
    return f"{channel}:{handle}"


def show_identity(channel: str, handle: str) -> str:
    """An identity as people write it (a WhatsApp number with its "+")."""
    return f"{channel}:+{handle}" if channel == "whatsapp" else f"{channel}:{handle}"
