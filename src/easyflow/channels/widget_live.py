"""A visitor's live view of their conversation, shared by the WebSocket and the long-polling fallback.

Messages are always read from the database after the last position the page has seen, so reconnecting
with that position resumes exactly: nothing is lost and nothing comes twice. Live events only say when to
read again (and carry the ephemeral "typing…" and the reply's draft). No database connection is held
while waiting: thousands of idle pages cost no connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING

from easyflow.channels import schemas
from easyflow.channels.widget_visitors import Visitor, WidgetVisitors, widget_message
from easyflow.kit.ratelimit import Throttle, limit_storage
from easyflow.live.events import LiveEvent

if TYPE_CHECKING:
    from easyflow.config import Settings
    from easyflow.runtime import Runtime


class WidgetLimits:
    """Per-IP session starts and per-visitor messages, so one page cannot flood an assistant."""

    def __init__(self, settings: Settings) -> None:
        storage = limit_storage(settings.redis_url, "easyflow-widget")
        self.sessions = Throttle(storage, settings.widget_sessions_per_ip, "Too many new chats from this address.")
        self.messages = Throttle(
            storage, settings.widget_messages_per_visitor, "You are sending messages too fast; wait a moment."
        )


class VisitorFeed:
    def __init__(self, runtime: Runtime, public_key: str, origin: str | None) -> None:
        self.runtime = runtime
        self.public_key = public_key
        self.origin = origin
        self.visitor: Visitor | None = None
        self.conversation_id: uuid.UUID | None = None
        self.position = 0

    async def open(self, token: str, after: int) -> None:
        """Check the widget, the origin and the token (DomainError on failure)."""
        async with self.runtime.database.session() as session, session.begin():
            visitors = WidgetVisitors(session, self.runtime)
            self.visitor = await visitors.visitor(self.public_key, self.origin, token)
            self.conversation_id = await visitors.conversation_of(self.visitor)
        self.position = max(0, after)

    async def send(self, body: schemas.WidgetMessageSend, limits: WidgetLimits) -> schemas.WidgetMessageAccepted:
        assert self.visitor is not None
        await limits.messages.hit(self.visitor.identity.external_id)
        async with self.runtime.database.session() as session, session.begin():
            visitors = WidgetVisitors(session, self.runtime)
            visitor = await visitors.visitor_again(self.visitor, reload=True)
            accepted, conversation_id = await visitors.send(visitor, body)
        self.conversation_id = conversation_id
        return accepted

    async def unseen(self) -> list[schemas.WidgetMessage]:
        """Messages after the position seen; moves the position past them."""
        if self.visitor is None or self.conversation_id is None:
            return []
        async with self.runtime.database.session() as session, session.begin():
            visitors = WidgetVisitors(session, self.runtime)
            await visitors.visitor_again(self.visitor)
            found = await visitors.messages_after(self.conversation_id, self.visitor.channel.tenant_id, self.position)
        if found:
            self.position = found[-1].position
        return [widget_message(m) for m in found]

    async def follow(
        self, conversation_id: uuid.UUID
    ) -> AsyncGenerator[tuple[list[schemas.WidgetMessage], list[LiveEvent]], None]:
        """(new messages, ephemeral events) each time something happens in the conversation, forever."""
        async with self.runtime.live.subscribe(conversation_id) as subscription:
            backlog = await self.unseen()  # read after subscribing: nothing can slip between the two
            if backlog:
                yield backlog, []
            while True:
                changed, events = await subscription.wait()
                yield (await self.unseen() if changed else []), events

    async def wait_for_messages(self, seconds: float) -> list[schemas.WidgetMessage]:
        """Long polling: what is unseen now, or the first messages to arrive within `seconds`."""
        found = await self.unseen()
        if found or seconds <= 0 or self.conversation_id is None:
            return found
        try:
            async with asyncio.timeout(seconds), contextlib.aclosing(self.follow(self.conversation_id)) as updates:
                async for messages, _ in updates:
                    if messages:
                        return messages
        except TimeoutError:
            pass
        return []
