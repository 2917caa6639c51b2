"""The staff event stream, `GET /api/v1/events` (Server-Sent Events).

Every event has the tenant's gap-free number as its SSE `id`. A client that reconnects with `Last-Event-ID`
(browsers do it by themselves) gets everything after it that is still kept (EASYFLOW_STAFF_EVENTS_RETENTION_HOURS);
when what it missed is no longer kept it first gets a `resync` event, telling it to reload what it shows.
While a signed-in operator is connected they are online: the stream reports them heard every HEARD_EVERY.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from easyflow.inbox.presence import PresenceService
from easyflow.live.repository import NumberedStaffEvent, StaffEventRepository, number_staff_events
from easyflow.tenancy.principal import Principal

if TYPE_CHECKING:
    from easyflow.runtime import Runtime

# Comfortably inside the 60 s after which a silent operator is offline.
HEARD_EVERY_SECONDS = 20.0
# A comment line this often keeps proxies from closing an idle stream.
KEEPALIVE_SECONDS = 15.0
READ_BATCH = 200
RETRY_MILLISECONDS = 2000


def frame(event: NumberedStaffEvent) -> str:
    data = {"id": event.id, "kind": event.kind, "created_at": event.created_at.isoformat(), **event.payload}
    return f"id: {event.id}\nevent: {event.kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def start_staff_stream(runtime: Runtime, principal: Principal, last_event_id: int | None) -> AsyncIterator[str]:
    """Mark the operator heard (online before the first byte of the answer) and find where to start; the
    stream (events are read after that point, so nothing between this and its first read is lost)."""
    await number_staff_events(runtime.database, principal.tenant_id)
    async with runtime.database.tenant_transaction(principal.tenant_id) as session:
        if principal.user_id is not None:
            await PresenceService(session, principal.tenant_id).heard(principal.user_id)
        oldest, newest = await StaffEventRepository(session, principal.tenant_id).oldest_and_newest()
    if last_event_id is None:  # a new client: from now on
        return _stream(runtime, principal, after=newest or 0, newest=newest or 0, resync=False)
    after = min(last_event_id, newest or 0)
    resync = oldest is not None and after < oldest - 1
    return _stream(runtime, principal, after=after, newest=newest or 0, resync=resync)


async def _stream(
    runtime: Runtime, principal: Principal, *, after: int, newest: int, resync: bool
) -> AsyncIterator[str]:
    tenant_id = principal.tenant_id
    last = after
    heard_at = time.monotonic()
    async with runtime.staff.follow(tenant_id, newest) as (tail, wake):
        yield f"retry: {RETRY_MILLISECONDS}\n\n"
        if resync:
            yield "event: resync\ndata: {}\n\n"
        while True:
            wake.clear()
            events = tail.after(last)
            if events is None:  # further behind than this process keeps: from the log itself
                async with runtime.database.tenant_transaction(tenant_id) as session:
                    events = list(await StaffEventRepository(session, tenant_id).after(last, READ_BATCH))
            for event in events:
                yield frame(event)
                last = event.id
            if tail.after(last) != []:
                continue
            if principal.user_id is not None and time.monotonic() - heard_at >= HEARD_EVERY_SECONDS:
                async with runtime.database.tenant_transaction(tenant_id) as session:
                    await PresenceService(session, tenant_id).heard(principal.user_id)
                heard_at = time.monotonic()
            try:
                async with asyncio.timeout(min(KEEPALIVE_SECONDS, HEARD_EVERY_SECONDS)):
                    await wake.wait()
            except TimeoutError:
                runtime.staff.refresh(tenant_id)
                yield ": keep-alive\n\n"
