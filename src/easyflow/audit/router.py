"""HTTP routes of the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from easyflow.audit import schemas
from easyflow.audit.service import AuditService
from easyflow.kit.schemas import Limit, Offset, Page
from easyflow.tenancy.auth import Admin, Session

router = APIRouter(prefix="/api/v1", tags=["audit"])

Action = Annotated[
    str | None,
    Query(
        max_length=64,
        pattern=r"^[a-z_]+(\.[a-z_]*)?$",
        description="One action (`api_key.created`), or every action of a thing with a trailing dot (`auth.`).",
    ),
]


@router.get("/audit")
async def list_audit_events(
    principal: Admin,
    session: Session,
    action: Action = None,
    since: datetime | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[schemas.AuditEventRead]:
    """Who did what to this tenant's account, newest first: sign-ins and failed ones, API keys, members,
    channels and assistants. Admins only; nobody can change or remove an entry."""
    events, total = await AuditService(session, principal.tenant_id).page(
        action=action, since=since, limit=limit, offset=offset
    )
    return Page(items=[schemas.AuditEventRead.model_validate(event) for event in events], total=total)
