"""Turn a customer's question into a full-text query: which words to look for, in which forms, and how much
each one counts.

Customers write the way they speak: spoken forms («скока», «днюха»), typos («гельлак»), brand names in
Cyrillic («каспи» for Kaspi). Each whitespace-separated word of the question becomes one *term*: its
PostgreSQL lexemes (Russian/English stemming), plus, when the tenant's documents do not contain them:
the standard word for a common spoken form (`COLLOQUIAL`, a short generic list, not fitted to any
knowledge base), the Latin transliteration, and the tenant's own document words within a small edit
distance or extending the stem (`брон` → `бронирован`). A term matches a chunk that has any of its forms.

Terms weigh by inverse document frequency over the tenant's chunks (a word in every chunk says little), as
in BM25. The candidate chunks are gathered in *levels*, strictest first (all terms, then at least half of
them, then any), each level up to a budget, so a question made of common words never ranks every chunk
of a large knowledge base: see `FullTextQuery.levels`.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field

# Common spoken or shortened Russian forms and the standard words documents use. Matched on the start of
# a lower-cased word (so inflected forms match: «днюху», «стиралкой»). Generic on purpose: forms any
# customer-facing business hears, not the vocabulary of one knowledge base.
COLLOQUIAL: dict[str, str] = {
    "скока": "сколько",
    "скоко": "сколько",
    "скок": "сколько",
    "сколка": "сколько",
    "че": "что",
    "чо": "что",
    "щас": "сейчас",
    "ща": "сейчас",
    "тыщ": "тысяча",
    "тыс": "тысяча",
    "норм": "нормально",
    "днюх": "день рождения",
    "др": "день рождения",
    "телек": "телевизор",
    "телик": "телевизор",
    "комп": "компьютер",
    "ноут": "ноутбук",
    "инет": "интернет",
    "мобил": "мобильный телефон",
    "холодос": "холодильник",
    "стиралк": "стиральная машина",
    "посудомойк": "посудомоечная машина",
    "микроволновк": "микроволновая печь",
    "налик": "наличные",
    "наличк": "наличные",
    "безнал": "безналичный",
    "пвз": "пункт выдачи",
    "вотсап": "whatsapp",
    "ватсап": "whatsapp",
    "вацап": "whatsapp",
    "воцап": "whatsapp",
    "телег": "telegram",
    "инст": "instagram",
    "спс": "спасибо",
    "плиз": "пожалуйста",
    "пжл": "пожалуйста",
    "мб": "может быть",
    "оч": "очень",
}
_COLLOQUIAL_KEYS = sorted(COLLOQUIAL, key=len, reverse=True)
# Keys of two letters or fewer match only the whole word («др», «мб»); longer ones also the word with an
# ending of up to three letters («днюху», «наличкой»), not longer words that merely start alike.
_WHOLE_WORD_ONLY = 2
_ENDING = 3

_LATIN = [
    "a",
    "b",
    "v",
    "g",
    "d",
    "e",
    "e",
    "zh",
    "z",
    "i",
    "y",
    "k",
    "l",
    "m",
    "n",
    "o",
    "p",
    "r",
    "s",
    "t",
    "u",
    "f",
    "kh",
    "ts",
    "ch",
    "sh",
    "shch",
    "-",
    "y",
    "-",
    "e",
    "yu",
    "ya",
]
_TRANSLIT = {
    letter: latin.strip("-") for letter, latin in zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя", _LATIN, strict=True)
}
_CYRILLIC = re.compile(r"[а-яё]")
_LETTERS = re.compile(r"[^\w-]+")
_NUMBER = re.compile(r"^[0-9]+$")

LEVEL_TERMS = 6  # the rarest terms that define the strict levels
MIN_CORRECTED = 4  # shorter stems are not corrected at all
SUBSTITUTED = 6  # from this length one edit is allowed
LONG_STEM = 8  # from this length two edits
CORRECTIONS = 3  # alternatives kept per unknown word


def normalise(word: str) -> str:
    return _LETTERS.sub("", word.lower()).replace("ё", "е").strip("-")


def colloquial(word: str) -> str | None:
    """The standard wording for a spoken form, or None."""
    plain = normalise(word)
    for key in _COLLOQUIAL_KEYS:
        ending = len(plain) - len(key)
        if plain == key or (len(key) > _WHOLE_WORD_ONLY and plain.startswith(key) and 0 < ending <= _ENDING):
            return COLLOQUIAL[key]
    return None


def transliterate(word: str) -> str | None:
    """A Cyrillic word in Latin letters («каспи» → «kaspi»), for brand names written the Russian way."""
    plain = normalise(word)
    if not _CYRILLIC.search(plain):
        return None
    return "".join(_TRANSLIT.get(letter, letter) for letter in plain)


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (insertions, deletions, substitutions, adjacent swaps), or
    `limit + 1` once it is certain to exceed `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def corrections(stem: str, vocabulary: dict[str, int]) -> list[str]:
    """Document words (lexeme → chunks containing it) that the unknown `stem` probably means, closest and
    most frequent first: the same word with or without hyphens («гельлак», «гель-лак»); a word the stem
    begins (a stem cut short by a different ending: «удал» → «удален»); and, for stems of `SUBSTITUTED` or
    more letters, one edit away (two from `LONG_STEM`). Shorter stems get no edits: «брат» is one letter
    from «брак»."""
    if len(stem) < MIN_CORRECTED:
        return []
    limit = 2 if len(stem) >= LONG_STEM else 1 if len(stem) >= SUBSTITUTED else 0
    plain = stem.replace("-", "")
    scored: list[tuple[int, int, str]] = []
    for lexeme, chunks in vocabulary.items():
        if chunks <= 0 or lexeme == stem:
            continue
        if lexeme.replace("-", "") == plain:
            distance = 0
        elif lexeme.startswith(stem):
            distance = 1
        else:
            distance = edit_distance(stem, lexeme, limit) + 1
            if distance > limit + 1 or limit == 0:
                continue
        scored.append((distance, -chunks, lexeme))
    return [lexeme for _, _, lexeme in sorted(scored)[:CORRECTIONS]]


@dataclass(frozen=True)
class Word:
    """One word of the question as the database analysed it: its lexemes with the number of the tenant's
    chunks containing each, and the same for its standard and transliterated forms."""

    text: str
    lexemes: dict[str, int]
    alternatives: dict[str, int] = field(default_factory=dict)  # colloquial and transliterated forms
    neighbours: dict[str, int] = field(default_factory=dict)  # document words sharing the first letters


@dataclass(frozen=True)
class Term:
    forms: tuple[str, ...]  # lexemes, any of which matches
    chunks: int  # chunks containing any form (approximately: the largest count of a form)
    weight: float

    def tsquery(self) -> str:
        return (
            "(" + " | ".join(quote(form) for form in self.forms) + ")" if len(self.forms) > 1 else quote(self.forms[0])
        )


def quote(lexeme: str) -> str:
    """A lexeme in tsquery input syntax."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


