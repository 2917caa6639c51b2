"""Who is the business and who the customer in a chat, by the name or number the importer gives."""

from __future__ import annotations

from datetime import datetime

import pytest

from easyflow.crm.imports.chats import ChatMessage, ParsedChat
from easyflow.crm.imports.history import Sides


def _message(sender: str, sender_id: str | None = None) -> ChatMessage:
    return ChatMessage(sent_at=datetime(2026, 11, 25), sender=sender, text="…", line=1, sender_id=sender_id)


@pytest.mark.parametrize(
    ("business", "sender", "expected"),
    [
        ("Tour Bishkek", "Tour Bishkek", True),
        ("tour bishkek ", "Tour Bishkek", True),
        ("Tour Bishkek", "Анна", False),
        ("+996 700 000 000", "\u202a+996 700 000 000\u202c", True),
        ("0700 000 000", "+996 700 000 000", False),  # read as a Russian number without its code: not the same
        ("+7 912 345-67-89", "8 (912) 345 67 89", True),
        ("Салон «Лотос»", "\u200eСалон «Лотос»", True),
    ],
)
def test_the_business_is_told_by_its_name_or_number_however_written(business: str, sender: str, expected: bool) -> None:
    chat = ParsedChat(platform="whatsapp", file="chat.txt", title="Анна")

    assert Sides(business).is_business(chat, _message(sender)) is expected


def test_without_a_name_the_person_the_chat_is_named_after_is_the_customer() -> None:
    chat = ParsedChat(platform="whatsapp", file="chat.txt", title="+996 555 123 456")
    sides = Sides(None)

    assert sides.is_business(chat, _message("\u202a+996 555 123 456\u202c")) is False
    assert sides.is_business(chat, _message("Tour Bishkek")) is True


def test_in_a_telegram_chat_the_other_account_is_the_customer_whatever_the_names() -> None:
    chat = ParsedChat(platform="telegram", file="result.json", title="Борис", peer_id="42")
    sides = Sides("Борис")

    assert sides.is_business(chat, _message("Борис", "42")) is False
    assert sides.is_business(chat, _message("Tour", "777")) is True
