"""Writing one parsed chat into the tenant's history: its customer found (by phone or account) or created,
one conversation (resolved: it is the past), and its messages at their original times, each added once.

A message's dedupe key is the chat's identity (the customer's number or account, not the contact row, which a
merge may replace) with the message's time, text, files and how many identical ones came before it in the
chat: a later export of the same chat repeats the older messages with the same keys, so only the new ones are
added. Not the sender's name nor the side: a later export may name the customer as the phone saved them since,
and a re-import may name the business differently. Nothing here queues a reply or fires a funnel rule: the
history is the past.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.conversations.files import sniff_content_type
from easyflow.conversations.repository import ConversationRepository
from easyflow.conversations.schemas import Attachment
from easyflow.crm.imports.chats import ChatMessage, ContactRow, ParsedChat
from easyflow.crm.imports.reader import Exports
from easyflow.crm.imports.repository import HistoryRepository, ImportedMessage
from easyflow.crm.imports.whatsapp import LRM, clean
from easyflow.crm.phones import normalize_phone
from easyflow.kit.filetypes import OPAQUE
from easyflow.kit.schemas import without_nul
from easyflow.models.conversations import (
    Contact,
    Conversation,
    ConversationFile,
    ConversationStatus,
    DeliveryStatus,
    MessageRole,
)

# The identity kinds the live channels use, so an imported customer is the one who writes next.
WHATSAPP_IDENTITY = "whatsapp"
TELEGRAM_IDENTITY = "telegram"
# A WhatsApp chat whose customer has no number in the export (saved by name on the phone).
WHATSAPP_NAME_IDENTITY = "whatsapp-name"
CHANNEL_KEYS = {"whatsapp": "import:whatsapp", "telegram": "import:telegram"}
INSERT_BATCH = 1000
MAX_NAME_CHARS = 200
NOT_IN_EXPORT = "The file was not in the export."


class ChatSkipped(Exception):
    """The chat cannot be imported as it is (its message says why, for the report)."""


@dataclasses.dataclass
class Tally:
    """What the import did so far; becomes the report."""

    chats: int = 0
    messages: int = 0
    contacts_created: int = 0
    contacts_matched: int = 0
    duplicates_skipped: int = 0
    created: set[uuid.UUID] = dataclasses.field(default_factory=set)
    matched: set[uuid.UUID] = dataclasses.field(default_factory=set)

    def copy(self) -> Tally:
        """A tally to write one chat with: kept when the chat is, dropped with it when it is rolled back."""
        return dataclasses.replace(self, created=set(self.created), matched=set(self.matched))

    def found(self, contact: Contact, *, created: bool) -> None:
        if created:
            self.created.add(contact.id)
            self.contacts_created += 1
        elif contact.id not in self.created and contact.id not in self.matched:
            self.matched.add(contact.id)
            self.contacts_matched += 1


@dataclasses.dataclass(frozen=True)
class Sides:
    """Who is who in a chat: the business's own side, and the customer."""

    business: str | None

    def is_business(self, chat: ParsedChat, message: ChatMessage) -> bool:
        if chat.platform == "telegram" and chat.peer_id and message.sender_id:
            return message.sender_id != chat.peer_id
        if self.business:
            return _same_party(message.sender, self.business)
        # Without a name, the chat's own name is the customer; everyone else writes for the business.
        return chat.title is not None and not _same_party(message.sender, chat.title)


_phone = functools.lru_cache(maxsize=4096)(normalize_phone)


@functools.lru_cache(maxsize=4096)
def _same_party(sender: str, name: str) -> bool:
    """Whether a sender is the named party: the same name, or the same number however written (a chat has few
    senders and many messages, hence the cache: parsing a number is the costly part)."""
    sender, name = (clean(text).replace(LRM, "").strip() for text in (sender, name))
    if sender.casefold() == name.casefold():
        return True
    phone = _phone(sender)
    return phone is not None and phone == _phone(name)


