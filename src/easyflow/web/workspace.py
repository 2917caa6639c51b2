"""The workspace's settings and its API keys, for admins: the same services, rules and audit entries as
`PATCH /api/v1/tenant` and `/api/v1/api-keys`."""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from easyflow.audit import service as audit
from easyflow.booking.schemas import BookingSettingsRead, BookingSettingsUpdate
from easyflow.booking.slots import SlotFinder
from easyflow.inbox.hours import WEEKDAYS
from easyflow.inbox.schemas import BusinessHoursRead, BusinessHoursUpdate, SlaPolicyCreate, SlaPolicyUpdate
from easyflow.inbox.sla import BusinessHoursSettings, SlaPolicies
from easyflow.inbox.teams import Teams
from easyflow.kit.errors import NotFound, Unprocessable
from easyflow.models.tenancy import ApiKey, Role
from easyflow.tenancy import schemas
from easyflow.tenancy.auth import KeyCache, Session
from easyflow.tenancy.schemas import WebhookRead
from easyflow.tenancy.service import ApiKeyService, TenantService
from easyflow.web.page import N_, AdminPage, PageRefused, SignedIn, render, see_other, text_field

router = APIRouter()

SETTINGS_PATH = "/app/settings"
LANGUAGES = (("ru", "Русский"), ("en", "English"), ("ky", "Кыргызча"), ("kk", "Қазақша"))
SETTING_ERRORS = {
    "name": N_("Enter the workspace's name: 1 to 200 characters."),
    "default_language": N_("Choose a language from the list."),
    "timezone": N_("Unknown time zone: use a name such as Europe/Moscow."),
    "facts": N_("The facts are too long: at most 20,000 characters."),
}
MAX_FACTS_CHARS = 20000
WEEKDAY_TITLES = (
    ("mon", N_("Monday")),
    ("tue", N_("Tuesday")),
    ("wed", N_("Wednesday")),
    ("thu", N_("Thursday")),
    ("fri", N_("Friday")),
    ("sat", N_("Saturday")),
    ("sun", N_("Sunday")),
)
HOURS_FIELD_CHARS = 200
HOLIDAYS_FIELD_CHARS = 6000
PERIOD = re.compile(r"(?P<opens>\d{1,2}:\d{2})[-–—](?P<closes>\d{1,2}:\d{2})")
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
BAD_HOURS = N_(
    "Write each day's working periods as 09:00-13:00, 14:00-18:00: closing after opening (24:00 is midnight), "
    "periods not overlapping, at most six a day."
)
BAD_HOLIDAYS = N_("Write holidays as dates such as 2026-12-31, one a line (at most 400).")
NO_PERIODS = N_("Holidays need working days: give at least one day's hours, or clear every field to be always open.")
SLA_TARGETS = ("first_response_minutes", "next_response_minutes", "resolution_minutes")
BAD_POLICY = N_("Name the policy (1 to 100 characters) and choose a team or a label, not both.")
BAD_MINUTES = N_("Give at least one target, each a whole number of minutes from 1 to 525,600.")
NO_SUCH_TEAM = N_("No such team in this workspace.")
NO_SUCH_POLICY = N_("No such SLA policy in this workspace.")
API_KEYS_PATH = "/app/api-keys"
MAX_KEYS_LISTED = 500
KEY_ROLES = ((Role.admin, N_("Admin")), (Role.operator, N_("Operator")), (Role.viewer, N_("Viewer")))
BAD_KEY = N_("Name the key (1 to 200 characters) and choose a role from the list.")
NO_SUCH_KEY = N_("No such API key in this workspace.")
WEBHOOK_PATH = "/app/api-keys/webhook"
BAD_WEBHOOK_URL = N_("Enter a full address starting with https:// or http:// (at most 500 characters).")
PRIVATE_WEBHOOK = N_(
    "This address is private or local: the webhook must be reachable on the public internet "
    "(the server's operator can allow private ones with EASYFLOW_ALLOW_PRIVATE_WEBHOOKS)."
)
UNRESOLVED_WEBHOOK = N_("The host of this address cannot be found.")
UNREADABLE = N_("The form has a field that is too long or has characters that are not allowed.")
BAD_BOOKING = N_(
    "Online booking: the earliest booking 0 to 43,200 minutes ahead, bookable 1 to 730 days ahead, a slot held 1 to "
    "1,440 minutes, start times every 5 to 240 minutes, and at most five reminders, each 0.1 to 336 hours before "
    "(such as 24, 2)."
)
BOOKING_FIELDS = ("lead_time_minutes", "horizon_days", "hold_minutes", "slot_step_minutes")


