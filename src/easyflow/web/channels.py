"""The Channels pages (admins only): the tenant's channels with pause/resume, routing to another assistant and
removal; connecting a Telegram bot by its token (checked live with Telegram); creating and styling a website
widget, with a preview and the snippet to paste into the site. Every change goes through the channels
service as the API's does, and is audited the same way."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from easyflow.agents.service import AssistantService
from easyflow.audit import service as audit
from easyflow.channels import schemas
from easyflow.channels.schemas import PrechatField
from easyflow.channels.service import ChannelConnections, ChannelService
from easyflow.channels.telegram import TelegramUnreachable, TokenNotKnown, WebhookRefused
from easyflow.channels.widget import CHANNEL_TYPE as WIDGET
from easyflow.kit.errors import NotFound, Unprocessable
from easyflow.models.channels import ChannelRecord, ChannelStatus
from easyflow.tenancy.auth import Session
from easyflow.web.page import (
    N_,
    AdminOutsideTransaction,
    AdminPage,
    PageRefused,
    SignedIn,
    render,
    see_other,
    text_field,
)

router = APIRouter()

MAX_ORIGIN_LINES = 20
MAX_ORIGINS_CHARS = 4000
DEFAULT_COLOR = "#2563eb"
PRECHAT_FIELDS: tuple[PrechatField, ...] = ("name", "phone")

NO_SUCH_CHANNEL = N_("There is no such channel in your workspace.")
BAD_FORM = N_("The form has characters that are not allowed or a field that is too long.")
BAD_TOKEN_FORMAT = N_(
    "This does not look like a bot token. @BotFather gives it as digits, a colon and about 35 letters, "
    "e.g. 123456789:AAH…"
)
TOKEN_NOT_KNOWN = N_(
    "Telegram does not know this token. Copy it again from @BotFather (the token changes when it is revoked)."
)
TELEGRAM_UNREACHABLE = N_("Could not reach Telegram. Check the server's internet connection and try again.")
WEBHOOK_REFUSED = N_(
    "Telegram accepted the token but refused this server's webhook address: the public address "
    "(EASYFLOW_PUBLIC_URL) must be https and reachable from the internet."
)
NO_SUCH_ASSISTANT = N_("There is no such assistant in your workspace.")
BAD_ORIGINS = N_(
    "These lines are not site addresses. Write one per line as scheme://host[:port], e.g. https://shop.example:"
)
NO_ORIGINS = N_("Name at least one site (at most 20) where the widget may be shown.")
WIDGET_NAME = N_("Give the widget a name of at most 200 characters.")
WIDGET_TITLE = N_("The title may be at most 80 characters long.")
WIDGET_GREETING = N_("The greeting may be at most 500 characters long.")
WIDGET_COLOR = N_("The accent colour must be a colour code such as #2563eb.")
WIDGET_POSITION = N_("The widget sits at the right or the left of the page.")


def _channels(request: Request, session: Session, page: SignedIn) -> ChannelService:
    return ChannelService(session, page.tenant_id, request.app.state.runtime)


async def _assistants(request: Request, session: Session, page: SignedIn) -> list[Any]:
    allow_private = request.app.state.settings.allow_private_model_urls
    service = AssistantService(
        session, page.tenant_id, request.app.state.runtime.secrets, allow_private_urls=allow_private
    )
    assistants, _ = await service.list(limit=100, offset=0)
    return assistants


async def _channel(request: Request, session: Session, page: SignedIn, channel_id: uuid.UUID) -> ChannelRecord:
    try:
        return await _channels(request, session, page).get(channel_id)
    except NotFound:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_CHANNEL) from None


async def _form(request: Request) -> FormData:
    return await request.form(max_fields=30)


def snippet(request: Request, public_key: str) -> str:
    base = request.app.state.settings.public_url.rstrip("/")
    return f'<script src="{base}/widget.js" data-channel="{public_key}" async></script>'


@router.get("/channels", response_class=HTMLResponse)
async def channels_page(request: Request, session: Session, page: AdminPage) -> Response:
    return await _list_page(request, session, page)


async def _list_page(
    request: Request,
    session: Session,
    page: SignedIn,
    *,
    telegram_error: str | None = None,
    widget_errors: list[str] | None = None,
    bad_lines: list[str] | None = None,
    widget_form: dict[str, Any] | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    records, total = await _channels(request, session, page).list(limit=100, offset=0)
    assistants = await _assistants(request, session, page)
    context = {
        "channels": records,
        "total": total,
        "assistants": {assistant.id: assistant for assistant in assistants},
        "telegram_error": telegram_error,
        "widget_errors": widget_errors or [],
        "bad_lines": bad_lines or [],
        "widget_form": widget_form or {"color": DEFAULT_COLOR, "position": "right"},
    }
    return render(request, "channels.html", context, status_code, page=page)


@router.post("/channels/telegram", response_class=HTMLResponse)
async def connect_telegram(request: Request, page: AdminOutsideTransaction) -> Response:
    """Check the token live with Telegram (getMe) and connect the bot; a refusal is explained, never a 500."""
    form = await _form(request)
    token = text_field(form, "token", max_chars=200)
    if token is None:
        return await _telegram_refused(request, page, BAD_FORM, 400)
    try:
        body = schemas.TelegramChannelCreate(type="telegram", token=token.strip())
    except ValidationError:
        return await _telegram_refused(request, page, BAD_TOKEN_FORMAT, 422)
    runtime = request.app.state.runtime
    refusals: dict[type[Exception], tuple[str, int]] = {
        TokenNotKnown: (TOKEN_NOT_KNOWN, 422),
        WebhookRefused: (WEBHOOK_REFUSED, 422),
        TelegramUnreachable: (TELEGRAM_UNREACHABLE, 503),
    }
    try:
        created = await ChannelConnections(runtime, page.tenant_id).connect(body)
    except (TokenNotKnown, WebhookRefused, TelegramUnreachable) as refused:
        message, status_code = refusals[type(refused)]
        return await _telegram_refused(request, page, message, status_code)
    await _audit_connected(request, page, created)
    return see_other(f"/app/channels/{created.id}")


async def _telegram_refused(request: Request, page: SignedIn, message: str, status_code: int) -> Response:
    async with request.app.state.runtime.database.tenant_transaction(page.tenant_id) as session:
        return await _list_page(request, session, page, telegram_error=message, status_code=status_code)


@router.post("/channels/widget", response_class=HTMLResponse)
async def create_widget(request: Request, session: Session, page: AdminPage) -> Response:
    form = await _form(request)
    fields = _widget_fields(form, with_name=True)
    if fields is None:
        return await _list_page(request, session, page, widget_errors=[BAD_FORM], status_code=400)
    origins, bad_lines = _origins(fields.pop("origins"))
    prechat = _prechat(form)
    if prechat is None:
        return await _list_page(request, session, page, widget_errors=[BAD_FORM], status_code=400)
    if bad_lines or not origins:
        error = BAD_ORIGINS if bad_lines else NO_ORIGINS
        return await _list_page(
            request,
            session,
            page,
            widget_errors=[error],
            bad_lines=bad_lines,
            widget_form=_shown(form),
            status_code=422,
        )
    try:
        body = schemas.WidgetChannelCreate(
            type="widget", allowed_origins=origins, prechat_fields=prechat, **_present(fields)
        )
    except ValidationError as invalid:
        errors = _widget_errors(invalid)
        return await _list_page(request, session, page, widget_errors=errors, widget_form=_shown(form), status_code=422)
    created = await ChannelConnections(request.app.state.runtime, page.tenant_id).connect(body)
    await _audit_connected(request, page, created)
    record = await _channel(request, session, page, created.id)
    # The identity secret is shown once, on the page the creation answers with (as the API answers it once).
    return await _channel_page(request, session, page, record, identity_secret=created.identity_secret)


async def _audit_connected(request: Request, page: SignedIn, created: schemas.ChannelCreated) -> None:
    await audit.record_on_its_own(
        request.app.state.runtime.database,
        page.tenant_id,
        page.actor(),
        "channel.connected",
        target=("channel", created.id),
        details={"type": created.type, "name": created.name},
    )


@router.get("/channels/{channel_id}", response_class=HTMLResponse)
async def channel_page(channel_id: uuid.UUID, request: Request, session: Session, page: AdminPage) -> Response:
    record = await _channel(request, session, page, channel_id)
    return await _channel_page(request, session, page, record)


async def _channel_page(
    request: Request,
    session: Session,
    page: SignedIn,
    record: ChannelRecord,
    *,
    identity_secret: str | None = None,
    widget_errors: list[str] | None = None,
    bad_lines: list[str] | None = None,
    widget_form: dict[str, Any] | None = None,
    error: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    config = record.config or {}
    shown = widget_form or {
        "title": config.get("title") or "",
        "greeting": config.get("greeting") or "",
        "color": config.get("color") or DEFAULT_COLOR,
        "position": config.get("position") or "right",
        "origins": "\n".join(config.get("allowed_origins", [])),
        "prechat": list(config.get("prechat_fields", [])),
    }
    context = {
        "channel": record,
        "is_widget": record.type == WIDGET,
        "assistants": await _assistants(request, session, page),
        "snippet": snippet(request, record.public_key) if record.type == WIDGET and record.public_key else None,
        "identity_secret": identity_secret,
        "widget_form": shown,
        "widget_errors": widget_errors or [],
        "bad_lines": bad_lines or [],
        "error": error,
    }
    return render(request, "channel.html", context, status_code, page=page)


async def _update(
    request: Request, session: Session, page: SignedIn, channel_id: uuid.UUID, changes: schemas.ChannelUpdate
) -> ChannelRecord:
    """The change through the service, audited as the API audits it."""
    try:
        record = await _channels(request, session, page).update(channel_id, changes)
    except NotFound:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_CHANNEL) from None
    details = {"changed": sorted(changes.model_fields_set)}
    await audit.record(
        session, page.tenant_id, page.actor(), "channel.changed", target=("channel", channel_id), details=details
    )
    return record


@router.post("/channels/{channel_id}/status")
async def set_status(channel_id: uuid.UUID, request: Request, session: Session, page: AdminPage) -> Response:
    """Pause (the channel stops answering) or resume."""
    wanted = text_field(await _form(request), "status", max_chars=20)
    if wanted not in (ChannelStatus.active.value, ChannelStatus.paused.value):
        raise PageRefused(status.HTTP_400_BAD_REQUEST, N_("A channel is either active or paused."))
    await _update(request, session, page, channel_id, schemas.ChannelUpdate(status=ChannelStatus(wanted)))
    return see_other(f"/app/channels/{channel_id}")


@router.post("/channels/{channel_id}/assistant")
async def route_to_assistant(channel_id: uuid.UUID, request: Request, session: Session, page: AdminPage) -> Response:
    """Route the channel's new conversations to another assistant (empty: the workspace's default)."""
    chosen = text_field(await _form(request), "assistant_id", max_chars=40)
    try:
        assistant_id = uuid.UUID(chosen) if chosen else None
    except ValueError:
        assistant_id, chosen = None, None
    if chosen is None:
        raise PageRefused(status.HTTP_400_BAD_REQUEST, NO_SUCH_ASSISTANT)
    try:
        await _update(request, session, page, channel_id, schemas.ChannelUpdate(assistant_id=assistant_id))
    except Unprocessable:
        raise PageRefused(status.HTTP_422_UNPROCESSABLE_CONTENT, NO_SUCH_ASSISTANT) from None
    return see_other(f"/app/channels/{channel_id}")


@router.post("/channels/{channel_id}/widget", response_class=HTMLResponse)
async def style_widget(channel_id: uuid.UUID, request: Request, session: Session, page: AdminPage) -> Response:
    """The widget's allowed sites and looks."""
    record = await _channel(request, session, page, channel_id)
    if record.type != WIDGET:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_CHANNEL)
    form = await _form(request)
    fields = _widget_fields(form, with_name=False)
    if fields is None:
        return await _channel_page(request, session, page, record, widget_errors=[BAD_FORM], status_code=400)
    origins, bad_lines = _origins(fields.pop("origins"))
    prechat = _prechat(form)
    if prechat is None:
        return await _channel_page(request, session, page, record, widget_errors=[BAD_FORM], status_code=400)
    if bad_lines or not origins:
        error = BAD_ORIGINS if bad_lines else NO_ORIGINS
        return await _channel_page(
            request,
            session,
            page,
            record,
            widget_errors=[error],
            bad_lines=bad_lines,
            widget_form=_shown(form),
            status_code=422,
        )
    try:
        # An empty greeting is kept as such: the widget then greets in the visitor's language.
        looks = _present(fields) | {"greeting": fields["greeting"]}
        settings = schemas.WidgetSettingsUpdate(allowed_origins=origins, prechat_fields=prechat, **looks)
    except ValidationError as invalid:
        return await _channel_page(
            request,
            session,
            page,
            record,
            widget_errors=_widget_errors(invalid),
            widget_form=_shown(form),
            status_code=422,
        )
    await _update(request, session, page, channel_id, schemas.ChannelUpdate(widget=settings))
    return see_other(f"/app/channels/{channel_id}")


