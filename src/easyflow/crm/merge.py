"""Merging two contacts that are one customer (found sharing a number, or told by a person): everything of
`from` moves to `into`, the fields are merged, `from` is deleted, and the merge is in the audit log.

Fields: `into`'s win; those it lacks come from `from`; numbers, tags and custom field values are united.
A contact may have one unresolved conversation per channel (a unique index): when both have one in the same
channel, the one with the older activity is resolved first, with the reason in its event log, and the
customer goes on in the other."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.audit import service as audit
from easyflow.conversations.lifecycle import Actor, ConversationLifecycle
from easyflow.crm import schemas
from easyflow.crm.contacts import NO_SUCH_CONTACT, read_detail
from easyflow.crm.repository import CrmContactRepository
from easyflow.kit.errors import NotFound, Unprocessable
from easyflow.models.conversations import Contact, ConversationStatus
from easyflow.tenancy.principal import Principal

RESOLVED_BY_MERGE = "The customer's contacts were merged; the conversation continues in the one with newer activity."
# Fields taken from `from` when `into` has none (empty text, no value).
FILLED_FIELDS = ("name", "email", "language", "source")


class ContactMerge:
    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal
        self.contacts = CrmContactRepository(session, principal.tenant_id)

    async def merge(self, request: schemas.MergeRequest) -> schemas.MergeResult:
        """With `request.preview`, what the merge would do (nothing is changed); otherwise the merge."""
        if request.into == request.from_:
            raise Unprocessable("from: a contact cannot be merged into itself.")
        # Locked in one order, so two merges of the same pair the other way round cannot deadlock.
        locked: dict[uuid.UUID, Contact | None] = {}
        for contact_id in sorted((request.into, request.from_)):
            locked[contact_id] = await self.contacts.get_for_update(contact_id)
        into, merged = locked[request.into], locked[request.from_]
        if into is None or merged is None:
            raise NotFound(NO_SUCH_CONTACT)
        fields, taken = _merged_fields(into, merged)
        moved = await self.contacts.owned_counts(merged.id)
        resolving = [
            ours if ours.last_activity_at < theirs.last_activity_at else theirs
            for ours, theirs in await self.contacts.colliding_conversations(into.id, merged.id)
        ]
        identities = [*await self.contacts.identities([into.id]), *await self.contacts.identities([merged.id])]
        if request.preview:
            return schemas.MergeResult(
                preview=True,
                contact=read_detail(into, sorted(identities, key=lambda i: (i.created_at, i.id)), **_shown(fields)),
                taken_from_merged=taken,
                moved=moved,
                resolved_conversations=[conversation.id for conversation in resolving],
            )

        lifecycle = ConversationLifecycle(self.session, self.principal.tenant_id)
        for conversation in resolving:
            await lifecycle.change(
                conversation,
                ConversationStatus.resolved,
                actor=Actor.person(self.principal.user_id),
                reason=RESOLVED_BY_MERGE,
            )
        for name, value in fields.items():
            setattr(into, name, value)
        await self.session.flush()
        await self.contacts.repoint(merged.id, into.id)
        await self.contacts.delete(merged)
        await self.session.refresh(into)
        await audit.record(
            self.session,
            self.principal.tenant_id,
            audit.Actor.of(self.principal),
            "contact.merged",
            target=("contact", into.id),
            details={
                "from": str(merged.id),
                "from_name": merged.name,
                "moved": moved,
                "resolved_conversations": [str(conversation.id) for conversation in resolving],
            },
        )
        return schemas.MergeResult(
            preview=False,
            contact=read_detail(into, await self.contacts.identities([into.id])),
            taken_from_merged=taken,
            moved=moved,
            resolved_conversations=[conversation.id for conversation in resolving],
        )


def _merged_fields(into: Contact, merged: Contact) -> tuple[dict[str, Any], list[str]]:
    """The columns of `into` that change, and the names of the fields whose value comes from `merged`."""
    fields: dict[str, Any] = {}
    taken: list[str] = []
    for name in FILLED_FIELDS:
        if not getattr(into, name) and getattr(merged, name):
            fields[name] = getattr(merged, name)
            taken.append(name)
    phones = list(dict.fromkeys([*into.phones, *merged.phones]))
    if phones != list(into.phones):
        fields["phones"] = phones
        taken.append("phones")
    if not into.phone and merged.phone:
        fields["phone"] = merged.phone
    tags = list(dict.fromkeys([*into.labels, *merged.labels]))
    if tags != list(into.labels):
        fields["labels"] = tags
        taken.append("tags")
    custom = {**merged.custom_fields, **into.custom_fields}
    if custom != into.custom_fields:
        fields["custom_fields"] = custom
        taken.extend(f"custom_fields.{key}" for key in sorted(set(custom) - set(into.custom_fields)))
    return fields, taken


def _shown(fields: dict[str, Any]) -> dict[str, Any]:
    """Changed columns as the API names them."""
    return {("tags" if name == "labels" else name): value for name, value in fields.items()}
