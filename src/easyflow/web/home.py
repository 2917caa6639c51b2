"""What the signed-in home page shows, read through the domains' own services."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.config import Settings
from easyflow.conversations.queries import ConversationQueries
from easyflow.conversations.repository import ConversationFilters
from easyflow.models.conversations import ConversationStatus
from easyflow.tenancy.principal import Principal
from easyflow.tenancy.service import AuthService, TenantService
from easyflow.web.sessions import SignedInMember


@dataclass(frozen=True)
class HomeSummary:
    member_email: str
    member_name: str
    tenant_name: str
    waiting_now: int
    with_people: int


async def home_summary(session: AsyncSession, settings: Settings, member: SignedInMember) -> HomeSummary:
    """The caller's transaction is scoped to the member's tenant (`DashboardSessions.resume`)."""
    principal = Principal(tenant_id=member.tenant_id, role=member.role, user_id=member.user_id)
    me = await AuthService(session, settings).describe(principal)
    tenant = await TenantService(session).read(member.tenant_id)
    conversations = ConversationQueries(session, member.tenant_id)
    waiting = await conversations.page(
        ConversationFilters(status=ConversationStatus.pending), limit=1, offset=0, cursor=None
    )
    open_ = await conversations.page(
        ConversationFilters(status=ConversationStatus.open), limit=1, offset=0, cursor=None
    )
    return HomeSummary(
        member_email=me.email or "",
        member_name=me.name or "",
        tenant_name=tenant.name,
        waiting_now=waiting.total,
        with_people=open_.total,
    )
