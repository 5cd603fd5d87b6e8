"""What a use case returns: an offer waiting for the member's confirmation, or a refusal with its reason.

A refusal's `reason` is a short code and its `facts` the numbers the member needs (in minor units and ids,
never words); the chat words them (handlers/), a web API would return them as they are.
"""
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

Terms = TypeVar("Terms")


@dataclass(frozen=True)
class Refused:
    reason: str
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Offered(Generic[Terms]):
    """The action is recorded as an offer (core/offers.py); `token` is what its confirm and cancel buttons carry."""

    token: str
    terms: Terms
