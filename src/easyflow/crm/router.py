"""HTTP routes of the CRM: contacts' profiles, their fields, notes, timelines, duplicates and merges."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import AwareDatetime

from easyflow.crm import schemas
from easyflow.crm.contact_fields import ContactFields
from easyflow.crm.contacts import ContactProfiles, phone_query
from easyflow.crm.merge import ContactMerge
from easyflow.crm.repository import ContactFilters
from easyflow.crm.timeline import ContactNotes, ContactTimeline
from easyflow.kit.schemas import Limit, Offset, QueryText
from easyflow.tenancy.auth import Admin, Operator, Session, Viewer

router = APIRouter(prefix="/api/v1", tags=["crm"])

TimelineLimit = Annotated[int, Query(ge=1, le=200, description="How many entries to return.")]


@router.get("/contacts")
async def list_contacts(
    principal: Viewer,
    session: Session,
    limit: Limit = 50,
    offset: Offset = 0,
    q: Annotated[
        QueryText | None, Query(max_length=200, description="Part of the name, e-mail, a number or a channel's id.")
    ] = None,
    phone: Annotated[
        QueryText | None, Query(max_length=40, description="A number, written any common way: who has it.")
    ] = None,
    tag: Annotated[QueryText | None, Query(max_length=64, description="Contacts with this tag.")] = None,
) -> schemas.ContactPage:
    """The workspace's contacts, newest first, matching every filter given."""
    filters = ContactFilters(
        q=q.strip() or None if q else None,
        phone=phone_query(phone) if phone else None,
        tag=tag or None,
    )
    return await ContactProfiles(session, principal).search(filters, limit=limit, offset=offset)


@router.get("/contacts/duplicates")
async def list_duplicates(principal: Viewer, session: Session) -> list[schemas.DuplicateGroup]:
    """Contacts that share a phone number, grouped by it: merges to offer (`POST /api/v1/contacts/merge`)."""
    return await ContactProfiles(session, principal).duplicates()


@router.post("/contacts/merge")
async def merge_contacts(body: schemas.MergeRequest, principal: Admin, session: Session) -> schemas.MergeResult:
    """Merge contact `from` into `into`: identities, conversations and notes move to `into`, fields are merged
    (`into`'s win; what it lacks comes from `from`; numbers, tags and custom fields are united), `from` is
    deleted, and the merge is audited (`contact.merged`). When both have an unresolved conversation in the same
    channel, the one with the older activity is resolved. With `preview`, only what it would do."""
    return await ContactMerge(session, principal).merge(body)


@router.get("/contacts/{contact_id}")
async def read_contact(contact_id: uuid.UUID, principal: Viewer, session: Session) -> schemas.ContactDetail:
    """The contact with how each channel knows them and the workspace's own fields."""
    return await ContactProfiles(session, principal).read(contact_id)


@router.patch("/contacts/{contact_id}")
async def update_contact(
    contact_id: uuid.UUID, body: schemas.ContactUpdate, principal: Operator, session: Session
) -> schemas.ContactDetail:
    """Change the name, numbers (`phones`, the primary first), e-mail, language, source, tags or custom fields
    (checked against `/api/v1/contact-fields`); fields left out stay as they are."""
    return await ContactProfiles(session, principal).update(contact_id, body)


@router.get("/contacts/{contact_id}/notes")
async def list_notes(
    contact_id: uuid.UUID, principal: Viewer, session: Session, limit: Limit = 50, offset: Offset = 0
) -> list[schemas.NoteRead]:
    """The contact's notes, newest first."""
    return await ContactNotes(session, principal).list(contact_id, limit=limit, offset=offset)


@router.post("/contacts/{contact_id}/notes", status_code=status.HTTP_201_CREATED)
async def add_note(
    contact_id: uuid.UUID, body: schemas.NoteCreate, principal: Operator, session: Session
) -> schemas.NoteRead:
    """Write down something about the contact, for colleagues."""
    return await ContactNotes(session, principal).add(contact_id, body)


@router.get("/contacts/{contact_id}/timeline")
async def read_timeline(
    contact_id: uuid.UUID,
    principal: Viewer,
    session: Session,
    limit: TimelineLimit = 50,
    before: Annotated[AwareDatetime | None, Query(description="Only entries older than this (`next_before`).")] = None,
) -> schemas.Timeline:
    """What happened with the contact, newest first: conversations and notes, each entry with its `kind`."""
    return await ContactTimeline(session, principal).read(contact_id, before=before, limit=limit)


@router.get("/contact-fields")
async def list_contact_fields(principal: Viewer, session: Session) -> list[schemas.ContactFieldRead]:
    """The workspace's own contact fields, in their order."""
    return await ContactFields(session, principal).list()


@router.post("/contact-fields", status_code=status.HTTP_201_CREATED)
async def create_contact_field(
    body: schemas.ContactFieldCreate, principal: Admin, session: Session
) -> schemas.ContactFieldRead:
    """Add a field every contact may have: text, number, date (YYYY-MM-DD) or choice (one of `choices`)."""
    return await ContactFields(session, principal).create(body)


@router.patch("/contact-fields/{field_id}")
async def update_contact_field(
    field_id: uuid.UUID, body: schemas.ContactFieldUpdate, principal: Admin, session: Session
) -> schemas.ContactFieldRead:
    """Rename a field, change its choices or its place; its key and kind stay."""
    return await ContactFields(session, principal).update(field_id, body)


@router.delete("/contact-fields/{field_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_contact_field(field_id: uuid.UUID, principal: Admin, session: Session) -> None:
    """Remove a field and every contact's value of it."""
    await ContactFields(session, principal).delete(field_id)
