"""Sessions and the per-transaction tenant scope that row-level security reads."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import Connection, event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, SessionTransaction
from starlette.requests import Request

from easyflow.db.rls import SCOPE_SETTING, SYSTEM_SCOPE, scope_to_tenant_sql
from easyflow.kit.errors import DomainError

TENANT_KEY = "easyflow.tenant_id"
# The tenant a transaction was scoped to before it used a connection: the scope goes out when it does.
_PENDING_SCOPE_KEY = "easyflow.pending_scope"
# Set while the session's transaction holds a connection (a scope then goes out at once).
_CONNECTED_KEY = "easyflow.connected"

_SCOPE_TO_TENANT = scope_to_tenant_sql("%s")


class LazilyScopedSession(Session):
    """A session whose tenant scope is sent when its transaction first uses a connection, not when it is
    asked for: a request whose caller is known from the API key cache and that reads nothing through the
    session (a one-round-trip read, `db/one_trip.py`) then costs the database no statement at all."""


@event.listens_for(LazilyScopedSession, "after_begin")
def _send_pending_scope(session: Session, _transaction: SessionTransaction, connection: Connection) -> None:
    session.info[_CONNECTED_KEY] = True
    tenant_id = session.info.pop(_PENDING_SCOPE_KEY, None)
    if tenant_id is not None:
        connection.exec_driver_sql(_SCOPE_TO_TENANT, (str(tenant_id),))


@event.listens_for(LazilyScopedSession, "after_transaction_end")
def _forget_connection(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_CONNECTED_KEY, None)
        session.info.pop(_PENDING_SCOPE_KEY, None)


def session_factory(bind: AsyncEngine | AsyncConnection, **options: Any) -> async_sessionmaker[AsyncSession]:
    """Sessions as every part of easyflow uses them: lazily scoped, objects kept usable after commit."""
    return async_sessionmaker(
        bind, expire_on_commit=False, autoflush=False, sync_session_class=LazilyScopedSession, **options
    )


async def scope_to_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """From here to the end of the transaction, RLS shows only this tenant's rows; the session remembers the
    tenant, so repositories made on it take their tenant from it (`tenant_of`)."""
    remember_tenant(session, tenant_id)
    if session.info.get(_CONNECTED_KEY):
        connection = await session.connection()
        await connection.exec_driver_sql(_SCOPE_TO_TENANT, (str(tenant_id),))
    else:
        session.info[_PENDING_SCOPE_KEY] = tenant_id


def remember_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Note the tenant a transaction was scoped to by SQL of its own (the sign-in look-up functions scope
    and read in one round trip), so that repositories made on the session take it (`tenant_of`)."""
    session.info[TENANT_KEY] = tenant_id


def tenant_of(session: AsyncSession) -> uuid.UUID:
    """The tenant the session's transaction was scoped to; a session never scoped is a programming error."""
    tenant_id: uuid.UUID | None = session.info.get(TENANT_KEY)
    if tenant_id is None:
        raise LookupError("this session was not scoped to a tenant (use Database.tenant_transaction)")
    return tenant_id


async def enter_system_scope(session: AsyncSession) -> None:
    """Let this transaction see every tenant: only for look-ups that find the tenant (auth, job dispatch).
    The session forgets any tenant it was scoped to, so no repository takes a stale one from it."""
    session.info.pop(TENANT_KEY, None)
    session.info.pop(_PENDING_SCOPE_KEY, None)
    await session.execute(
        text("SELECT set_config(:scope_setting, :system, true)"),
        {"scope_setting": SCOPE_SETTING, "system": SYSTEM_SCOPE},
    )


async def session_in_transaction(request: Request) -> AsyncIterator[AsyncSession]:
    """FastAPI dependency: one transaction per request, committed when the endpoint returns, before the
    response is sent (declared with scope="function"), rolled back on any error."""
    database = request.app.state.runtime.database
    async with database.session() as session:
        await session.begin()
        try:
            yield session
        except DomainError as error:
            await (session.commit() if error.keep_changes else session.rollback())
            raise
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()
