"""Sessions and the per-transaction tenant scope that row-level security reads."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from easyflow.db.rls import SCOPE_SETTING, SYSTEM_SCOPE, TENANT_SETTING
from easyflow.kit.errors import DomainError

TENANT_KEY = "easyflow.tenant_id"


# Built once: on every authenticated request, parsing the statement's text again cost more than sending it.
_SCOPE_TO_TENANT = text("SELECT set_config(:tenant_setting, :tenant, true), set_config(:scope_setting, '', true)")


async def scope_to_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """From here to the end of the transaction, RLS shows only this tenant's rows; the session remembers the
    tenant, so repositories made on it take their tenant from it (`tenant_of`)."""
    await session.execute(
        _SCOPE_TO_TENANT, {"tenant_setting": TENANT_SETTING, "tenant": str(tenant_id), "scope_setting": SCOPE_SETTING}
    )
    remember_tenant(session, tenant_id)


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
