"""Telegram Desktop exports ("Export chat history" / "Export Telegram data" as machine-readable JSON):
`result.json` holding one chat (an object with `messages`) or all of them (`chats.list`).

A message's `text` is a string or a list of strings and entities (`{"type": "bold", "text": "…"}`); `from_id`
is "user123"; `date_unixtime` is the true instant (`date` is the exporting computer's local time). Service
messages (calls, pins, joins) are skipped. Only personal chats are imported: groups and channels are not one
customer's history.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

from easyflow.crm.imports.chats import ChatMessage, Media, ParsedChat, Unreadable, UnreadableFile, decode_export
from easyflow.crm.phones import normalize_phone

PLATFORM = "telegram"
FILE_NAME = "result.json"
PERSONAL_CHAT = "personal_chat"
_NOT_INCLUDED = "(File not included"
_MEDIA_KINDS = {
    "voice_message": "audio",
    "audio_file": "audio",
    "video_file": "video",
    "video_message": "video",
    "sticker": "sticker",
    "animation": "gif",
}


def parse(data: bytes, file: str) -> list[ParsedChat]:
    """The personal chats of a `result.json` (groups and channels noted as skipped in the first chat's
    `unreadable`, or in an empty chat's when there is none). Raises UnreadableFile when it is not one."""
    try:
        export = json.loads(decode_export(data, file))
    except (ValueError, RecursionError) as error:
        raise UnreadableFile(f"{file}: not valid JSON ({str(error)[:100]}).") from error
    if not isinstance(export, dict):
        raise UnreadableFile(f"{file}: not a Telegram export (no chats in it).")
    folder = str(PurePosixPath(file).parent) if "/" in file else ""
    owner = _owner_id(export)
    phones = _phones_by_user(export)
    if isinstance(export.get("messages"), list):
        raw_chats = [export]
    elif isinstance(export.get("chats"), dict) and isinstance(export["chats"].get("list"), list):
        raw_chats = [chat for chat in export["chats"]["list"] if isinstance(chat, dict)]
    else:
        raise UnreadableFile(f"{file}: not a Telegram export (no chats in it).")
    chats: list[ParsedChat] = []
    skipped: list[Unreadable] = []
    for raw in raw_chats:
        if raw.get("type") != PERSONAL_CHAT:
            kind = str(raw.get("type") or "unknown")[:40]
            skipped.append(
                Unreadable(file, None, f"«{raw.get('name') or '?'}» skipped: a {kind}, not a personal chat.")
            )
            continue
        chats.append(_chat(raw, file, folder, owner, phones))
    if not chats:
        empty = ParsedChat(platform=PLATFORM, file=file, title=None, folder=folder)
        empty.unreadable.extend(skipped)
        return [empty] if skipped else []
    chats[0].unreadable.extend(skipped)
    return chats


def _owner_id(export: dict[str, Any]) -> str | None:
    info = export.get("personal_information")
    user_id = info.get("user_id") if isinstance(info, dict) else None
    return str(user_id) if isinstance(user_id, int) else None


def _phones_by_user(export: dict[str, Any]) -> dict[str, str]:
    """The exporting account's contacts that name their user id: the phone of each (a full export has them)."""
    contacts = export.get("contacts")
    found: dict[str, str] = {}
    if isinstance(contacts, dict) and isinstance(contacts.get("list"), list):
        for contact in contacts["list"]:
            if isinstance(contact, dict) and isinstance(contact.get("user_id"), int):
                phone = normalize_phone(str(contact.get("phone_number") or ""))
                if phone:
                    found[str(contact["user_id"])] = phone
    return found


def _chat(raw: dict[str, Any], file: str, folder: str, owner: str | None, phones: dict[str, str]) -> ParsedChat:
    chat_id = raw.get("id")
    peer = str(chat_id) if isinstance(chat_id, int) else None
    name = raw.get("name")
    chat = ParsedChat(
        platform=PLATFORM,
        file=file,
        title=name if isinstance(name, str) and name.strip() else None,
        chat_id=peer,
        peer_id=peer,
        owner_id=owner,
        phone=phones.get(peer) if peer else None,
        folder=folder,
    )
    for number, message in enumerate(raw.get("messages") or [], start=1):
        if not isinstance(message, dict) or message.get("type") != "message":
            continue
        try:
            parsed = _message(message, number)
        except (ValueError, TypeError, OverflowError):
            chat.unreadable.append(Unreadable(file, number, json.dumps(message, ensure_ascii=False)[:200]))
            continue
        if parsed.text or parsed.media:
            chat.messages.append(parsed)
    return chat


def _message(message: dict[str, Any], number: int) -> ChatMessage:
    if message.get("date_unixtime"):
        sent_at = datetime.fromtimestamp(int(message["date_unixtime"]), UTC)
    else:
        sent_at = datetime.fromisoformat(str(message["date"]))
    sender_id = str(message.get("from_id") or "")
    return ChatMessage(
        sent_at=sent_at,
        sender=str(message.get("from") or ""),
        sender_id=sender_id.removeprefix("user") if sender_id.startswith("user") else sender_id or None,
        text=text_of(message.get("text", "")).strip(),
        line=number,
        message_id=str(message["id"]) if isinstance(message.get("id"), int) else None,
        media=_media(message),
    )


def text_of(text: Any) -> str:
    """A message's text, plain: Telegram gives a string, or a list of strings and `{"type", "text"}` entities."""
    if isinstance(text, str):
        return text
    if isinstance(text, list):
        return "".join(part if isinstance(part, str) else str(part.get("text", "")) for part in text if part)
    return ""


def _media(message: dict[str, Any]) -> tuple[Media, ...]:
    if "photo" in message:
        return (Media("image", _included(message["photo"])),)
    if "file" in message:
        kind = _MEDIA_KINDS.get(str(message.get("media_type")), "document")
        return (Media(kind, _included(message["file"])),)
    if "contact_information" in message:
        return (Media("contact"),)
    return ()


def _included(path: Any) -> str | None:
    """The file's path in the export, or None when Telegram left the file out."""
    return path if isinstance(path, str) and path and not path.startswith(_NOT_INCLUDED) else None
