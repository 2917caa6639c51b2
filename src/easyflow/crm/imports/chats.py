"""What every parser of an export gives back: chats (their messages in the export's order, with the lines
that could not be read) and contacts, with no database in sight."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from easyflow.kit.filetypes import decode_text

# Bytes that say how a text file is encoded (iPhones write some exports in UTF-16).
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
UNREADABLE_TEXT_CHARS = 200


class UnreadableFile(Exception):
    """The file is not an export this importer reads (its message says why, for the report)."""


@dataclass(frozen=True)
class Media:
    """A file a message carried: `name` when the export names it (and may hold it), `kind` in words the
    inbox shows (image, video, audio, sticker, document, gif, contact)."""

    kind: str
    name: str | None = None


@dataclass(frozen=True)
class ChatMessage:
    # WhatsApp writes the phone's local time (naive here; read in the tenant's zone); Telegram may give UTC.
    sent_at: datetime
    sender: str
    text: str
    line: int
    sender_id: str | None = None  # Telegram's numeric user id
    message_id: str | None = None  # Telegram's id of the message within its chat
    media: tuple[Media, ...] = ()


@dataclass(frozen=True)
class Unreadable:
    file: str
    line: int | None
    text: str

    def reported(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "text": self.text[:UNREADABLE_TEXT_CHARS]}


@dataclass
class ParsedChat:
    """One chat of an export. `title`: the name the export gives the chat (the other person, or a group);
    `phone`: the customer's number when the export names it; `chat_id`: the platform's id of the chat."""

    platform: str  # whatsapp, telegram
    file: str
    title: str | None
    messages: list[ChatMessage] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)
    phone: str | None = None
    chat_id: str | None = None
    peer_id: str | None = None  # Telegram: the customer's user id in a personal chat
    owner_id: str | None = None  # Telegram: the exporting account's user id
    folder: str = ""  # where the chat's media files lie beside it in an archive


@dataclass(frozen=True)
class ContactRow:
    name: str
    phone: str | None
    email: str | None
    tags: tuple[str, ...]
    line: int


def decode_export(data: bytes, file: str) -> str:
    """The text of an export: UTF-16/32 when a byte-order mark says so, else UTF-8 (with or without its BOM)
    or Windows-1251; anything else (binary garbage) is refused."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding)
            except UnicodeDecodeError as error:
                raise UnreadableFile(f"{file}: not valid {encoding.upper()} text.") from error
    text = decode_text(data)
    if text is None or "\x00" in text:
        raise UnreadableFile(f"{file}: not a text file (binary data).")
    return text
