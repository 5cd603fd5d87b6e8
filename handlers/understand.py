"""What a resident's plain sentence asks for (en/es/bn/fr): the request, with what it names, or a short list
to ask back from when two readings are close. Plain Python, no I/O: the chat (handlers/phrases.py) and any
other door call `understand` with the names of the open orders' products.

How: the text and the cues of handlers/vocabulary.py are normalised the same way (lower case, accents off
Latin letters, digits as ASCII, punctuation as spaces); each cue found adds its weight to its request. A word
we do not know may match a cue with a typo (one edit or swap in words of 5-7 letters, two from 8) or an
ending (Bengali's case endings, plurals); a word we know matches only itself, so "commandes" stays an order.
"""
import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz.distance import OSA

from handlers.vocabulary import (CUES, FOODS, LANGUAGE_WORDS, NUMBER_OF, NUMBER_WORDS, ON_WORDS, SUPPORT_EXTRA,
                                 TOPICS)

ENOUGH = 1.0  # a request's score needed to act on it
CLOSE = 0.8  # a runner-up with at least this share of the best score (and enough) makes us ask back
PRODUCT, NUMBER, SUPPORT, LANGUAGE, SWITCH = 1.0, 0.3, 0.4, 1.0, 0.3  # what a named thing adds to its request
TOPIC_ALONE = 0.8  # a topic's weight when the sentence asks nothing about it
_MAX_ENDING = 4  # letters a known stem may carry after it ("অর্ডারে", "propuestas")


@dataclass(frozen=True)
class Intent:
    """A reading of the sentence: the request (a command's word) and what it names."""

    name: str  # balance | orders | join | history | proposals | vote | alerts | readings | help | menu | lang | explain
    score: float = 0.0
    args: tuple[str, ...] = ()  # the command's arguments: ("gro",) for explain, ("en",) for lang, ("off",) for alerts
    products: tuple[str, ...] = ()  # join: the open orders' product names the sentence names
    numbers: tuple[int, ...] = ()  # the quantities (or votes) named, in order
    number_of: int | None = None  # an order's or a proposal's number ("order 3", "#3", "propuesta 2")
    support: str | None = None  # vote: yes | no | abstain


@dataclass(frozen=True)
class Understanding:
    """The best reading, or the close ones to ask back from; neither: not understood."""

    intent: Intent | None = None
    choices: tuple[Intent, ...] = ()


def normalise(text: str) -> str:
    """Lower case, accents off Latin letters (Bengali's vowel signs stay), every digit ASCII, punctuation as
    spaces except "?" and "#" (kept as words of their own)."""
    text = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", text or "").lower())
    out: list[str] = []
    for c in text:
        if unicodedata.category(c) == "Mn" and out and out[-1].isascii():
            continue  # é → e, ñ → n
        if c.isdecimal():
            out.append(str(unicodedata.decimal(c)))
        elif c in "?¿#":
            out.append(f" {'?' if c != '#' else '#'} ")
        elif c in "\u200c\u200d":
            continue  # Bengali keyboards' (non-)joiners change how a word looks, not the word
        elif unicodedata.category(c)[0] in "PSZC":
            out.append(" ")  # ' - , . ! । and spaces
        else:
            out.append(c)
    return " ".join(unicodedata.normalize("NFC", "".join(out)).split())


@functools.lru_cache(maxsize=4096)
def _words(cue: str) -> tuple[str, ...]:
    return tuple(normalise(cue).split())


@functools.cache
def _ordered() -> dict[str, list[tuple[int, str, tuple[str, ...], float]]]:
    """(rank, request, cue, weight) by the cue's first word; rank puts longer cues first: they take their words
    before a shorter cue inside them is looked for."""
    ranked = sorted(((r, c, w) for r, t in _tables()[0].items() for c, w in t.items()), key=lambda rcw: -len(rcw[1]))
    by_first: dict[str, list[tuple[int, str, tuple[str, ...], float]]] = {}
    for rank, (request, cue, weight) in enumerate(ranked):
        by_first.setdefault(cue[0], []).append((rank, request, cue, weight))
    return by_first


@functools.cache
def _tables() -> tuple[dict[str, dict[tuple[str, ...], float]], frozenset[str]]:
    """Every request's cues from all four languages (a resident may write in another), and every word we know."""
    cues: dict[str, dict[tuple[str, ...], float]] = {}
    for by_request in CUES.values():
        for request, table in by_request.items():
            for cue, weight in table.items():
                words = _words(cue)
                cues.setdefault(request, {})[words] = max(weight, cues.get(request, {}).get(words, 0))
    for topic, table in TOPICS.items():
        cues["explain:" + topic] = {_words(cue): weight for cue, weight in table.items()}
    known = {w for table in cues.values() for cue in table for w in cue}
    for words in (NUMBER_WORDS, LANGUAGE_WORDS, ON_WORDS, SUPPORT_EXTRA, NUMBER_OF, *FOODS):
        known |= {w for cue in words for w in _words(cue)}
    return cues, frozenset(known)


