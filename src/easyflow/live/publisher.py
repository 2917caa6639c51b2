"""Publishing live events that belong to no other write: "typing…", and the reply as it is written."""

from __future__ import annotations

import asyncio
import time
import uuid

import structlog

from easyflow.db.database import Database
from easyflow.live.events import LiveEvent
from easyflow.live.repository import LiveRepository

log = structlog.get_logger(__name__)

# Drafts more often than this only cost database round trips; the eye does not see the difference.
DRAFT_INTERVAL_SECONDS = 0.1
DRAFT_TIMEOUT_SECONDS = 1.0


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
        try:
            async with asyncio.timeout(DRAFT_TIMEOUT_SECONDS):
                await publish(self.database, LiveEvent(self.conversation_id, "draft", text))
        except Exception as error:  # a draft is cosmetic: never let it cost the reply being written
            log.info("live.draft_not_published", error_type=type(error).__name__)
