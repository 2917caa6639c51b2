"""CSV files of contacts as spreadsheets and other CRMs save them."""

from __future__ import annotations

import pytest

from easyflow.crm.imports import contacts_csv
from easyflow.crm.imports.chats import ContactRow, UnreadableFile


def test_comma_separated_english_header() -> None:
    data = b'name,phone,email,tags\nAida,+996 555 123 456,AIDA@example.com,"vip, december"\n'

    contacts, unreadable = contacts_csv.parse(data, "contacts.csv")

    assert contacts == [ContactRow("Aida", "+996555123456", "aida@example.com", ("vip", "december"), 2)]
    assert unreadable == []


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1251", "utf-16"])
def test_semicolon_separated_russian_header_in_every_encoding(encoding: str) -> None:
    text = "Имя;Телефон;Почта;Теги\r\nАнна Соколова;8 (912) 345-67-89;;постоянная|окрашивание\r\n"

    contacts, _ = contacts_csv.parse(text.encode(encoding), "клиенты.csv")

    assert contacts == [ContactRow("Анна Соколова", "+79123456789", None, ("постоянная", "окрашивание"), 2)]


def test_without_a_header_the_columns_are_name_phone_email_tags() -> None:
    contacts, _ = contacts_csv.parse("Борис,+7 701 234 5678,boris@example.kz\n".encode(), "list.csv")

    assert contacts == [ContactRow("Борис", "+77012345678", "boris@example.kz", (), 1)]


def test_rows_with_neither_phone_nor_email_are_reported() -> None:
    data = "name,phone,email\nНет номера,не помню,\nОк,+996700111222,\n\n".encode()

    contacts, unreadable = contacts_csv.parse(data, "c.csv")

    assert [c.name for c in contacts] == ["Ок"]
    assert [(u.file, u.line, u.text) for u in unreadable] == [("c.csv", 2, "Нет номера,не помню,")]


def test_a_field_beyond_the_csv_limit_is_refused_clearly() -> None:
    with pytest.raises(UnreadableFile, match=r"^huge\.csv: not a readable CSV"):
        contacts_csv.parse(b'name,phone\n"' + b"x" * 200_000 + b'",+996555123456\n', "huge.csv")
