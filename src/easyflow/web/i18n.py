"""The dashboard's languages: English message ids in templates and code, Russian from a gettext catalog.

Templates mark text with `{{ _("...") }}` / `{% trans %}` and numbers with `ngettext`, code with `gettext` /
`ngettext` of `translations(locale)`. The Russian catalog, `locale/ru/LC_MESSAGES/messages.po`, is the one
source: it is compiled in memory when first used, so no build step and no compiled file in the repository.
Russian has three plural forms (1 диалог, 2 диалога, 5 диалогов, 21 диалог), which the catalog's header
declares and Babel applies. `make translations` extracts the messages and merges them into the catalog;
tests/web/test_i18n.py fails on a message without a Russian translation or with a fuzzy one.
"""

from __future__ import annotations

import gettext
import io
import re
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES = ("ru", "en")
DEFAULT_LOCALE = "ru"  # the market the product is for
SOURCE_LOCALE = "en"  # the language of the message ids: needs no catalog
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
_LANGUAGE_RANGE = re.compile(r"^\s*([A-Za-z]{1,8})(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([01](?:\.\d{0,3})?))?\s*$")


def catalog_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=len(LOCALES))
def translations(locale: str) -> gettext.NullTranslations:
    """The messages of `locale` (one of LOCALES); the source language translates to itself."""
    if locale not in LOCALES:
        raise ValueError(f"no such dashboard language: {locale!r}")
    if locale == SOURCE_LOCALE:
        return gettext.NullTranslations()
    with catalog_path(locale).open("rb") as source:
        catalog = read_po(source, locale=locale, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def choose_locale(chosen: str | None, accept_language: str | None) -> str:
    """The member's own choice when they made one, else the browser's most preferred language we have,
    else Russian. A malformed header counts as no header."""
    if chosen in LOCALES:
        return chosen
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate((accept_language or "")[:1000].split(",")):
        matched = _LANGUAGE_RANGE.match(item)
        if matched is None:
            continue
        language, quality = matched.group(1).lower(), float(matched.group(2) or 1)
        if language in LOCALES and quality > 0:
            ranked.append((-quality, position, language))
    return min(ranked)[2] if ranked else DEFAULT_LOCALE
