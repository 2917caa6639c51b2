"""What the signed-in home page shows, read through the domains' own services: today at a glance and what
needs attention."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.db.base import utcnow
from easyflow.inbox.repository import DayActivity
from easyflow.inbox.today import today
from easyflow.knowledge.repository import DocumentRepository
from easyflow.models.knowledge import DocumentStatus
from easyflow.web.page import SignedIn

_STILL_INDEXING = (DocumentStatus.queued, DocumentStatus.parsing, DocumentStatus.embedding)


@dataclass(frozen=True)
class HomeSummary:
    today: DayActivity
    documents_indexing: int
    documents_failed: int


async def home_summary(session: AsyncSession, page: SignedIn) -> HomeSummary:
    documents = await DocumentRepository(session, page.tenant_id).status_counts()
    return HomeSummary(
        today=await today(session, page.tenant_id, page.tenant.timezone, utcnow()),
        documents_indexing=sum(documents.get(status.value, 0) for status in _STILL_INDEXING),
        documents_failed=documents.get(DocumentStatus.failed.value, 0),
    )
