"""The door: invite codes too many to guess, and a stranger guessing them slowed to a polite wait.

A code is 80 random bits (secrets.token_bytes(10)) in base32: 16 letters and digits 2-7, no padding, shown
in groups of four (ABCD-EFGH-JKLM-NPQR) and read back whatever the case, dashes or spaces.

Failed `/start CODE` attempts are counted in two token buckets: one per sender (their channel identity) and
one for everyone together, so neither one stranger nor many together can try more than a few codes an hour.
The buckets are kept in memory, not in the database: a failed guess then costs no write (a stranger cannot
grow our tables), the check costs microseconds, and what a restart forgets is at most one bucket's worth of
guesses against 2^80 codes — the throttle keeps guessing noise out, the code's length is the defence.
`coop run` serves every channel from one process, so one set of buckets sees all of them. While a flood of
wrong codes keeps the shared bucket empty, new members with good codes wait too (told so politely): the
price of a door nobody can guess through; the log says when it starts.
"""
import base64
import logging
import math
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

CODE_BYTES = 10  # 80 bits; 16 base32 characters with no padding
PER_SENDER = (5, 300.0)  # a sender may fail 5 times in a row, then once every 5 minutes
OVERALL = (30, 30.0)  # everyone together: 30 in a row, then once every 30 s (120 an hour)
log = logging.getLogger(__name__)
MAX_SENDERS = 10_000  # senders remembered (the least recent is forgotten first; OVERALL still holds)


def new_code() -> str:
    return base64.b32encode(secrets.token_bytes(CODE_BYTES)).decode("ascii").rstrip("=")


def show_code(code: str) -> str:
    """ABCDEFGHJKLMNPQR as ABCD-EFGH-JKLM-NPQR, easier to read aloud and to copy."""
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


# Base32 has no 0, 1 or 8: typed for O, I and B (a code read aloud or copied from paper), they mean those.
_LOOK_ALIKES = str.maketrans("018", "OIB")


def read_code(parts: list[str]) -> str:
    """A code as typed (`/start abcd-efgh jklm-npqr`): upper case, without dashes or spaces, look-alike digits
    read as the letters they stand for."""
    return "".join(parts).replace("-", "").upper().translate(_LOOK_ALIKES)


@dataclass
class _Bucket:
    tokens: float
    at: float


class InviteAttempts:
    """`take(sender)` before a code is checked: 0, or the seconds to wait first; `give_back(sender)` when the
    code was good (only failures count). The clock is injected (seconds, monotonic) for tests."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, per_sender: tuple[int, float] = PER_SENDER,
                 overall: tuple[int, float] = OVERALL):
        self.clock = clock
        self.per_sender, self.overall = per_sender, overall
        self._senders: OrderedDict[str, _Bucket] = OrderedDict()
        self._all = _Bucket(overall[0], clock())
        self._flooded = False  # the shared bucket ran dry (logged once until it refills)

    def take(self, sender: str) -> float:
        now = self.clock()
        mine = self._senders.get(sender) or _Bucket(self.per_sender[0], now)
        waits = [self._wait(mine, self.per_sender, now), self._wait(self._all, self.overall, now)]
        if waits[1] and not self._flooded:
            log.warning("invites throttled=everyone reason=too_many_wrong_codes wait_s=%.0f", waits[1])
        self._flooded = waits[1] > 0
        if max(waits) == 0:
            mine.tokens -= 1
            self._all.tokens -= 1
        self._senders[sender] = mine
        self._senders.move_to_end(sender)
        if len(self._senders) > MAX_SENDERS:
            self._senders.popitem(last=False)
        return max(waits)

    def give_back(self, sender: str) -> None:
        for bucket, (capacity, _) in ((self._senders.get(sender), self.per_sender), (self._all, self.overall)):
            if bucket is not None:
                bucket.tokens = min(capacity, bucket.tokens + 1)

    @staticmethod
    def _wait(bucket: _Bucket, limits: tuple[int, float], now: float) -> float:
        capacity, every = limits
        bucket.tokens = min(capacity, bucket.tokens + (now - bucket.at) / every)
        bucket.at = now
        return 0.0 if bucket.tokens >= 1 else (1 - bucket.tokens) * every


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
