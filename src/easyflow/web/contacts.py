"""The Contacts pages: find a customer by name, phone or a channel's id for them; a contact's profile with
how each channel knows them and all their conversations across channels. Reads only, through the
conversations domain's queries."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import HTMLResponse, Response

from easyflow.conversations.queries import ContactQueries
from easyflow.kit.errors import NotFound
from easyflow.tenancy.auth import Session
from easyflow.web.page import N_, PageRefused, SignedInPage, render

router = APIRouter()

PAGE_SIZE = 50
MAX_QUERY_CHARS = 200
MAX_PAGE = 10_000

NO_SUCH_CONTACT = N_("There is no such contact in your workspace.")
BAD_SEARCH = N_("The search may be at most 200 characters long, without control characters.")


@router.get("/contacts", response_class=HTMLResponse)
async def contacts_page(
    request: Request,
    session: Session,
    page: SignedInPage,
    q: str = "",
    channel: str = "",
    p: int = Query(default=1, ge=1, le=MAX_PAGE),
) -> Response:
    query = q.strip()
    if len(query) > MAX_QUERY_CHARS or any(ord(char) < 32 for char in query):
        raise PageRefused(status.HTTP_400_BAD_REQUEST, BAD_SEARCH)
    contacts = ContactQueries(session, page.tenant_id)
    kinds = await contacts.identity_kinds()
    if channel and channel not in kinds:
        channel = ""  # a kind nobody has (or a forged one): everyone, as the select shows
    listed, total = await contacts.search(
        query or None, kind=channel or None, limit=PAGE_SIZE, offset=(p - 1) * PAGE_SIZE
    )
    context = {
        "q": query,
        "channel": channel,
        "kinds": kinds,
        "contacts": listed,
        "total": total,
        "page_number": p,
        "has_next": p * PAGE_SIZE < total,
    }
    return render(request, "contacts.html", context, page=page)


@router.get("/contacts/{contact_id}", response_class=HTMLResponse)
async def contact_page(contact_id: uuid.UUID, request: Request, session: Session, page: SignedInPage) -> Response:
    try:
        profile = await ContactQueries(session, page.tenant_id).profile(contact_id)
    except NotFound:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_CONTACT) from None
    return render(request, "contact.html", {"profile": profile}, page=page)
