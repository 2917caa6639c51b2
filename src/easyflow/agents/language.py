"""Which language a customer writes in, from the letters they use (Cyrillic: Russian, Latin: English)."""

from __future__ import annotations

import re

_CYRILLIC = re.compile(r"[а-яёА-ЯЁәғқңөұүһіӘҒҚҢӨҰҮҺІ]")
_LATIN = re.compile(r"[a-zA-Z]")
SUPPORTED = ("ru", "en")


def detect_language(text: str) -> str | None:
    """'ru' or 'en' when the text has enough letters to tell, else None."""
    cyrillic = len(_CYRILLIC.findall(text))
    latin = len(_LATIN.findall(text))
    if cyrillic + latin < 2:
        return None
    return "ru" if cyrillic >= latin else "en"


def reply_language(text: str, previous: str | None, fallback: str) -> str:
    """The conversation's language after this message: what it was written in, else what it was, else the
    assistant's (languages without their own phrases fall back to Russian, the market's lingua franca)."""
    language = detect_language(text) or previous or fallback
    return language if language in SUPPORTED else "ru"
