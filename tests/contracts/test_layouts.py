"""Storage layouts: every upgradeable contract extends its committed baseline append-only, and the check
catches what would corrupt a live proxy's state (variants of the real sources, compiled by solc)."""
import json
import os
import re
import shutil
import subprocess

import pytest

from chain import layout
from chain.artifacts import load_artifact
from chain.layout import append_only_problems, check, load_baseline, normalize, upgradeable_contracts
from contracts import ARTIFACTS_DIR

CONTRACTS = ARTIFACTS_DIR.parent
GROUP_BUY = (CONTRACTS / "src" / "GroupBuy.sol").read_text()

# Compiles the sources given on stdin (imports from node_modules and contracts/) and prints solc's
# storage layouts only: no code generation, so a variant compiles in a few seconds.
_SOLC_LAYOUTS = """
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
const solc = createRequire(path.resolve("build.mjs"))("solc");
const given = JSON.parse(fs.readFileSync(0, "utf8"));
const sources = Object.fromEntries(Object.entries(given).map(([name, text]) => [name, { content: text }]));
const settings = { outputSelection: { "*": { "*": ["storageLayout"] } } };
function find(p) {
  const file = ["node_modules", "."].map((base) => path.join(base, p)).find((f) => fs.existsSync(f));
  return file ? { contents: fs.readFileSync(file, "utf8") } : { error: `not found: ${p}` };
}
const out = JSON.parse(solc.compile(JSON.stringify({ language: "Solidity", sources, settings }), { import: find }));
const errors = (out.errors || []).filter((e) => e.severity === "error");
if (errors.length) {
  process.stderr.write(errors.map((e) => e.formattedMessage).join("\\n"));
  process.exit(1);
}
const layouts = {};
for (const name of Object.keys(given)) {
  for (const [contract, c] of Object.entries(out.contracts[name] || {})) layouts[contract] = c.storageLayout;
}
process.stdout.write(JSON.stringify(layouts));
"""

needs_solc = pytest.mark.skipif(
    not (shutil.which("node") and (CONTRACTS / "node_modules" / "solc").is_dir()) and not os.environ.get("CI"),
    reason="Node.js or contracts/node_modules missing (run `npm ci` in contracts/)")