@dataclass(frozen=True)
class FullTextQuery:
    terms: list[Term]  # the words the tenant's chunks contain (in some form), rarest first
    wanted: list[frozenset[str]]  # every non-number word's forms, found or not: the coverage denominator
    # Every word as a term, those no chunk contains at the highest weight: for question-answer pairs, whose
    # words the chunk vocabulary does not count.
    words: list[Term] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.terms

    def any_term(self) -> str:
        return " | ".join(term.tsquery() for term in self.terms)

    def any_word(self) -> str:
        return " | ".join(term.tsquery() for term in self.words)

    def levels(self) -> list[str]:
        """tsqueries from strictest to loosest, each excluding the ones before: all terms, then all but the
        most common, and so on down to the two rarest (at most the `LEVEL_TERMS` rarest terms), then any
        term. A chunk is found at the first level it matches: candidates that share the question's most
        telling words come first. Conjunctions keep each index scan cheap however common the words are."""
        strict = self.terms[:LEVEL_TERMS]
        shapes = [" & ".join(term.tsquery() for term in strict[:size]) for size in range(len(strict), 1, -1)]
        shapes.append(self.any_term())
        levels = [shapes[0]]
        for before, shape in itertools.pairwise(shapes):
            levels.append(f"({shape}) & !({before})")
        return levels


def plan(words: list[Word], total_chunks: int) -> FullTextQuery:
    """Terms for the question's words: the forms found in the tenant's chunks, weighted by rarity."""
    terms: dict[tuple[str, ...], Term] = {}
    wanted: list[frozenset[str]] = []
    all_words: list[Term] = []
    for word in words:
        own = {lexeme: chunks for lexeme, chunks in word.lexemes.items() if not _NUMBER.match(lexeme)}
        if not own:
            continue
        forms = {lexeme: chunks for lexeme, chunks in own.items() if chunks > 0}
        if not forms:
            forms = {lexeme: chunks for lexeme, chunks in word.alternatives.items() if chunks > 0}
        if not forms:
            for stem in own:
                for lexeme in corrections(stem, word.neighbours):
                    forms[lexeme] = word.neighbours[lexeme]
        every = frozenset(own) | frozenset(forms)
        wanted.append(every)
        chunks = min(max(forms.values(), default=0), total_chunks)
        all_words.append(Term(tuple(sorted(every)), chunks, idf(chunks, total_chunks)))
        if forms:
            key = tuple(sorted(forms))
            terms[key] = Term(key, chunks, idf(chunks, total_chunks))
    ordered = sorted(terms.values(), key=lambda term: (-term.weight, term.forms))
    return FullTextQuery(ordered, wanted, all_words)


def idf(chunks: int, total: int) -> float:
    """BM25's inverse document frequency: never negative, highest for the rarest words."""
    return math.log(1 + (total - chunks + 0.5) / (chunks + 0.5))
