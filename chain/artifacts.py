"""Loads the committed contract build (ABI, bytecode, storage layout) from contracts/artifacts, and
encodes calls straight from the ABI."""
import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector

from contracts import ARTIFACTS_DIR


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    storage_layout: dict[str, Any] | None
    source: str  # solc's source name, e.g. src/GroupBuy.sol


@cache
def load_artifact(name: str) -> Artifact:
    data = json.loads((ARTIFACTS_DIR / f"{name}.json").read_text())
    return Artifact(
        name=data["contractName"],
        abi=data["abi"],
        bytecode=data["bytecode"],
        deployed_bytecode=data["deployedBytecode"],
        storage_layout=data["storageLayout"],
        source=data["sourceName"],
    )


def artifact_names() -> list[str]:
    return sorted(p.stem for p in ARTIFACTS_DIR.glob("*.json") if not p.stem.startswith("_"))


def type_string(param: dict[str, Any]) -> str:
    """The ABI type of a parameter as eth_abi spells it (tuples expanded)."""
    if param["type"].startswith("tuple"):
        inner = ",".join(type_string(c) for c in param["components"])
        return f"({inner}){param['type'][5:]}"
    return param["type"]


@dataclass(frozen=True)
class Function:
    """One contract function's calldata encoder and result decoder. The gateway encodes a bundle's calls
    with these rather than web3's contract objects, whose per-call validation costs milliseconds."""

    selector: bytes
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    def encode(self, *args: Any) -> bytes:
        return self.selector + encode(list(self.inputs), list(args))

    def decode(self, data: bytes) -> Any:
        """The returned value: one output unwrapped, several as a tuple."""
        values = decode(list(self.outputs), data)
        return values[0] if len(values) == 1 else values


@cache
def function(artifact: str, name: str) -> Function:
    """Function `name` of `artifact`'s ABI (an overloaded name must be given as its full signature)."""
    matches = []
    for item in load_artifact(artifact).abi:
        if item["type"] != "function":
            continue
        inputs = tuple(type_string(p) for p in item["inputs"])
        signature = f"{item['name']}({','.join(inputs)})"
        if name in (item["name"], signature):
            matches.append(Function(function_signature_to_4byte_selector(signature), inputs,
                                    tuple(type_string(p) for p in item["outputs"])))
    if len(matches) != 1:
        raise LookupError(f"{artifact} has {len(matches)} functions named {name!r}")
    return matches[0]
