"""A visitor's live view of their conversation, shared by the WebSocket and the long-polling fallback.

Messages are always read from the database after the last position the page has seen, so reconnecting
with that position resumes exactly: nothing is lost and nothing comes twice. Live events only say when to
read again (and carry the ephemeral "typing…" and the reply's draft). The feed follows the visitor's watch
key as well as their conversation, so it notices a conversation that starts or changes anywhere (another
tab, a file sent over HTTP, an operator closing the old one). No database connection is held while
waiting: thousands of idle pages cost no connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING

from easyflow.channels import schemas
from easyflow.channels.widget_visitors import HISTORY_PAGE, Visitor, WidgetVisitors, widget_message
from easyflow.kit.ratelimit import LimitStore, Throttle
from easyflow.live.events import LiveEvent, watch_key
from easyflow.live.hub import Subscription
from easyflow.live.staff import queue_staff_event
from easyflow.models.conversations import MessageRole

if TYPE_CHECKING:
    from easyflow.config import Settings
    from easyflow.runtime import Runtime


# A visitor's "writing…" reaches staff at most this often, however fast the page sends it.
TYPING_EVERY_SECONDS = 3.0
# While a reply streams, a polling page gets its draft at most this often (each poll counts against the
# visitor's read limit).
DRAFT_BATCH_SECONDS = 1.0


class WidgetLimits:
    """Per-IP session starts, and per-visitor messages and reads, so one page cannot flood an assistant or
    the database. Visitors are counted per widget: a site's user id "42" is not another tenant's "42"."""

    def __init__(self, settings: Settings, store: LimitStore) -> None:
        self.sessions = Throttle(
            store, "widget-sessions", settings.widget_sessions_per_ip, "Too many new chats from this address."
        )
        self.messages = Throttle(
            store,
            "widget-messages",
            settings.widget_messages_per_visitor,
            "You are sending messages too fast; wait a moment.",
        )
        self.reads = Throttle(
            store, "widget-reads", settings.widget_reads_per_visitor, "Too many reconnects; wait a moment."
        )

    @staticmethod
    def key(visitor: Visitor) -> str:
        return f"{visitor.channel.id}:{visitor.identity.kind}:{visitor.identity.external_id}"


class VisitorFeed:
    def __init__(self, runtime: Runtime, public_key: str, origin: str | None) -> None:
        self.runtime = runtime
        self.public_key = public_key
        self.origin = origin
        self.visitor: Visitor | None = None
        self.conversation_id: uuid.UUID | None = None
        self.position = 0
        self._typed_at = -TYPING_EVERY_SECONDS

    async def open(self, token: str, after: int, limits: WidgetLimits) -> None:
        """Check the widget, the origin and the token (DomainError on failure), and count the read."""
        async with self.runtime.database.session() as session, session.begin():
            visitors = WidgetVisitors(session, self.runtime)
            self.visitor = await visitors.visitor(self.public_key, self.origin, token)
            self.conversation_id = await visitors.conversation_of(self.visitor)
        await limits.reads.hit(WidgetLimits.key(self.visitor))
        self.position = max(0, after)

    @property
    def watch(self) -> uuid.UUID:
        assert self.visitor is not None
        identity = self.visitor.identity
        return watch_key(self.visitor.channel.tenant_id, identity.kind, identity.external_id)

    async def send(self, body: schemas.WidgetMessageSend, limits: WidgetLimits) -> schemas.WidgetMessageAccepted:
        assert self.visitor is not None
        await limits.messages.hit(WidgetLimits.key(self.visitor))
        async with self.runtime.database.session() as session, session.begin():
            visitors = WidgetVisitors(session, self.runtime)
            visitor = await visitors.visitor_again(self.visitor, reload=True)
            accepted, _ = await visitors.send(visitor, body)
        return accepted

    async def typing(self) -> None:
        """The visitor is writing: a `typing` staff event for their conversation (none before it exists)."""
        now = time.monotonic()
        if self.visitor is None or self.conversation_id is None or now - self._typed_at < TYPING_EVERY_SECONDS:
            return
        self._typed_at = now
        async with self.runtime.database.tenant_transaction(self.visitor.channel.tenant_id) as session:
            queue_staff_event(
                session,
                self.visitor.channel.tenant_id,
                "typing",
                {"conversation_id": str(self.conversation_id), "role": MessageRole.contact.value},
            )

    async def unseen(self) -> list[schemas.WidgetMessage]:
        """Every message after the position seen, page by page; moves the position past them."""
        found: list[schemas.WidgetMessage] = []
        while self.visitor is not None and self.conversation_id is not None:
            async with self.runtime.database.session() as session, session.begin():
                visitors = WidgetVisitors(session, self.runtime)
                await visitors.visitor_again(self.visitor)
                page = await visitors.messages_after(
                    self.conversation_id, self.visitor.channel.tenant_id, self.position
                )
            if page:
                self.position = page[-1][0].position
            found.extend(widget_message(m, author) for m, author in page)
            if len(page) < HISTORY_PAGE:
                break
        return found

    async def _find_conversation(self, subscription: Subscription) -> None:
        """Follow the visitor's current conversation (it may have started or changed since we looked)."""
        assert self.visitor is not None
        async with self.runtime.database.session() as session, session.begin():
            visitors = WidgetVisitors(session, self.runtime)
            current = await visitors.conversation_of(await visitors.visitor_again(self.visitor))
        if current is not None and current not in subscription.keys:
            if self.conversation_id is not None:
                self.runtime.live.unfollow(subscription, self.conversation_id)
            self.runtime.live.follow(subscription, current)
        self.conversation_id = current

    async def follow(self) -> AsyncGenerator[tuple[list[schemas.WidgetMessage], list[LiveEvent]], None]:
        """(new messages, ephemeral events) each time something happens to the visitor, forever."""
        keys = [self.watch] + ([self.conversation_id] if self.conversation_id else [])
        async with self.runtime.live.subscribe(*keys) as subscription:
            await self._find_conversation(subscription)  # after subscribing: nothing can slip in between
            backlog = await self.unseen()
            if backlog:
                yield backlog, []
            while True:
                changed, moved, events = await subscription.wait()
                if moved:
                    await self._find_conversation(subscription)
                messages = await self.unseen() if changed or moved else []
                yield messages, [e for e in events if e.conversation_id == self.conversation_id]

    async def wait_for_updates(self, seconds: float) -> schemas.WidgetUpdates:
        """Long polling: what is unseen now, or what happens within `seconds`: messages at once; "typing…" and
        the reply's draft gathered for up to DRAFT_BATCH_SECONDS, so a polling page asks about once a second
        while a reply streams."""
        found = await self.unseen()
        update = schemas.WidgetUpdates(messages=found)
        if found or seconds <= 0:
            return update
        clock = asyncio.get_running_loop()
        deadline = clock.time() + seconds
        async with contextlib.aclosing(self.follow()) as updates:
            while (remaining := deadline - clock.time()) > 0:
                try:
                    async with asyncio.timeout(remaining):
                        messages, events = await anext(updates)
                except TimeoutError:
                    break
                if messages:  # a finished message replaces any draft of it
                    return schemas.WidgetUpdates(messages=messages)
                for event in events:
                    update.typing = update.typing or event.kind == "typing"
                    update.draft = event.text if event.kind == "draft" else update.draft
                if events:
                    deadline = min(deadline, clock.time() + DRAFT_BATCH_SECONDS)
        return update
