"""Staff events (`message.created`, `conversation.updated`, `presence.updated`, …): appended to the tenant's
event log by `easyflow_staff_event`, which NOTIFYs `easyflow_staff`; numbered after they commit by the readers
(`number_staff_events`, migration 20261204_staff_event_numbering), so writing one takes no lock a tenant's
other transactions wait for.

A transaction queues its events with `queue_staff_event`; they are written just before it commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import deque
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from easyflow.live.hub import ChannelListener, LiveHub
from easyflow.live.repository import NumberedStaffEvent, StaffEventRepository, number_staff_events

if TYPE_CHECKING:
    from easyflow.db.database import Database

log = structlog.get_logger(__name__)

STAFF_CHANNEL = "easyflow_staff"
# How many of a tenant's newest events each process keeps for its streams.
TAIL_EVENTS = 500
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


class TenantTail:
    """The tenant's newest staff events, read from the log once for every stream of this process."""

    def __init__(self, last_id: int) -> None:
        self.last_id = last_id  # every event up to this one has been read
        self.recent: deque[NumberedStaffEvent] = deque(maxlen=TAIL_EVENTS)
        self.streams: set[asyncio.Event] = set()
        self.stale = False  # a NOTIFY came while it was reading: read again
        self.reading: asyncio.Task[None] | None = None

    def after(self, last: int) -> list[NumberedStaffEvent] | None:
        """The events after `last` from memory; None when memory no longer holds all of them."""
        if last >= self.last_id:
            return []
        if not self.recent or self.recent[0].id > last + 1:
            return None
        return [event for event in self.recent if event.id > last]


class StaffHub:
    """Fans the staff event log out to this process's event streams. A NOTIFY carries only the tenant; one
    reader per tenant then reads the log after the last event it read and wakes the tenant's streams, which
    take the events from memory (a stream further behind, e.g. one resuming from an old Last-Event-ID, reads
    the log itself until it catches up). A missed or merged NOTIFY loses nothing: the next read takes all
    that is new. Every tenant is read again when the LISTEN connection is re-opened."""

    def __init__(self, hub: LiveHub, database: Database) -> None:
        self.hub = hub
        self.database = database
        self.tails: dict[uuid.UUID, TenantTail] = {}
        hub.listen_to(STAFF_CHANNEL, ChannelListener(heard=self.heard, reset=self.read_all))

    def heard(self, payload: str) -> None:
        try:
            tenant_id = uuid.UUID(payload)
        except ValueError:
            return
        if tenant_id in self.tails:
            self._read(tenant_id)

    def read_all(self) -> None:
        for tenant_id in list(self.tails):
            self._read(tenant_id)

    def refresh(self, tenant_id: uuid.UUID) -> None:
        """Read the tenant's log again (a stream that heard nothing for a while asks, in case a read failed)."""
        if tenant_id in self.tails:
            self._read(tenant_id)

    @contextlib.asynccontextmanager
    async def follow(self, tenant_id: uuid.UUID, newest: int) -> AsyncIterator[tuple[TenantTail, asyncio.Event]]:
        """The tenant's tail (created at `newest`, the log's last event, for its first stream) and an event set
        whenever it grew, from the moment this returns."""
        tail = self.tails.get(tenant_id)
        if tail is None:
            tail = self.tails[tenant_id] = TenantTail(newest)
        wake = asyncio.Event()
        tail.streams.add(wake)
        try:
            await self.hub.listening()
            if newest > tail.last_id:  # committed before this process listened for the tenant
                self._read(tenant_id)
            yield tail, wake
        finally:
            tail.streams.discard(wake)
            if not tail.streams:
                del self.tails[tenant_id]
                if tail.reading is not None:
                    tail.reading.cancel()

    def _read(self, tenant_id: uuid.UUID) -> None:
        tail = self.tails[tenant_id]
        if tail.reading is not None and not tail.reading.done():
            tail.stale = True
            return
        tail.reading = asyncio.create_task(self._read_new(tenant_id, tail), name="easyflow-staff-tail")

    async def _read_new(self, tenant_id: uuid.UUID, tail: TenantTail) -> None:
        try:
            while True:
                tail.stale = False
                await number_staff_events(self.database, tenant_id)
                async with self.database.tenant_transaction(tenant_id) as session:
                    events = await StaffEventRepository(session, tenant_id).after(tail.last_id, TAIL_EVENTS)
                if events:
                    tail.recent.extend(events)
                    tail.last_id = events[-1].id
                    for wake in tail.streams:
                        wake.set()
                if not tail.stale and len(events) < TAIL_EVENTS:
                    return
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the streams' next keep-alive asks for another read
            log.warning("live.staff_tail_failed", error_type=type(error).__name__)
