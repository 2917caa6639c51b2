"""The workspace's settings and its API keys, for admins: the same services, rules and audit entries as
`PATCH /api/v1/tenant` and `/api/v1/api-keys`."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from easyflow.audit import service as audit
from easyflow.kit.errors import NotFound
from easyflow.models.tenancy import ApiKey, Role
from easyflow.tenancy import schemas
from easyflow.tenancy.auth import KeyCache, Session
from easyflow.tenancy.service import ApiKeyService, TenantService
from easyflow.web.page import N_, AdminPage, PageRefused, SignedIn, render, see_other, text_field

router = APIRouter()

SETTINGS_PATH = "/app/settings"
LANGUAGES = (("ru", "Русский"), ("en", "English"), ("ky", "Кыргызча"), ("kk", "Қазақша"))
SETTING_ERRORS = {
    "name": N_("Enter the workspace's name: 1 to 200 characters."),
    "default_language": N_("Choose a language from the list."),
    "timezone": N_("Unknown time zone: use a name such as Europe/Moscow."),
}
API_KEYS_PATH = "/app/api-keys"
MAX_KEYS_LISTED = 500
KEY_ROLES = ((Role.admin, N_("Admin")), (Role.operator, N_("Operator")), (Role.viewer, N_("Viewer")))
BAD_KEY = N_("Name the key (1 to 200 characters) and choose a role from the list.")
NO_SUCH_KEY = N_("No such API key in this workspace.")
UNREADABLE = N_("The form has a field that is too long or has characters that are not allowed.")


@router.get("/settings", response_class=HTMLResponse)
async def settings_page(request: Request, page: AdminPage) -> Response:
    return _settings_page(request, page, _current(page), saved=request.query_params.get("saved") == "1")


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
    shown = {
        "name": name if name is not None else "",
        "default_language": language or "",
        "timezone": timezone if timezone is not None else "",
        "csat_enabled": "csat_enabled" in form,
        "two_factor_required": "two_factor_required" in form,
    }
    if name is None or language is None or timezone is None:
        return _settings_page(request, page, shown, error=UNREADABLE, status_code=status.HTTP_400_BAD_REQUEST)
    current = _current(page)
    changed = {field: value for field, value in shown.items() if value != current[field]}
    if "name" in changed:
        changed["name"] = name.strip()
    try:
        update = schemas.TenantUpdate.model_validate(changed)
    except ValidationError as invalid:
        field = str(invalid.errors()[0]["loc"][0])
        error = SETTING_ERRORS.get(field, UNREADABLE)
        return _settings_page(request, page, shown, error=error, field=field, status_code=422)
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
        "csat_enabled": tenant.csat_enabled,
        "two_factor_required": tenant.two_factor_required,
    }


def _settings_page(
    request: Request,
    page: SignedIn,
    values: dict[str, Any],
    *,
    saved: bool = False,
    error: str | None = None,
    field: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    context = {"values": values, "languages": LANGUAGES, "saved": saved, "error": error, "error_field": field}
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


async def _api_keys_page(
    request: Request,
    session: Session,
    page: SignedIn,
    *,
    created: tuple[ApiKey, str] | None = None,
    error: str | None = None,
    name: str = "",
    status_code: int = status.HTTP_200_OK,
) -> Response:
    keys, total = await ApiKeyService(session, page.tenant_id).list(limit=MAX_KEYS_LISTED, offset=0)
    context = {
        "keys": sorted(keys, key=lambda key: key.created_at, reverse=True),
        "total": total,
        "roles": KEY_ROLES,
        "role_titles": dict(KEY_ROLES),
        "created": created,
        "error": error,
        "name": name,
    }
    return render(request, "api_keys.html", context, status_code, page=page)
