"""Answers to a member's message, sent at once (not queued behind pushes), under bot.notify's delivery contract."""
import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.logsafe import who
from bot.notify import Blocked, RetryAfter, TransientError
from handlers.base import Reply

log = logging.getLogger(__name__)

ATTEMPTS = 5
FIRST_PAUSE = 0.5  # seconds before the second try after a transient failure; doubled each time


async def answer_now(send: Callable[[Reply], Awaitable[None]], reply: Reply, channel: str,
                     mark_blocked: Callable[[str, str], Awaitable[None]]) -> None:
    """Sends an answer with `send` (a transport's Sender): a RetryAfter is waited out, a TransientError tried again
    a few times, a Blocked member marked; anything else is undeliverable, logged. Never raises for a send."""
    pause = FIRST_PAUSE
    for attempt in range(1, ATTEMPTS + 1):
        try:
            await send(reply)
            return
        except RetryAfter as e:
            wait, error = e.seconds, f"retry-after {e.seconds:g}"
        except TransientError as e:
            wait, pause, error = pause, pause * 2, f"transient {type(e).__name__}"
        except Blocked:
            log.info("answer skipped channel=%s to=%s reason=blocked", channel, who(reply.to))
            await mark_blocked(channel, reply.to)
            return
        except Exception as e:  # a refusal a retry would not change (a bad request, a revoked token)
            log.error("answer undeliverable channel=%s to=%s error=%s status=%s code=%s", channel, who(reply.to),
                      type(e).__name__, getattr(e, "status", None), getattr(e, "code", None))
            return
        if attempt < ATTEMPTS:
            log.info("answer retry channel=%s to=%s attempt=%d error=%s wait=%.1f", channel, who(reply.to), attempt,
                     error, wait)
            await asyncio.sleep(wait)
    log.error("answer undeliverable channel=%s to=%s attempts=%d reason=%s", channel, who(reply.to), ATTEMPTS, error)


__all__ = ["answer_now"]
