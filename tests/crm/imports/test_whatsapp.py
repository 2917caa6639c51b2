"""WhatsApp chat exports as Android and iPhone write them, in Russian and English phone locales."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from easyflow.crm.imports import whatsapp
from easyflow.crm.imports.chats import Media, UnreadableFile

FIXTURES = Path(__file__).parent / "fixtures"


def _parse(name: str) -> whatsapp.ParsedChat:
    return whatsapp.parse((FIXTURES / name).read_bytes(), name)


def test_android_russian_export_reads_messages_with_their_lines_and_media() -> None:
    chat = _parse("WhatsApp Chat with +996 555 123 456.txt")

    assert chat.title == "+996 555 123 456"
    assert chat.phone == "+996555123456"
    assert [(m.sent_at, m.sender, m.text) for m in chat.messages] == [
        (datetime(2026, 11, 25, 9, 58), "+996 555 123 456", "Здравствуйте! Сколько стоит тур на Иссык-Куль?"),
        (datetime(2026, 11, 25, 10, 2), "Tour Bishkek", "Добрый день!\nТур на 3 дня — 15 000 сом.\nВыезд в пятницу."),
        (datetime(2026, 11, 25, 10, 3), "+996 555 123 456", ""),
        (datetime(2026, 11, 25, 10, 4), "+996 555 123 456", ""),
        (datetime(2026, 11, 26, 18, 30), "+996 555 123 456", "Беру! 13.12 подойдёт?"),
    ]
    assert chat.messages[2].media == (Media("image", "IMG-20261125-WA0001.jpg"),)
    assert chat.messages[3].media == (Media("file"),)
    assert chat.unreadable == []


def test_android_english_12_hour_export_with_narrow_spaces_before_pm() -> None:
    chat = _parse("WhatsApp Chat with Aida.txt")

    assert chat.title == "Aida"
    assert chat.phone is None
    assert [(m.sent_at, m.sender) for m in chat.messages] == [
        (datetime(2026, 11, 25, 9, 58), "Aida"),
        (datetime(2026, 11, 25, 10, 2), "Tour Bishkek"),
        (datetime(2026, 11, 25, 12, 15), "Aida"),
        (datetime(2026, 11, 25, 13, 5), "Tour Bishkek"),
    ]
    assert chat.messages[2].media == (Media("file"),)
    assert chat.messages[3].media == (Media("image", "IMG-20261125-WA0007.jpg"),)
    assert chat.messages[3].text == "The camp, see"


def test_iphone_russian_export_with_brackets_seconds_and_marked_notices() -> None:
    chat = whatsapp.parse((FIXTURES / "_chat.txt").read_bytes(), "_chat.txt", folder_name="WhatsApp Chat - Анна.zip")

    assert chat.title == "Анна"
    assert [(m.sent_at, m.text, m.media) for m in chat.messages] == [
        (datetime(2026, 11, 25, 14, 3, 11), "Добрый день, хочу записаться на окрашивание", ()),
        (datetime(2026, 11, 25, 14, 5, 40), "Здравствуйте, Анна! Завтра в 15:00 свободно.", ()),
        (datetime(2026, 11, 25, 14, 6, 2), "", (Media("image", "00000012-PHOTO-2026-11-25-14-06-02.jpg"),)),
        (datetime(2026, 11, 25, 14, 6, 30), "", (Media("image"),)),
        (datetime(2026, 11, 25, 14, 7), "", (Media("audio"),)),
        (datetime(2026, 11, 25, 14, 9, 15), "Вот так хочу\nи чуть короче", ()),
    ]


def test_iphone_english_export_skips_notices_and_deleted_messages() -> None:
    chat = _parse("WhatsApp Chat - Bob.txt")

    assert chat.title == "Bob"
    assert [(m.sent_at, m.sender, m.text, m.media) for m in chat.messages] == [
        (datetime(2026, 11, 25, 14, 3, 11), "Bob", "Hi, is the 3-day tour still available?", ()),
        (datetime(2026, 11, 25, 14, 4), "Tour Bishkek", "Yes! 15 000 som.", ()),
        (datetime(2026, 11, 25, 14, 5, 12), "Bob", "", (Media("image", "00000003-PHOTO-2026-11-25-14-05-12.jpg"),)),
        (datetime(2026, 11, 25, 14, 6), "Bob", "", (Media("image"),)),
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("25.11.2026, 14:03 - Анна: привет", datetime(2026, 11, 25, 14, 3)),
        ("25/11/2026, 14:03 - Анна: привет", datetime(2026, 11, 25, 14, 3)),
        ("25.11.26, 14:03 - Анна: привет", datetime(2026, 11, 25, 14, 3)),
        ("2026-11-25, 14:03 - Анна: привет", datetime(2026, 11, 25, 14, 3)),
        ("25.11.2026, 2:03 ПП - Анна: привет", datetime(2026, 11, 25, 14, 3)),
        ("25.11.2026, 12:03 ДП - Анна: привет", datetime(2026, 11, 25, 0, 3)),
        ("25.11.2026, 12:03 ПП - Анна: привет", datetime(2026, 11, 25, 12, 3)),
        ("11/25/26, 2:03 PM - Anna: hi", datetime(2026, 11, 25, 14, 3)),
        ("11/25/26, 2:03 p.m. - Anna: hi", datetime(2026, 11, 25, 14, 3)),
        ("11/25/26, 2:03\u202fam - Anna: hi", datetime(2026, 11, 25, 2, 3)),
        ("[25.11.2026, 14:03:11] Анна: привет", datetime(2026, 11, 25, 14, 3, 11)),
        ("[25.11.26, 14:03:11] Анна: привет", datetime(2026, 11, 25, 14, 3, 11)),
        ("\u200e[11/25/26, 2:03:11\u00a0PM] Anna: hi", datetime(2026, 11, 25, 14, 3, 11)),
        ("[2026-11-25, 14:03:11] Anna: hi", datetime(2026, 11, 25, 14, 3, 11)),
        ("25.11.2026 14:03 - Анна: привет", datetime(2026, 11, 25, 14, 3)),
    ],
)
def test_every_date_and_time_form_reads_the_same_instant(line: str, expected: datetime) -> None:
    chat = whatsapp.parse(line.encode(), "chat.txt")

    assert [m.sent_at for m in chat.messages] == [expected]


def test_day_or_month_first_is_decided_by_any_field_over_12_in_the_file() -> None:
    month_first = "03/04/2026, 10:00 - Anna: first\n03/25/2026, 10:00 - Anna: later\n"
    day_first = "03/04/2026, 10:00 - Anna: first\n25/04/2026, 10:00 - Anna: later\n"

    assert whatsapp.parse(month_first.encode(), "a.txt").messages[0].sent_at == datetime(2026, 3, 4, 10, 0)
    assert whatsapp.parse(day_first.encode(), "b.txt").messages[0].sent_at == datetime(2026, 4, 3, 10, 0)


def test_undecided_dates_follow_the_locale_habit() -> None:
    dotted = "03.04.2026, 10:00 - Анна: привет\n"
    us_slashes = "3/4/26, 10:00 AM - Anna: hi\n"

    assert whatsapp.parse(dotted.encode(), "a.txt").messages[0].sent_at == datetime(2026, 4, 3, 10, 0)
    assert whatsapp.parse(us_slashes.encode(), "b.txt").messages[0].sent_at == datetime(2026, 3, 4, 10, 0)


@pytest.mark.parametrize(
    ("body", "media"),
    [
        ("<Media omitted>", Media("file")),
        ("<Медиафайлы отсутствуют>", Media("file")),
        ("<Без медиафайлов>", Media("file")),
        ("\u200eimage omitted", Media("image")),
        ("\u200evideo omitted", Media("video")),
        ("\u200esticker omitted", Media("sticker")),
        ("\u200eизображение отсутствует", Media("image")),
        ("\u200eвидео отсутствует", Media("video")),
        ("\u200eдокумент отсутствует", Media("document")),
        (
            "\u200e<attached: 00000012-PHOTO-2026-11-25-14-03-11.jpg>",
            Media("image", "00000012-PHOTO-2026-11-25-14-03-11.jpg"),
        ),
        (
            "\u200e<прикреплено: 00000013-AUDIO-2026-11-25-14-03-11.opus>",
            Media("audio", "00000013-AUDIO-2026-11-25-14-03-11.opus"),
        ),
        ("IMG-20261125-WA0001.jpg (file attached)", Media("image", "IMG-20261125-WA0001.jpg")),
        ("PTT-20261125-WA0003.opus (файл добавлен)", Media("audio", "PTT-20261125-WA0003.opus")),
        ("Договор.pdf (файл добавлен)", Media("document", "Договор.pdf")),
        ("VID-20261125-WA0002.mp4 (file attached)", Media("video", "VID-20261125-WA0002.mp4")),
    ],
)
def test_media_placeholders_in_both_languages(body: str, media: Media) -> None:
    chat = whatsapp.parse(f"25.11.2026, 14:03 - Анна: {body}\n".encode(), "chat.txt")

    assert [m.media for m in chat.messages] == [(media,)]


@pytest.mark.parametrize(
    "line",
    [
        "25.11.2026, 14:03 - Сообщения и звонки защищены сквозным шифрованием. Нажмите, чтобы узнать больше.",
        "11/25/26, 2:03 PM - Messages and calls are end-to-end encrypted. No one outside of this chat can read them.",
        "[25.11.2026, 14:03:11] Анна: \u200eСообщения и звонки защищены сквозным шифрованием.",
        "25.11.2026, 14:03 - Анна присоединился(-ась) по ссылке-приглашению этой группы",
        "11/25/26, 2:03 PM - Bob joined using this group's invite link",
        "11/25/26, 2:03 PM - \u202a+7 912 345 67 89\u202c changed their phone number to a new number. Tap to message.",
        "25.11.2026, 14:03 - Вы создали группу «Туры декабрь»",
        '11/25/26, 2:03 PM - Tour Bishkek created group "December tours"',
        "25.11.2026, 14:03 - Анна: Данное сообщение удалено",
        "25.11.2026, 14:03 - Анна: Это сообщение удалено",
        "11/25/26, 2:03 PM - Anna: This message was deleted",
        "11/25/26, 2:03 PM - Tour Bishkek: You deleted this message",
        "[25.11.2026, 14:03:11] Анна: \u200eВы удалили данное сообщение.",
    ],
)
def test_system_lines_and_deleted_messages_are_not_messages(line: str) -> None:
    text = f"{line}\n25.11.2026, 14:04 - Анна: настоящее сообщение\n"

    chat = whatsapp.parse(text.encode(), "chat.txt")

    assert [m.text for m in chat.messages] == ["настоящее сообщение"]


def test_names_and_numbers_lose_their_invisible_direction_marks() -> None:
    text = (
        "25.11.2026, 14:03 - \u202a+7\u00a0912\u00a0345-67-89\u202c: привет\n"
        "[25.11.2026, 14:04:00] \u200eАнна\u200f: ку\n"
    )

    chat = whatsapp.parse(text.encode(), "chat.txt")

    assert [m.sender for m in chat.messages] == ["+7 912 345-67-89", "Анна"]


def test_utf16_export_from_an_iphone_is_decoded() -> None:
    text = "[25.11.2026, 14:03:11] Анна: Привет из UTF-16\n"

    for encoded in (b"\xff\xfe" + text.encode("utf-16-le"), b"\xfe\xff" + text.encode("utf-16-be")):
        chat = whatsapp.parse(encoded, "_chat.txt")
        assert [m.text for m in chat.messages] == ["Привет из UTF-16"]


def test_utf8_with_bom_and_windows_line_ends() -> None:
    text = "\ufeff25.11.2026, 14:03 - Анна: первая\r\nвторая строка\r\n25.11.2026, 14:04 - Анна: ещё\r\n"

    chat = whatsapp.parse(text.encode(), "chat.txt")

    assert [m.text for m in chat.messages] == ["первая\nвторая строка", "ещё"]


def test_lines_before_the_first_message_and_impossible_dates_are_reported_with_their_line() -> None:
    text = "какой-то заголовок\n31.02.2026, 14:03 - Анна: тридцать первое февраля\n25.11.2026, 14:04 - Анна: ок\n"

    chat = whatsapp.parse(text.encode(), "chat.txt")

    assert [m.text for m in chat.messages] == ["ок"]
    assert [(u.line, u.text) for u in chat.unreadable] == [
        (1, "какой-то заголовок"),
        (2, "31.02.2026, 14:03 - Анна: тридцать первое февраля"),
    ]


@pytest.mark.parametrize(
    "data",
    [b"\x00\x01\x02\xff\xfe binary", b"just some notes\nwithout any dates\n", bytes(range(256)) * 4],
)
def test_what_is_not_a_chat_export_is_refused_clearly(data: bytes) -> None:
    with pytest.raises(UnreadableFile, match=r"garbage\.bin: "):
        whatsapp.parse(data, "garbage.bin")


@pytest.mark.parametrize(
    ("file_name", "folder", "title"),
    [
        ("WhatsApp Chat with +996 555 123 456.txt", None, "+996 555 123 456"),
        ("Чат WhatsApp с Анна Соколова.txt", None, "Анна Соколова"),
        ("WhatsApp Chat - Bob.txt", None, "Bob"),
        ("WhatsApp Chat with Aida (1).txt", None, "Aida"),
        ("_chat.txt", "WhatsApp Chat - Анна.zip", "Анна"),
        ("_chat.txt", "Чат WhatsApp с \u202a+7 912 345 67 89\u202c", "+7 912 345 67 89"),
        ("_chat.txt", None, None),
        ("notes.txt", None, None),
    ],
)
def test_the_chats_name_comes_from_its_file_or_archive_name(
    file_name: str, folder: str | None, title: str | None
) -> None:
    assert whatsapp.chat_title(file_name, folder) == title


def test_a_russian_iphone_on_a_12_hour_clock() -> None:
    text = "[25.11.2026, 2:03:11 ПП] Анна: Добрый день\n[25.11.2026, 11:59:00 ДП] Салон: Доброе утро\n"

    chat = whatsapp.parse(text.encode(), "_chat.txt")

    assert [m.sent_at for m in chat.messages] == [datetime(2026, 11, 25, 14, 3, 11), datetime(2026, 11, 25, 11, 59)]
