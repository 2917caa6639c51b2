"""What the signed-in home page shows, read through the domains' own services: today at a glance and what
needs attention (the member's tasks due today among it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.crm.funnel.member_tasks import MemberTasks
from easyflow.db.base import utcnow
from easyflow.inbox.repository import DayActivity
from easyflow.inbox.today import start_of_day, today
from easyflow.knowledge.repository import DocumentRepository
from easyflow.models.knowledge import DocumentStatus
from easyflow.web.page import SignedIn

_STILL_INDEXING = (DocumentStatus.queued, DocumentStatus.parsing, DocumentStatus.embedding)


@dataclass(frozen=True)
class HomeSummary:
    today: DayActivity
    documents_indexing: int
    documents_failed: int
    # The member's own tasks not done and due before tomorrow (overdue ones too).
    tasks_due: int


async def home_summary(session: AsyncSession, page: SignedIn) -> HomeSummary:
    documents = await DocumentRepository(session, page.tenant_id).status_counts()
    now = utcnow()
    tomorrow = start_of_day(now, page.tenant.timezone) + timedelta(days=1)
    return HomeSummary(
        today=await today(session, page.tenant_id, page.tenant.timezone, now),
        tasks_due=await MemberTasks(session, page.tenant_id).due_by(page.user.id, tomorrow),
        documents_indexing=sum(documents.get(status.value, 0) for status in _STILL_INDEXING),
        documents_failed=documents.get(DocumentStatus.failed.value, 0),
    )
