"""WhatsApp chat exports ("Export chat" on a phone): the text of one chat, as Android and iPhone write it in
any phone locale.

Android:  `25.11.2026, 14:03 - Анна: Привет`      `11/25/26, 2:03 PM - Anna: Hi`
iPhone:   `[25.11.2026, 14:03:11] Анна: Привет`   `[11/25/26, 2:03:11 PM] Anna: Hi`
Names and numbers come wrapped in invisible direction marks; iPhones put a left-to-right mark (U+200E)
before what WhatsApp itself wrote (system notices, media placeholders), and newer phones a narrow no-break
space before AM/PM. A line that does not start with a date and time continues the message above it. Whether
25/11 or 11/25 comes first is settled for the whole file: one field above 12 decides it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath

from easyflow.crm.imports.chats import ChatMessage, Media, ParsedChat, Unreadable, UnreadableFile, decode_export
from easyflow.crm.phones import normalize_phone

PLATFORM = "whatsapp"
LRM = "\u200e"  # what WhatsApp marks its own words with on iPhones
_INVISIBLE = dict.fromkeys(map(ord, "\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"))
_SPACES = {0x00A0: " ", 0x202F: " ", 0x2007: " "}
MAX_SENDER_CHARS = 100

_HEADER = re.compile(
    r"^\u200e*\[?(?P<date>\d{1,4}[./-]\d{1,2}[./-]\d{1,4})[,\s]\s*"
    r"(?P<time>\d{1,2}[:.]\d{2}(?:[:.]\d{2})?)"
    r"(?:\s*(?P<meridiem>[AaPp]\.?\s?[Mm]\.?|ДП|ПП|дп|пп))?"
    r"(?:\]\s?|\s[-–]\s)"
    r"(?P<rest>.*)$"
)
_DATE_FIELDS = re.compile(r"(\d+)[./-](\d+)[./-](\d+)")
_AFTERNOON = ("p", "пп")

# The chat's name in the export's file name, in the languages WhatsApp names it.
_TITLE = re.compile(
    r"^(?:WhatsApp Chat with|WhatsApp Chat -|WhatsApp-Chat mit|Чат WhatsApp с|Чат WhatsApp -)\s*(?P<title>.+)$",
    re.IGNORECASE,
)
_COPY_SUFFIX = re.compile(r"\s*\(\d+\)$")
GENERIC_CHAT_FILE = "_chat.txt"

_DELETED = {
    "this message was deleted",
    "you deleted this message",
    "данное сообщение удалено",
    "это сообщение удалено",
    "сообщение удалено",
    "вы удалили данное сообщение",
    "вы удалили это сообщение",
    "waiting for this message",
    "ожидание сообщения",
    "null",  # Android's line for a view-once photo
}
_EDITED = re.compile(r"\s*<(?:This message was edited|Это сообщение было изменено|Сообщение изменено)>\s*$")
_MEDIA_OMITTED = {"<media omitted>", "<медиафайлы отсутствуют>", "<без медиафайлов>", "<медиафайл отсутствует>"}
# iPhone placeholders: "image omitted", «изображение отсутствует».
_OMITTED_KINDS = {
    "image": "image",
    "photo": "image",
    "изображение": "image",
    "фото": "image",
    "video": "video",
    "видео": "video",
    "audio": "audio",
    "аудио": "audio",
    "аудиофайл": "audio",
    "sticker": "sticker",
    "стикер": "sticker",
    "document": "document",
    "документ": "document",
    "gif": "gif",
    "contact card": "contact",
    "карточка контакта": "contact",
}
_OMITTED = re.compile(r"^(?P<kind>[\w ]+?) (?:omitted|отсутствует)$", re.IGNORECASE)
_ATTACHED = re.compile(r"^<(?:attached|прикреплено|вложение|файл): (?P<name>[^<>]+)>$", re.IGNORECASE)
_FILE_ATTACHED = re.compile(
    r"^(?P<name>[^<>/\\]+\.\w{1,5}) \((?:file attached|файл добавлен|файл прикреплён|файл прикреплен)\)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Header:
    line: int
    date: tuple[str, str, str]
    time: str
    meridiem: str | None
    rest: str


def chat_title(file_name: str, folder_name: str | None = None) -> str | None:
    """The chat's name from its export's file name ("WhatsApp Chat with Анна.txt"), or from the archive or
    folder it came in when the file is the generic `_chat.txt`."""
    path = PurePosixPath(file_name.replace("\\", "/"))
    candidates = [path.stem] if path.name.lower() != GENERIC_CHAT_FILE else []
    if folder_name:
        candidates.append(PurePosixPath(folder_name.replace("\\", "/")).stem)
    for candidate in candidates:
        found = _TITLE.match(_COPY_SUFFIX.sub("", clean(candidate)).strip())
        if found:
            return found["title"].strip() or None
    return None


def clean(line: str) -> str:
    """The line without invisible direction marks (U+200E is kept: it tells WhatsApp's words from people's)
    and with no-break spaces made plain."""
    return line.translate(_INVISIBLE).translate(_SPACES)


def looks_like_whatsapp(text: str) -> bool:
    """Whether the text's first lines read as a WhatsApp export (for a `.txt` of any name in an archive)."""
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    return any(_HEADER.match(clean(line)) for line in lines[:5])


