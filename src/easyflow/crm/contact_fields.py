"""The workspace's own contact fields: defining them, and checking a contact's values against them."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.crm import schemas
from easyflow.crm.repository import ContactFieldRepository, CrmContactRepository
from easyflow.kit.errors import Conflict, NotFound, Unprocessable
from easyflow.models.contacts import ContactFieldDefinition, ContactFieldKind
from easyflow.tenancy.principal import Principal

# Beyond what any number a business keeps on a customer means, and within what a float holds exactly.
MAX_FIELD_NUMBER = 10**15
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


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