class HistoryWriter:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID, zone: ZoneInfo, tally: Tally) -> None:
        self.history = HistoryRepository(session, tenant_id)
        self.conversations = ConversationRepository(session, tenant_id)
        self.session = session
        self.zone = zone
        self.tally = tally

    async def write_chat(self, chat: ParsedChat, exports: Exports, sides: Sides, *, max_file_bytes: int) -> None:
        roles = [sides.is_business(chat, message) for message in chat.messages]
        customers = [m for m, business in zip(chat.messages, roles, strict=True) if not business]
        identity = _identity(chat, customers)
        if identity is None:
            raise ChatSkipped("no customer in this chat: no message from anyone but the business, and no name.")
        kind, external_id, name, phone = identity
        contact = await self._contact(kind, external_id, name, phone)
        times = [self._utc(message.sent_at) for message in chat.messages]
        conversation = await self._conversation(contact, chat.platform, min(times), max(times))
        several_customers = len({m.sender for m in customers}) > 1
        chat_key = f"import:{kind}:{external_id}"
        occurrences: Counter[tuple[Any, ...]] = Counter()
        pending: list[tuple[str, ChatMessage, bool, datetime]] = []
        for message, business, sent_at in zip(chat.messages, roles, times, strict=True):
            key = _dedupe_key(chat_key, chat, message, occurrences)
            pending.append((key, message, business, sent_at))
        for start in range(0, len(pending), INSERT_BATCH):
            batch = pending[start : start + INSERT_BATCH]
            existing = await self.history.existing_keys([key for key, *_ in batch])
            rows: list[ImportedMessage] = []
            files: list[ConversationFile] = []
            for key, message, business, sent_at in batch:
                if key in existing:
                    self.tally.duplicates_skipped += 1
                    continue
                text = message.text
                if several_customers and not business:
                    text = f"{message.sender}: {text}"
                attachments = [
                    self._attachment(chat, exports, conversation.id, media.kind, media.name, files, max_file_bytes)
                    for media in message.media
                ]
                rows.append(_imported(key, without_nul(text), business, sent_at, attachments))
            await self.history.add_files(files)
            added = await self.history.add_messages(conversation.id, rows)
            self.tally.messages += added
            self.tally.duplicates_skipped += len(rows) - added
        self.tally.chats += 1

    async def write_contacts(self, rows: list[ContactRow]) -> None:
        """A CSV's contacts: found by any of their numbers or their e-mail (tags added, an empty e-mail filled)
        or created."""
        for row in rows:
            contact = await self._known(row.phone, row.email)
            if contact is None:
                contact = await self.history.add_contact(
                    without_nul(row.name)[:MAX_NAME_CHARS], row.phone, [without_nul(tag) for tag in row.tags]
                )
                self.tally.found(contact, created=True)
            else:
                contact.labels = list(dict.fromkeys([*contact.labels, *(without_nul(tag) for tag in row.tags)]))
                if not contact.name or contact.name == contact.phone:  # a chat named them only by their number
                    contact.name = without_nul(row.name)[:MAX_NAME_CHARS] or contact.name
                contact.phone = contact.phone or row.phone
                self.tally.found(contact, created=False)
            contact.email = contact.email or row.email
        await self.session.flush()

    async def _known(self, phone: str | None, email: str | None) -> Contact | None:
        if phone:
            found = await self.history.contact_by_identity(WHATSAPP_IDENTITY, phone.removeprefix("+"))
            found = found or await self.history.contact_by_phone(phone)
            if found:
                return found
        return await self.history.contact_by_email(email) if email else None

    async def _contact(self, kind: str, external_id: str, name: str, phone: str | None) -> Contact:
        contact = await self.history.contact_by_identity(kind, external_id)
        if contact is None and phone:
            contact = await self.history.contact_by_phone(phone)
        created = contact is None
        if contact is None:
            contact = await self.history.add_contact(without_nul(name)[:MAX_NAME_CHARS], phone, [])
        await self.history.add_identity(contact.id, kind, external_id)
        self.tally.found(contact, created=created)
        return contact

    async def _conversation(self, contact: Contact, platform: str, first: datetime, last: datetime) -> Conversation:
        channel_key = CHANNEL_KEYS[platform]
        conversation = await self.conversations.latest_for(contact.id, channel_key)
        if conversation is None:
            return await self.conversations.add(
                Conversation(
                    contact_id=contact.id,
                    channel_type=platform,
                    channel_key=channel_key,
                    status=ConversationStatus.resolved,
                    status_changed_at=last,
                    resolved_at=last,
                    last_activity_at=last,
                    created_at=first,
                )
            )
        if last > conversation.last_activity_at:
            conversation.last_activity_at = last
            conversation.resolved_at = max(conversation.resolved_at or last, last)
        return conversation

    def _utc(self, sent_at: datetime) -> datetime:
        """The export's local time (the phone's; read as the tenant's zone) as an instant."""
        local = sent_at if sent_at.tzinfo else sent_at.replace(tzinfo=self.zone)
        return local.astimezone(UTC)

    def _attachment(
        self,
        chat: ParsedChat,
        exports: Exports,
        conversation_id: uuid.UUID,
        kind: str,
        name: str | None,
        files: list[ConversationFile],
        max_file_bytes: int,
    ) -> dict[str, Any]:
        """The attachment as the message shows it, its file kept when the export holds it."""
        data = exports.media_of(chat, name) if name else None
        shown_name = (name or "").replace("\\", "/").rsplit("/", 1)[-1][:255]
        if data is None or not data:
            return Attachment(kind=kind, name=shown_name, not_stored=NOT_IN_EXPORT).stored()
        if len(data) > max_file_bytes:
            return Attachment(kind=kind, name=shown_name, size=len(data), not_stored="The file is too large.").stored()
        sniffed = sniff_content_type(data)
        content_type = sniffed[0] if sniffed else OPAQUE
        stored = ConversationFile(
            id=uuid.uuid4(),
            conversation_id=conversation_id,
            name=shown_name or "file",
            content_type=content_type,
            size=len(data),
            content=data,
        )
        files.append(stored)
        return Attachment(
            kind=kind, name=stored.name, size=len(data), content_type=content_type, stored_file_id=stored.id
        ).stored()


