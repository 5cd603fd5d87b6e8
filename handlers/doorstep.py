"""Invite codes as people see and type them, and the wait a throttled stranger is told.

A code (core/admin.py: 80 random bits in base32, 16 letters and digits 2-7) is shown in groups of four
(ABCD-EFGH-JKLM-NPQR), with links that start the chat with it, and read back whatever the case, dashes or
spaces. The throttle on failed `/start CODE` is core/onboarding.py's.
"""
import math


def show_code(code: str) -> str:
    """ABCDEFGHJKLMNPQR as ABCD-EFGH-JKLM-NPQR, easier to read aloud and to copy."""
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


# Base32 has no 0, 1 or 8: typed for O, I and B (a code read aloud or copied from paper), they mean those.
_LOOK_ALIKES = str.maketrans("018", "OIB")


def read_code(parts: list[str]) -> str:
    """A code as typed (`/start abcd-efgh jklm-npqr`): upper case, without dashes or spaces, look-alike digits
    read as the letters they stand for."""
    return "".join(parts).replace("-", "").upper().translate(_LOOK_ALIKES)


def minutes(seconds: float) -> int:
    """A wait as whole minutes, rounded up (a wait is never "0 minutes")."""
    return max(1, math.ceil(seconds / 60))


def invite_links(code: str, telegram_bot: str | None, whatsapp_number: str | None) -> list[str]:
    """Links that start the chat with the code already in it: Telegram's deep link (the client sends
    `/start CODE` when tapped) and WhatsApp's click-to-chat with `/start CODE` prefilled."""
    links = []
    if telegram_bot:
        links.append(f"Telegram: https://t.me/{telegram_bot}?start={code}")
    if whatsapp_number:
        links.append(f"WhatsApp: https://wa.me/{whatsapp_number}?text=%2Fstart%20{code}")
    return links
