"""Fan live events out to the WebSocket sessions of this process: one LISTEN connection per process,
opened when the first session subscribes, re-opened if it drops (every subscriber is then told to
re-read, since events may have been missed meanwhile)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import deque
from collections.abc import AsyncIterator

import psycopg
import structlog

from easyflow.db.urls import psycopg_conninfo
from easyflow.live.events import LIVE_CHANNEL, LiveEvent

log = structlog.get_logger(__name__)

RECONNECT_MAX_SECONDS = 10.0
EPHEMERAL_BACKLOG = 32


class Subscription:
    """What happened in one conversation since the subscriber last looked.

    New messages are a flag, not a queue: the subscriber reads them from the database by position, so
    any number of `message` events costs one read. Typing and drafts are kept briefly, newest last.
    """

    def __init__(self, conversation_id: uuid.UUID) -> None:
        self.conversation_id = conversation_id
        self.messages_changed = False
        self.ephemeral: deque[LiveEvent] = deque(maxlen=EPHEMERAL_BACKLOG)
        self._wake = asyncio.Event()

    def push(self, event: LiveEvent) -> None:
        if event.kind == "message":
            self.messages_changed = True
            self.ephemeral.clear()  # a draft or typing older than the message it led to is stale
        else:
            self.ephemeral.append(event)
        self._wake.set()

    def resync(self) -> None:
        self.messages_changed = True
        self._wake.set()

    async def wait(self) -> tuple[bool, list[LiveEvent]]:
        """Block until something happens; return whether messages changed, and the ephemeral events."""
        await self._wake.wait()
        self._wake.clear()
        changed, self.messages_changed = self.messages_changed, False
        events = list(self.ephemeral)
        self.ephemeral.clear()
        return changed, events


class LiveHub:
    def __init__(self, database_url: str) -> None:
        self.conninfo = psycopg_conninfo(database_url)
        self.subscribers: dict[uuid.UUID, set[Subscription]] = {}
        self._listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def subscribe(self, conversation_id: uuid.UUID) -> AsyncIterator[Subscription]:
        """Events of one conversation from the moment this returns (the LISTEN is in place by then)."""
        subscription = Subscription(conversation_id)
        self.subscribers.setdefault(conversation_id, set()).add(subscription)
        try:
            self._ensure_listening()
            await self._listening.wait()
            yield subscription
        finally:
            group = self.subscribers.get(conversation_id)
            if group is not None:
                group.discard(subscription)
                if not group:
                    del self.subscribers[conversation_id]

    def subscriber_count(self) -> int:
        return sum(len(group) for group in self.subscribers.values())

    def _ensure_listening(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._listen(), name="easyflow-live-hub")

    def dispatch(self, payload: str) -> None:
        event = LiveEvent.parse(payload)
        if event is None:
            return
        for subscription in self.subscribers.get(event.conversation_id, ()):
            subscription.push(event)

    async def _listen(self) -> None:
        delay = 0.2
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True) as connection:
                    await connection.execute(f"LISTEN {LIVE_CHANNEL}")
                    if self._listening.is_set():  # a reconnect: what was sent meanwhile is unknown
                        for group in self.subscribers.values():
                            for subscription in group:
                                subscription.resync()
                    self._listening.set()
                    delay = 0.2
                    async for notification in connection.notifies():
                        self.dispatch(notification.payload)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("live.listen_failed", error_type=type(error).__name__, retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_SECONDS)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._listening.clear()
