"""Loads the committed contract build (ABI, bytecode, storage layout) from contracts/artifacts."""
import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from contracts import ARTIFACTS_DIR


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    storage_layout: dict[str, Any] | None


@cache
def load_artifact(name: str) -> Artifact:
    data = json.loads((ARTIFACTS_DIR / f"{name}.json").read_text())
    return Artifact(
        name=data["contractName"],
        abi=data["abi"],
        bytecode=data["bytecode"],
        deployed_bytecode=data["deployedBytecode"],
        storage_layout=data["storageLayout"],
    )


def artifact_names() -> list[str]:
    return sorted(p.stem for p in ARTIFACTS_DIR.glob("*.json") if not p.stem.startswith("_"))
