"""Every SQL statement of the CRM domain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Update, func, or_, select, update
from sqlalchemy.orm import aliased

from easyflow.kit.repository import TenantScopedRepository
from easyflow.models.booking import Appointment
from easyflow.models.contacts import ContactFieldDefinition, ContactNote
from easyflow.models.conversations import Contact, ContactIdentity, Conversation, ConversationStatus
from easyflow.models.crm import CrmTask, Deal
from easyflow.models.tenancy import User


def _like_escaped(value: str) -> str:
    """`value` matched literally inside a LIKE pattern."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# Every table whose rows belong to a contact by `contact_id`, under the name a merge counts them by: a merge
# moves the rows of each to the contact kept. A new such table (deals, tasks) is added here.
CONTACT_OWNED: dict[str, Any] = {
    "identities": ContactIdentity,
    "conversations": Conversation,
    "notes": ContactNote,
    "deals": Deal,
    "tasks": CrmTask,
    "appointments": Appointment,
}


@dataclass(frozen=True)
class ContactFilters:
    q: str | None = None  # part of the name, e-mail, a number (its digits too) or a channel's id for them
    phone: str | None = None  # one number in E.164: contacts who have it among their numbers
    tag: str | None = None
    kind: str | None = None  # known by this kind of channel


@dataclass(frozen=True)
class PhoneShared:
    phone: str
    contact_ids: list[uuid.UUID]  # oldest first