def _identity(chat: ParsedChat, customers: list[ChatMessage]) -> tuple[str, str, str, str | None] | None:
    """(identity kind, external id, name, E.164 phone) of the chat's customer, or None when the chat names
    nobody (then it has no messages from the customer and no name either)."""
    senders = [message.sender for message in customers if message.sender]
    if chat.platform == "telegram":
        user_id = chat.peer_id or next((m.sender_id for m in customers if m.sender_id), None)
        if user_id is None:
            return None
        name = chat.title or (senders[0] if senders else user_id)
        return TELEGRAM_IDENTITY, user_id, name, chat.phone
    phone = chat.phone or next((p for p in map(_phone, senders) if p), None)
    title = clean(chat.title).strip() if chat.title else None
    name_from_title = title if title and _phone(title) is None else None
    named = next((clean(s).strip() for s in senders if _phone(s) is None), None)
    name = name_from_title or named or (phone or "")
    if phone:
        return WHATSAPP_IDENTITY, phone.removeprefix("+"), name, phone
    if name:
        return WHATSAPP_NAME_IDENTITY, name.casefold()[:200], name, None
    return None


def _dedupe_key(chat_key: str, chat: ParsedChat, message: ChatMessage, occurrences: Counter[tuple[Any, ...]]) -> str:
    if chat.platform == "telegram" and message.message_id:
        return f"{chat_key}:{message.message_id}"
    media = tuple((m.kind, m.name) for m in message.media)
    same = (message.sent_at.isoformat(), message.text, media)
    occurrence = occurrences[same]
    occurrences[same] += 1
    digest = hashlib.sha256(repr((*same, occurrence)).encode()).hexdigest()[:40]
    return f"{chat_key}:{digest}"[:300]


def _imported(
    key: str, text: str, business: bool, sent_at: datetime, attachments: list[dict[str, Any]]
) -> ImportedMessage:
    return ImportedMessage(
        role=MessageRole.operator if business else MessageRole.contact,
        text=text,
        attachments=attachments,
        delivery_status=DeliveryStatus.sent if business else DeliveryStatus.received,
        dedupe_key=key,
        # Answered long ago: nothing waits on an imported message (no reply, no SLA, no unanswered count).
        answered_at=None if business else sent_at,
        created_at=sent_at,
    )