def compile_layout(contract: str, sources: dict[str, str]) -> dict:
    """The normalized storage layout of `contract` compiled from `sources` (path under contracts/ -> text)."""
    done = subprocess.run(["node", "--input-type=module", "-e", _SOLC_LAYOUTS], cwd=CONTRACTS,
                          input=json.dumps(sources), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"the variant does not compile:\n{done.stderr}"
    return normalize(json.loads(done.stdout)[contract])


def group_buy_variant(source: str) -> dict:
    return compile_layout("GroupBuy", {"src/GroupBuy.sol": source})


def _struct_body(source: str, name: str) -> tuple[int, int]:
    """Start and end offsets of struct `name`'s body in `source`."""
    start = re.search(rf"struct {name} \{{", source).end()
    return start, source.index("}", start)


def _member_lines(source: str, name: str) -> list[str]:
    start, end = _struct_body(source, name)
    return [line for line in source[start:end].splitlines() if re.match(r"\s+\w+ \w+;", line)]


@pytest.mark.parametrize("name", upgradeable_contracts())
def test_upgradeable_contract_extends_its_baseline_append_only(name):
    assert check(name) == []


def test_every_upgradeable_contract_has_a_baseline():
    assert {"FoodUSD", "GroToken", "GroupBuy", "MemberRegistry"} <= set(upgradeable_contracts())
    for name in upgradeable_contracts():
        assert load_baseline(name)["storage"], f"{name}'s baseline lists no state"


def test_a_next_version_that_appends_a_variable_passes():
    v2 = normalize(load_artifact("GroupBuyV2").storage_layout)
    assert [v["label"] for v in v2["storage"]][-1] == "notice"
    assert append_only_problems(load_baseline("GroupBuy"), v2) == []


@needs_solc
def test_a_fresh_compile_with_other_ast_ids_normalizes_to_the_same_layout():
    padded = {"src/Padding.sol": "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.24;\n"
                                 "contract Padding { struct A { uint256 a; } A a; enum E { X } E e; }\n",
              "src/GroupBuy.sol": GROUP_BUY}
    assert compile_layout("GroupBuy", padded) == normalize(load_artifact("GroupBuy").storage_layout)


@needs_solc
def test_swapped_struct_fields_fail_the_check():
    """The review's case: Order.unitPrice and Order.deadline swapped would misread every live order."""
    first, second = _member_lines(GROUP_BUY, "Order")[:2]
    swapped = GROUP_BUY.replace(first + "\n" + second, second + "\n" + first, 1)
    assert swapped != GROUP_BUY
    problems = append_only_problems(load_baseline("GroupBuy"), group_buy_variant(swapped))
    assert any(p.startswith("_orders: struct GroupBuy.Order.") and "in the baseline, now" in p for p in problems), \
        problems


@needs_solc
def test_a_changed_variable_type_fails_the_check():
    narrowed = re.sub(r"uint256 public orderCount;", "uint128 public orderCount;", GROUP_BUY)
    assert narrowed != GROUP_BUY
    problems = append_only_problems(load_baseline("GroupBuy"), group_buy_variant(narrowed))
    assert "orderCount: type uint256 in the baseline, now uint128" in problems


@needs_solc
def test_a_renamed_struct_fails_the_check():
    renamed = re.sub(r"\bMember\b", "Participant", GROUP_BUY)
    problems = append_only_problems(load_baseline("GroupBuy"), group_buy_variant(renamed))
    assert any(p.startswith("_members: type mapping(uint256 => mapping(address => struct GroupBuy.Member)) in the "
                            "baseline, now mapping(uint256 => mapping(address => struct GroupBuy.Participant))")
               for p in problems), problems


@needs_solc
def test_an_inserted_base_contract_with_state_fails_the_check():
    """A base with plain state inherited first pushes every variable of ours one slot down."""
    last_import = list(re.finditer(r"^import .*;$", GROUP_BUY, re.M))[-1].end()
    base = "\n\nabstract contract Fees {\n    uint256 internal _feeBps;\n}\n"
    shifted = GROUP_BUY[:last_import] + base + GROUP_BUY[last_import:]
    shifted = shifted.replace("contract GroupBuy is ", "contract GroupBuy is Fees, ", 1)
    problems = append_only_problems(load_baseline("GroupBuy"), group_buy_variant(shifted))
    assert "orderCount (uint256, slot 0 offset 0) in the baseline, now _feeBps (uint256, slot 0 offset 0)" \
        in problems


@needs_solc
def test_members_appended_to_structs_kept_in_mappings_pass():
    """Order and Member live only as mapping values: each has its own hashed slots, so they may grow."""
    grown = GROUP_BUY
    for struct, member in (("Order", "uint64 receivedAt;"), ("Member", "uint32 note;")):
        _, end = _struct_body(grown, struct)
        grown = grown[:end] + f"    {member}\n    " + grown[end:]
    assert append_only_problems(load_baseline("GroupBuy"), group_buy_variant(grown)) == []


@needs_solc
@pytest.mark.parametrize("where", ["Point[] points;", "Point point;"])
def test_a_struct_stored_in_place_or_in_an_array_may_not_grow(where):
    """Array elements and in-place structs sit next to each other: a longer struct moves the next one."""
    def version(members: str) -> dict:
        source = ("// SPDX-License-Identifier: MIT\npragma solidity ^0.8.24;\n"
                  f"contract Ledger {{ struct Point {{ {members} }} {where} }}\n")
        return compile_layout("Ledger", {"src/Ledger.sol": source})

    problems = append_only_problems(version("uint128 bias; uint128 slope;"),
                                    version("uint128 bias; uint128 slope; uint64 ts;"))
    assert any("struct Ledger.Point gained ts but is not a mapping's value" in p for p in problems), problems


def test_a_removed_variable_fails_the_check():
    baseline = load_baseline("GroupBuy")
    current = normalize(load_artifact("GroupBuy").storage_layout)
    current["storage"] = current["storage"][:-1]
    gone = baseline["storage"][-1]
    assert append_only_problems(baseline, current) == [
        f"{gone['label']} ({gone['type']}, slot {gone['slot']} offset {gone['offset']}) is gone"]


def test_the_command_writes_baselines_and_exits_non_zero_on_a_problem(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(layout, "LAYOUTS_DIR", tmp_path)
    assert layout.main(["--write"]) == 0
    assert sorted(p.stem for p in tmp_path.glob("*.json")) == upgradeable_contracts()
    assert layout.main([]) == 0

    written = json.loads((tmp_path / "GroupBuy.json").read_text())
    written["storage"][0]["label"] = "ordersMade"  # as if the deployed version had named it so
    (tmp_path / "GroupBuy.json").write_text(json.dumps(written))
    capsys.readouterr()
    assert layout.main(["GroupBuy"]) == 1
    assert "GroupBuy: NOT append-only\n  ordersMade (uint256, slot 0 offset 0) in the baseline, now orderCount" \
        in capsys.readouterr().out
