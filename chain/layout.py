"""Storage layouts of the upgradeable contracts, checked against committed baselines (contracts/layouts).

A proxy keeps its state while its code is replaced, so a new version may only append: every variable
of the deployed version keeps its name, type, slot and offset, and every struct its members. The
baseline is solc's `storageLayout` of the deployed version in a normalized form: types are named by
their labels ("struct GroupBuy.Order", "mapping(uint256 => struct GroupBuy.Order)") instead of AST ids,
and described recursively (struct members, mapping keys and values, array bases), so it only changes
when the layout does.

Rules (strict on purpose):
- the baseline's variables come first, in the same order, each with the same name, slot, offset and
  type label; new variables only after the last of them;
- a struct keeps its members (name, type, slot, offset) in order; it may gain members at its end only
  where it is a mapping's value (a struct stored in place, in an array or inside another struct would
  shift what follows it);
- mapping keys, array bases and enum labels stay the same. Reordering an enum's values is not visible in
  solc's layout: don't.

Why plain state variables and not ERC-7201 namespaces: solc's `storageLayout` (what this check reads)
does not list a namespaced struct's fields, so a swapped field there would go unseen; plain variables
are listed, and the committed baseline shows every layout change in review. OpenZeppelin's upgradeable
bases keep their own state in ERC-7201 namespaces, so ours (from slot 0) never meets theirs.

    python -m chain.layout                # check every upgradeable contract against its baseline
    python -m chain.layout --write [NAME] # rewrite baselines: only when that version is deployed
"""
import argparse
import json
import sys
from typing import Any

from chain.artifacts import artifact_names, load_artifact
from contracts import LAYOUTS_DIR

Layout = dict[str, Any]


def normalize(solc_layout: dict[str, Any]) -> Layout:
    """solc's storageLayout without AST ids: variables in order, every type named by its label."""
    solc_types = solc_layout.get("types") or {}
    types: dict[str, Any] = {}

    def visit_type(type_id: str) -> str:
        t = solc_types[type_id]
        entry: dict[str, Any] = {"bytes": int(t["numberOfBytes"]), "encoding": t["encoding"]}
        if "members" in t:
            entry["members"] = [visit_variable(m) for m in t["members"]]
        for part in ("key", "value", "base"):
            if part in t:
                entry[part] = visit_type(t[part])
        label = t["label"]
        if types.setdefault(label, entry) != entry:
            raise ValueError(f"two different types are both labelled {label!r}")
        return label

    def visit_variable(v: dict[str, Any]) -> dict[str, Any]:
        return {"label": v["label"], "slot": int(v["slot"]), "offset": v["offset"], "type": visit_type(v["type"])}

    storage = [visit_variable(v) for v in solc_layout["storage"]]
    return {"storage": storage, "types": dict(sorted(types.items()))}


def _describe(var: dict[str, Any]) -> str:
    return f"{var['label']} ({var['type']}, slot {var['slot']} offset {var['offset']})"


def _compare_variables(where: str, old: list, new: list, old_types: dict, new_types: dict) -> list[str]:
    """Each old variable (or struct member) at the same place in `new`, with the same name and type."""
    problems = []
    for i, was in enumerate(old):
        if i >= len(new):
            problems.append(f"{where}{_describe(was)} is gone")
            continue
        now = new[i]
        if (was["label"], was["slot"], was["offset"]) != (now["label"], now["slot"], now["offset"]):
            problems.append(f"{where}{_describe(was)} in the baseline, now {_describe(now)}")
        else:
            problems += _compare_types(f"{where}{was['label']}: ", was["type"], now["type"], old_types, new_types,
                                       may_grow=False)
    return problems


def _compare_types(where: str, old: str, new: str, old_types: dict, new_types: dict, may_grow: bool) -> list[str]:
    if old != new:
        return [f"{where}type {old} in the baseline, now {new}"]
    was, now = old_types[old], new_types[new]
    if was["encoding"] != now["encoding"]:
        return [f"{where}{old} was stored {was['encoding']}, now {now['encoding']}"]
    problems = []
    for part in ("key", "base"):
        if part in was:
            problems += _compare_types(where, was[part], now[part], old_types, new_types, may_grow=False)
    if "value" in was:
        # A mapping's value lives at its own hashed slot: a struct there may grow at its end.
        problems += _compare_types(where, was["value"], now["value"], old_types, new_types, may_grow=True)
    if "members" in was:
        problems += _compare_variables(f"{where}{old}.", was["members"], now["members"], old_types, new_types)
        added = [m["label"] for m in now["members"][len(was["members"]):]]
        if added and not may_grow:
            problems.append(f"{where}{old} gained {', '.join(added)} but is not a mapping's value: what follows "
                            "it would move")
    elif was["bytes"] != now["bytes"]:
        problems.append(f"{where}{old} was {was['bytes']} bytes, now {now['bytes']}")
    return problems


def append_only_problems(baseline: Layout, current: Layout) -> list[str]:
    """Why `current` is not an append-only extension of `baseline` (empty when it is); both normalized."""
    return _compare_variables("", baseline["storage"], current["storage"], baseline["types"], current["types"])


def upgradeable_contracts() -> list[str]:
    """Contracts under contracts/src that sit behind a UUPS proxy (test-only next versions excluded)."""
    return [name for name in artifact_names()
            if (a := load_artifact(name)).source.startswith("src/") and not a.source.startswith("src/testing/")
            and any(item.get("name") == "upgradeToAndCall" for item in a.abi)]


def current_layout(name: str) -> Layout:
    layout = load_artifact(name).storage_layout
    if layout is None:
        raise LookupError(f"{name} has no storage layout in its artifact")
    return normalize(layout)


def load_baseline(name: str) -> Layout:
    return json.loads((LAYOUTS_DIR / f"{name}.json").read_text())


def write_baseline(name: str) -> None:
    LAYOUTS_DIR.mkdir(exist_ok=True)
    text = json.dumps(current_layout(name), indent=2, sort_keys=True) + "\n"
    (LAYOUTS_DIR / f"{name}.json").write_text(text)


def check(name: str) -> list[str]:
    """Problems of `name`'s compiled layout against its committed baseline."""
    if not (LAYOUTS_DIR / f"{name}.json").exists():
        return [f"{name} has no baseline: run `make layouts` once its first version is deployed"]
    return append_only_problems(load_baseline(name), current_layout(name))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chain.layout", description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the baselines from contracts/artifacts")
    parser.add_argument("names", nargs="*", help="contracts (default: every upgradeable one)")
    args = parser.parse_args(argv)
    names = args.names or upgradeable_contracts()
    failed = False
    for name in names:
        if args.write:
            write_baseline(name)
            print(f"{name}: baseline written to contracts/layouts/{name}.json")
            continue
        problems = check(name)
        failed |= bool(problems)
        print(f"{name}: " + ("append-only extension of its baseline" if not problems else "NOT append-only"))
        for problem in problems:
            print(f"  {problem}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
