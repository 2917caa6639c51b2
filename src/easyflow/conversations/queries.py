"""Reading conversations, their messages, files and event logs."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.conversations import schemas
from easyflow.conversations.repository import (
    ContactRepository,
    ConversationEventRepository,
    ConversationFileRepository,
    ConversationFilters,
    ConversationRatingRepository,
    ConversationRepository,
    ListCursor,
    MessageRepository,
)
from easyflow.kit.errors import NotFound, Unprocessable
from easyflow.models.conversations import Contact, ContactIdentity, Conversation, ConversationFile

CONTACT_CONVERSATIONS = 200


class ConversationQueries:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.conversations = ConversationRepository(session, tenant_id)
        self.messages = MessageRepository(session, tenant_id)
        self.files = ConversationFileRepository(session, tenant_id)
        self.events = ConversationEventRepository(session, tenant_id)
        self.ratings = ConversationRatingRepository(session, tenant_id)

    async def page(
        self, filters: ConversationFilters, *, limit: int, offset: int, cursor: str | None
    ) -> schemas.ConversationPage:
        after = decode_cursor(cursor) if cursor else None
        rows, total = await self.conversations.page(filters, limit=limit, offset=offset, after=after)
        items = [
            schemas.ConversationListItem(
                **read_conversation(row.conversation, row.contact).model_dump(),
                unread=row.unread,
                last_message=schemas.LastMessage(
                    role=row.last_role, text=row.last_text[: schemas.PREVIEW_CHARS], created_at=row.last_at
                )
                if row.last_role is not None and row.last_text is not None and row.last_at is not None
                else None,
            )
            for row in rows
        ]
        last = rows[-1].conversation if len(rows) == limit else None
        return schemas.ConversationPage(
            items=items, total=total, next_cursor=encode_cursor(last.last_activity_at, last.id) if last else None
        )

    async def count(self, filters: ConversationFilters) -> int:
        return await self.conversations.count(filters)

    async def get(self, conversation_id: uuid.UUID) -> schemas.ConversationRead:
        row = await self.conversations.with_contact(conversation_id)
        if row is None:
            raise NotFound("No such conversation in this tenant.")
        return read_conversation(*row)

    async def detail(self, conversation_id: uuid.UUID) -> schemas.ConversationDetail:
        """The conversation with what only its own page shows (its latest rating)."""
        conversation = await self.get(conversation_id)
        rating = await self.ratings.latest_rated(conversation_id)
        return schemas.ConversationDetail(
            **conversation.model_dump(),
            latest_rating=schemas.RatingRead.model_validate(rating) if rating else None,
        )

    async def ratings_of(self, conversation_id: uuid.UUID) -> list[schemas.RatingRead]:
        await self.get(conversation_id)
        return [schemas.RatingRead.model_validate(r) for r in await self.ratings.of_conversation(conversation_id)]

    async def messages_of(
        self, conversation_id: uuid.UUID, *, after: uuid.UUID | None, limit: int
    ) -> list[schemas.MessageRead]:
        await self.get(conversation_id)
        messages = await self.messages.of_conversation(conversation_id, after=after, limit=limit)
        return [schemas.MessageRead.model_validate(m) for m in messages]

    async def events_of(
        self, conversation_id: uuid.UUID, *, limit: int, offset: int
    ) -> list[schemas.ConversationEventRead]:
        await self.get(conversation_id)
        events = await self.events.of_conversation(conversation_id, limit=limit, offset=offset)
        return [schemas.ConversationEventRead.model_validate(e) for e in events]

    async def file(self, conversation_id: uuid.UUID, file_id: uuid.UUID) -> ConversationFile:
        stored = await self.files.content_of(conversation_id, file_id)
        if stored is None:
            raise NotFound("No such file in this conversation.")
        return stored


@dataclass(frozen=True)
class ContactProfile:
    contact: Contact
    identities: list[ContactIdentity]
    conversations: schemas.ConversationPage


class ContactQueries:
    """One contact with how each channel knows them and their conversations."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.contacts = ContactRepository(session, tenant_id)
        self.conversations = ConversationQueries(session, tenant_id)

    async def profile(self, contact_id: uuid.UUID) -> ContactProfile:
        """The contact and all their conversations across channels, newest activity first."""
        contact = await self.contacts.get(contact_id)
        if contact is None:
            raise NotFound("No such contact in this tenant.")
        conversations = await self.conversations.page(
            ConversationFilters(contact_id=contact_id), limit=CONTACT_CONVERSATIONS, offset=0, cursor=None
        )
        return ContactProfile(contact, list(await self.contacts.identities([contact_id])), conversations)


def read_conversation(conversation: Conversation, contact: Contact) -> schemas.ConversationRead:
    return schemas.ConversationRead(
        id=conversation.id,
        contact=schemas.ContactRead.model_validate(contact),
        channel_type=conversation.channel_type,
        assistant_id=conversation.assistant_id,
        status=conversation.status,
        assignee_id=conversation.assignee_id,
        team_id=conversation.team_id,
        last_assignee_id=conversation.last_assignee_id,
        handoff_reason=conversation.handoff_reason,
        snoozed_until=conversation.snoozed_until,
        resolved_at=conversation.resolved_at,
        status_changed_at=conversation.status_changed_at,
        labels=list(conversation.labels),
        language=conversation.language,
        dialogue_state=conversation.dialogue_state,
        last_activity_at=conversation.last_activity_at,
        created_at=conversation.created_at,
        sla=_sla_of(conversation),
    )


def _sla_of(conversation: Conversation) -> schemas.SlaRead | None:
    if conversation.sla_status is None:
        return None
    return schemas.SlaRead(
        policy_id=conversation.sla_policy_id,
        status=conversation.sla_status,
        started_at=conversation.sla_started_at,
        first_response_at=conversation.sla_first_response_at,
        first_response_due_at=conversation.sla_first_response_due_at,
        next_response_due_at=conversation.sla_next_response_due_at,
        resolution_due_at=conversation.sla_resolution_due_at,
        breaches=list(conversation.sla_breaches),
    )


def encode_cursor(last_activity_at: datetime, conversation_id: uuid.UUID) -> str:
    raw = json.dumps({"t": last_activity_at.isoformat(), "i": str(conversation_id)})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> ListCursor:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        when = datetime.fromisoformat(raw["t"])
        if when.tzinfo is None:
            raise ValueError("naive")
        return ListCursor(when, uuid.UUID(raw["i"]))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise Unprocessable("cursor: not one this list gave (pass `next_cursor` back unchanged).") from None
