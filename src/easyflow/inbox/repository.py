"""Every SQL statement of the inbox: presence, who can take a conversation and how many each holds, the
queue, the staff event log, and staff notifications outside the dashboard."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, func, literal, or_, select, true, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.db.session import tenant_of
from easyflow.kit.repository import TenantScopedRepository
from easyflow.models.channels import ChannelRecord, ChannelStatus
from easyflow.models.conversations import Conversation, ConversationStatus, Message, MessageRole
from easyflow.models.inbox import CannedResponse, OperatorPresence, Presence, SlaPolicy, Team, TeamMember
from easyflow.models.live import StaffEvent
from easyflow.models.notifications import StaffLinkToken, StaffNotificationPreferences, StaffTelegramLink
from easyflow.models.tenancy import Membership, Role, Tenant, User

# An operator whose live connection has not been heard for this long is offline.
SILENT_AFTER = timedelta(seconds=60)
HOLDING = (ConversationStatus.pending, ConversationStatus.open)
_CAN_HOLD = (Role.operator, Role.admin, Role.owner)


@dataclass(frozen=True)
class OperatorRow:
    user_id: uuid.UUID
    name: str
    email: str
    role: Role
    presence: Presence
    holding: int
    capacity: int
    last_seen_at: datetime | None


def effective_presence(now: datetime) -> ColumnElement[str]:
    """`offline` unless the live connection was heard within SILENT_AFTER; otherwise what they chose."""
    return case(
        (
            or_(
                OperatorPresence.last_seen_at.is_(None),
                OperatorPresence.last_seen_at < now - SILENT_AFTER,
                OperatorPresence.chosen == Presence.offline.value,
            ),
            literal(Presence.offline.value),
        ),
        else_=OperatorPresence.chosen,
    )


def _membership_of_presence() -> ColumnElement[bool]:
    return and_(Membership.tenant_id == OperatorPresence.tenant_id, Membership.user_id == OperatorPresence.user_id)


class InboxRepository:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID | None = None) -> None:
        self.session = session
        self.tenant_id = tenant_of(session) if tenant_id is None else tenant_id

    def _holding(self, user_id: Any) -> ColumnElement[int]:
        """How many conversations the user holds (waiting for them, or open with them)."""
        return (
            select(func.count())
            .where(
                Conversation.tenant_id == self.tenant_id,
                Conversation.assignee_id == user_id,
                Conversation.status.in_(HOLDING),
            )
            .scalar_subquery()
        )

    def _capacity(self) -> ColumnElement[int]:
        tenant_default = select(Tenant.operator_capacity).where(Tenant.id == self.tenant_id).scalar_subquery()
        return func.coalesce(Membership.capacity, tenant_default)

    # Presence

    async def heard_from(
        self, user_id: uuid.UUID, now: datetime, chosen: Presence | None = None
    ) -> tuple[Presence, Presence]:
        """Record that the operator's live connection (or their own setting) was heard now; their presence
        before and after it, so a caller can tell who just came online or went offline."""
        before = await self.presence_of(user_id, now)
        values: dict[str, object] = {"last_seen_at": now}
        if chosen is not None:
            values["chosen"] = chosen.value
        statement = (
            insert(OperatorPresence)
            .values(
                tenant_id=self.tenant_id,
                user_id=user_id,
                chosen=(chosen or Presence.online).value,
                last_seen_at=now,
            )
            .on_conflict_do_update(index_elements=["tenant_id", "user_id"], set_=values)
            .returning(OperatorPresence.chosen)
        )
        # Just heard, so what they chose is what they are.
        after = Presence((await self.session.execute(statement)).scalar_one())
        return before, after

    async def presence_of(self, user_id: uuid.UUID, now: datetime) -> Presence:
        statement = select(effective_presence(now)).where(
            OperatorPresence.tenant_id == self.tenant_id, OperatorPresence.user_id == user_id
        )
        found = (await self.session.execute(statement)).scalar_one_or_none()
        return Presence(found) if found else Presence.offline

    async def last_seen(self, user_id: uuid.UUID) -> datetime | None:
        statement = select(OperatorPresence.last_seen_at).where(
            OperatorPresence.tenant_id == self.tenant_id, OperatorPresence.user_id == user_id
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def anyone_online(self, now: datetime) -> bool:
        statement = (
            select(OperatorPresence.user_id)
            .join(
                Membership,
                and_(
                    Membership.tenant_id == OperatorPresence.tenant_id, Membership.user_id == OperatorPresence.user_id
                ),
            )
            .where(
                OperatorPresence.tenant_id == self.tenant_id,
                Membership.role.in_(_CAN_HOLD),
                effective_presence(now) == Presence.online.value,
            )
            .limit(1)
        )
        return (await self.session.execute(statement)).first() is not None

    async def admins(self) -> Sequence[uuid.UUID]:
        """The tenant's owners and admins: who answers for a conversation nobody holds."""
        statement = select(Membership.user_id).where(
            Membership.tenant_id == self.tenant_id, Membership.role.in_((Role.owner, Role.admin))
        )
        return (await self.session.execute(statement)).scalars().all()

    async def members_named(self, handles: set[str]) -> Sequence[uuid.UUID]:
        """Members whose e-mail, or its part before the @, is one of the (lower-cased) handles."""
        email = func.lower(User.email)
        statement = (
            select(User.id)
            .join(Membership, Membership.user_id == User.id)
            .where(
                Membership.tenant_id == self.tenant_id,
                or_(email.in_(handles), func.split_part(email, "@", 1).in_(handles)),
            )
        )
        return (await self.session.execute(statement)).scalars().all()

    async def operators(self, now: datetime) -> Sequence[OperatorRow]:
        """Members who can take conversations, with presence, how many they hold and their capacity."""
        presence = func.coalesce(effective_presence(now), literal(Presence.offline.value))
        statement = (
            select(
                User.id,
                User.name,
                User.email,
                Membership.role,
                presence,
                self._holding(User.id),
                self._capacity(),
                OperatorPresence.last_seen_at,
            )
            .join(Membership, Membership.user_id == User.id)
            .outerjoin(
                OperatorPresence,
                and_(OperatorPresence.tenant_id == Membership.tenant_id, OperatorPresence.user_id == User.id),
            )
            .where(Membership.tenant_id == self.tenant_id, Membership.role.in_(_CAN_HOLD))
            .order_by(User.name, User.email)
        )
        rows = (await self.session.execute(statement)).all()
        return [OperatorRow(r[0], r[1], r[2], r[3], Presence(r[4]), r[5], r[6], r[7]) for r in rows]

    # Assignment

    async def lock_routing(self) -> None:
        """Serialize automatic assignment within the tenant until the transaction ends: each assignment then
        counts every one committed before it, so no operator goes over capacity (assignment is a few
        milliseconds; a tenant's handoffs never come hundreds a second)."""
        await self.session.execute(
            select(func.pg_advisory_xact_lock(func.hashtextextended(literal(f"route:{self.tenant_id}"), 0)))
        )

    async def free_operator(
        self, now: datetime, *, only: uuid.UUID | None = None, team: uuid.UUID | None = None
    ) -> uuid.UUID | None:
        """An online operator under capacity (of `team`, when given), least loaded first, then longest since
        their last assignment (call under `lock_routing`)."""
        holding = self._holding(OperatorPresence.user_id)
        conditions = [
            OperatorPresence.tenant_id == self.tenant_id,
            Membership.role.in_(_CAN_HOLD),
            effective_presence(now) == Presence.online.value,
            holding < self._capacity(),
        ]
        if only is not None:
            conditions.append(OperatorPresence.user_id == only)
        if team is not None:
            members = select(TeamMember.user_id).where(
                TeamMember.tenant_id == self.tenant_id, TeamMember.team_id == team
            )
            conditions.append(OperatorPresence.user_id.in_(members))
        statement = (
            select(OperatorPresence.user_id)
            .join(Membership, _membership_of_presence())
            .where(*conditions)
            .order_by(holding, OperatorPresence.last_assigned_at.asc().nulls_first(), OperatorPresence.user_id)
            .limit(1)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def mark_assigned(self, user_id: uuid.UUID, now: datetime) -> None:
        await self.session.execute(
            update(OperatorPresence)
            .where(OperatorPresence.tenant_id == self.tenant_id, OperatorPresence.user_id == user_id)
            .values(last_assigned_at=now)
        )

    async def queue(self, limit: int) -> Sequence[uuid.UUID]:
        """Conversations waiting for a person with nobody assigned, oldest first."""
        statement = (
            select(Conversation.id)
            .where(
                Conversation.tenant_id == self.tenant_id,
                Conversation.status == ConversationStatus.pending,
                Conversation.assignee_id.is_(None),
            )
            .order_by(Conversation.status_changed_at, Conversation.id)
            .limit(limit)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def waiting_for(self, user_id: uuid.UUID) -> Sequence[uuid.UUID]:
        """Conversations assigned to the user that still wait for their first reply."""
        statement = select(Conversation.id).where(
            Conversation.tenant_id == self.tenant_id,
            Conversation.assignee_id == user_id,
            Conversation.status == ConversationStatus.pending,
            Conversation.assignee_replied_at.is_(None),
        )
        return (await self.session.execute(statement)).scalars().all()


@dataclass(frozen=True)
class DayActivity:
    """A tenant's conversations since the start of its day."""

    conversations: int
    by_assistant: int
    by_people: int
    waiting_now: int
    with_people_now: int
    median_first_response_seconds: float | None


_REPLIES = (MessageRole.assistant, MessageRole.operator)


class ActivityRepository:
    """The figures of the home page, read in one statement that starts from the conversations active since
    `since` (by the tenant's last-activity index), so a quiet day costs nothing however long the history."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def since(self, since: datetime) -> DayActivity:
        active = and_(Conversation.tenant_id == self.tenant_id, Conversation.last_activity_at >= since)
        replies_today = and_(
            Message.tenant_id == self.tenant_id,
            Message.created_at >= since,
            Message.private.is_(False),
            Message.conversation_id.in_(select(Conversation.id).where(active)),
        )

        def replies_by(role: MessageRole) -> Any:
            return select(func.count()).where(replies_today, Message.role == role).scalar_subquery()

        def now_in(status: ConversationStatus) -> Any:
            return (
                select(func.count())
                .where(Conversation.tenant_id == self.tenant_id, Conversation.status == status)
                .scalar_subquery()
            )

        # The customer's first message of the day in each conversation, and the first reply after it.
        asked = (
            select(Message.position, Message.created_at)
            .where(
                Message.conversation_id == Conversation.id,
                Message.role == MessageRole.contact,
                Message.created_at >= since,
            )
            .order_by(Message.position)
            .limit(1)
            .lateral("asked")
        )
        answered = (
            select(Message.created_at)
            .where(
                Message.conversation_id == Conversation.id,
                Message.position > asked.c.position,
                Message.role.in_(_REPLIES),
                Message.private.is_(False),
            )
            .order_by(Message.position)
            .limit(1)
            .lateral("answered")
        )
        median = (
            select(
                func.percentile_cont(0.5).within_group(
                    func.extract("epoch", answered.c.created_at - asked.c.created_at)
                )
            )
            .select_from(Conversation)
            .join(asked, true())
            .join(answered, true())
            .where(active)
            .scalar_subquery()
        )
        statement = select(
            select(func.count()).where(active).scalar_subquery(),
            replies_by(MessageRole.assistant),
            replies_by(MessageRole.operator),
            now_in(ConversationStatus.pending),
            now_in(ConversationStatus.open),
            median,
        )
        row = (await self.session.execute(statement)).one()
        return DayActivity(*row[:5], median_first_response_seconds=None if row[5] is None else float(row[5]))


class SnoozeDirectory:
    """Snoozed conversations of every tenant (read in system scope by the job that wakes them)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def due(self, now: datetime, limit: int) -> Sequence[tuple[uuid.UUID, uuid.UUID]]:
        statement = (
            select(Conversation.tenant_id, Conversation.id)
            .where(Conversation.status == ConversationStatus.snoozed, Conversation.snoozed_until <= now)
            .order_by(Conversation.snoozed_until)
            .limit(limit)
        )
        return [(row[0], row[1]) for row in (await self.session.execute(statement)).all()]


class SlaDirectory:
    """Conversations of every tenant whose SLA has a deadline due (read in system scope by the minute sweep)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def due(self, now: datetime, limit: int) -> Sequence[tuple[uuid.UUID, uuid.UUID]]:
        statement = (
            select(Conversation.tenant_id, Conversation.id)
            .where(Conversation.sla_running, Conversation.sla_next_check_at <= now)
            .order_by(Conversation.sla_next_check_at)
            .limit(limit)
        )
        return [(row[0], row[1]) for row in (await self.session.execute(statement)).all()]


class StaffEventLog:
    """The staff event log of every tenant, pruned in system scope."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def prune(self, before: datetime) -> int:
        """Forget events older than `before` (numbering carries on: the per-tenant counters stay)."""
        result = await self.session.execute(
            delete(StaffEvent).where(StaffEvent.created_at < before).returning(StaffEvent.id)
        )
        return len(result.all())


class CannedResponseRepository(TenantScopedRepository[CannedResponse]):
    model = CannedResponse

    async def by_prefix(self, prefix: str, *, limit: int, offset: int) -> Sequence[CannedResponse]:
        """Responses whose short code starts with `prefix` (any case), by code."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        statement = (
            self.scoped()
            .where(CannedResponse.short_code.ilike(f"{escaped}%"))
            .order_by(CannedResponse.short_code)
            .limit(limit)
            .offset(offset)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def by_code(self, short_code: str) -> CannedResponse | None:
        statement = self.scoped().where(func.lower(CannedResponse.short_code) == short_code.lower())
        return (await self.session.execute(statement)).scalar_one_or_none()


class TeamRepository(TenantScopedRepository[Team]):
    model = Team

    async def all(self) -> Sequence[Team]:
        return (await self.session.execute(self.scoped().order_by(Team.name))).scalars().all()

    async def named(self, name: str) -> Team | None:
        statement = self.scoped().where(func.lower(Team.name) == name.lower())
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def member_ids(self, team_id: uuid.UUID) -> Sequence[uuid.UUID]:
        statement = (
            select(TeamMember.user_id)
            .where(TeamMember.tenant_id == self.tenant_id, TeamMember.team_id == team_id)
            .order_by(TeamMember.user_id)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def is_member(self, team_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        statement = select(TeamMember.user_id).where(
            TeamMember.tenant_id == self.tenant_id, TeamMember.team_id == team_id, TeamMember.user_id == user_id
        )
        return (await self.session.execute(statement)).first() is not None

    async def replace_members(self, team_id: uuid.UUID, user_ids: list[uuid.UUID]) -> None:
        await self.session.execute(
            delete(TeamMember).where(TeamMember.tenant_id == self.tenant_id, TeamMember.team_id == team_id)
        )
        if user_ids:
            await self.session.execute(
                insert(TeamMember),
                [{"tenant_id": self.tenant_id, "team_id": team_id, "user_id": user_id} for user_id in user_ids],
            )


class SlaPolicyRepository(TenantScopedRepository[SlaPolicy]):
    model = SlaPolicy

    async def all(self) -> Sequence[SlaPolicy]:
        return (await self.session.execute(self.scoped().order_by(SlaPolicy.created_at))).scalars().all()

    async def matching(self, team_id: uuid.UUID | None, labels: list[str]) -> SlaPolicy | None:
        """The policy for a conversation: its team's first, then one for any of its labels, then the general
        one (neither team nor label); the oldest of equals."""
        team_match = and_(SlaPolicy.team_id.is_not(None), SlaPolicy.team_id == team_id)
        label_match = and_(SlaPolicy.team_id.is_(None), SlaPolicy.label.is_not(None), SlaPolicy.label.in_(labels))
        general = and_(SlaPolicy.team_id.is_(None), SlaPolicy.label.is_(None))
        rank = case((team_match, 0), (label_match, 1), else_=2)
        statement = (
            self.scoped()
            .where(or_(team_match, label_match, general))
            .order_by(rank, SlaPolicy.created_at, SlaPolicy.id)
            .limit(1)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()


class NotificationRepository:
    """A member's linked Telegram chat, their link tokens and their notice preferences; what a notice quotes."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID | None = None) -> None:
        self.session = session
        self.tenant_id = tenant_of(session) if tenant_id is None else tenant_id

    async def link_of(self, user_id: uuid.UUID) -> StaffTelegramLink | None:
        statement = select(StaffTelegramLink).where(
            StaffTelegramLink.tenant_id == self.tenant_id, StaffTelegramLink.user_id == user_id
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def save_link(self, user_id: uuid.UUID, channel_id: uuid.UUID, chat_id: int, now: datetime) -> None:
        """Link the chat, replacing the member's earlier one (a member has one chat for notices)."""
        values = {"channel_id": channel_id, "chat_id": chat_id, "linked_at": now}
        statement = insert(StaffTelegramLink).values(tenant_id=self.tenant_id, user_id=user_id, **values)
        await self.session.execute(
            statement.on_conflict_do_update(index_elements=["tenant_id", "user_id"], set_=values)
        )

    async def unlink(self, user_id: uuid.UUID) -> None:
        statement = delete(StaffTelegramLink).where(
            StaffTelegramLink.tenant_id == self.tenant_id, StaffTelegramLink.user_id == user_id
        )
        await self.session.execute(statement)

    async def preferences_of(self, user_id: uuid.UUID) -> StaffNotificationPreferences | None:
        statement = select(StaffNotificationPreferences).where(
            StaffNotificationPreferences.tenant_id == self.tenant_id, StaffNotificationPreferences.user_id == user_id
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def save_preferences(self, user_id: uuid.UUID, telegram_kinds: list[str], email_kinds: list[str]) -> None:
        values = {"telegram_kinds": telegram_kinds, "email_kinds": email_kinds}
        statement = insert(StaffNotificationPreferences).values(tenant_id=self.tenant_id, user_id=user_id, **values)
        await self.session.execute(
            statement.on_conflict_do_update(index_elements=["tenant_id", "user_id"], set_=values)
        )

    async def replace_tokens(self, token: StaffLinkToken) -> None:
        """Keep only this new token of its member: a link asked for again makes the earlier ones useless."""
        await self.session.execute(
            delete(StaffLinkToken).where(
                StaffLinkToken.tenant_id == self.tenant_id, StaffLinkToken.user_id == token.user_id
            )
        )
        token.tenant_id = self.tenant_id
        self.session.add(token)
        await self.session.flush()

    async def token_for_update(self, public_id: str) -> StaffLinkToken | None:
        """The token with this public part, locked: two `/start` of one link cannot both spend it."""
        statement = (
            select(StaffLinkToken)
            .where(StaffLinkToken.tenant_id == self.tenant_id, StaffLinkToken.public_id == public_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def telegram_bot(self, channel_id: uuid.UUID | None = None) -> ChannelRecord | None:
        """The tenant's active Telegram bot (this one, or its first connected)."""
        statement = select(ChannelRecord).where(
            ChannelRecord.tenant_id == self.tenant_id,
            ChannelRecord.type == "telegram",
            ChannelRecord.status == ChannelStatus.active,
        )
        if channel_id is not None:
            statement = statement.where(ChannelRecord.id == channel_id)
        return (await self.session.execute(statement.order_by(ChannelRecord.created_at).limit(1))).scalar_one_or_none()

    async def last_customer_text(self, conversation_id: uuid.UUID) -> str | None:
        statement = (
            select(Message.text)
            .where(
                Message.tenant_id == self.tenant_id,
                Message.conversation_id == conversation_id,
                Message.role == MessageRole.contact,
            )
            .order_by(Message.position.desc())
            .limit(1)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()
