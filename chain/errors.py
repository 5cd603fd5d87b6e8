"""Chain exceptions, and decoding of revert data into the contracts' custom errors."""
from functools import cache
from typing import Any

from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from chain.artifacts import artifact_names, load_artifact, type_string

# Solidity's built-in revert forms.
_BUILTIN = {
    bytes.fromhex("08c379a0"): ("Error", ["string"], ["message"]),
    bytes.fromhex("4e487b71"): ("Panic", ["uint256"], ["code"]),
}


class ChainError(Exception):
    """Root of what can go wrong on the chain side."""


class ContractReverted(ChainError):
    """A contract call reverted; `name` and `args` are the custom error it raised, when known."""

    def __init__(self, name: str, args: dict[str, Any], data: bytes):
        self.name = name
        self.args_by_name = args
        self.data = data
        super().__init__(f"{name}({', '.join(f'{k}={v!r}' for k, v in args.items())})")


@cache
def _error_table() -> dict[bytes, tuple[str, list[str], list[str]]]:
    table = dict(_BUILTIN)
    for name in artifact_names():
        for item in load_artifact(name).abi:
            if item["type"] != "error":
                continue
            types = [type_string(p) for p in item["inputs"]]
            selector = function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})")
            table[selector] = (item["name"], types, [p["name"] for p in item["inputs"]])
    return table


def decode_revert(data: bytes) -> ContractReverted:
    """Turns raw revert data into a ContractReverted naming the error (or 'unknown')."""
    entry = _error_table().get(data[:4])
    if entry is None:
        return ContractReverted("unknown", {"data": "0x" + data.hex()}, data)
    name, types, names = entry
    values = [to_checksum_address(v) if t == "address" else v for t, v in zip(types, decode(types, data[4:]))]
    return ContractReverted(name, dict(zip(names, values)), data)
