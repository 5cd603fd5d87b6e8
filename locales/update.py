"""Keep the catalogs in step with the code: extract t()/tn() calls, update every language.

Run `python -m locales.update` after adding or changing a message, translate what it lists, run it again.
"""
import io
import sys
from datetime import datetime, timezone
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
try:
    from babel.messages.frontend import parse_mapping_cfg
except ImportError:  # Babel < 2.15
    from babel.messages.frontend import parse_mapping as parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

from locales.translator import DOMAIN, LANGUAGES

LOCALES = Path(__file__).resolve().parent
ROOT = LOCALES.parent
SOURCES = ("handlers", "bot", "iot")  # the folders whose messages members read
KEYWORDS = {"t": None, "tn": (1, 2)}
TEMPLATE = LOCALES / f"{DOMAIN}.pot"
PROJECT = "Co-op Assistant"

# CLDR's plural rules (unicode.org/cldr/charts/latest/supplemental/language_plural_rules.html) as gettext
# expressions, forms in CLDR's order (one, many, other). Babel's own table still has the older
# two-form rules for es and fr and "n != 1" for bn, where CLDR counts 0 as "one" too.
PLURAL_FORMS = {
    "en": "nplurals=2; plural=(n != 1);",
    "es": "nplurals=3; plural=(n == 1 ? 0 : n != 0 && n % 1000000 == 0 ? 1 : 2);",
    "bn": "nplurals=2; plural=(n > 1);",
    "fr": "nplurals=3; plural=(n == 0 || n == 1 ? 0 : n != 0 && n % 1000000 == 0 ? 1 : 2);",
}


def po_path(lang: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def extract(root: Path = ROOT) -> Catalog:
    """A template of every t()/tn() message under SOURCES, with file names (no line numbers: less churn)."""
    with open(LOCALES / "babel.cfg", encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    template = Catalog(project=PROJECT, fuzzy=False, charset="utf-8")
    for folder in SOURCES:
        if not (root / folder).is_dir():
            continue
        for filename, lineno, message, comments, context in extract_from_dir(
            root / folder, method_map, options_map, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",),
            strip_comment_tags=True,
        ):
            template.add(message, None, [(f"{folder}/{filename}", lineno)], auto_comments=comments, context=context)
    return template


def render_po(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_po(out, catalog, width=100, include_lineno=False, sort_output=True)
    return out.getvalue()


def _write_if_changed(path: Path, content: bytes, ignore_prefix: bytes = b'"POT-Creation-Date:') -> bool:
    """Write unless only the creation date would change (keeps `git status` quiet)."""
    if path.exists():
        def strip(b: bytes) -> list[bytes]:
            return [line for line in b.splitlines() if not line.startswith(ignore_prefix)]
        if strip(path.read_bytes()) == strip(content):
            return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return True


def untranslated(catalog: Catalog) -> list[str]:
    return [str(m.id if isinstance(m.id, str) else m.id[0]) for m in catalog
            if m.id and (m.fuzzy or not all(m.string if isinstance(m.string, tuple) else (m.string,)))]


def main() -> int:
    template = extract()
    template.creation_date = datetime.now(timezone.utc)
    _write_if_changed(TEMPLATE, render_po(template))
    todo = 0
    for lang in LANGUAGES:
        po = po_path(lang)
        if po.exists():
            with open(po, "rb") as f:
                catalog = read_po(f, locale=lang)
        else:
            catalog = Catalog(locale=lang, project=PROJECT, charset="utf-8", fuzzy=False)
        catalog.mime_headers = [("Plural-Forms", PLURAL_FORMS[lang]), ("Language", lang)]
        catalog.update(template)
        catalog.obsolete.clear()  # gone from the code: keeping them only invites stale reviews
        _write_if_changed(po, render_po(catalog))
        if lang != "en":
            missing = untranslated(catalog)
            todo += len(missing)
            for msgid in missing:
                print(f"{lang}: translate {msgid!r}")
    print(f"{len(template)} messages; {todo} translations to do", file=sys.stderr)
    return 1 if todo else 0


if __name__ == "__main__":
    sys.exit(main())
