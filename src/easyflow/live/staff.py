"""Staff events (`message.created`, `conversation.updated`, `presence.updated`, …): appended to the tenant's
event log by `easyflow_staff_event`, which numbers them and NOTIFYs `easyflow_staff`.

A transaction queues its events with `queue_staff_event`; they are written just before it commits. The
per-tenant counter behind the numbers is a lock every event-writing transaction of the tenant takes, so it
is taken last: a transaction that held it while waiting for a conversation's lock could deadlock with one
holding that conversation while waiting for the counter.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from easyflow.live.hub import ChannelListener, LiveHub

STAFF_CHANNEL = "easyflow_staff"
_QUEUE_KEY = "easyflow.staff_events"
_APPEND = text("SELECT easyflow_staff_event(:tenant, :kind, CAST(:payload AS jsonb))")


def queue_staff_event(session: AsyncSession, tenant_id: uuid.UUID, kind: str, payload: dict[str, Any]) -> None:
    """Append the event to the tenant's log when the session's transaction commits (never if it rolls back)."""
    session.sync_session.info.setdefault(_QUEUE_KEY, []).append((tenant_id, kind, payload))


@event.listens_for(Session, "before_commit")
def _write_queued(session: Session) -> None:
    queued = session.info.pop(_QUEUE_KEY, None)
    for tenant_id, kind, payload in queued or ():
        session.execute(_APPEND, {"tenant": tenant_id, "kind": kind, "payload": json.dumps(payload, default=str)})


@event.listens_for(Session, "after_rollback")
def _forget_queued(session: Session) -> None:
    session.info.pop(_QUEUE_KEY, None)


class StaffHub:
    """Wakes this process's staff event streams when their tenant's log grows (the NOTIFY carries only the
    tenant: each stream reads the log after the last event it sent, so a missed or merged NOTIFY loses
    nothing). Every stream is woken when the LISTEN connection is re-opened."""

    def __init__(self, hub: LiveHub) -> None:
        self.hub = hub
        self.streams: dict[uuid.UUID, set[asyncio.Event]] = {}
        hub.listen_to(STAFF_CHANNEL, ChannelListener(heard=self.heard, reset=self.wake_all))

    def heard(self, payload: str) -> None:
        try:
            tenant_id = uuid.UUID(payload)
        except ValueError:
            return
        for wake in self.streams.get(tenant_id, ()):
            wake.set()

    def wake_all(self) -> None:
        for group in self.streams.values():
            for wake in group:
                wake.set()

    @contextlib.asynccontextmanager
    async def follow(self, tenant_id: uuid.UUID) -> AsyncIterator[asyncio.Event]:
        """An event set whenever the tenant's log may have grown, from the moment this returns."""
        wake = asyncio.Event()
        self.streams.setdefault(tenant_id, set()).add(wake)
        try:
            await self.hub.listening()
            yield wake
        finally:
            group = self.streams.get(tenant_id)
            if group is not None:
                group.discard(wake)
                if not group:
                    del self.streams[tenant_id]
