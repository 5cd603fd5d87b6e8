"""Which language to speak, and the gettext catalog that speaks it (compiled from its .po when first used)."""
import gettext
import io
import logging
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = ("en", "es", "bn", "fr")
DEFAULT = "en"
DOMAIN = "messages"

# Three-letter codes some clients send (ISO 639-2) for the same languages.
_ALIASES = {"eng": "en", "spa": "es", "ben": "bn", "fra": "fr", "fre": "fr"}

log = logging.getLogger(__name__)


def compile_po(po: Traversable) -> bytes:
    """The .mo bytes for a .po (fuzzy and untranslated entries left out, as gettext does).

    Compiled in memory when a language is first used (about 13 ms each) rather than committed: a committed
    .mo can fall behind its .po, and its bytes change with the compiler's version."""
    with po.open("rb") as f:
        catalog = read_po(f)
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def match_language(hint: str | None) -> str:
    """The language to speak for a client's hint ("es-419", "bn-BD", "fr_CA", "ES"), else DEFAULT."""
    if not hint:
        return DEFAULT
    primary = hint.strip().replace("_", "-").split("-", 1)[0].lower()
    primary = _ALIASES.get(primary, primary)
    return primary if primary in LANGUAGES else DEFAULT


class Translator:
    """gettext for one language, then str.format with the (already formatted) fields.

    Translator(lang) returns one shared instance per language: the catalog is read once.
    An unknown lang gets the best match (see match_language).
    """

    _instances: dict[str, "Translator"] = {}
    lang: str
    _catalog: gettext.GNUTranslations

    def __new__(cls, lang: str | None) -> "Translator":
        lang = match_language(lang)
        instance = cls._instances.get(lang)
        if instance is None:
            instance = super().__new__(cls)
            instance.lang = lang
            po = resources.files("locales") / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
            instance._catalog = gettext.GNUTranslations(io.BytesIO(compile_po(po)))
            # A race here only loads the same catalog twice; the dict keeps one.
            instance = cls._instances.setdefault(lang, instance)
        return instance

    def __repr__(self) -> str:
        return f"Translator({self.lang!r})"

    def t(self, msgid: str, **fields: Any) -> str:
        """The translation of msgid, with {placeholders} filled from fields."""
        return self._fill(self._catalog.gettext(msgid), msgid, fields)

    def tn(self, singular: str, plural: str, n: int, **fields: Any) -> str:
        """The plural form of the language for n (pass n formatted in fields too, e.g. count=...)."""
        return self._fill(self._catalog.ngettext(singular, plural, n), plural if n != 1 else singular, fields)

    def _fill(self, text: str, source: str, fields: dict[str, Any]) -> str:
        try:
            return text.format(**fields)
        except (KeyError, IndexError, ValueError):
            # A broken translation must not cost the member their answer: say it in English and log it.
            # (tests/locales checks placeholders, so this is for catalogs edited without running them.)
            log.warning("translation_format_failed lang=%s msgid=%r", self.lang, source[:60])
            return source.format(**fields)
