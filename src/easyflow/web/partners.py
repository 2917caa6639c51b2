"""The Partners page: the guides, hotels and other providers the business hands clients to, and how each is
reached (operators read, admins add, change and remove, through the API's `Partners` service). And the page a
partner opens from a transfer's summary to acknowledge it: its link's token is its only key, so it is served
outside /app, in the workspace's language."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from easyflow.crm.partners import schemas
from easyflow.crm.partners.schemas import KNOWN_KINDS
from easyflow.crm.partners.service import ACKNOWLEDGE_PATH, Acknowledgement, Acknowledgements, Partners
from easyflow.inbox.repository import NotificationRepository
from easyflow.kit.errors import NotFound, Unprocessable
from easyflow.models.crm_partners import ReachBy
from easyflow.models.tenancy import Role
from easyflow.tenancy.auth import Session
from easyflow.web.page import N_, AdminPage, PageRefused, SignedIn, SignedInPage, render, see_other, text_field

router = APIRouter()
acknowledgements = APIRouter(include_in_schema=False)

PARTNERS_PATH = "/app/partners"
MAX_LISTED = 500
KIND_TITLES = {
    "guide": N_("Guide"),
    "hotel": N_("Hotel"),
    "transport": N_("Transport"),
    "restaurant": N_("Restaurant"),
    "other": N_("Other"),
}
REACH_TITLES = {
    ReachBy.telegram: N_("Telegram, through your bot"),
    ReachBy.email: N_("E-mail"),
    ReachBy.webhook: N_("Webhook"),
}
OPERATORS_ONLY = N_("Only the workspace's operators, admins and owners can see its partners.")
NO_SUCH_PARTNER = N_("There is no such partner in your workspace.")
BAD_PARTNER = N_(
    "Check the fields: a name of 1 to 200 characters, a kind of at most 40, a real phone number and e-mail "
    "address, the Telegram chat id as a number, and a webhook address starting with http:// or https://."
)
PRIVATE_WEBHOOK = N_(
    "The webhook address must be reachable on the public internet: local and private network addresses are refused."
)
WAY_INCOMPLETE = N_(
    "The chosen way to reach the partner needs its field: the Telegram chat id, the e-mail address or the webhook "
    "address."
)
assert set(KIND_TITLES) == set(KNOWN_KINDS)


def _operator(page: SignedIn) -> SignedIn:
    if not page.role.at_least(Role.operator):
        raise PageRefused(status.HTTP_403_FORBIDDEN, OPERATORS_ONLY)
    return page


def _service(request: Request, session: Session, page: SignedIn) -> Partners:
    state = request.app.state
    return Partners(session, page.tenant_id, state.runtime.secrets, allow_private=state.settings.allow_private_webhooks)


@router.get("/partners", response_class=HTMLResponse)
async def partners_page(request: Request, session: Session, page: SignedInPage) -> Response:
    return await _partners_page(request, session, _operator(page))


@router.post("/partners", response_class=HTMLResponse)
async def add_partner(request: Request, session: Session, page: AdminPage) -> Response:
    form = await request.form(max_fields=20)
    try:
        created = await _service(request, session, page).create(
            schemas.PartnerCreate.model_validate(_partner_fields(form))
        )
    except ValidationError:
        return await _partners_page(request, session, page, error=BAD_PARTNER, form=form, status_code=422)
    except Unprocessable as refused:
        return await _partners_page(request, session, page, error=_why(refused), form=form, status_code=422)
    if created.webhook_secret:
        return await _partners_page(request, session, page, secret=(created.name, created.webhook_secret))
    return see_other(PARTNERS_PATH)


@router.post("/partners/{partner_id}", response_class=HTMLResponse)
async def change_partner(request: Request, session: Session, page: AdminPage, partner_id: uuid.UUID) -> Response:
    """Every field of the form is the partner's new value (an empty optional one clears it)."""
    form = await request.form(max_fields=20)
    fields = _partner_fields(form)
    try:
        changed = await _service(request, session, page).update(
            partner_id, schemas.PartnerUpdate.model_validate(fields)
        )
    except NotFound:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_PARTNER) from None
    except ValidationError:
        return await _partners_page(request, session, page, error=BAD_PARTNER, status_code=422)
    except Unprocessable as refused:
        return await _partners_page(request, session, page, error=_why(refused), status_code=422)
    if changed.webhook_secret:
        return await _partners_page(request, session, page, secret=(changed.name, changed.webhook_secret))
    return see_other(PARTNERS_PATH)