@router.get("/channels/{channel_id}/remove", response_class=HTMLResponse)
async def confirm_removal(channel_id: uuid.UUID, request: Request, session: Session, page: AdminPage) -> Response:
    record = await _channel(request, session, page, channel_id)
    return render(request, "channel_remove.html", {"channel": record}, page=page)


@router.post("/channels/{channel_id}/remove")
async def remove(channel_id: uuid.UUID, request: Request, page: AdminOutsideTransaction) -> Response:
    """Disconnect and delete the channel (a Telegram webhook is removed); its conversations stay."""
    runtime = request.app.state.runtime
    try:
        await ChannelConnections(runtime, page.tenant_id).remove(channel_id)
    except NotFound:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_CHANNEL) from None
    await audit.record_on_its_own(
        runtime.database, page.tenant_id, page.actor(), "channel.removed", target=("channel", channel_id)
    )
    return see_other("/app/channels")


def _widget_fields(form: FormData, *, with_name: bool) -> dict[str, str] | None:
    """The widget form's text fields within bounds (None when one is not), empty ones left out later."""
    limits = {"title": 200, "greeting": 1000, "color": 20, "position": 10, "origins": MAX_ORIGINS_CHARS}
    if with_name:
        limits["name"] = 400
    fields: dict[str, str] = {}
    for name, max_chars in limits.items():
        value = text_field(form, name, max_chars=max_chars) if name in form else ""
        if value is None:
            return None
        fields[name] = value.strip()
    return fields


