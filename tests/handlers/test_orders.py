"""/join and /tolerance's refusals over an in-memory ledger (tests/fakes.py): the same use cases as on chain,
in milliseconds. The chain paths are in tests/bot/test_orders.py."""
import inspect
import time
from dataclasses import dataclass

import pytest

from chain.ledger import CoopLedger
from handlers.base import Context, Inbound
from handlers.orders import join, tolerance
from tests.fakes import InMemoryLedger


@dataclass
class LedgerOnly:
    """Services with the ledger alone: a refusal must be decided before the member's wallet or the database."""

    ledger: InMemoryLedger


@pytest.fixture
def ledger() -> InMemoryLedger:
    return InMemoryLedger()


async def said(ledger: InMemoryLedger, handler, *args: str) -> str:
    ctx = Context(LedgerOnly(ledger), Inbound("console", "bob", " ".join(args)), member=None, lang="en")
    (reply,) = await handler(ctx, list(args))
    return reply.text


async def test_joining_an_order_never_made_is_refused(ledger):
    ledger.open_order()
    assert await said(ledger, join, "2", "1") == "There is no order #2. Send /orders to see the open ones."


async def test_joining_a_closed_order_is_refused(ledger):
    ledger.open_order(deadline=int(time.time()) - 1)
    assert await said(ledger, join, "1", "1") == "Order #1 is closed. Send /orders to see the open ones."


async def test_joining_with_more_units_than_are_left_is_refused(ledger):
    order = ledger.open_order(target_units=10)
    ledger.join(order.id, "0x" + "22" * 20, 7)
    assert await said(ledger, join, "1", "4") == "Only 3 units are left in order #1."


async def test_tolerance_on_an_order_bought_by_the_unit_is_refused(ledger):
    ledger.open_order(case_size=1)
    assert await said(ledger, tolerance, "1", "2") == "Order #1 is bought by the unit, so there is no case to fill."


def test_the_fake_answers_everything_the_ledger_does():
    def public(cls) -> set[str]:
        return {name for name, f in inspect.getmembers(cls, inspect.iscoroutinefunction) if not name.startswith("_")}

    assert public(CoopLedger) - {"read"} == public(InMemoryLedger)
