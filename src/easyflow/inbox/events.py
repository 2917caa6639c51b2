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
from easyflow.inbox.repository import InboxRepository
from easyflow.models.live import StaffEvent
from easyflow.tenancy.principal import Principal

if TYPE_CHECKING:
    from easyflow.runtime import Runtime

# Comfortably inside the 60 s after which a silent operator is offline.
HEARD_EVERY_SECONDS = 20.0
# A comment line this often keeps proxies from closing an idle stream.
KEEPALIVE_SECONDS = 15.0
READ_BATCH = 200
RETRY_MILLISECONDS = 2000


def frame(event: StaffEvent) -> str:
    data = {"id": event.id, "kind": event.kind, "created_at": event.created_at.isoformat(), **event.payload}
    return f"id: {event.id}\nevent: {event.kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def staff_stream(runtime: Runtime, principal: Principal, last_event_id: int | None) -> AsyncIterator[str]:
    database = runtime.database
    tenant_id = principal.tenant_id
    async with runtime.staff.follow(tenant_id) as wake:
        async with database.tenant_transaction(tenant_id) as session:
            if principal.user_id is not None:
                await PresenceService(session, tenant_id).heard(principal.user_id)
            oldest, newest = await InboxRepository(session).oldest_and_newest_event()
        heard_at = time.monotonic()
        yield f"retry: {RETRY_MILLISECONDS}\n\n"
        if last_event_id is None:
            last = newest or 0  # a new client: from now on
        else:
            last = min(last_event_id, newest or 0)
            if oldest is not None and last < oldest - 1:
                yield "event: resync\ndata: {}\n\n"
        while True:
            wake.clear()
            async with database.tenant_transaction(tenant_id) as session:
                events = await InboxRepository(session).staff_events_after(last, READ_BATCH)
                if principal.user_id is not None and time.monotonic() - heard_at >= HEARD_EVERY_SECONDS:
                    await PresenceService(session, tenant_id).heard(principal.user_id)
                    heard_at = time.monotonic()
            for event in events:
                yield frame(event)
                last = event.id
            if len(events) == READ_BATCH:
                continue
            try:
                async with asyncio.timeout(min(KEEPALIVE_SECONDS, HEARD_EVERY_SECONDS)):
                    await wake.wait()
            except TimeoutError:
                yield ": keep-alive\n\n"
