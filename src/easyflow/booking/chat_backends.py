"""Where the chat finds a tenant's booking backend: by default the tenant's own (`booking.backends.backend_for`:
the native engine, or the external system it connected), each use in a short tenant transaction of its own, as
the tools are called one at a time, outside any transaction. `use_backends` replaces that source (tests put the
in-memory double of the interface there); a tenant whose system is unavailable gets no booking in the chat (no
tools, no guided flow), so it never sees buttons that lead nowhere."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.booking.backend import BackendUnavailable, BookingBackend
from easyflow.booking.backends import backend_for
from easyflow.booking.repository import BookingSettingsRepository

if TYPE_CHECKING:
    from easyflow.runtime import Runtime

log = structlog.get_logger(__name__)

BackendSource = Callable[["Runtime", uuid.UUID], AbstractAsyncContextManager[BookingBackend | None]]


@asynccontextmanager
async def tenants_own_backend(runtime: Runtime, tenant_id: uuid.UUID) -> AsyncIterator[BookingBackend | None]:
    async with runtime.database.tenant_transaction(tenant_id) as session:
        try:
            backend = await backend_for(session, tenant_id, runtime)
        except BackendUnavailable as error:
            log.warning("booking.chat_backend_unavailable", tenant_id=str(tenant_id), error=error.detail)
            backend = None
        yield backend


_SOURCE: list[BackendSource] = [tenants_own_backend]


def use_backends(source: BackendSource | None) -> None:
    """Book through `source` from now on (None: the tenant's own system again)."""
    _SOURCE[:] = [source or tenants_own_backend]


async def may_book(session: AsyncSession, tenant_id: uuid.UUID) -> bool:
    """Whether the chat should ask the source at all: with the tenant's own system, only when it has a service to
    book online or a connected system (one query in the reply's own transaction, so the replies of a workspace that
    takes no bookings pay for no more); a source put in place by `use_backends` answers for itself."""
    if _SOURCE[0] is not tenants_own_backend:
        return True
    return await BookingSettingsRepository(session, tenant_id).takes_bookings()


@asynccontextmanager
async def open_backend(runtime: Runtime, tenant_id: uuid.UUID) -> AsyncIterator[BookingBackend | None]:
    """The tenant's backend for one use, or None when the chat has no booking."""
    async with _SOURCE[0](runtime, tenant_id) as backend:
        yield backend
