"""HTTP routes: a tenant's external booking system, and the webhooks that system calls."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, status

from easyflow.booking.connection import schemas
from easyflow.booking.connection.service import (
    BookingConnections,
    BookingConnectionService,
    accept_yclients_webhook,
    connection_read,
)
from easyflow.tenancy.auth import Admin, AdminOutsideTransaction, Session

router = APIRouter(prefix="/api/v1/booking", tags=["booking"])
hooks = APIRouter(prefix="/hooks", tags=["webhooks"])


@router.get("/connection")
async def read_connection(principal: Admin, session: Session) -> schemas.ConnectionRead:
    """The connected booking system (404 when the built-in calendar is used). The user token is never shown."""
    return connection_read(await BookingConnectionService(session, principal.tenant_id).get())


@router.put("/connection")
async def connect(
    body: schemas.ConnectionPut, request: Request, principal: AdminOutsideTransaction
) -> schemas.ConnectionCreated:
    """Connect YCLIENTS (`{"kind": "yclients", "company_id", "user_token"}`), replacing any connection: the
    token is checked with YCLIENTS (422 when refused) and stored encrypted. The answer's `webhook_url` is shown
    only this once."""
    return await BookingConnections(request.app.state.runtime, principal.tenant_id).connect(body)


@router.delete("/connection", status_code=status.HTTP_204_NO_CONTENT)
async def disconnect(principal: Admin, session: Session) -> None:
    """Disconnect: the assistant books in the built-in calendar again; YCLIENTS keeps its records."""
    await BookingConnectionService(session, principal.tenant_id).remove()


@hooks.post("/yclients/{connection_id}", include_in_schema=False)
async def yclients_webhook(
    connection_id: uuid.UUID,
    session: Session,
    body: Annotated[Any, Body()],
    token: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, bool]:
    """YCLIENTS' record webhook: 200 once the change is kept."""
    await accept_yclients_webhook(session, connection_id, token, body)
    return {"success": True}