@router.get("/settings", response_class=HTMLResponse)
async def settings_page(request: Request, session: Session, page: AdminPage) -> Response:
    return await _settings_page(request, session, page, _current(page))


@router.post("/settings", response_class=HTMLResponse)
async def save_settings(request: Request, session: Session, page: AdminPage) -> Response:
    """Saves what changed, as `PATCH /api/v1/tenant` would, and records `tenant.updated` naming the fields.
    Requiring two-factor sign-in while the admin has none sends them, like every member, to set it up."""
    form = await request.form(max_fields=20)
    name, language, timezone = (
        text_field(form, "name", 200),
        text_field(form, "default_language", 8),
        text_field(form, "timezone", 64),
    )
    facts = text_field(form, "facts", MAX_FACTS_CHARS) if "facts" in form else page.tenant.facts
    shown = {
        "name": name if name is not None else "",
        "default_language": language or "",
        "timezone": timezone if timezone is not None else "",
        "facts": facts.replace("\r\n", "\n") if facts is not None else str(form.get("facts", ""))[:MAX_FACTS_CHARS],
        "csat_enabled": "csat_enabled" in form,
        "two_factor_required": "two_factor_required" in form,
    }
    if name is None or language is None or timezone is None or facts is None:
        return await _settings_page(
            request, session, page, shown, error=UNREADABLE, status_code=status.HTTP_400_BAD_REQUEST
        )
    current = _current(page)
    changed = {field: value for field, value in shown.items() if value != current[field]}
    if "name" in changed:
        changed["name"] = name.strip()
    try:
        update = schemas.TenantUpdate.model_validate(changed)
    except ValidationError as invalid:
        field = str(invalid.errors()[0]["loc"][0])
        error = SETTING_ERRORS.get(field, UNREADABLE)
        return await _settings_page(request, session, page, shown, error=error, field=field, status_code=422)
    if changed:
        await TenantService(session).update(page.tenant_id, update)
        fields = sorted(update.model_dump(exclude_unset=True))
        await audit.record(session, page.tenant_id, page.actor(), "tenant.updated", details={"changed": fields})
    return see_other(f"{SETTINGS_PATH}?saved=1")


def _current(page: SignedIn) -> dict[str, Any]:
    tenant = page.tenant
    return {
        "name": tenant.name,
        "default_language": tenant.default_language,
        "timezone": tenant.timezone,
        "facts": tenant.facts,
        "csat_enabled": tenant.csat_enabled,
        "two_factor_required": tenant.two_factor_required,
    }


@router.post("/settings/hours", response_class=HTMLResponse)
async def save_business_hours(request: Request, session: Session, page: AdminPage) -> Response:
    """The week's working periods and the holidays, as `PUT /api/v1/business-hours` takes them; every field
    left empty removes the hours (`DELETE`: open around the clock)."""
    form = await request.form(max_fields=20)
    shown = {day: str(form.get(f"hours_{day}", ""))[:HOURS_FIELD_CHARS] for day in WEEKDAYS}
    shown["holidays"] = str(form.get("holidays", ""))[:HOLIDAYS_FIELD_CHARS]
    try:
        body = _business_hours(form)
    except HoursRefused as refused:
        return await _settings_page(
            request, session, page, _current(page), hours=shown, hours_error=refused.message, status_code=422
        )
    await BusinessHoursSettings(session, page.tenant_id).replace(body)
    return see_other(f"{SETTINGS_PATH}?saved=hours#business-hours")


