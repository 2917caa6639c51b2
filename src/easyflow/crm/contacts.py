"""Contacts' profiles: finding contacts, reading and editing one (numbers, e-mail, tags, the workspace's own
fields), notes, the timeline of what happened with them, and the numbers two contacts share."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.crm import schemas
from easyflow.crm.phones import normalize_phone
from easyflow.crm.repository import (
    ContactFieldRepository,
    ContactFilters,
    ContactNoteRepository,
    CrmContactRepository,
)
from easyflow.kit.errors import Conflict, NotFound, Unprocessable
from easyflow.models.contacts import ContactFieldDefinition, ContactFieldKind, ContactNote
from easyflow.models.conversations import Contact, ContactIdentity
from easyflow.tenancy.principal import Principal

NO_SUCH_CONTACT = "No such contact in this tenant."
# Beyond what any number a business keeps on a customer means, and within what a float holds exactly.
MAX_FIELD_NUMBER = 10**15
MAX_DUPLICATE_GROUPS = 200
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True)
class ListedContact:
    contact: schemas.ContactRead
    channels: list[str]  # the kinds of channel identity, each once


def read_contact(contact: Contact, **overrides: Any) -> schemas.ContactRead:
    return schemas.ContactRead.model_validate({**_fields_of(contact), **overrides})


def read_detail(contact: Contact, identities: Sequence[ContactIdentity], **overrides: Any) -> schemas.ContactDetail:
    return schemas.ContactDetail.model_validate(
        {
            **_fields_of(contact),
            "identities": [schemas.IdentityRead.model_validate(identity) for identity in identities],
            "custom_fields": dict(contact.custom_fields),
            **overrides,
        }
    )


def _fields_of(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.id,
        "name": contact.name,
        "phone": contact.phone,
        "phones": list(contact.phones),
        "email": contact.email,
        "language": contact.language,
        "source": contact.source,
        "tags": list(contact.labels),
        "unreachable": contact.unreachable,
        "created_at": contact.created_at,
        "updated_at": contact.updated_at,
    }


def phone_query(raw: str) -> str:
    """A number to look contacts up by, in E.164 (it may be written any common way)."""
    number = normalize_phone(raw)
    if number is None:
        raise Unprocessable(f"phone: {raw[:40]!r} is not a phone number.")
    return number


class ContactProfiles:
    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal
        self.contacts = CrmContactRepository(session, principal.tenant_id)
        self.fields = ContactFieldRepository(session, principal.tenant_id)

    async def search(self, filters: ContactFilters, *, limit: int, offset: int) -> schemas.ContactPage:
        found, total = await self.contacts.search(filters, limit=limit, offset=offset)
        return schemas.ContactPage(items=[read_contact(contact) for contact in found], total=total)

    async def listed(self, filters: ContactFilters, *, limit: int, offset: int) -> tuple[list[ListedContact], int]:
        """A page of contacts with the kinds of channel that know each (the dashboard's list)."""
        found, total = await self.contacts.search(filters, limit=limit, offset=offset)
        identities = await self.contacts.identities([contact.id for contact in found])
        return [
            ListedContact(
                read_contact(contact),
                list(dict.fromkeys(i.kind for i in identities if i.contact_id == contact.id)),
            )
            for contact in found
        ], total

    async def get(self, contact_id: uuid.UUID) -> Contact:
        contact = await self.contacts.get(contact_id)
        if contact is None:
            raise NotFound(NO_SUCH_CONTACT)
        return contact

    async def read(self, contact_id: uuid.UUID) -> schemas.ContactDetail:
        contact = await self.get(contact_id)
        return read_detail(contact, await self.contacts.identities([contact.id]))

    async def update(self, contact_id: uuid.UUID, body: schemas.ContactUpdate) -> schemas.ContactDetail:
        """Everything is checked before anything changes: a refused update leaves the contact as it was."""
        contact = await self.contacts.get_for_update(contact_id)
        if contact is None:
            raise NotFound(NO_SUCH_CONTACT)
        given = body.model_fields_set
        numbers = _normalized_phones(body.phones or []) if "phones" in given else None
        custom = None
        if "custom_fields" in given and body.custom_fields:
            definitions = {definition.key: definition for definition in await self.fields.all()}
            custom = field_values(definitions, contact.custom_fields, body.custom_fields)
        if "name" in given:
            contact.name = (body.name or "").strip()
        if numbers is not None:
            contact.phones = numbers
            # The primary number stays as it was written while it is still the first.
            if not numbers:
                contact.phone = None
            elif normalize_phone(contact.phone or "") != numbers[0]:
                contact.phone = numbers[0]
        if "email" in given:
            contact.email = body.email
        if "language" in given:
            contact.language = body.language
        if "source" in given:
            contact.source = (body.source or "").strip() or None
        if "tags" in given:
            contact.labels = list(body.tags or [])
        if custom is not None:
            contact.custom_fields = custom
        await self.session.flush()
        await self.session.refresh(contact)
        return read_detail(contact, await self.contacts.identities([contact.id]))

    async def tags(self) -> list[str]:
        return await self.contacts.tags()

    async def identity_kinds(self) -> list[str]:
        return await self.contacts.identity_kinds()

    async def duplicates(self, *, contact_id: uuid.UUID | None = None) -> list[schemas.DuplicateGroup]:
        """Contacts that share a number: each group a merge to offer (with `contact_id`, that contact's)."""
        if contact_id is not None:
            await self.get(contact_id)
        shared = await self.contacts.sharing_phones(contact_id=contact_id, limit=MAX_DUPLICATE_GROUPS)
        everyone = {c.id: c for c in await self.contacts.of_ids([i for group in shared for i in group.contact_ids])}
        return [
            schemas.DuplicateGroup(
                phone=group.phone,
                contacts=[
                    read_contact(contact)
                    for contact in sorted(
                        (everyone[i] for i in group.contact_ids if i in everyone), key=lambda c: (c.created_at, c.id)
                    )
                ],
            )
            for group in shared
        ]


def _normalized_phones(raw: Sequence[str]) -> list[str]:
    numbers: list[str] = []
    for index, written in enumerate(raw):
        number = normalize_phone(written)
        if number is None:
            raise Unprocessable(f"phones[{index}]: {written!r} is not a phone number.")
        if number not in numbers:
            numbers.append(number)
    return numbers


def field_values(
    definitions: Mapping[str, ContactFieldDefinition], current: Mapping[str, Any], given: Mapping[str, Any]
) -> dict[str, Any]:
    """`current` values with those `given` checked against their definitions and put in (None removes one)."""
    values = dict(current)
    for key, value in given.items():
        definition = definitions.get(key)
        if definition is None:
            raise Unprocessable(f"custom_fields.{key[:64]}: no such contact field in this workspace.")
        checked = _checked_value(definition, value)
        if checked is None:
            values.pop(key, None)
        else:
            values[key] = checked
    return values


def _checked_value(definition: ContactFieldDefinition, value: Any) -> Any:
    where = f"custom_fields.{definition.key}"
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    kind = ContactFieldKind(definition.kind)
    if kind == ContactFieldKind.number:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise Unprocessable(f"{where}: must be a number.")
        if abs(value) > MAX_FIELD_NUMBER:
            raise Unprocessable(f"{where}: must be at most {MAX_FIELD_NUMBER:,} either way.")
        return value
    if not isinstance(value, str):
        raise Unprocessable(f"{where}: must be text.")
    text = value.strip()
    if kind == ContactFieldKind.date:
        try:
            if not ISO_DATE.fullmatch(text):
                raise ValueError(text)
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise Unprocessable(f"{where}: must be a date written YYYY-MM-DD.") from None
    if kind == ContactFieldKind.choice and text not in definition.choices:
        raise Unprocessable(f"{where}: must be one of {', '.join(definition.choices) or '(no choices yet)'}.")
    return text


class ContactFields:
    """The workspace's own contact fields."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.fields = ContactFieldRepository(session, principal.tenant_id)
        self.contacts = CrmContactRepository(session, principal.tenant_id)

    async def list(self) -> list[schemas.ContactFieldRead]:
        return [schemas.ContactFieldRead.model_validate(field) for field in await self.fields.all()]

    async def create(self, body: schemas.ContactFieldCreate) -> schemas.ContactFieldRead:
        _check_choices(body.kind, body.choices)
        if await self.fields.by_key(body.key) is not None:
            raise Conflict(f"key: the workspace already has a field {body.key!r}.")
        field = ContactFieldDefinition(
            key=body.key, label=body.label.strip(), kind=body.kind.value, choices=body.choices, position=body.position
        )
        try:
            async with self.session.begin_nested():
                await self.fields.add(field)
        except IntegrityError:  # created by someone else meanwhile
            raise Conflict(f"key: the workspace already has a field {body.key!r}.") from None
        return schemas.ContactFieldRead.model_validate(field)

    async def get(self, field_id: uuid.UUID) -> ContactFieldDefinition:
        field = await self.fields.get(field_id)
        if field is None:
            raise NotFound("No such contact field in this tenant.")
        return field

    async def update(self, field_id: uuid.UUID, body: schemas.ContactFieldUpdate) -> schemas.ContactFieldRead:
        field = await self.get(field_id)
        if body.label is not None:
            field.label = body.label.strip()
        if body.choices is not None:
            _check_choices(ContactFieldKind(field.kind), body.choices)
            field.choices = body.choices
        if body.position is not None:
            field.position = body.position
        await self.session.flush()
        return schemas.ContactFieldRead.model_validate(field)

    async def delete(self, field_id: uuid.UUID) -> None:
        """The field and every contact's value of it."""
        field = await self.get(field_id)
        await self.contacts.remove_field_values(field.key)
        await self.fields.delete(field)


def _check_choices(kind: ContactFieldKind, choices: Sequence[str]) -> None:
    if kind == ContactFieldKind.choice and not choices:
        raise Unprocessable("choices: a choice field needs at least one choice.")
    if kind != ContactFieldKind.choice and choices:
        raise Unprocessable(f"choices: only a choice field has choices, not a {kind.value} one.")


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
# most `limit`. Deals, their moves and bookings become sources of their own beside these.
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


TIMELINE_SOURCES: list[TimelineSource] = [conversation_entries, note_entries]


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
