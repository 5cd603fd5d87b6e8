"""Every reason an intent can fail with (chain/intents.py) is worded for the member, in every language."""
import pytest

from chain.intents import REASON_CODES, REASONS, reason_of
from chain.errors import ContractReverted
from handlers.reasons import reason_text, reason_texts
from locales import LANGUAGES, Translator

GENERIC = reason_texts(Translator("en"))["rejected"]


def test_every_reason_code_has_its_own_message():
    texts = reason_texts(Translator("en"))
    assert sorted(REASON_CODES - texts.keys()) == []
    worded = {code: reason_text(Translator("en"), code) for code in REASON_CODES - {"rejected"}}
    assert sorted(code for code, text in worded.items() if text == GENERIC) == []
    assert len(set(texts.values())) == len(texts)  # no two codes share words


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != "en"])
def test_every_reason_message_is_translated(lang):
    english, translated = reason_texts(Translator("en")), reason_texts(Translator(lang))
    assert sorted(code for code in REASON_CODES if translated[code] == english[code]) == []


def test_every_contract_error_maps_to_a_listed_code():
    assert set(REASONS.values()) <= REASON_CODES
    assert reason_of(ContractReverted("SomethingNew", {}, b"")) in REASON_CODES
    assert reason_of(ContractReverted("FailedOp", {"reason": "AA24 signature error"}, b"")) in REASON_CODES


def test_no_reason_is_written_as_a_bare_string_outside_the_list():
    """A code spelled out where an intent fails (not one of chain/intents.py's) would escape the tests above."""
    import ast
    from pathlib import Path

    import chain

    where = {"IntentRejected": 0, "_reject": 1, "_fail": 1}  # the argument that is the reason code
    unlisted = []
    for path in Path(chain.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", getattr(node.func, "id", None))
                if name in where and len(node.args) > where[name]:
                    arg = node.args[where[name]]
                    if isinstance(arg, ast.Constant) and arg.value not in REASON_CODES:
                        unlisted.append(f"{path.name}:{node.lineno} {arg.value!r}")
    assert unlisted == []
