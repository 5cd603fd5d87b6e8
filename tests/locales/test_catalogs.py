"""The catalogs: complete, no fuzzy entries, placeholders as in the source, the template current, every
translation served."""
import gettext
import re
import string
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.pofile import read_po

from locales import LANGUAGES, Translator
from locales.update import PLURAL_FORMS, TEMPLATE, extract, po_path

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


@pytest.mark.parametrize("lang", TRANSLATED)
def test_the_translator_serves_every_translation_in_the_po(lang):
    translator = Translator(lang)
    wrong = []
    for m in _read(po_path(lang)):
        if not m.id:
            continue
        if isinstance(m.id, tuple):
            fields = {name: "7" for name in _fields(m.id[0])}
            got, expected = translator.tn(m.id[0], m.id[1], 7, **fields), m.string[-1].format(**fields)
        else:
            fields = {name: "7" for name in _fields(m.id)}
            got, expected = translator.t(m.id, **fields), m.string.format(**fields)
        if got != expected:
            wrong.append((m.id, got))
    assert not wrong


def test_template_is_current():
    extracted = extract()
    committed = _read(TEMPLATE)
    in_code, in_template = _ids(extracted), _ids(committed)
    assert in_code - in_template == set(), "messages in the code but not in locales/messages.pot: run python -m locales.update"
    assert in_template - in_code == set(), "messages no longer in the code: run python -m locales.update"


# A number right before a counted noun ("{count} answers", "{target} units"): the noun follows the number, so the
# message must be a plural entry (tn), or "1 answers" and French "0 unités prises" come back.
COUNTED = re.compile(r"\{\w+\}\s+(?:extra\s+)?(?:units?|days?|weeks?|hours?|minutes?|votes?|credits?|members?|"
                     r"answers?|boards?|warnings?|times?|characters?|cases?|invites?|orders?|proposals?)\b")


def test_every_count_goes_through_the_plural_forms():
    counted_in_a_singular_message = [m.id for m in _read(TEMPLATE) if isinstance(m.id, str) and COUNTED.search(m.id)]
    assert not counted_in_a_singular_message, "use ctx.tn(singular, plural, n, count=…) for these"
