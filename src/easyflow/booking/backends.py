"""Which booking system a tenant books in: the native engine unless its booking settings name another kind,
whose module registered a factory for it (`register_backend("yclients", ...)`) when it was imported."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.booking.backend import BackendUnavailable, BookingBackend
from easyflow.booking.native import NativeBackend
from easyflow.booking.repository import BookingSettingsRepository

if TYPE_CHECKING:
    from easyflow.runtime import Runtime

NATIVE = "native"
BackendFactory = Callable[[AsyncSession, uuid.UUID, "Runtime"], BookingBackend]

_FACTORIES: dict[str, BackendFactory] = {
    NATIVE: lambda session, tenant_id, runtime: NativeBackend(session, tenant_id),
}


def register_backend(kind: str, factory: BackendFactory) -> None:
    """Make `kind` a booking system tenants can use; registering a kind twice replaces the first factory."""
    _FACTORIES[kind] = factory


async def backend_for(session: AsyncSession, tenant_id: uuid.UUID, runtime: Runtime) -> BookingBackend:
    _, settings = await BookingSettingsRepository(session, tenant_id).current()
    kind = settings.backend if settings is not None else NATIVE
    factory = _FACTORIES.get(kind)
    if factory is None:
        # A kind whose module this process did not load (wiring.py) must not silently book natively instead.
        raise BackendUnavailable(f"booking system {kind!r} is not available in this process")
    return factory(session, tenant_id, runtime)
