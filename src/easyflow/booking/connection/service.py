"""Connecting a tenant's external booking system (checked with the system, its user token encrypted at rest),
and the record webhooks it sends (authenticated by the secret in the URL, kept, logged)."""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.booking.connection import schemas
from easyflow.booking.connection.repository import (
    BookingConnectionDirectory,
    BookingConnectionRepository,
    BookingSyncEventRepository,
)
from easyflow.booking.yclients.backend import KIND as YCLIENTS
from easyflow.booking.yclients.backend import yclients_client
from easyflow.booking.yclients.client import CredentialsRefused
from easyflow.db.session import enter_system_scope, scope_to_tenant
from easyflow.kit.errors import InvalidInput, NotFound, Unauthorized, Unprocessable
from easyflow.kit.security import constant_time_equals, sha256_hex
from easyflow.models.booking_connections import BookingConnection, BookingSyncEvent

if TYPE_CHECKING:
    from easyflow.runtime import Runtime

log = structlog.get_logger(__name__)

WEBHOOK_PATH = "/hooks/yclients/{connection_id}"


def connection_read(record: BookingConnection) -> schemas.ConnectionRead:
    return schemas.ConnectionRead(
        id=record.id,
        kind=record.kind,
        company_id=int(record.account),
        company_title=str(record.details.get("title", "")),
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


class BookingConnections:
    """Connecting asks YCLIENTS (seconds, maybe): the database work is a short transaction after it."""

    def __init__(self, runtime: Runtime, tenant_id: uuid.UUID) -> None:
        self.runtime = runtime
        self.tenant_id = tenant_id

    async def connect(self, request: schemas.ConnectionPut) -> schemas.ConnectionCreated:
        client = yclients_client(self.runtime, request.user_token)
        try:
            company = await client.get(f"company/{request.company_id}")
            # The company's records need the user token: this is the call that proves it works for the company.
            await client.get(f"records/{request.company_id}", {"count": 1})
        except (CredentialsRefused, NotFound) as error:
            raise Unprocessable(
                "company_id, user_token: YCLIENTS refused them (no such company, or the user has no access to it)."
            ) from error
        secret = secrets.token_urlsafe(32)
        async with self.runtime.database.tenant_transaction(self.tenant_id) as session:
            record = await BookingConnectionRepository(session).put(
                kind=request.kind,
                account=str(request.company_id),
                credentials_encrypted=self.runtime.secrets.encrypt(json.dumps({"user_token": request.user_token})),
                webhook_secret_hash=sha256_hex(secret),
                details={"title": str((company or {}).get("title", ""))[:200]},
            )
            read = connection_read(record)
        url = self.runtime.settings.public_url + WEBHOOK_PATH.format(connection_id=record.id) + f"?token={secret}"
        log.info("booking.connected", tenant_id=str(self.tenant_id), kind=request.kind, connection_id=str(record.id))
        return schemas.ConnectionCreated(**read.model_dump(), webhook_url=url)


class BookingConnectionService:
    """Reading and removing the connection, in the request's transaction."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.connections = BookingConnectionRepository(session, tenant_id)

    async def get(self) -> BookingConnection:
        record = await self.connections.current()
        if record is None:
            raise NotFound("No booking system is connected.")
        return record

    async def remove(self) -> None:
        await self.connections.delete(await self.get())


class RecordWebhook(BaseModel):
    """YCLIENTS' webhook body; fields it may add later are ignored."""

    model_config = ConfigDict(extra="ignore")

    company_id: int
    resource: str = Field(max_length=32)
    resource_id: int = Field(ge=0, lt=10**18)
    status: Literal["create", "update", "delete"]
    data: dict[str, Any] = Field(default_factory=dict)


async def accept_yclients_webhook(
    session: AsyncSession, connection_id: uuid.UUID, token: str | None, body: Any
) -> bool:
    """Keep a record's change (in the caller's transaction); False when the resource is not a record. A
    redelivered change is acknowledged again and kept once."""
    await enter_system_scope(session)
    connection = await BookingConnectionDirectory(session).get(connection_id)
    if connection is None or connection.kind != YCLIENTS:
        raise NotFound("No such YCLIENTS connection.")
    if not token or not constant_time_equals(sha256_hex(token), connection.webhook_secret_hash):
        raise Unauthorized("The webhook token is missing or wrong.")
    await scope_to_tenant(session, connection.tenant_id)
    try:
        hook = RecordWebhook.model_validate(body)
    except ValidationError as error:
        raise InvalidInput("Not a YCLIENTS webhook: " + "; ".join(str(e["loc"]) for e in error.errors())) from error
    if hook.company_id != int(connection.account):
        raise Unprocessable("company_id: not the company this connection is for.")
    if hook.resource != "record":
        return False
    kept = await BookingSyncEventRepository(session, connection.tenant_id).keep(
        BookingSyncEvent(
            id=uuid.uuid4(),
            tenant_id=connection.tenant_id,
            connection_id=connection.id,
            resource=hook.resource,
            resource_id=str(hook.resource_id),
            status=hook.status,
            starts_at=_starts_at(hook.data),
            payload=hook.data,
            payload_hash=sha256_hex(json.dumps(hook.data, sort_keys=True, ensure_ascii=False)),
        )
    )
    if kept:
        log.info(
            f"booking.yclients.record_{hook.status}",
            tenant_id=str(connection.tenant_id),
            connection_id=str(connection.id),
            record_id=hook.resource_id,
        )
    return True


def _starts_at(data: dict[str, Any]) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(data.get("datetime")))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