@router.post("/settings/booking", response_class=HTMLResponse)
async def save_booking_settings(request: Request, session: Session, page: AdminPage) -> Response:
    """How customers book online and when they are reminded, as `PATCH /api/v1/booking/settings` takes them;
    reminders are typed in hours before the appointment (24, 2)."""
    form = await request.form(max_fields=20)
    shown = {name: str(form.get(name, ""))[:20] for name in (*BOOKING_FIELDS, "reminders")}
    try:
        body = BookingSettingsUpdate.model_validate(
            {name: int(shown[name]) for name in BOOKING_FIELDS}
            | {"reminder_offsets_minutes": _reminder_minutes(shown["reminders"])}
        )
    except (ValueError, OverflowError, ValidationError):
        return await _settings_page(
            request, session, page, _current(page), booking=shown, booking_error=BAD_BOOKING, status_code=422
        )
    await SlotFinder(session, page.tenant_id).change_settings(body)
    return see_other(f"{SETTINGS_PATH}?saved=booking#booking")


def _reminder_minutes(text: str) -> list[int]:
    """ "24, 2" (hours; a comma or a point for a fraction: "0,5") to minutes, as the settings keep them."""
    parts = [part for part in re.split(r"[;\s]+|,\s+", text.strip()) if part]
    return [round(float(part.replace(",", ".")) * 60) for part in parts]


def _booking_fields(stored: BookingSettingsRead) -> dict[str, str]:
    fields = {name: str(getattr(stored, name)) for name in BOOKING_FIELDS}
    fields["reminders"] = ", ".join(f"{minutes / 60:g}" for minutes in stored.reminder_offsets_minutes)
    return fields


class HoursRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _business_hours(form: FormData) -> BusinessHoursUpdate | None:
    weekly: dict[str, list[dict[str, str]]] = {}
    for day in WEEKDAYS:
        value = text_field(form, f"hours_{day}", HOURS_FIELD_CHARS)
        if value is None:
            raise HoursRefused(BAD_HOURS)
        periods = []
        for part in re.split(r"[,;\s]+", value.strip()):
            if not part:
                continue
            found = PERIOD.fullmatch(part)
            if found is None:
                raise HoursRefused(BAD_HOURS)
            periods.append({"opens": found["opens"].zfill(5), "closes": found["closes"].zfill(5)})
        if periods:
            weekly[day] = periods
    holidays_text = text_field(form, "holidays", HOLIDAYS_FIELD_CHARS)
    if holidays_text is None:
        raise HoursRefused(BAD_HOLIDAYS)
    holidays = [day for day in re.split(r"[,;\s]+", holidays_text.strip()) if day]
    if any(DAY.fullmatch(day) is None for day in holidays):
        raise HoursRefused(BAD_HOLIDAYS)
    if not weekly and not holidays:
        return None
    if not weekly:
        raise HoursRefused(NO_PERIODS)
    try:
        return BusinessHoursUpdate.model_validate({"weekly": weekly, "holidays": holidays})
    except ValidationError as invalid:
        where = str(invalid.errors()[0]["loc"][0]) if invalid.errors()[0]["loc"] else ""
        raise HoursRefused(BAD_HOLIDAYS if where == "holidays" else BAD_HOURS) from None


def _hours_fields(stored: BusinessHoursRead) -> dict[str, str]:
    fields = {
        day: ", ".join(f"{period['opens']}-{period['closes']}" for period in stored.weekly.get(day, []))
        for day in WEEKDAYS
    }
    fields["holidays"] = "\n".join(day.isoformat() for day in stored.holidays)
    return fields


@router.post("/settings/sla", response_class=HTMLResponse)
async def create_sla_policy(request: Request, session: Session, page: AdminPage) -> Response:
    """A new SLA policy, through the service of `POST /api/v1/sla-policies`."""
    form = await request.form(max_fields=20)
    try:
        body = _sla_policy(form)
        await SlaPolicies(session, page.tenant_id).create(body)
    except (HoursRefused, Unprocessable) as refused:
        message = refused.message if isinstance(refused, HoursRefused) else NO_SUCH_TEAM
        return await _settings_page(
            request, session, page, _current(page), sla_form=_sla_shown(form), sla_error=message, status_code=422
        )
    return see_other(f"{SETTINGS_PATH}?saved=sla#sla")


@router.post("/settings/sla/{policy_id}", response_class=HTMLResponse)
async def update_sla_policy(request: Request, session: Session, page: AdminPage, policy_id: uuid.UUID) -> Response:
    """The whole policy as the form shows it, through the service of `PATCH /api/v1/sla-policies/{id}`."""
    form = await request.form(max_fields=20)
    policies = SlaPolicies(session, page.tenant_id)
    try:
        await policies.get(policy_id)
        body = _sla_policy(form)
        await policies.update(policy_id, SlaPolicyUpdate.model_validate(body.model_dump()))
    except NotFound:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_POLICY) from None
    except (HoursRefused, Unprocessable) as refused:
        message = refused.message if isinstance(refused, HoursRefused) else NO_SUCH_TEAM
        return await _settings_page(
            request, session, page, _current(page), sla_error=message, sla_failed=policy_id, status_code=422
        )
    return see_other(f"{SETTINGS_PATH}?saved=sla#sla")


