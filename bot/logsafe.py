"""What a log line may say about a person: a phone number only masked (•••4567), any other handle or
name quoted (%r), since members choose them."""
import re

PHONE = re.compile(r"\+?\d{7,15}")  # a WhatsApp wa_id, a number in E.164; Telegram's numeric ids look alike
SHOWN = 4  # digits kept at the end


def who(handle: object) -> str:
    """`handle` fit for a log line: digits in the middle of a phone number hidden, anything else repr'd."""
    text = str(handle)
    if PHONE.fullmatch(text):
        return f"•••{text[-SHOWN:]}"  # enough to tell two members apart in a log, not to call anyone
    return repr(text)
