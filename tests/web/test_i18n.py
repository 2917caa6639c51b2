"""The dashboard's languages: every message has its Russian, Russian plurals take their three forms, and the
language is the member's choice, else the browser's, else Russian."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from easyflow.web import PROJECT_ROOT
from easyflow.web.i18n import catalog_path, choose_locale, translations

WAITING = ("%(num)d conversation waiting for a person", "%(num)d conversations waiting for a person")


def message_id(message: str | tuple[str, ...]) -> str:
    """A plural message is known by its singular."""
    return message if isinstance(message, str) else message[0]


def extracted_messages(root: Path) -> set[str]:
    with (root / "babel.cfg").open() as mapping:
        method_map, options_map = parse_mapping_cfg(mapping)
    return {message_id(message) for _, _, message, _, _ in extract_from_dir(str(root), method_map, options_map)}


def test_every_message_of_the_templates_and_code_has_a_russian_translation_that_is_not_fuzzy() -> None:
    with catalog_path("ru").open("rb") as source:
        catalog = read_po(source, locale="ru")
    extracted = extracted_messages(PROJECT_ROOT)
    missing = []
    for msgid in extracted:
        entry = catalog.get(msgid)
        strings = entry.string if entry is not None and isinstance(entry.string, tuple) else (entry and entry.string,)
        if entry is None or entry.fuzzy or not all(strings):
            missing.append(msgid)
    assert missing == [], "run `make translations` and translate these in the Russian catalog"
    assert [message.id for message in catalog if message.id and message.fuzzy] == []
    unused = [message.id for message in catalog if message.id and message_id(message.id) not in extracted]
    assert unused == [], "translations nothing uses any more: `make translations` marks them obsolete"


@pytest.mark.parametrize(
    ("count", "russian"),
    [
        (1, "1 диалог ждёт человека"),
        (2, "2 диалога ждут человека"),
        (5, "5 диалогов ждут человека"),
        (11, "11 диалогов ждут человека"),
        (21, "21 диалог ждёт человека"),
        (104, "104 диалога ждут человека"),
    ],
)
def test_russian_plurals_take_their_three_forms(count: int, russian: str) -> None:
    assert translations("ru").ngettext(*WAITING, count) % {"num": count} == russian
    assert translations("en").ngettext(*WAITING, count) % {"num": count} == (
        f"{count} conversation waiting for a person" if count == 1 else f"{count} conversations waiting for a person"
    )


@pytest.mark.parametrize(
    ("chosen", "accept_language", "expected"),
    [
        ("en", "ru-RU,ru;q=0.9", "en"),  # the member's own choice wins
        (None, "en-US,en;q=0.9,ru;q=0.8", "en"),
        (None, "ru;q=0.5, en;q=0.6", "en"),  # by quality, not by order
        (None, "de-DE, fr;q=0.9", "ru"),  # nothing we have: the market's language
        (None, "en;q=0", "ru"),  # q=0 means "not this one"
        (None, None, "ru"),
        (None, "\x00;;q=abc,, ", "ru"),  # malformed: as if absent
        (None, "en," * 5000, "en"),  # very long: read within a bound
        ("xx", "en", "en"),  # an unknown stored choice is ignored
    ],
)
def test_the_language_is_the_members_else_the_browsers_else_russian(
    chosen: str | None, accept_language: str | None, expected: str
) -> None:
    assert choose_locale(chosen, accept_language) == expected


def test_only_the_dashboards_languages_exist() -> None:
    with pytest.raises(ValueError, match="no such dashboard language"):
        translations("de")
