"""Fan live events out to the WebSocket sessions of this process: one LISTEN connection per process,
opened when the first session subscribes, checked every LIVENESS_SECONDS and re-opened if it drops (every
subscriber is then told to re-read, since events may have been missed meanwhile). Other parts of the process
hear their own channels on the same connection (`listen_to`), such as API key revocations."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import psycopg
import structlog

from easyflow.db.urls import psycopg_conninfo
from easyflow.live.events import LIVE_CHANNEL, LiveEvent

log = structlog.get_logger(__name__)

RECONNECT_MAX_SECONDS = 10.0
EPHEMERAL_BACKLOG = 32
# A LISTEN connection that a NAT or a fail-over dropped without a reset would otherwise look alive for hours.
LIVENESS_SECONDS = 30.0
LIVENESS_TIMEOUT_SECONDS = 5.0
# How the LISTEN connection shows in pg_stat_activity.
APPLICATION_NAME = "easyflow-live"


class Subscription:
    """What happened since the subscriber last looked, for the keys it follows (a conversation, and a
    customer's watch key).

    New messages are flags, not a queue: the subscriber reads them from the database by position, so any
    number of `message` events costs one read. `moved` says a message arrived in a conversation the
    subscriber does not follow (yet). Typing and drafts are kept briefly, newest last.
    """

    def __init__(self, keys: set[uuid.UUID]) -> None:
        self.keys = keys
        self.messages_changed = False
        self.moved = False
        self.ephemeral: deque[LiveEvent] = deque(maxlen=EPHEMERAL_BACKLOG)
        self._wake = asyncio.Event()

    def push(self, event: LiveEvent) -> None:
        followed = event.conversation_id in self.keys
        if event.kind == "message":
            if followed:
                self.messages_changed = True
                self.ephemeral.clear()  # a draft or typing older than the message it led to is stale
            else:
                self.moved = True
        elif followed:
            self.ephemeral.append(event)
        else:
            return
        self._wake.set()

    def resync(self) -> None:
        self.messages_changed = self.moved = True
        self._wake.set()

    async def wait(self) -> tuple[bool, bool, list[LiveEvent]]:
        """Block until something happens; return (messages changed, moved, the ephemeral events)."""
        await self._wake.wait()
        self._wake.clear()
        changed, moved = self.messages_changed, self.moved
        self.messages_changed = self.moved = False
        events = list(self.ephemeral)
        self.ephemeral.clear()
        return changed, moved, events


@dataclass(frozen=True)
class ChannelListener:
    """Hears one NOTIFY channel: `heard(payload)` per notification, `reset()` whenever the LISTEN connection is
    (re)opened, since anything sent while it was not listening is lost."""

    heard: Callable[[str], None]
    reset: Callable[[], None]


class LiveHub:
    def __init__(self, database_url: str) -> None:
        self.conninfo = psycopg_conninfo(database_url)
        self.subscribers: dict[uuid.UUID, set[Subscription]] = {}
        self.channels: dict[str, ChannelListener] = {}
        self._listening = asyncio.Event()
        self._connected = False
        self._task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        """Whether the LISTEN connection is up now (notifications sent now will be heard)."""
        return self._connected

    def listen_to(self, channel: str, listener: ChannelListener) -> None:
        """Also hear `channel` (before the hub first listens: channels are LISTENed when it connects)."""
        assert self._task is None, "channels are added before the hub starts listening"
        self.channels[channel] = listener

    @contextlib.asynccontextmanager
    async def subscribe(self, *keys: uuid.UUID) -> AsyncIterator[Subscription]:
        """Events of these keys from the moment this returns (the LISTEN is in place by then)."""
        subscription = Subscription(set())
        for key in keys:
            self.follow(subscription, key)
        try:
            self.ensure_listening()
            await self._listening.wait()
            yield subscription
        finally:
            for key in list(subscription.keys):
                self.unfollow(subscription, key)

    def follow(self, subscription: Subscription, key: uuid.UUID) -> None:
        subscription.keys.add(key)
        self.subscribers.setdefault(key, set()).add(subscription)

    def unfollow(self, subscription: Subscription, key: uuid.UUID) -> None:
        subscription.keys.discard(key)
        group = self.subscribers.get(key)
        if group is not None:
            group.discard(subscription)
            if not group:
                del self.subscribers[key]

    async def listening(self) -> None:
        """Return once the LISTEN connection is in place (opening it if needed)."""
        self.ensure_listening()
        await self._listening.wait()

    def ensure_listening(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._listen(), name="easyflow-live-hub")

    def dispatch(self, payload: str) -> None:
        event = LiveEvent.parse(payload)
        if event is None:
            return
        targets = set(self.subscribers.get(event.conversation_id, ()))
        if event.watcher is not None:
            targets |= self.subscribers.get(event.watcher, set())
        for subscription in targets:
            subscription.push(event)

    async def _listen(self) -> None:
        delay = 0.2
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.conninfo,
                    autocommit=True,
                    application_name=APPLICATION_NAME,
                    # A peer that vanished without a reset is noticed by the kernel in about a minute.
                    keepalives=1,
                    keepalives_idle=30,
                    keepalives_interval=10,
                    keepalives_count=3,
                ) as connection:
                    for channel in (LIVE_CHANNEL, *self.channels):
                        await connection.execute(f"LISTEN {channel}")
                    if self._listening.is_set():  # a reconnect: what was sent meanwhile is unknown
                        for group in list(self.subscribers.values()):
                            for subscription in group:
                                subscription.resync()
                    for listener in self.channels.values():
                        listener.reset()
                    self._connected = True
                    self._listening.set()
                    delay = 0.2
                    while True:
                        async for notification in connection.notifies(timeout=LIVENESS_SECONDS):
                            if notification.channel == LIVE_CHANNEL:
                                self.dispatch(notification.payload)
                            else:
                                self.channels[notification.channel].heard(notification.payload)
                        async with asyncio.timeout(LIVENESS_TIMEOUT_SECONDS):  # a dead connection raises or times out
                            await connection.execute("SELECT 1")
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("live.listen_failed", error_type=type(error).__name__, retry_in=delay)
            finally:
                self._connected = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_SECONDS)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._listening.clear()
