"""Assertion helpers for contract tests: expected reverts and emitted events."""
from contextlib import contextmanager
from typing import Any

import pytest
from eth_account.messages import encode_typed_data
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


def sign_permit(coop, owner, spender: str, value: int, deadline: int, key=None):
    """An EIP-2612 permit from `owner`, signed with `key` (by default the owner's own)."""
    fusd = coop.contracts.food_usd
    typed = {
        "types": {
            "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                             {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}],
            "Permit": [{"name": "owner", "type": "address"}, {"name": "spender", "type": "address"},
                       {"name": "value", "type": "uint256"}, {"name": "nonce", "type": "uint256"},
                       {"name": "deadline", "type": "uint256"}],
        },
        "primaryType": "Permit",
        "domain": {"name": "Food-USD", "version": "1", "chainId": coop.w3.eth.chain_id,
                   "verifyingContract": fusd.address},
        "message": {"owner": owner.address, "spender": spender, "value": value,
                    "nonce": fusd.functions.nonces(owner.address).call(),
                    "deadline": deadline},
    }
    signed = (key or owner).sign_message(encode_typed_data(full_message=typed))
    return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")
