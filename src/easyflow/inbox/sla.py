"""SLA: how fast people answer once a conversation is theirs.

A conversation's SLA clock starts when people are asked to take it (a handoff, a reopen into the queue): the
tenant's policy for its team, else for one of its labels, else the general one, is fixed on it with its
deadlines, counted in business hours. The clock stops when people let it go (resolved, or given back to the
assistant): `met` if no target was missed, else `missed`; a target is missed the moment its deadline passes.

Each deadline has a check job scheduled for just after it, so a breach is reported within seconds (an event
in the conversation's log, a `sla.breached` staff event, a notification); a sweep every minute catches any
check that could not run. Checks are idempotent: a target is reported missed once per clock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.conversations.lifecycle import HUMAN_HELD
from easyflow.conversations.repository import ConversationEventRepository, ConversationRepository, MessageRepository
from easyflow.db.session import enter_system_scope
from easyflow.inbox import schemas
from easyflow.inbox.hours import BusinessHours, deadline, hours_of
from easyflow.inbox.notifications import notify_staff
from easyflow.inbox.repository import InboxRepository, SlaDirectory, SlaPolicyRepository, TeamRepository
from easyflow.kit.errors import NotFound, Unprocessable
from easyflow.kit.jobs import defer_once
from easyflow.live.staff import queue_staff_event
from easyflow.models.conversations import ActorKind, Conversation, ConversationEvent, ConversationStatus
from easyflow.models.inbox import SlaPolicy, SlaStatus, SlaTarget
from easyflow.models.tenancy import Tenant
from easyflow.tenancy.repository import TenantRepository

if TYPE_CHECKING:
    from easyflow.runtime import Runtime

log = structlog.get_logger(__name__)

CHECK_SLA_JOB = "inbox.check_sla"
SWEEP_SLA_JOB = "inbox.sweep_sla"
# A check runs this long after its deadline, so the deadline has surely passed when it looks.
CHECK_MARGIN = timedelta(seconds=1)
SWEEP_BATCH = 500


@dataclass(frozen=True)
class _Target:
    target: SlaTarget
    due: datetime | None
    done_at: datetime | None  # when it was met (None: not yet)


class SlaClock:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.policies = SlaPolicyRepository(session, tenant_id)
        self.messages = MessageRepository(session, tenant_id)
        self.events = ConversationEventRepository(session, tenant_id)
        self.inbox = InboxRepository(session, tenant_id)
        self._hours_read = False
        self._hours_cached: BusinessHours | None = None

    async def start(self, conversation: Conversation, now: datetime) -> None:
        """People were asked to take the conversation: fix the policy that applies and its deadlines (nothing,
        when its clock already runs)."""
        if conversation.sla_running:
            return
        policy = await self.policies.matching(conversation.team_id, list(conversation.labels))
        conversation.sla_policy_id = policy.id if policy else None
        conversation.sla_status = SlaStatus.active.value if policy else None
        conversation.sla_running = policy is not None
        conversation.sla_started_at = now if policy else None
        conversation.sla_first_response_at = None
        conversation.sla_first_response_due_at = None
        conversation.sla_next_response_due_at = None
        conversation.sla_resolution_due_at = None
        conversation.sla_next_check_at = None
        conversation.sla_breaches = []
        if policy is not None:
            await self._check(conversation, policy, now, ending=False)

    async def person_replied(self, conversation: Conversation, now: datetime, waited_since: datetime | None) -> None:
        """A person answered the customer, who had waited since `waited_since` (their oldest message nobody had
        answered): the first response is made, or the next one, late if its deadline had passed (a check may
        not have run yet)."""
        if not conversation.sla_running:
            return
        first_reply = conversation.sla_first_response_at is None
        conversation.sla_first_response_at = conversation.sla_first_response_at or now
        policy = await self._policy_of(conversation)
        if not first_reply and waited_since is not None and policy is not None and policy.next_response_minutes:
            due = deadline(
                await self._hours(),
                waited_since,
                policy.next_response_minutes,
                business_time=policy.business_hours_only,
            )
            conversation.sla_next_response_due_at = due
            if due is not None and due < now and SlaTarget.next_response.value not in conversation.sla_breaches:
                await self._report(conversation, _Target(SlaTarget.next_response, due, now), now)
        await self.check(conversation, now)

    async def stop(self, conversation: Conversation, now: datetime) -> None:
        """People let the conversation go (resolved, or given back to the assistant): the final standing."""
        if not conversation.sla_running:
            return
        policy = await self._policy_of(conversation)
        if policy is not None:
            await self._check(conversation, policy, now, ending=True)
        conversation.sla_running = False
        conversation.sla_next_check_at = None
        conversation.sla_next_response_due_at = None
        conversation.sla_status = (SlaStatus.missed if conversation.sla_breaches else SlaStatus.met).value
        await self.session.flush()

    async def check(self, conversation: Conversation, now: datetime) -> list[SlaTarget]:
        """Report targets whose deadline has passed, and schedule the check of the next deadline; the targets
        newly missed."""
        if not conversation.sla_running:
            return []
        policy = await self._policy_of(conversation)
        if policy is None:  # deleted meanwhile: the conversation keeps its standing so far
            conversation.sla_running = False
            conversation.sla_next_check_at = None
            await self.session.flush()
            return []
        return await self._check(conversation, policy, now, ending=False)

    async def _hours(self) -> BusinessHours | None:
        """The tenant's hours, read once per clock (a reply both meets a target and checks the others)."""
        if not self._hours_read:
            self._hours_cached = hours_of(await TenantRepository(self.session).get(self.tenant_id))
            self._hours_read = True
        return self._hours_cached

    async def _policy_of(self, conversation: Conversation) -> SlaPolicy | None:
        return await self.policies.get(conversation.sla_policy_id) if conversation.sla_policy_id else None

    async def _check(
        self, conversation: Conversation, policy: SlaPolicy, now: datetime, *, ending: bool
    ) -> list[SlaTarget]:
        targets = await self._targets(conversation, policy, ending=ending, now=now)
        conversation.sla_first_response_due_at = targets[0].due
        conversation.sla_next_response_due_at = targets[1].due
        conversation.sla_resolution_due_at = targets[2].due
        missed: list[_Target] = []
        upcoming: list[datetime] = []
        for target in targets:
            if target.due is None or target.target.value in conversation.sla_breaches:
                continue
            if target.done_at is not None and target.done_at > target.due:
                missed.append(target)  # met late, before a check saw it was due
            elif target.done_at is None and target.due <= now:
                missed.append(target)
            elif target.done_at is None:
                upcoming.append(target.due)
        for missed_target in missed:
            await self._report(conversation, missed_target, now)
        conversation.sla_next_check_at = min(upcoming, default=None)
        if conversation.sla_next_check_at is not None and not ending:
            due = conversation.sla_next_check_at
            await defer_once(
                self.session,
                CHECK_SLA_JOB,
                queueing_lock=f"sla:{conversation.id}:{due.isoformat()}",
                schedule_at=due + CHECK_MARGIN,
                tenant_id=str(self.tenant_id),
                conversation_id=str(conversation.id),
            )
        await self.session.flush()
        return [target.target for target in missed]

    async def _targets(
        self, conversation: Conversation, policy: SlaPolicy, *, ending: bool, now: datetime
    ) -> tuple[_Target, _Target, _Target]:
        hours = await self._hours()
        started = conversation.sla_started_at or now

        def due(minutes: int | None, start: datetime) -> datetime | None:
            if minutes is None:
                return None
            return deadline(hours, start, minutes, business_time=policy.business_hours_only)

        first = _Target(
            SlaTarget.first_response, due(policy.first_response_minutes, started), conversation.sla_first_response_at
        )
        waiting_since = None
        if (
            policy.next_response_minutes is not None
            and conversation.sla_first_response_at is not None
            and conversation.status in (ConversationStatus.pending, ConversationStatus.open)
            and not ending
        ):
            waiting_since = await self.messages.oldest_unanswered_at(conversation.id)
        following = _Target(
            SlaTarget.next_response,
            due(policy.next_response_minutes, waiting_since) if waiting_since else None,
            None,
        )
        resolution = _Target(SlaTarget.resolution, due(policy.resolution_minutes, started), now if ending else None)
        return first, following, resolution

    async def _report(self, conversation: Conversation, missed: _Target, now: datetime) -> None:
        target, due = missed.target, missed.due
        conversation.sla_breaches = [*conversation.sla_breaches, target.value]
        conversation.sla_status = SlaStatus.missed.value
        described = (
            f"{target.value.replace('_', ' ')} was due {due.isoformat(timespec='minutes') if due else 'earlier'}"
        )
        await self.events.add(
            ConversationEvent(
                conversation_id=conversation.id,
                actor_kind=ActorKind.system.value,
                kind="sla_breached",
                from_status=conversation.status.value,
                to_status=conversation.status.value,
                assignee_id=conversation.assignee_id,
                reason=described,
                created_at=now,
            )
        )
        queue_staff_event(
            self.session,
            self.tenant_id,
            "sla.breached",
            {
                "conversation_id": str(conversation.id),
                "target": target.value,
                "due_at": due.isoformat() if due else None,
                "assignee_id": str(conversation.assignee_id) if conversation.assignee_id else None,
                "team_id": str(conversation.team_id) if conversation.team_id else None,
                "policy_id": str(conversation.sla_policy_id) if conversation.sla_policy_id else None,
            },
        )
        # Whoever holds it; nobody does: the people who answer for the tenant.
        holders = [conversation.assignee_id] if conversation.assignee_id else await self.inbox.admins()
        for user_id in holders:
            await notify_staff(self.session, self.tenant_id, user_id, "sla_breach", conversation.id, described)


