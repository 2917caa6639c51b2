"""The Contacts pages: find a customer by name, phone, e-mail, a channel's id for them or a tag; a contact's
page with their fields (edited by operators), notes, the timeline, all their conversations across channels,
and the contacts sharing a number with them, which admins merge after a preview; the workspace's own contact
fields (admins). Through the CRM domain's services, as its API does."""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from easyflow.conversations.queries import ContactQueries
from easyflow.crm import schemas
from easyflow.crm.contact_fields import ContactFields
from easyflow.crm.contacts import ContactProfiles
from easyflow.crm.merge import ContactMerge
from easyflow.crm.repository import ContactFilters
from easyflow.crm.timeline import ContactNotes, ContactTimeline
from easyflow.kit.errors import Conflict, NotFound, Unprocessable
from easyflow.models.contacts import ContactFieldKind
from easyflow.models.tenancy import Role
from easyflow.tenancy.auth import Session
from easyflow.web.page import N_, AdminPage, PageRefused, SignedIn, SignedInPage, render, see_other, text_field

router = APIRouter()

PAGE_SIZE = 50
MAX_QUERY_CHARS = 200
MAX_PAGE = 10_000
TIMELINE_ENTRIES = 100
FIELD_KINDS = (
    (ContactFieldKind.text, N_("Text")),
    (ContactFieldKind.number, N_("Number")),
    (ContactFieldKind.date, N_("Date")),
    (ContactFieldKind.choice, N_("Choice")),
)

NO_SUCH_CONTACT = N_("There is no such contact in your workspace.")
BAD_SEARCH = N_("The search may be at most 200 characters long, without control characters.")
OPERATORS_ONLY = N_("Only operators, admins and owners can change contacts.")
UNREADABLE = N_("The form has a field that is too long or has characters that are not allowed.")
BAD_PHONE = N_("Write each phone number so it can be called, such as +7 912 345-67-89 (at most 10 numbers).")
BAD_EMAIL = N_("Enter an e-mail address such as anna@example.com.")
BAD_LANGUAGE = N_("Write the language as a code such as ru, en or ky.")
BAD_TAGS = N_("Up to 50 tags, each at most 64 characters, separated by commas.")
BAD_FIELD = N_("Check the value of «%(field)s».")
BAD_NOTE = N_("Write the note (at most 10,000 characters).")
BAD_DEFINITION = N_(
    "Give the field a key (latin letters, digits and _, starting with a letter), a name, a kind, and for a "
    "choice field its choices, one a line."
)
TAKEN_KEY = N_("The workspace already has a field with this key.")
NO_SUCH_FIELD = N_("No such contact field in this workspace.")
# The service's refusals of a contact's form, by the field they name, in words for the page.
FORM_ERRORS = {
    "name": UNREADABLE,
    "phones": BAD_PHONE,
    "email": BAD_EMAIL,
    "language": BAD_LANGUAGE,
    "source": UNREADABLE,
    "tags": BAD_TAGS,
}
COMMAS_OR_LINES = re.compile(r"[,\n]")
LINES = re.compile(r"\n")


@router.get("/contacts", response_class=HTMLResponse)
async def contacts_page(
    request: Request,
    session: Session,
    page: SignedInPage,
    q: str = "",
    channel: str = "",
    tag: str = "",
    p: int = Query(default=1, ge=1, le=MAX_PAGE),
) -> Response:
    query = q.strip()
    if len(query) > MAX_QUERY_CHARS or any(ord(char) < 32 for char in query):
        raise PageRefused(status.HTTP_400_BAD_REQUEST, BAD_SEARCH)
    profiles = ContactProfiles(session, page.principal)
    kinds = await profiles.identity_kinds()
    tags = await profiles.tags()
    # A kind or tag nobody has (or a forged one): everyone, as the selects show.
    channel = channel if channel in kinds else ""
    tag = tag if tag in tags else ""
    filters = ContactFilters(q=query or None, kind=channel or None, tag=tag or None)
    listed, total = await profiles.listed(filters, limit=PAGE_SIZE, offset=(p - 1) * PAGE_SIZE)
    context = {
        "q": query,
        "channel": channel,
        "tag": tag,
        "kinds": kinds,
        "tags": tags,
        "contacts": listed,
        "total": total,
        "page_number": p,
        "has_next": p * PAGE_SIZE < total,
        "may_define_fields": page.role.at_least(Role.admin),
    }
    return render(request, "contacts.html", context, page=page)


@router.get("/contacts/fields", response_class=HTMLResponse)
async def contact_fields_page(request: Request, session: Session, page: AdminPage) -> Response:
    return await _fields_page(request, session, page)