def _same(typed: str, cue: str, known: frozenset[str]) -> bool:
    if typed == cue:
        return True
    if typed in known:
        return False
    if len(cue) >= (4 if cue.isascii() else 3) and typed.startswith(cue) and len(typed) - len(cue) <= _MAX_ENDING:
        return True
    if len(cue) < 5:
        return False  # "nice" is not a typo of "rice"
    allowed = 1 if len(cue) <= 7 else 2
    return OSA.distance(typed, cue, score_cutoff=allowed) <= allowed  # a swap of two letters is one edit


class _Sentence:
    """The sentence's words, and which of them a cue of several words has taken (so "ve gro" is not "gro")."""

    def __init__(self, text: str):
        self.words = normalise(text).split()
        self.taken: set[int] = set()
        self.known = _tables()[1]
        self._same: dict[tuple[int, str], bool] = {}  # (word's place, cue word) → whether it matches

    def same(self, i: int, cue_word: str) -> bool:
        key = (i, cue_word)
        if key not in self._same:
            self._same[key] = _same(self.words[i], cue_word, self.known)
        return self._same[key]

    def find(self, cue: tuple[str, ...], take: bool | None = None) -> int | None:
        """Where the cue's words are in a row, or None; a cue of several words takes its words."""
        n = len(cue)
        for i in range(len(self.words) - n + 1):
            span = range(i, i + n)
            if not self.taken.intersection(span) and all(self.same(i + k, cue[k]) for k in range(n)):
                if take or (take is None and n > 1):
                    self.taken.update(span)
                return i
        return None

    def first(self, table: dict[str, str]) -> str | None:
        """The value of the first (longest) entry of table found in the sentence."""
        for cue in sorted(table, key=lambda c: -len(_words(c))):
            if self.find(_words(cue), take=True) is not None:
                return table[cue]
        return None


def understand(text: str, products: Iterable[str] = ()) -> Understanding:
    """The reading of `text`; `products` are the names of the open orders' products (found as named, or by a
    common food word in any of the four languages: "arroz", "riz", "চাল" find "rice")."""
    return _understood(text, tuple(products))


@functools.lru_cache(maxsize=1024)  # residents send the same few sentences ("balance", "saldo") again and again
def _understood(text: str, products: tuple[str, ...]) -> Understanding:
    sentence = _Sentence(text)
    if not sentence.words:
        return Understanding()
    named = _products(sentence, products)
    numbers, number_of = _numbers(sentence)
    scores: dict[str, float] = {}
    counted: dict[str, set[int]] = {}  # each word counts once for a request ("প্রস্তাবে" is one proposal word)
    # Only the cues whose first word is in the sentence (a known word matches only itself; others are compared).
    by_first = _ordered()
    firsts = set()
    for i, word in enumerate(sentence.words):
        firsts |= {word} if word in sentence.known else {w for w in by_first if sentence.same(i, w)}
    # A cue of several words takes its words from shorter cues only: "como funciona" counts for help and for
    # an explainer alike, and "ve gro" leaves no "gro".
    taking: tuple[int, set[int]] = (0, set())  # (cue length, words taken by cues of that length)
    for _, request, cue, weight in sorted(c for w in firsts if w in by_first for c in by_first[w]):
        if len(cue) != taking[0]:
            sentence.taken |= taking[1]
            taking = (len(cue), set())
        at = sentence.find(cue, take=False)
        if at is not None and not counted.setdefault(request, set()).intersection(range(at, at + len(cue))):
            counted[request].update(range(at, at + len(cue)))
            scores[request] = scores.get(request, 0.0) + weight
            if len(cue) > 1:
                taking[1].update(range(at, at + len(cue)))
    sentence.taken |= taking[1]
    candidates: list[Intent] = []
    question = scores.pop("explain", 0.0)
    for request in [r for r in scores if r.startswith("explain:")]:
        topic_score = scores.pop(request)
        # Named without a question ("how much food usd do i have"), a topic is weaker than the request around it.
        score = topic_score + question if question else topic_score * TOPIC_ALONE
        candidates.append(Intent("explain", round(score, 2), (request.split(":", 1)[1],)))
    language = sentence.first(LANGUAGE_WORDS)
    switch = sentence.first(ON_WORDS)
    support = sentence.first(SUPPORT_EXTRA)
    if named:
        scores["join"] = scores.get("join", 0.0) + PRODUCT + (NUMBER if numbers else 0.0)
    if language:
        scores["lang"] = scores.get("lang", 0.0) + LANGUAGE
    if "vote" in scores and support:
        scores["vote"] += SUPPORT + (NUMBER if numbers or number_of else 0.0)
    if "alerts" in scores and switch:
        scores["alerts"] += SWITCH
    for request, score in scores.items():
        args: tuple[str, ...] = ()
        if request == "lang" and language:
            args = (language,)
        elif request == "alerts" and switch:
            args = (switch,)
        candidates.append(Intent(request, round(score, 2), args, named if request == "join" else (),
                                 numbers, number_of, support if request == "vote" else None))
    candidates.sort(key=lambda i: -i.score)
    if not candidates or candidates[0].score < ENOUGH:
        return Understanding()
    best = candidates[0]
    close = [c for c in candidates[1:] if c.score >= ENOUGH and c.score >= best.score * CLOSE]
    if close:
        return Understanding(choices=(best, *close))
    return Understanding(best)


