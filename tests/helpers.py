"""Assertion helpers for contract tests: expected reverts and emitted events."""
from contextlib import contextmanager
from typing import Any

import pytest
from web3.contract import Contract
from web3.logs import DISCARD

from chain import ContractReverted


@contextmanager
def reverts(error: str, **expected_args: Any):
    """Expects the block to revert with custom error `error` (and these argument values)."""
    with pytest.raises(ContractReverted) as caught:
        yield caught
    assert caught.value.name == error, f"reverted with {caught.value}, expected {error}"
    for key, value in expected_args.items():
        assert caught.value.args_by_name[key] == value, f"{error}.{key}: {caught.value.args_by_name[key]!r} != {value!r}"


def events(receipt, contract: Contract, name: str) -> list[dict[str, Any]]:
    """The `name` events `contract` emitted in `receipt`, as dicts of their arguments."""
    return [dict(e["args"]) for e in getattr(contract.events, name)().process_receipt(receipt, errors=DISCARD)]