@router.post("/partners/{partner_id}/delete")
async def remove_partner(request: Request, session: Session, page: AdminPage, partner_id: uuid.UUID) -> Response:
    try:
        await _service(request, session, page).delete(partner_id)
    except NotFound:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_PARTNER) from None
    return see_other(PARTNERS_PATH)


def _partner_fields(form: FormData) -> dict[str, Any]:
    """The form's fields as the API's body; a field too long or with NUL is given as is, for the schema to
    refuse with the others."""
    fields: dict[str, Any] = {}
    for name in ("name", "kind", "phone", "email", "notes", "reach_by", "telegram_chat_id", "webhook_url"):
        value = form.get(name)
        if isinstance(value, str):
            fields[name] = value.strip()
    own_kind = form.get("own_kind")
    if isinstance(own_kind, str) and own_kind.strip():
        fields["kind"] = own_kind.strip()  # the business's own word wins over the list's
    if not fields.get("reach_by"):
        fields["reach_by"] = None
    for name in ("phone", "email", "telegram_chat_id", "webhook_url"):
        if fields.get(name) == "":
            fields[name] = None
    return fields


def _why(refused: Unprocessable) -> str:
    return PRIVATE_WEBHOOK if refused.detail.startswith("webhook_url") else WAY_INCOMPLETE


async def _partners_page(
    request: Request,
    session: Session,
    page: SignedIn,
    *,
    error: str | None = None,
    form: FormData | None = None,
    secret: tuple[str, str] | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    partners, total = await _service(request, session, page).page(query=None, kind=None, limit=MAX_LISTED, offset=0)
    bot = await NotificationRepository(session, page.tenant_id).telegram_bot()
    context = {
        "partners": partners,
        "total": total,
        "admin": page.role.at_least(Role.admin),
        "kind_titles": KIND_TITLES,
        "reach_titles": REACH_TITLES,
        "bot_username": str(bot.config.get("username") or "") if bot is not None else "",
        "error": error,
        "entered": {name: text_field(form, name) or "" for name in form} if form is not None else {},
        "secret": secret,
    }
    return render(request, "partners.html", context, status_code=status_code, page=page)


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _acknowledgement_page(request: Request, found: Acknowledgement | None, *, confirmed: bool = False) -> Response:
    if found is None:
        return render(request, "partner_acknowledge.html", {"found": None}, status_code=status.HTTP_404_NOT_FOUND)
    context = {"found": found, "confirmed": confirmed, "action": request.url.path}
    return render(request, "partner_acknowledge.html", context, language=found.language)


@acknowledgements.get(ACKNOWLEDGE_PATH + "{token}", response_class=HTMLResponse)
async def acknowledgement_page(request: Request, session: Session, token: str) -> Response:
    """What the summary's link opens: who hands the client over, and a button to confirm. Reading it changes
    nothing: mail scanners and link previews follow links."""
    return _acknowledgement_page(request, await Acknowledgements(session).find(token))


@acknowledgements.post(ACKNOWLEDGE_PATH + "{token}", response_class=HTMLResponse)
async def acknowledge(request: Request, session: Session, token: str) -> Response:
    """The partner confirms (the page's button, or their system's POST for a webhook partner: JSON when it
    asks for JSON). Again: the first time stays."""
    found = await Acknowledgements(session).acknowledge(token)
    if _wants_json(request):
        if found is None:
            return JSONResponse({"detail": "No such transfer."}, status_code=status.HTTP_404_NOT_FOUND)
        assert found.acknowledged_at is not None
        return JSONResponse(
            {"transfer_id": str(found.transfer_id), "acknowledged_at": found.acknowledged_at.isoformat()}
        )
    return _acknowledgement_page(request, found, confirmed=True)
