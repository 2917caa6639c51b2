"""The workspace's settings and its API keys, for admins: the same services, rules and audit entries as
`PATCH /api/v1/tenant` and `/api/v1/api-keys`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from easyflow.audit import service as audit
from easyflow.tenancy import schemas
from easyflow.tenancy.auth import Session
from easyflow.tenancy.service import TenantService
from easyflow.web.page import N_, AdminPage, SignedIn, render, see_other, text_field

router = APIRouter()

SETTINGS_PATH = "/app/settings"
LANGUAGES = (("ru", "Русский"), ("en", "English"), ("ky", "Кыргызча"), ("kk", "Қазақша"))
SETTING_ERRORS = {
    "name": N_("Enter the workspace's name: 1 to 200 characters."),
    "default_language": N_("Choose a language from the list."),
    "timezone": N_("Unknown time zone: use a name such as Europe/Moscow."),
}
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
        return _settings_page(
            request, page, shown, error=error, field=field, status_code=status.HTTP_422_UNPROCESSABLE_ENTITY
        )
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