def parse(data: bytes, file: str, *, folder_name: str | None = None) -> ParsedChat:
    """One chat from the bytes of its `.txt` export. Raises UnreadableFile when nothing in it is a
    WhatsApp message."""
    text = decode_export(data, file)
    headers, strays = _scan(text)
    if not headers:
        raise UnreadableFile(f"{file}: no WhatsApp messages found (not a chat export).")
    title = chat_title(file, folder_name)
    chat = ParsedChat(platform=PLATFORM, file=file, title=title, phone=normalize_phone(title) if title else None)
    order = _date_order([h.date for h in headers], any(h.meridiem for h in headers))
    lines = text.splitlines()
    for index, header in enumerate(headers):
        end = headers[index + 1].line - 1 if index + 1 < len(headers) else len(lines)
        continuation = [clean(line) for line in lines[header.line : end]]
        try:
            sent_at = _timestamp(header, order)
        except ValueError:
            chat.unreadable.append(Unreadable(file, header.line, lines[header.line - 1]))
            continue
        message = _message(header, continuation, sent_at)
        if message is not None:
            chat.messages.append(message)
    chat.unreadable[:0] = [Unreadable(file, number, line) for number, line in strays]
    return chat


def _scan(text: str) -> tuple[list[_Header], list[tuple[int, str]]]:
    """The lines that start a message, and the non-empty lines before the first of them (unreadable)."""
    headers: list[_Header] = []
    strays: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        found = _HEADER.match(clean(raw))
        if found:
            fields = _DATE_FIELDS.fullmatch(found["date"])
            assert fields is not None
            date = (fields[1], fields[2], fields[3])
            headers.append(_Header(number, date, found["time"], found["meridiem"], found["rest"]))
        elif not headers and raw.strip():
            strays.append((number, raw))
    return headers, strays


def _date_order(dates: list[tuple[str, str, str]], has_meridiem: bool) -> str:
    """`ymd`, `dmy` or `mdy` for every date of the file: a four-digit first field is a year; a first field
    above 12 is a day, a second above 12 is one; otherwise the locale's habit (dots: day first; slashes with
    AM/PM: the US, month first)."""
    if any(len(first) == 4 for first, _, _ in dates):
        return "ymd"
    if any(int(first) > 12 for first, _, _ in dates):
        return "dmy"
    if any(int(second) > 12 for _, second, _ in dates):
        return "mdy"
    return "mdy" if has_meridiem else "dmy"


def _timestamp(header: _Header, order: str) -> datetime:
    first, second, third = (int(field) for field in header.date)
    year, month, day = {"ymd": (first, second, third), "dmy": (third, second, first), "mdy": (third, first, second)}[
        order
    ]
    if len(header.date[0 if order == "ymd" else 2]) <= 2:
        year += 2000  # "25.11.26"
    parts = [int(part) for part in re.split(r"[:.]", header.time)]
    hour, minute, second_of_minute = parts[0], parts[1], parts[2] if len(parts) > 2 else 0
    if header.meridiem:
        afternoon = header.meridiem.lower().startswith(_AFTERNOON)
        if not 1 <= hour <= 12:
            raise ValueError("hour out of range for a 12-hour clock")
        hour = hour % 12 + (12 if afternoon else 0)
    return datetime(year, month, day, hour, minute, second_of_minute)


def _message(header: _Header, continuation: list[str], sent_at: datetime) -> ChatMessage | None:
    """The message a header starts (with the lines continuing it), or None for WhatsApp's own notices and
    deleted messages."""
    rest = header.rest
    separator = rest.find(": ")
    if separator < 1 or separator > MAX_SENDER_CHARS:
        if rest.endswith(":") and 0 < len(rest) - 1 <= MAX_SENDER_CHARS:
            separator = len(rest) - 1
        else:
            return None  # Android's notices have no sender: encryption, joins, changed numbers, new groups
    sender = rest[:separator].replace(LRM, "").strip()
    body = rest[separator + 2 :]
    marked = body.startswith(LRM)
    lines = [body.replace(LRM, ""), *(line.replace(LRM, "") for line in continuation)]
    text = _EDITED.sub("", "\n".join(lines)).strip()
    if not sender or text.lower().rstrip(".") in _DELETED:
        return None
    first, _, remainder = text.partition("\n")
    media = _media(first.strip())
    if media is not None:
        text = remainder.strip()
    elif marked or _is_encryption_notice(text):
        return None  # an iPhone notice: encryption, a changed number, a missed call
    if media is None and not text:
        return None
    return ChatMessage(sent_at=sent_at, sender=sender, text=text, line=header.line, media=(media,) if media else ())


def _is_encryption_notice(text: str) -> bool:
    lowered = text.lower()
    return "end-to-end encrypted" in lowered or "сквозным шифрованием" in lowered


def _media(line: str) -> Media | None:
    lowered = line.lower()
    if lowered in _MEDIA_OMITTED:
        return Media("file")
    for pattern in (_ATTACHED, _FILE_ATTACHED):
        found = pattern.match(line)
        if found:
            name = found["name"].strip()
            return Media(media_kind(name), name)
    omitted = _OMITTED.match(line)
    if omitted and omitted["kind"].lower() in _OMITTED_KINDS:
        return Media(_OMITTED_KINDS[omitted["kind"].lower()])
    return None


def media_kind(name: str) -> str:
    """What a file WhatsApp names is, by its name ("00000012-PHOTO-….jpg", "PTT-20261125-WA0003.opus")."""
    upper = name.upper()
    suffix = PurePosixPath(name).suffix.lower()
    if "-STICKER-" in upper or upper.startswith("STK-"):
        return "sticker"
    if "-PHOTO-" in upper or upper.startswith("IMG-") or suffix in {".jpg", ".jpeg", ".png", ".webp", ".heic"}:
        return "image"
    if "-VIDEO-" in upper or upper.startswith("VID-") or suffix in {".mp4", ".mov", ".3gp"}:
        return "video"
    if "-AUDIO-" in upper or upper.startswith(("PTT-", "AUD-")) or suffix in {".opus", ".m4a", ".mp3", ".ogg"}:
        return "audio"
    if "-GIF-" in upper or suffix == ".gif":
        return "gif"
    return "document"
