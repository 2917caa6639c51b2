"""Where the chat finds a tenant's booking backend. The resolver that knows the native engine and the external
systems (`booking.native.backend_for`) is installed with `use_backends`; until one is, the chat offers no booking
(no tools, no guided flow), so a tenant never sees buttons that lead nowhere. Each use opens its own backend (the
native one in a short transaction of its own), as the tools are called one at a time, outside any transaction."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING

from easyflow.booking.backend import BookingBackend

if TYPE_CHECKING:
    from easyflow.runtime import Runtime

BackendSource = Callable[["Runtime", uuid.UUID], AbstractAsyncContextManager[BookingBackend | None]]

_SOURCE: list[BackendSource] = []


def use_backends(source: BackendSource | None) -> None:
    _SOURCE[:] = [source] if source is not None else []


@asynccontextmanager
async def open_backend(runtime: Runtime, tenant_id: uuid.UUID) -> AsyncIterator[BookingBackend | None]:
    """The tenant's backend for one use, or None when the chat has no booking."""
    if not _SOURCE:
        yield None
        return
    async with _SOURCE[0](runtime, tenant_id) as backend:
        yield backend
