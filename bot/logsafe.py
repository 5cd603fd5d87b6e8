"""What a log line may say about a person: a phone number only masked (+1555•••4567), any other handle or
name quoted (%r), since members choose them."""
import re

PHONE = re.compile(r"\+?\d{7,15}")  # a WhatsApp wa_id, a number in E.164; Telegram's numeric ids look alike
SHOWN = 4  # digits kept at each end


def who(handle: object) -> str:
    """`handle` fit for a log line: digits in the middle of a phone number hidden, anything else repr'd."""
    text = str(handle)
    if PHONE.fullmatch(text):
        plus, digits = ("+", text[1:]) if text.startswith("+") else ("", text)
        head = digits[:SHOWN] if len(digits) > 2 * SHOWN + 2 else ""  # a short number keeps only its end
        return f"{plus}{head}•••{digits[-SHOWN:]}"
    return repr(text)
