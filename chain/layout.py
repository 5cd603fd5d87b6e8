"""Storage layout compatibility between two versions of an upgradeable contract.

Our upgradeable contracts keep their own state in plain variables, so a new version may only
append: every variable of the old version must keep its slot, offset, name and type. (OpenZeppelin's
bases keep theirs in ERC-7201 namespaces, which solc's layout does not list and OpenZeppelin keeps
stable.)
"""
from typing import Any


def _type_shape(types: dict[str, Any], type_id: str) -> Any:
    """A comparable description of a storage type, free of the compiler's AST ids."""
    t = types[type_id]
    shape: dict[str, Any] = {"label": t["label"], "bytes": t["numberOfBytes"], "encoding": t["encoding"]}
    if "members" in t:
        shape["members"] = [(m["label"], m["slot"], m["offset"], _type_shape(types, m["type"])) for m in t["members"]]
    for key in ("key", "value", "base"):
        if key in t:
            shape[key] = _type_shape(types, t[key])
    return shape


def layout_problems(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Why `new` cannot safely replace `old` behind the same proxy (empty when it can)."""
    new_at = {(v["slot"], v["offset"]): v for v in new["storage"]}
    problems = []
    for var in old["storage"]:
        where = f"slot {var['slot']} offset {var['offset']}"
        match = new_at.get((var["slot"], var["offset"]))
        if match is None:
            problems.append(f"{var['label']} ({where}) is gone")
        elif match["label"] != var["label"]:
            problems.append(f"{var['label']} ({where}) is replaced by {match['label']}")
        elif _type_shape(old["types"] or {}, var["type"]) != _type_shape(new["types"] or {}, match["type"]):
            problems.append(f"{var['label']} ({where}) changed type")
    return problems