def _prechat(form: FormData) -> list[PrechatField] | None:
    """What the widget asks before the first message; None when the form names anything else."""
    values = form.getlist("prechat")
    if any(value not in PRECHAT_FIELDS for value in values):
        return None
    return [field for field in PRECHAT_FIELDS if field in values]


def _present(fields: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in fields.items() if value or name == "name"}


def _origins(text: str) -> tuple[list[str], list[str]]:
    """The sites named one per line, and the lines that are not an origin (scheme://host[:port])."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > MAX_ORIGIN_LINES:
        return [], []
    bad = []
    for line in lines:
        try:
            schemas.WidgetSettingsUpdate(allowed_origins=[line])
        except ValidationError:
            bad.append(line)
    return lines, bad


def _widget_errors(invalid: ValidationError) -> list[str]:
    by_field = {
        "name": WIDGET_NAME,
        "title": WIDGET_TITLE,
        "greeting": WIDGET_GREETING,
        "color": WIDGET_COLOR,
        "position": WIDGET_POSITION,
        "allowed_origins": NO_ORIGINS,
    }
    errors: list[str] = []
    for error in invalid.errors():
        message = by_field.get(str(error["loc"][0]) if error["loc"] else "", BAD_FORM)
        if message not in errors:
            errors.append(message)
    return errors


def _shown(form: FormData) -> dict[str, Any]:
    """The form's values to show again with its errors (bounded, without NUL)."""
    shown: dict[str, Any] = {"prechat": [value for value in form.getlist("prechat") if value in ("name", "phone")]}
    for name in ("name", "title", "greeting", "color", "position", "origins"):
        value = form.get(name)
        shown[name] = value[:MAX_ORIGINS_CHARS].replace("\x00", "") if isinstance(value, str) else ""
    return shown
