"""Contacts' profiles: finding contacts, reading and editing one (numbers, e-mail, tags, the workspace's own
fields), and the numbers two contacts share."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.crm import schemas
from easyflow.crm.contact_fields import field_values
from easyflow.crm.phones import normalize_phone
from easyflow.crm.repository import ContactFieldRepository, ContactFilters, CrmContactRepository
from easyflow.kit.errors import NotFound, Unprocessable
from easyflow.models.conversations import Contact, ContactIdentity
from easyflow.tenancy.principal import Principal

NO_SUCH_CONTACT = "No such contact in this tenant."
MAX_DUPLICATE_GROUPS = 200


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


async def contact_for_phone(session: AsyncSession, tenant_id: uuid.UUID, name: str, raw_phone: str) -> Contact:
    """The tenant's contact with this number (written any common way), made with `name` when there is none."""
    phone = phone_query(raw_phone)
    contacts = CrmContactRepository(session, tenant_id)
    await contacts.lock_phone(phone)
    found = await contacts.first_with_phone(phone)
    if found is not None:
        return found
    return await contacts.add(Contact(name=name, phone=phone, phones=[phone]))


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
