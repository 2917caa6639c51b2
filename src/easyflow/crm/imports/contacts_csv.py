"""A CSV of contacts (name, phone, e-mail, tags) as spreadsheets and other CRMs save it: `,` or `;` between
fields, UTF-8 with or without BOM, Windows-1251 or UTF-16; a header row in English or Russian, or none (then
the columns are name, phone, email, tags in that order)."""

from __future__ import annotations

import csv
import io
import re

from easyflow.crm.imports.chats import ContactRow, Unreadable, UnreadableFile, decode_export
from easyflow.crm.phones import normalize_phone

_COLUMNS = {
    "name": {"name", "full name", "contact", "имя", "фио", "контакт", "клиент"},
    "phone": {"phone", "phone number", "mobile", "телефон", "номер", "номер телефона", "мобильный"},
    "email": {"email", "e-mail", "mail", "почта", "эл. почта", "электронная почта"},
    "tags": {"tags", "labels", "теги", "метки", "тэги"},
}
_ORDER = ("name", "phone", "email", "tags")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TAG_SPLIT = re.compile(r"[,;|]")
MAX_NAME_CHARS = 200
MAX_TAG_CHARS = 64
MAX_ROWS = 100_000


def parse(data: bytes, file: str) -> tuple[list[ContactRow], list[Unreadable]]:
    """The rows that name a phone or an e-mail, and the rows that do not (unreadable)."""
    text = decode_export(data, file)
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as error:  # a field beyond the csv module's limit, a stray NUL
        raise UnreadableFile(f"{file}: not a readable CSV ({error}).") from error
    if not rows:
        raise UnreadableFile(f"{file}: the CSV is empty.")
    if len(rows) > MAX_ROWS:
        raise UnreadableFile(f"{file}: more than {MAX_ROWS:,} rows.")
    columns = _header(rows[0])
    start = 1 if columns else 0
    columns = columns or {name: index for index, name in enumerate(_ORDER)}
    contacts: list[ContactRow] = []
    unreadable: list[Unreadable] = []
    for number, row in enumerate(rows[start:], start=start + 1):
        if not any(cell.strip() for cell in row):
            continue
        value = {name: row[index].strip() if index < len(row) else "" for name, index in columns.items()}
        phone = normalize_phone(value.get("phone", ""))
        email = value.get("email", "").lower()
        email = email if _EMAIL.match(email) else ""
        if not phone and not email:
            unreadable.append(Unreadable(file, number, delimiter.join(row)))
            continue
        tags = tuple(
            dict.fromkeys(tag.strip()[:MAX_TAG_CHARS] for tag in _TAG_SPLIT.split(value.get("tags", "")) if tag.strip())
        )
        contacts.append(
            ContactRow(
                name=value.get("name", "")[:MAX_NAME_CHARS], phone=phone, email=email or None, tags=tags, line=number
            )
        )
    return contacts, unreadable


def _header(row: list[str]) -> dict[str, int]:
    """Which column holds what, when the first row is a header (it names a phone or e-mail column)."""
    found: dict[str, int] = {}
    for index, cell in enumerate(row):
        label = cell.strip().lstrip("\ufeff").lower()
        for name, labels in _COLUMNS.items():
            if label in labels and name not in found:
                found[name] = index
    return found if {"phone", "email"} & found.keys() else {}
