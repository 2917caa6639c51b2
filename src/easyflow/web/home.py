"""What the signed-in home page shows, read through the domains' own services."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.conversations.queries import ConversationQueries
from easyflow.conversations.repository import ConversationFilters
from easyflow.models.conversations import ConversationStatus
from easyflow.web.page import SignedIn


@dataclass(frozen=True)
class HomeSummary:
    waiting_now: int
    with_people: int


async def home_summary(session: AsyncSession, page: SignedIn) -> HomeSummary:
    conversations = ConversationQueries(session, page.tenant_id)
    waiting = await conversations.page(
        ConversationFilters(status=ConversationStatus.pending), limit=1, offset=0, cursor=None
    )
    open_ = await conversations.page(
        ConversationFilters(status=ConversationStatus.open), limit=1, offset=0, cursor=None
    )
    return HomeSummary(waiting_now=waiting.total, with_people=open_.total)