@router.post("/contacts/fields", response_class=HTMLResponse)
async def create_contact_field(request: Request, session: Session, page: AdminPage) -> Response:
    form = await request.form()
    shown = {name: str(form.get(name, ""))[:2000] for name in ("key", "label", "kind", "choices")}
    try:
        body = schemas.ContactFieldCreate(
            key=shown["key"].strip(),
            label=shown["label"],
            kind=ContactFieldKind(shown["kind"]),
            choices=_listed(shown["choices"], LINES) if shown["kind"] == ContactFieldKind.choice else [],
            position=len(await ContactFields(session, page.principal).list()),
        )
        await ContactFields(session, page.principal).create(body)
    except (ValidationError, ValueError, Unprocessable):
        return await _fields_page(request, session, page, shown, error=BAD_DEFINITION, status_code=422)
    except Conflict:
        return await _fields_page(request, session, page, shown, error=TAKEN_KEY, status_code=409)
    return see_other("/app/contacts/fields")


@router.post("/contacts/fields/{field_id}/delete")
async def delete_contact_field(field_id: uuid.UUID, session: Session, page: AdminPage) -> Response:
    try:
        await ContactFields(session, page.principal).delete(field_id)
    except NotFound:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_FIELD) from None
    return see_other("/app/contacts/fields")


async def _fields_page(
    request: Request,
    session: Session,
    page: SignedIn,
    shown: dict[str, str] | None = None,
    *,
    error: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    context = {
        "fields": await ContactFields(session, page.principal).list(),
        "kinds": FIELD_KINDS,
        "values": shown or {"key": "", "label": "", "kind": "text", "choices": ""},
        "error": error,
    }
    return render(request, "contact_fields.html", context, status_code, page=page)


@router.get("/contacts/{contact_id}", response_class=HTMLResponse)
async def contact_page(contact_id: uuid.UUID, request: Request, session: Session, page: SignedInPage) -> Response:
    return await _contact_page(request, session, page, contact_id, saved=request.query_params.get("saved"))


@router.post("/contacts/{contact_id}", response_class=HTMLResponse)
async def save_contact(contact_id: uuid.UUID, request: Request, session: Session, page: SignedInPage) -> Response:
    """Saves the profile form as `PATCH /api/v1/contacts/{id}` would: every field the form has."""
    _require_operator(page)
    form = await request.form()
    profiles = ContactProfiles(session, page.principal)
    definitions = await ContactFields(session, page.principal).list()
    shown = _shown_form(form, definitions)
    try:
        await profiles.get(contact_id)
        body = _contact_update(shown, definitions)
        await profiles.update(contact_id, body)
    except NotFound:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_CONTACT) from None
    except Unprocessable as refused:  # a number that is none, a value a field cannot hold
        field = refused.detail.split(":", 1)[0]
        if field.startswith("custom_fields."):
            error, error_field = BAD_FIELD, "field_" + field.removeprefix("custom_fields.")
        else:
            error, error_field = BAD_PHONE, "phones"
        return await _contact_page(request, session, page, contact_id, form=shown, error=error, error_field=error_field)
    except _Refused as refused:
        return await _contact_page(
            request, session, page, contact_id, form=shown, error=refused.message, error_field=refused.field
        )
    return see_other(f"/app/contacts/{contact_id}?saved=profile")


@router.post("/contacts/{contact_id}/notes", response_class=HTMLResponse)
async def add_note(contact_id: uuid.UUID, request: Request, session: Session, page: SignedInPage) -> Response:
    _require_operator(page)
    form = await request.form()
    written = text_field(form, "text", schemas.MAX_NOTE_CHARS)
    try:
        await ContactNotes(session, page.principal).add(contact_id, schemas.NoteCreate(text=written or ""))
    except NotFound:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_CONTACT) from None
    except ValidationError:
        return await _contact_page(
            request, session, page, contact_id, note=str(form.get("text", ""))[:200], note_error=BAD_NOTE
        )
    return see_other(f"/app/contacts/{contact_id}?saved=note#timeline")


@router.get("/contacts/{contact_id}/merge", response_class=HTMLResponse)
async def merge_preview(
    contact_id: uuid.UUID, request: Request, session: Session, page: AdminPage, from_id: uuid.UUID = Query(alias="from")
) -> Response:
    """What merging contact `from` into this one would do; nothing changes until it is confirmed."""
    request_body = schemas.MergeRequest.model_validate({"into": contact_id, "from": from_id, "preview": True})
    try:
        preview = await ContactMerge(session, page.principal).merge(request_body)
        merged = await ContactProfiles(session, page.principal).read(from_id)
    except NotFound:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_CONTACT) from None
    except Unprocessable:
        raise PageRefused(
            status.HTTP_422_UNPROCESSABLE_CONTENT, N_("A contact cannot be merged into itself.")
        ) from None
    definitions = await ContactFields(session, page.principal).list()
    context = {"preview": preview, "merged": merged, "definitions": definitions}
    return render(request, "contact_merge.html", context, page=page)