async def check_conversation(runtime: Runtime, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> list[SlaTarget]:
    """The scheduled check of one conversation's deadlines (a job), in its own transaction."""
    async with runtime.database.tenant_transaction(tenant_id) as session:
        conversation = await ConversationRepository(session).get_for_update(conversation_id)
        if conversation is None:
            return []
        clock = SlaClock(session, tenant_id)
        if conversation.status in HUMAN_HELD and not conversation.sla_running:
            await clock.start(conversation, datetime.now(UTC))  # reopened by the customer: a new clock
            return []
        return await clock.check(conversation, datetime.now(UTC))


async def sweep_due(runtime: Runtime) -> int:
    """Check every conversation with a deadline passed (the minute sweep behind the scheduled checks); how
    many were checked."""
    checked = 0
    failed: set[uuid.UUID] = set()
    while True:
        async with runtime.database.session() as session, session.begin():
            await enter_system_scope(session)
            due = await SlaDirectory(session).due(datetime.now(UTC), SWEEP_BATCH + len(failed))
        waiting = [(tenant_id, conversation_id) for tenant_id, conversation_id in due if conversation_id not in failed]
        for tenant_id, conversation_id in waiting:
            try:
                await check_conversation(runtime, tenant_id, conversation_id)
            except Exception:  # one conversation's failure must not starve the others behind it every minute
                log.exception("sla.check_failed", tenant_id=str(tenant_id), conversation_id=str(conversation_id))
                failed.add(conversation_id)
                continue
            checked += 1
        if len(waiting) < SWEEP_BATCH:
            return checked


class SlaPolicies:
    """The tenant's SLA policies, as admins write them."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.policies = SlaPolicyRepository(session, tenant_id)

    async def list(self) -> list[SlaPolicy]:
        return list(await self.policies.all())

    async def get(self, policy_id: uuid.UUID) -> SlaPolicy:
        policy = await self.policies.get(policy_id)
        if policy is None:
            raise NotFound("No such SLA policy in this tenant.")
        return policy

    async def create(self, body: schemas.SlaPolicyCreate) -> SlaPolicy:
        await self._team_exists(body.team_id)
        return await self.policies.add(SlaPolicy(**body.model_dump()))

    async def update(self, policy_id: uuid.UUID, body: schemas.SlaPolicyUpdate) -> SlaPolicy:
        """Changes apply to conversations handed over from now on; a running clock keeps its deadlines."""
        policy = await self.get(policy_id)
        changes = body.model_dump(exclude_unset=True)
        if changes.get("name", "") is None:
            raise Unprocessable("name: cannot be null.")
        if "team_id" in changes:
            await self._team_exists(changes["team_id"])
        for field, value in changes.items():
            setattr(policy, field, value)
        if policy.team_id is not None and policy.label is not None:
            raise Unprocessable("A policy is for a team or for a label, not both.")
        targets = (policy.first_response_minutes, policy.next_response_minutes, policy.resolution_minutes)
        if all(target is None for target in targets):
            raise Unprocessable("A policy needs at least one target (first, next response or resolution minutes).")
        if policy.business_hours_only is None:
            raise Unprocessable("business_hours_only: cannot be null.")
        await self.session.flush()
        return policy

    async def delete(self, policy_id: uuid.UUID) -> None:
        """Conversations it applied to keep their standing so far; their clocks stop."""
        await self.policies.delete(await self.get(policy_id))

    async def _team_exists(self, team_id: uuid.UUID | None) -> None:
        if team_id is not None and await TeamRepository(self.session, self.tenant_id).get(team_id) is None:
            raise Unprocessable("team_id: no such team in this tenant.")


class BusinessHoursSettings:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def read(self) -> schemas.BusinessHoursRead:
        tenant = await self._tenant()
        hours = hours_of(tenant)
        now = datetime.now(UTC)
        opening = hours.next_opening(now) if hours else now
        stored = tenant.business_hours or {}
        return schemas.BusinessHoursRead(
            timezone=tenant.timezone,
            always_open=hours is None,
            weekly=stored.get("weekly", {}),
            holidays=stored.get("holidays", []),
            open_now=opening == now,
            next_opening=opening.astimezone(hours.zone) if hours and opening else opening,
        )

    async def replace(self, body: schemas.BusinessHoursUpdate | None) -> schemas.BusinessHoursRead:
        """Set the week and holidays (None: open around the clock)."""
        tenant = await self._tenant()
        tenant.business_hours = body.model_dump(mode="json") if body else None
        await self.session.flush()
        return await self.read()

    async def _tenant(self) -> Tenant:
        tenant = await TenantRepository(self.session).get(self.tenant_id)
        if tenant is None:
            raise NotFound("No such tenant.")
        return tenant