def _products(sentence: _Sentence, products: Iterable[str]) -> tuple[str, ...]:
    """The product names (as the orders name them) the sentence names best: a whole name (or a food word
    that translates it: "arroz" for "rice") beats one word of a longer name, and a longer whole name a
    shorter one ("brown rice" is not "rice"); several equally good are all returned, to ask back."""
    best: tuple[int, int] = (0, 0)
    found: dict[str, tuple[int, int, int]] = {}  # name -> (level, words, where)
    for name in dict.fromkeys(products):
        words = _words(name)
        if not words:
            continue
        whole = {words} | {_words(food) for group in FOODS if " ".join(words) in group for food in group}
        parts = {(w,) for w in words if len(w) >= 3} | {
            _words(food) for group in FOODS if any(w in group for w in words) for food in group}
        for level, forms in ((2, whole), (1, parts - whole)):
            hits = [(len(form), at, form) for form in forms if (at := sentence.find(form, take=False)) is not None]
            if hits:
                length, at, form = max(hits)
                found[name] = (level, length, at)
                best = max(best, (level, length))
                break
    chosen = tuple(name for name, (level, length, _) in found.items() if (level, length) == best)
    for name in chosen:
        level, length, at = found[name]
        sentence.taken.update(range(at, at + length))
    return chosen


_DIGITS = re.compile(r"^(\d+)")


def _numbers(sentence: _Sentence) -> tuple[tuple[int, ...], int | None]:
    """Quantities named (digits, with a unit after them or not: "2kg", "২টা"; or words: "two", "dos", "দুই"),
    and the number of an order or proposal ("#3", "order 3", "pedido 3")."""
    numbers: list[int] = []
    number_of = None
    of_words = {w for cue in NUMBER_OF for w in _words(cue)} | {"#"}
    words = sentence.words
    i = 0
    while i < len(words):
        value, width = None, 1
        if m := _DIGITS.match(words[i]):
            value = int(m.group(1)) if len(m.group(1)) <= 7 else None
        else:
            for cue, n in NUMBER_WORDS.items():
                cue_words = _words(cue)
                if tuple(words[i:i + len(cue_words)]) == cue_words:
                    value, width = n, len(cue_words)
                    break
        if value:
            if number_of is None and i > 0 and words[i - 1] in of_words:
                number_of = value
            else:
                numbers.append(value)
            sentence.taken.update(range(i, i + width))
        i += width
    return tuple(numbers), number_of


def topic_of(text: str) -> str | None:
    """The explainer's topic a few words name ("grotoken", "food-usd", "voto cuadrático"), however weakly."""
    sentence = _Sentence(text)
    cues, _ = _tables()
    scores = {topic: sum(w for cue, w in cues["explain:" + topic].items() if sentence.find(cue, take=False) is not None)
              for topic in TOPICS}
    best = max(scores, key=scores.get)
    return best if scores[best] > 0 else None


def request_of(intent: Intent) -> tuple[str, list[str]]:
    """The command and arguments a reading runs, when it needs nothing more (join and vote may: see phrases)."""
    if intent.name == "vote":
        if intent.number_of is not None:
            proposal, votes = intent.number_of, intent.numbers[:1]
        else:
            proposal, votes = (intent.numbers[0] if intent.numbers else None), intent.numbers[1:2]
        if proposal is None or intent.support is None:
            return "proposals", []  # which proposal, or which way, is missing: the list says how to vote
        return "vote", [str(proposal), intent.support, *map(str, votes)]
    return intent.name, list(intent.args)