@router.post("/contacts/{contact_id}/merge")
async def merge(contact_id: uuid.UUID, request: Request, session: Session, page: AdminPage) -> Response:
    form = await request.form()
    try:
        from_id = uuid.UUID(str(form.get("from", ""))[:36])
    except ValueError:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_CONTACT) from None
    try:
        await ContactMerge(session, page.principal).merge(
            schemas.MergeRequest.model_validate({"into": contact_id, "from": from_id})
        )
    except NotFound:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_CONTACT) from None
    except Unprocessable:
        raise PageRefused(
            status.HTTP_422_UNPROCESSABLE_CONTENT, N_("A contact cannot be merged into itself.")
        ) from None
    return see_other(f"/app/contacts/{contact_id}?saved=merged")


def _require_operator(page: SignedIn) -> None:
    if not page.role.at_least(Role.operator):
        raise PageRefused(status.HTTP_403_FORBIDDEN, OPERATORS_ONLY)


async def _contact_page(
    request: Request,
    session: Session,
    page: SignedIn,
    contact_id: uuid.UUID,
    *,
    saved: str | None = None,
    form: dict[str, Any] | None = None,
    error: str | None = None,
    error_field: str | None = None,
    note: str = "",
    note_error: str | None = None,
) -> Response:
    profiles = ContactProfiles(session, page.principal)
    try:
        profile = await ContactQueries(session, page.tenant_id).profile(contact_id)
        detail = await profiles.read(contact_id)
    except NotFound:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_CONTACT) from None
    definitions = await ContactFields(session, page.principal).list()
    timeline = await ContactTimeline(session, page.principal).read(contact_id, before=None, limit=TIMELINE_ENTRIES)
    duplicates = [
        other
        for group in await profiles.duplicates(contact_id=contact_id)
        for other in group.contacts
        if other.id != contact_id
    ]
    context = {
        "profile": profile,
        "detail": detail,
        "definitions": definitions,
        "form": form or _form_of(detail, definitions),
        "timeline": timeline,
        "duplicates": list({other.id: other for other in duplicates}.values()),
        "may_edit": page.role.at_least(Role.operator),
        "may_merge": page.role.at_least(Role.admin),
        "saved": saved,
        "error": error,
        "error_field": error_field,
        "error_label": next((f.label for f in definitions if error_field == f"field_{f.key}"), ""),
        "note": note,
        "note_error": note_error,
    }
    status_code = status.HTTP_422_UNPROCESSABLE_CONTENT if error or note_error else status.HTTP_200_OK
    return render(request, "contact.html", context, status_code, page=page)


def _form_of(detail: schemas.ContactDetail, definitions: list[schemas.ContactFieldRead]) -> dict[str, Any]:
    """The profile form's fields as the contact is now."""
    return {
        "name": detail.name,
        "phones": "\n".join(detail.phones),
        "email": detail.email or "",
        "language": detail.language or "",
        "source": detail.source or "",
        "tags": ", ".join(detail.tags),
        "custom": {
            field.key: "" if detail.custom_fields.get(field.key) is None else str(detail.custom_fields[field.key])
            for field in definitions
        },
    }


def _shown_form(form: FormData, definitions: list[schemas.ContactFieldRead]) -> dict[str, Any]:
    """What was sent, cut to a length that is shown again without harm."""
    return {
        **{name: str(form.get(name, ""))[:5000] for name in ("name", "phones", "email", "language", "source", "tags")},
        "custom": {field.key: str(form.get(f"field_{field.key}", ""))[:5000] for field in definitions},
    }


class _Refused(Exception):
    def __init__(self, message: str, field: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def _contact_update(shown: dict[str, Any], definitions: list[schemas.ContactFieldRead]) -> schemas.ContactUpdate:
    custom: dict[str, Any] = {}
    for field in definitions:
        written = shown["custom"][field.key].strip()
        custom[field.key] = _field_value(field, written)
    try:
        body = schemas.ContactUpdate.model_validate(
            {
                "name": shown["name"],
                "phones": _listed(shown["phones"], COMMAS_OR_LINES),
                "email": shown["email"].strip() or None,
                "language": shown["language"].strip() or None,
                "source": shown["source"].strip() or None,
                "tags": _listed(shown["tags"], COMMAS_OR_LINES),
                "custom_fields": custom,
            }
        )
    except ValidationError as invalid:
        location = invalid.errors()[0]["loc"]
        name = str(location[0])
        if name == "custom_fields" and len(location) > 1:
            raise _Refused(BAD_FIELD, f"field_{location[1]}") from None
        raise _Refused(FORM_ERRORS.get(name, UNREADABLE), name) from None
    return body


def _field_value(field: schemas.ContactFieldRead, written: str) -> Any:
    """A custom field's form text as the API takes it: numbers as numbers (a comma for the decimal point, spaces
    between thousands, as Russian writes them)."""
    if not written:
        return None
    if field.kind != ContactFieldKind.number:
        return written
    compact = written.replace("\u00a0", "").replace(" ", "").replace(",", ".")
    try:
        number = float(compact)
    except ValueError:
        raise _Refused(BAD_FIELD, f"field_{field.key}") from None
    return int(number) if number.is_integer() and "." not in compact else number


def _listed(written: str, separators: re.Pattern[str]) -> list[str]:
    return [item.strip() for item in separators.split(written) if item.strip()]
