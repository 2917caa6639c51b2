"""Notes members write about a contact, and the contact's timeline: what happened with them, newest first,
gathered from every source of entries: conversations, notes, deals entering stages, and appointments."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.booking.repository import AppointmentRepository
from easyflow.crm import schemas
from easyflow.crm.contacts import ContactProfiles
from easyflow.crm.funnel.repository import DealRepository
from easyflow.crm.repository import ContactNoteRepository, CrmContactRepository
from easyflow.models.contacts import ContactNote
from easyflow.tenancy.principal import Principal


class ContactNotes:
    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.principal = principal
        self.profiles = ContactProfiles(session, principal)
        self.notes = ContactNoteRepository(session, principal.tenant_id)

    async def add(self, contact_id: uuid.UUID, body: schemas.NoteCreate) -> schemas.NoteRead:
        await self.profiles.get(contact_id)
        note = await self.notes.add(
            ContactNote(contact_id=contact_id, author_id=self.principal.user_id, text=body.text.strip())
        )
        return _read_note(note, await self.notes.author_of(note))

    async def list(self, contact_id: uuid.UUID, *, limit: int, offset: int) -> list[schemas.NoteRead]:
        await self.profiles.get(contact_id)
        written = await self.notes.of_contact(contact_id, before=None, limit=limit, offset=offset)
        return [_read_note(item.note, item.author) for item in written]


def _read_note(note: ContactNote, author: str | None) -> schemas.NoteRead:
    return schemas.NoteRead(
        id=note.id,
        contact_id=note.contact_id,
        author_id=note.author_id,
        author=author,
        text=note.text,
        created_at=note.created_at,
    )


# A source of timeline entries: the contact's entries older than `before` (all when None), newest first, at
# most `limit`.
TimelineSource = Callable[
    [AsyncSession, uuid.UUID, uuid.UUID, datetime | None, int], Awaitable[Sequence[schemas.TimelineEntry]]
]


async def conversation_entries(
    session: AsyncSession, tenant_id: uuid.UUID, contact_id: uuid.UUID, before: datetime | None, limit: int
) -> list[schemas.TimelineEntry]:
    conversations = await CrmContactRepository(session, tenant_id).conversations_before(
        contact_id, before=before, limit=limit
    )
    return [
        schemas.ConversationEntry(
            at=conversation.created_at, conversation=schemas.ConversationSummary.model_validate(conversation)
        )
        for conversation in conversations
    ]


async def note_entries(
    session: AsyncSession, tenant_id: uuid.UUID, contact_id: uuid.UUID, before: datetime | None, limit: int
) -> list[schemas.TimelineEntry]:
    written = await ContactNoteRepository(session, tenant_id).of_contact(contact_id, before=before, limit=limit)
    return [schemas.NoteEntry(at=item.note.created_at, note=_read_note(item.note, item.author)) for item in written]


async def deal_entries(
    session: AsyncSession, tenant_id: uuid.UUID, contact_id: uuid.UUID, before: datetime | None, limit: int
) -> list[schemas.TimelineEntry]:
    moves = await DealRepository(session, tenant_id).moves_of_contact(contact_id, before=before, limit=limit)
    return [
        schemas.DealMoveEntry(
            at=move.at,
            deal_id=move.deal_id,
            deal_title=title,
            from_stage=before_stage,
            to_stage=after_stage,
            actor=move.actor.value,
            reason=move.reason,
        )
        for move, title, before_stage, after_stage in moves
    ]


async def appointment_entries(
    session: AsyncSession, tenant_id: uuid.UUID, contact_id: uuid.UUID, before: datetime | None, limit: int
) -> list[schemas.TimelineEntry]:
    booked = await AppointmentRepository(session, tenant_id).of_contact_before(contact_id, before, limit)
    return [
        schemas.AppointmentEntry(
            at=row.created_at,
            appointment_id=row.id,
            service_id=row.service_id,
            staff_id=row.staff_id,
            start=row.starts_at,
            end=row.ends_at,
            status=row.status,
        )
        for row in booked
    ]


TIMELINE_SOURCES: list[TimelineSource] = [conversation_entries, note_entries, deal_entries, appointment_entries]


class ContactTimeline:
    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal
        self.profiles = ContactProfiles(session, principal)

    async def read(self, contact_id: uuid.UUID, *, before: datetime | None, limit: int) -> schemas.Timeline:
        """The newest `limit` entries before `before` from every source, newest first."""
        await self.profiles.get(contact_id)
        entries: list[schemas.TimelineEntry] = []
        for source in TIMELINE_SOURCES:
            entries.extend(await source(self.session, self.principal.tenant_id, contact_id, before, limit + 1))
        entries.sort(key=lambda entry: entry.at, reverse=True)
        page = entries[:limit]
        return schemas.Timeline(items=page, next_before=page[-1].at if len(entries) > limit else None)
