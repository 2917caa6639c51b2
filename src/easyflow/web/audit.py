"""The audit log page: who did what to the workspace, newest first, one action (or a kind of thing) at a time."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import HTMLResponse, Response

from easyflow.audit.service import AuditService
from easyflow.tenancy.auth import Session
from easyflow.web.page import N_, AdminPage, PageRefused, render

router = APIRouter()

PAGE_SIZE = 50
MAX_PAGE = 100_000
MAX_ACTION_CHARS = 64
# The same as `GET /api/v1/audit`'s `action`: one action, or every action of a thing with a trailing dot.
ACTION = re.compile(r"^[a-z_]+(\.[a-z_]*)?$")
# What the filter offers; any other action can still be typed.
KNOWN_ACTIONS = (
    "auth.",
    "auth.signed_in",
    "auth.sign_in_failed",
    "auth.two_factor_enabled",
    "auth.two_factor_disabled",
    "auth.password_changed",
    "member.",
    "member.invited",
    "member.changed",
    "member.removed",
    "member.joined",
    "member.invitation_withdrawn",
    "api_key.",
    "api_key.created",
    "api_key.revoked",
    "tenant.updated",
    "channel.",
    "assistant.",
    "conversation.",
    "contact.",
    "contact.merged",
    "import.",
    "import.created",
)
# What a person reads for an action beside its name, in the member's language.
ACTION_LABELS = {
    "auth.signed_in": N_("Signed in"),
    "auth.sign_in_failed": N_("Sign-in failed"),
    "auth.two_factor_enabled": N_("Two-factor sign-in turned on"),
    "auth.two_factor_disabled": N_("Two-factor sign-in turned off"),
    "auth.password_changed": N_("Password changed"),
    "member.invited": N_("Member invited"),
    "member.changed": N_("Member changed"),
    "member.removed": N_("Member removed"),
    "member.joined": N_("Member joined"),
    "member.invitation_withdrawn": N_("Invitation withdrawn"),
    "api_key.created": N_("API key created"),
    "api_key.revoked": N_("API key revoked"),
    "tenant.updated": N_("Workspace settings changed"),
    "import.created": N_("Chat history imported"),
}


@router.get("/audit", response_class=HTMLResponse)
async def audit_log(
    request: Request,
    session: Session,
    page: AdminPage,
    action: str = "",
    page_number: Annotated[str, Query(alias="page")] = "1",
) -> Response:
    """The workspace's audit log, `PAGE_SIZE` entries a page, newest first. The query is checked here rather
    than by FastAPI, so a bad one is answered with a page a person reads."""
    action = action.strip()
    if action and (len(action) > MAX_ACTION_CHARS or not ACTION.match(action)):
        raise PageRefused(status.HTTP_400_BAD_REQUEST, N_("No such action: use letters, '_' and one dot."))
    if (
        not (page_number.isascii() and page_number.isdigit() and len(page_number) <= 7)
        or not 1 <= int(page_number) <= MAX_PAGE
    ):
        raise PageRefused(status.HTTP_400_BAD_REQUEST, N_("No such page."))
    number = int(page_number)
    events, total = await AuditService(session, page.tenant_id).page(
        action=action or None, since=None, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE
    )
    zone = ZoneInfo(page.tenant.timezone)
    context = {
        "events": [
            {
                "when": _local(event.created_at, zone),
                "when_iso": event.created_at.isoformat(),
                "actor": event.actor,
                "action": event.action,
                "target": f"{event.target_kind}:{event.target_id}" if event.target_kind else "",
                "details": [(key, _shown(value)) for key, value in event.details.items()],
                "client_ip": event.client_ip,
            }
            for event in events
        ],
        "total": total,
        "action": action,
        "known_actions": KNOWN_ACTIONS,
        "action_labels": ACTION_LABELS,
        "number": number,
        "pages": max(1, -(-total // PAGE_SIZE)),
    }
    return render(request, "audit.html", context, page=page)


def _shown(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