class CrmContactRepository(TenantScopedRepository[Contact]):
    model = Contact

    async def get_for_update(self, contact_id: uuid.UUID) -> Contact | None:
        return (
            await self.session.execute(self.scoped().where(Contact.id == contact_id).with_for_update())
        ).scalar_one_or_none()

    async def of_ids(self, contact_ids: Sequence[uuid.UUID]) -> Sequence[Contact]:
        statement = self.scoped().where(Contact.id.in_(contact_ids)).order_by(Contact.created_at, Contact.id)
        return (await self.session.execute(statement)).scalars().all()

    async def first_with_phone(self, phone: str) -> Contact | None:
        """The oldest contact with this E.164 number among theirs."""
        statement = self.scoped().where(Contact.phones.contains([phone])).order_by(Contact.created_at, Contact.id)
        return (await self.session.execute(statement.limit(1))).scalars().first()

    async def lock_phone(self, phone: str) -> None:
        """Serialize the transactions that look a number up to add it, so two at once make one contact; the
        lock ends with the transaction."""
        key = f"contact-phone:{self.tenant_id}:{phone}"
        await self.session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))

    async def search(self, filters: ContactFilters, *, limit: int, offset: int) -> tuple[Sequence[Contact], int]:
        """The contacts matching every filter given, newest first; and how many match in all."""
        conditions = self._conditions(filters)
        statement = (
            self.scoped().where(*conditions).order_by(Contact.created_at.desc(), Contact.id).limit(limit).offset(offset)
        )
        count = select(func.count()).select_from(Contact).where(Contact.tenant_id == self.tenant_id, *conditions)
        total = (await self.session.execute(count)).scalar_one()
        return (await self.session.execute(statement)).scalars().all(), total

    def _conditions(self, filters: ContactFilters) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if filters.phone is not None:
            conditions.append(Contact.phones.contains([filters.phone]))
        if filters.tag is not None:
            conditions.append(Contact.labels.contains([filters.tag]))
        if filters.kind is not None:
            conditions.append(self._known_as(ContactIdentity.kind == filters.kind))
        if filters.q:
            pattern = "%" + _like_escaped(filters.q.lower()) + "%"
            matches: list[ColumnElement[bool]] = [
                Contact.search_text.like(pattern),
                self._known_as(func.lower(ContactIdentity.external_id).like(pattern)),
            ]
            digits = "".join(char for char in filters.q if char.isdigit())
            if len(digits) >= 3:
                # The numbers in E.164 are in search_text; the primary one as written may have other digits
                # (a national 8 for +7).
                matches.append(Contact.search_text.like(f"%{digits}%"))
                matches.append(func.regexp_replace(Contact.phone, r"\D", "", "g").like(f"%{digits}%"))
            conditions.append(or_(*matches))
        return conditions

    def _known_as(self, condition: ColumnElement[bool]) -> ColumnElement[bool]:
        return (
            select(ContactIdentity.id)
            .where(ContactIdentity.tenant_id == self.tenant_id, ContactIdentity.contact_id == Contact.id, condition)
            .exists()
        )

    async def identities(self, contact_ids: Sequence[uuid.UUID]) -> Sequence[ContactIdentity]:
        """How the channels name these contacts, oldest first."""
        if not contact_ids:
            return []
        statement = (
            select(ContactIdentity)
            .where(ContactIdentity.tenant_id == self.tenant_id, ContactIdentity.contact_id.in_(contact_ids))
            .order_by(ContactIdentity.created_at, ContactIdentity.id)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def identity_kinds(self) -> list[str]:
        """The kinds of channel identity the tenant's contacts have (telegram, widget, api...)."""
        statement = (
            select(ContactIdentity.kind)
            .where(ContactIdentity.tenant_id == self.tenant_id)
            .distinct()
            .order_by(ContactIdentity.kind)
        )
        return list((await self.session.execute(statement)).scalars().all())

    async def tags(self) -> list[str]:
        """Every tag the tenant's contacts carry, alphabetically."""
        tag = func.unnest(Contact.labels).label("tag")
        inner = select(tag).where(Contact.tenant_id == self.tenant_id).subquery()
        statement = select(inner.c.tag).distinct().order_by(inner.c.tag)
        return list((await self.session.execute(statement)).scalars().all())

    async def sharing_phones(self, *, contact_id: uuid.UUID | None = None, limit: int) -> list[PhoneShared]:
        """Numbers two or more contacts have (with `contact_id`, only that contact's), each with its contacts
        oldest first; the numbers ordered by their newest contact, newest first."""
        each_number = select(
            func.unnest(Contact.phones).label("phone"), Contact.id.label("contact_id"), Contact.created_at
        ).where(Contact.tenant_id == self.tenant_id)
        own = Contact.tenant_id == self.tenant_id, Contact.id == contact_id
        if contact_id is not None:
            # Only the contacts with one of its numbers (found by the index), not every contact's numbers.
            each_number = each_number.where(
                Contact.phones.overlap(select(Contact.phones).where(*own).scalar_subquery())
            )
        numbers = each_number.subquery()
        statement = (
            select(numbers.c.phone, func.array_agg(numbers.c.contact_id.distinct()).label("ids"))
            .group_by(numbers.c.phone)
            .having(func.count(numbers.c.contact_id.distinct()) > 1)
            .order_by(func.max(numbers.c.created_at).desc(), numbers.c.phone)
            .limit(limit)
        )
        if contact_id is not None:
            statement = statement.where(numbers.c.phone.in_(select(func.unnest(Contact.phones)).where(*own)))
        rows = (await self.session.execute(statement)).all()
        return [PhoneShared(row.phone, list(row.ids)) for row in rows]

    async def remove_field_values(self, key: str) -> None:
        """A deleted field's values, gone from every contact."""
        await self.session.execute(
            update(Contact)
            .where(Contact.tenant_id == self.tenant_id, Contact.custom_fields.has_key(key))
            .values(custom_fields=Contact.custom_fields.op("-")(key))
        )

    def repointing(self, from_id: uuid.UUID, into_id: uuid.UUID) -> list[Update]:
        """Every statement that moves what belongs to contact `from_id` to `into_id` in a merge: one per table
        of CONTACT_OWNED."""
        return [
            update(model)
            .where(model.tenant_id == self.tenant_id, model.contact_id == from_id)
            .values(contact_id=into_id)
            for model in CONTACT_OWNED.values()
        ]

    async def repoint(self, from_id: uuid.UUID, into_id: uuid.UUID) -> None:
        for statement in self.repointing(from_id, into_id):
            await self.session.execute(statement)

    async def owned_counts(self, contact_id: uuid.UUID) -> dict[str, int]:
        """How many rows of each table of CONTACT_OWNED the contact has, by the table's name there."""
        counts = [
            select(func.count())
            .select_from(model)
            .where(model.tenant_id == self.tenant_id, model.contact_id == contact_id)
            .scalar_subquery()
            .label(name)
            for name, model in CONTACT_OWNED.items()
        ]
        row = (await self.session.execute(select(*counts))).one()
        return {name: int(getattr(row, name)) for name in CONTACT_OWNED}

    async def colliding_conversations(
        self, into_id: uuid.UUID, from_id: uuid.UUID
    ) -> list[tuple[Conversation, Conversation]]:
        """Pairs of unresolved conversations, one of each contact, in the same channel (a merge would leave
        the contact two, which the database refuses), locked; `into`'s first in each pair."""
        mine, theirs = aliased(Conversation), aliased(Conversation)
        statement = (
            select(mine, theirs)
            .join(theirs, (theirs.tenant_id == mine.tenant_id) & (theirs.channel_key == mine.channel_key))
            .where(
                mine.tenant_id == self.tenant_id,
                mine.contact_id == into_id,
                theirs.contact_id == from_id,
                mine.status != ConversationStatus.resolved,
                theirs.status != ConversationStatus.resolved,
            )
            .order_by(mine.created_at)
            .with_for_update()
        )
        return [(row[0], row[1]) for row in (await self.session.execute(statement)).all()]

    async def conversations_before(
        self, contact_id: uuid.UUID, *, before: datetime | None, limit: int
    ) -> Sequence[Conversation]:
        """The contact's conversations started before `before` (all when None), newest first."""
        statement = select(Conversation).where(
            Conversation.tenant_id == self.tenant_id, Conversation.contact_id == contact_id
        )
        if before is not None:
            statement = statement.where(Conversation.created_at < before)
        statement = statement.order_by(Conversation.created_at.desc(), Conversation.id).limit(limit)
        return (await self.session.execute(statement)).scalars().all()


class ContactFieldRepository(TenantScopedRepository[ContactFieldDefinition]):
    model = ContactFieldDefinition

    async def all(self) -> Sequence[ContactFieldDefinition]:
        statement = self.scoped().order_by(ContactFieldDefinition.position, ContactFieldDefinition.created_at)
        return (await self.session.execute(statement)).scalars().all()

    async def by_key(self, key: str) -> ContactFieldDefinition | None:
        statement = self.scoped().where(ContactFieldDefinition.key == key)
        return (await self.session.execute(statement)).scalar_one_or_none()


@dataclass(frozen=True)
class WrittenNote:
    note: ContactNote
    author: str | None


class ContactNoteRepository(TenantScopedRepository[ContactNote]):
    model = ContactNote

    async def of_contact(
        self, contact_id: uuid.UUID, *, before: datetime | None, limit: int, offset: int = 0
    ) -> list[WrittenNote]:
        """The contact's notes written before `before` (all when None), newest first, with their authors."""
        statement = (
            select(ContactNote, func.coalesce(func.nullif(User.name, ""), User.email))
            .outerjoin(User, User.id == ContactNote.author_id)
            .where(ContactNote.tenant_id == self.tenant_id, ContactNote.contact_id == contact_id)
        )
        if before is not None:
            statement = statement.where(ContactNote.created_at < before)
        statement = statement.order_by(ContactNote.created_at.desc(), ContactNote.id).limit(limit).offset(offset)
        return [WrittenNote(row[0], row[1]) for row in (await self.session.execute(statement)).all()]

    async def author_of(self, note: ContactNote) -> str | None:
        if note.author_id is None:
            return None
        statement = select(func.coalesce(func.nullif(User.name, ""), User.email)).where(User.id == note.author_id)
        return (await self.session.execute(statement)).scalar_one_or_none()