@router.post("/settings/sla/{policy_id}/delete")
async def delete_sla_policy(session: Session, page: AdminPage, policy_id: uuid.UUID) -> Response:
    try:
        await SlaPolicies(session, page.tenant_id).delete(policy_id)
    except NotFound:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_POLICY) from None
    return see_other(f"{SETTINGS_PATH}?saved=sla#sla")


def _sla_policy(form: FormData) -> SlaPolicyCreate:
    """The form as a whole policy, checked by the API's own schema before the service sees it."""
    values: dict[str, Any] = {"business_hours_only": "business_hours_only" in form}
    name = text_field(form, "name", 100)
    if name is None:
        raise HoursRefused(BAD_POLICY)
    values["name"] = name.strip()
    for target in SLA_TARGETS:
        minutes = text_field(form, target, 7)
        if minutes is None or (minutes.strip() and not minutes.strip().isdigit()):
            raise HoursRefused(BAD_MINUTES)
        values[target] = int(minutes) if minutes.strip() else None
    team, label = text_field(form, "team_id", 40), text_field(form, "label", 64)
    if team is None or label is None:
        raise HoursRefused(BAD_POLICY)
    if team:
        try:
            values["team_id"] = uuid.UUID(team)
        except ValueError:
            raise HoursRefused(NO_SUCH_TEAM) from None
    if label.strip():
        values["label"] = label.strip()
    try:
        return SlaPolicyCreate.model_validate(values)
    except ValidationError as invalid:
        where = str(invalid.errors()[0]["loc"][0]) if invalid.errors()[0]["loc"] else ""
        raise HoursRefused(BAD_MINUTES if where in SLA_TARGETS else BAD_POLICY) from None


def _sla_shown(form: FormData) -> dict[str, Any]:
    shown: dict[str, Any] = {
        field: str(form.get(field, ""))[:100] for field in ("name", "team_id", "label", *SLA_TARGETS)
    }
    shown["business_hours_only"] = "business_hours_only" in form
    return shown


async def _settings_page(
    request: Request,
    session: Session,
    page: SignedIn,
    values: dict[str, Any],
    *,
    error: str | None = None,
    field: str | None = None,
    hours: dict[str, str] | None = None,
    hours_error: str | None = None,
    sla_form: dict[str, Any] | None = None,
    sla_error: str | None = None,
    sla_failed: uuid.UUID | None = None,
    booking: dict[str, str] | None = None,
    booking_error: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    stored_hours = await BusinessHoursSettings(session, page.tenant_id).read()
    booking_settings = await SlotFinder(session, page.tenant_id).settings()
    teams = await Teams(session, page.tenant_id).list()
    context = {
        "values": values,
        "languages": LANGUAGES,
        "saved": request.query_params.get("saved") if status_code == status.HTTP_200_OK else None,
        "error": error,
        "error_field": field,
        "weekdays": WEEKDAY_TITLES,
        "hours": hours if hours is not None else _hours_fields(stored_hours),
        "stored_hours": stored_hours,
        "hours_error": hours_error,
        "policies": await SlaPolicies(session, page.tenant_id).list(),
        "teams": teams,
        "team_names": {team.id: team.name for team in teams},
        "sla_form": sla_form or {"business_hours_only": True},
        "sla_error": sla_error,
        "sla_failed": sla_failed,
        "booking": booking if booking is not None else _booking_fields(booking_settings),
        "booking_error": booking_error,
    }
    return render(request, "settings.html", context, status_code, page=page)


@router.get("/api-keys", response_class=HTMLResponse)
async def api_keys_page(request: Request, session: Session, page: AdminPage) -> Response:
    return await _api_keys_page(request, session, page)


@router.post("/api-keys", response_class=HTMLResponse)
async def create_api_key(request: Request, session: Session, page: AdminPage) -> Response:
    """A new key, shown whole only in this answer (only its hash is kept); audited as `api_key.created`."""
    form = await request.form(max_fields=20)
    name, role = text_field(form, "name", 200), text_field(form, "role", 16)
    if name is None or role is None:
        return await _api_keys_page(request, session, page, error=BAD_KEY, status_code=422)
    try:
        body = schemas.ApiKeyCreate.model_validate({"name": name.strip(), "role": role})
    except ValidationError:
        return await _api_keys_page(request, session, page, error=BAD_KEY, status_code=422, name=name)
    key, whole_key = await ApiKeyService(session, page.tenant_id).create(body, created_by=page.user.id)
    details = {"name": key.name, "role": key.role.value, "prefix": key.prefix}
    await audit.record(
        session, page.tenant_id, page.actor(), "api_key.created", target=("api_key", key.id), details=details
    )
    return await _api_keys_page(request, session, page, created=(key, whole_key), status_code=201)


@router.post("/api-keys/{key_id}/revoke")
async def revoke_api_key(session: Session, page: AdminPage, key_cache: KeyCache, key_id: uuid.UUID) -> Response:
    """The key stops working at once and stays listed as revoked; audited as `api_key.revoked`."""
    try:
        key = await ApiKeyService(session, page.tenant_id).revoke(key_id, key_cache)
    except NotFound:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_KEY) from None
    details = {"name": key.name, "prefix": key.prefix}
    await audit.record(
        session, page.tenant_id, page.actor(), "api_key.revoked", target=("api_key", key.id), details=details
    )
    return see_other(API_KEYS_PATH)


