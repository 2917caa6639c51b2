"""Telegram Desktop's JSON exports: one chat, or all chats."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from easyflow.crm.imports import telegram
from easyflow.crm.imports.chats import Media, UnreadableFile

CUSTOMER_ID = 424242
OWNER_ID = 777


def personal_chat(messages: list[dict[str, Any]], *, name: str = "Анна", chat_id: int = CUSTOMER_ID) -> dict[str, Any]:
    return {"name": name, "type": "personal_chat", "id": chat_id, "messages": messages}


def message(number: int, sender: str, sender_id: int, text: Any, unixtime: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": number,
        "type": "message",
        "date": "2026-11-25T14:03:11",
        "date_unixtime": str(unixtime),
        "from": sender,
        "from_id": f"user{sender_id}",
        "text": text,
        **extra,
    }


ONE_CHAT = personal_chat(
    [
        {"id": 1, "type": "service", "date": "2026-11-25T14:00:00", "actor": "Анна", "action": "phone_call"},
        message(2, "Анна", CUSTOMER_ID, "Здравствуйте! Есть места на 13 декабря?", 1795600000),
        message(
            3,
            "Tour Bishkek",
            OWNER_ID,
            ["Да, ", {"type": "bold", "text": "есть"}, "! Цена ", {"type": "link", "text": "здесь"}],
            1795600060,
        ),
        message(4, "Анна", CUSTOMER_ID, "", 1795600120, photo="photos/photo_1@25-11-2026_14-05-11.jpg"),
        message(
            5,
            "Анна",
            CUSTOMER_ID,
            "",
            1795600180,
            file="(File not included. Change data exporting settings to download.)",
            media_type="voice_message",
        ),
        message(6, "Анна", CUSTOMER_ID, "Договор", 1795600240, file="files/договор.pdf", mime_type="application/pdf"),
    ]
)


def test_one_chat_export_reads_text_entities_times_senders_and_media() -> None:
    [chat] = telegram.parse(json.dumps(ONE_CHAT, ensure_ascii=False).encode(), "result.json")

    assert (chat.title, chat.peer_id, chat.chat_id) == ("Анна", str(CUSTOMER_ID), str(CUSTOMER_ID))
    assert [(m.message_id, m.sender_id, m.text) for m in chat.messages] == [
        ("2", str(CUSTOMER_ID), "Здравствуйте! Есть места на 13 декабря?"),
        ("3", str(OWNER_ID), "Да, есть! Цена здесь"),
        ("4", str(CUSTOMER_ID), ""),
        ("5", str(CUSTOMER_ID), ""),
        ("6", str(CUSTOMER_ID), "Договор"),
    ]
    assert chat.messages[0].sent_at == datetime.fromtimestamp(1795600000, UTC)
    assert [m.media for m in chat.messages[2:]] == [
        (Media("image", "photos/photo_1@25-11-2026_14-05-11.jpg"),),
        (Media("audio", None),),
        (Media("document", "files/договор.pdf"),),
    ]


def test_all_chats_export_takes_personal_chats_the_owner_and_contacts_phones() -> None:
    export = {
        "personal_information": {"user_id": OWNER_ID, "first_name": "Tour", "phone_number": "+996 700 000 000"},
        "contacts": {"list": [{"user_id": CUSTOMER_ID, "first_name": "Анна", "phone_number": "+996 555 123 456"}]},
        "chats": {
            "list": [
                ONE_CHAT,
                {"name": "Туры декабрь", "type": "private_supergroup", "id": 5, "messages": []},
                personal_chat([message(1, "Bob", 99, "hi", 1795600000)], name="Bob", chat_id=99),
            ]
        },
    }

    chats = telegram.parse(json.dumps(export).encode(), "result.json")

    assert [(c.title, c.owner_id, c.phone) for c in chats] == [
        ("Анна", str(OWNER_ID), "+996555123456"),
        ("Bob", str(OWNER_ID), None),
    ]
    assert [u.text for u in chats[0].unreadable] == [
        "«Туры декабрь» skipped: a private_supergroup, not a personal chat."
    ]


def test_a_message_without_unixtime_keeps_the_local_date() -> None:
    raw = message(1, "Анна", CUSTOMER_ID, "привет", 0)
    del raw["date_unixtime"]

    [chat] = telegram.parse(json.dumps(personal_chat([raw])).encode(), "result.json")

    assert chat.messages[0].sent_at == datetime(2026, 11, 25, 14, 3, 11)


def test_a_broken_message_is_reported_and_the_rest_read() -> None:
    broken = {"id": 1, "type": "message", "date": "not a date", "from": "Анна", "text": "?"}

    [chat] = telegram.parse(
        json.dumps(personal_chat([broken, message(2, "Анна", 1, "ok", 1795600000)])).encode(), "r.json"
    )

    assert [m.text for m in chat.messages] == ["ok"]
    assert [u.line for u in chat.unreadable] == [1]


@pytest.mark.parametrize("data", [b"{not json", b"[1, 2]", b'{"about": "nothing"}', b"\x00\x01garbage"])
def test_what_is_not_a_telegram_export_is_refused(data: bytes) -> None:
    with pytest.raises(UnreadableFile, match=r"result\.json"):
        telegram.parse(data, "result.json")


def test_utf16_json_is_decoded() -> None:
    data = b"\xff\xfe" + json.dumps(ONE_CHAT, ensure_ascii=False).encode("utf-16-le")

    assert len(telegram.parse(data, "result.json")[0].messages) == 5
