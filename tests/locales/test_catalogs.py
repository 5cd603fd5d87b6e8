"""The catalogs: complete, no fuzzy entries, placeholders as in the source, template and .mo files current."""
import gettext
import string
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.pofile import read_po

from locales import LANGUAGES
from locales.update import PLURAL_FORMS, TEMPLATE, compile_po, extract, po_path

TRANSLATED = [lang for lang in LANGUAGES if lang != "en"]


def _read(path: Path):
    with open(path, "rb") as f:
        return read_po(f)


def _ids(catalog) -> set:
    return {m.id for m in catalog if m.id}


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_message_is_translated_and_reviewed(lang):
    catalog = _read(po_path(lang))
    assert _ids(catalog) == _ids(_read(TEMPLATE)), "run python -m locales.update"
    problems = []
    for m in catalog:
        if not m.id:
            continue
        forms = m.string if isinstance(m.string, tuple) else (m.string,)
        if m.fuzzy:
            problems.append(("fuzzy", m.id))
        if not all(forms):
            problems.append(("untranslated", m.id))
    assert not problems


@pytest.mark.parametrize("lang", TRANSLATED)
def test_placeholders_match_the_source_in_every_form(lang):
    mismatches = []
    for m in _read(po_path(lang)):
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        expected = _fields(ids[0])
        assert all(_fields(i) == expected for i in ids), f"singular and plural differ: {ids}"
        for form in m.string if isinstance(m.string, tuple) else (m.string,):
            if _fields(form) != expected:
                mismatches.append((m.id, form))
    assert not mismatches


@pytest.mark.parametrize("lang", LANGUAGES)
def test_plural_forms_header_follows_cldr(lang):
    catalog = _read(po_path(lang))
    assert catalog.plural_forms == PLURAL_FORMS[lang]
    # gettext's index must land on CLDR's category for every whole number, in CLDR's order.
    categories = [c for c in ("one", "two", "few", "many", "other")
                  if c in Locale.parse(lang).plural_form.tags or c == "other"]
    assert len(categories) == catalog.num_plurals
    index = gettext.c2py(catalog.plural_expr)
    for n in [*range(0, 130), 1000, 1_000_000, 2_000_000, 1_000_001, 10_000_000]:
        assert categories[index(n)] == Locale.parse(lang).plural_form(n), (lang, n)
    for m in catalog:
        if isinstance(m.id, tuple):
            assert len(m.string) == catalog.num_plurals, m.id


@pytest.mark.parametrize("lang", LANGUAGES)
def test_committed_mo_is_fresh(lang):
    po = po_path(lang)
    assert po.with_suffix(".mo").read_bytes() == compile_po(po), "run python -m locales.update"


def test_template_is_current():
    extracted = extract()
    committed = _read(TEMPLATE)
    in_code, in_template = _ids(extracted), _ids(committed)
    assert in_code - in_template == set(), "messages in the code but not in locales/messages.pot: run python -m locales.update"
    assert in_template - in_code == set(), "messages no longer in the code: run python -m locales.update"