@router.post("/api-keys/webhook", response_class=HTMLResponse)
async def set_webhook(request: Request, session: Session, page: AdminPage) -> Response:
    """Where the API channel's replies are POSTed, as `PUT /api/v1/tenant/webhook`: a public address only
    (unless the operator allows private ones), with a new signing secret shown only in this answer."""
    form = await request.form(max_fields=20)
    url = text_field(form, "url", 500)
    try:
        body = schemas.WebhookUpdate.model_validate({"url": (url or "").strip()})
    except ValidationError:
        return await _api_keys_page(request, session, page, webhook_error=BAD_WEBHOOK_URL, webhook_url=url or "")
    try:
        webhook = await TenantService(session).set_webhook(
            page.tenant_id,
            str(body.url),
            request.app.state.runtime.secrets,
            allow_private=request.app.state.settings.allow_private_webhooks,
        )
    except Unprocessable as refused:
        detail = str(refused)
        error = (
            PRIVATE_WEBHOOK
            if "private or local" in detail
            else UNRESOLVED_WEBHOOK
            if "cannot be resolved" in detail
            else BAD_WEBHOOK_URL
        )
        return await _api_keys_page(request, session, page, webhook_error=error, webhook_url=url or "")
    return await _api_keys_page(request, session, page, webhook=webhook)


@router.post("/api-keys/webhook/remove")
async def remove_webhook(session: Session, page: AdminPage) -> Response:
    """Replies of the API channel are no longer pushed, as `DELETE /api/v1/tenant/webhook`."""
    await TenantService(session).remove_webhook(page.tenant_id)
    return see_other(f"{API_KEYS_PATH}#webhook")


async def _api_keys_page(
    request: Request,
    session: Session,
    page: SignedIn,
    *,
    created: tuple[ApiKey, str] | None = None,
    error: str | None = None,
    name: str = "",
    webhook: WebhookRead | None = None,
    webhook_error: str | None = None,
    webhook_url: str = "",
    status_code: int = status.HTTP_200_OK,
) -> Response:
    if webhook_error is not None:
        status_code = 422
    keys, total = await ApiKeyService(session, page.tenant_id).list(limit=MAX_KEYS_LISTED, offset=0)
    context = {
        "keys": sorted(keys, key=lambda key: key.created_at, reverse=True),
        "total": total,
        "roles": KEY_ROLES,
        "role_titles": dict(KEY_ROLES),
        "created": created,
        "error": error,
        "name": name,
        "webhook": webhook,
        "webhook_error": webhook_error,
        "webhook_url": webhook_url,
        "current_webhook": webhook.url if webhook else page.tenant.webhook_url,
    }
    return render(request, "api_keys.html", context, status_code, page=page)
