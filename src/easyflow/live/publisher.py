"""Publishing live events that belong to no other write: "typing…", and the reply as it is written."""

from __future__ import annotations

import time
import uuid

from easyflow.db.database import Database
from easyflow.live.events import LiveEvent
from easyflow.live.repository import LiveRepository

# Drafts more often than this only cost database round trips; the eye does not see the difference.
DRAFT_INTERVAL_SECONDS = 0.1


async def publish(database: Database, event: LiveEvent) -> None:
    async with database.session() as session, session.begin():
        await LiveRepository(session).notify(event)


class DraftPublisher:
    """Hands the reply written so far to the conversation's watchers, at most every DRAFT_INTERVAL_SECONDS
    (the finished message replaces the draft, so a skipped draft is never missed)."""

    def __init__(self, database: Database, conversation_id: uuid.UUID) -> None:
        self.database = database
        self.conversation_id = conversation_id
        self.sent_at = 0.0

    async def __call__(self, text: str) -> None:
        now = time.monotonic()
        if now - self.sent_at < DRAFT_INTERVAL_SECONDS:
            return
        self.sent_at = now
        await publish(self.database, LiveEvent(self.conversation_id, "draft", text))
