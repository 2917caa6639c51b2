"""The funnel moves itself: rules that, when something happens, create or move a deal, assign a member, write
to the customer, notify a member or create a task.

Events reach `apply_event` as `crm.apply_rules` jobs, deferred by the database's triggers (a new contact's
first conversation, a handoff, a deal entering a stage), by the periodic search for quiet conversations
(`no_reply`), or by another domain through `emit_funnel_event` (bookings and payments, as they land). Each rule
acts on an event at most once: its run is recorded under the event's key in the same transaction as what it
did, so an event delivered twice moves nothing twice. A rule that fails records why and does not stop the others.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.conversations.notices import CustomerNotices
from easyflow.conversations.repository import ContactRepository, ConversationRepository
from easyflow.crm.funnel import schemas
from easyflow.crm.funnel.deals import Deals
from easyflow.crm.funnel.member_tasks import MemberTasks
from easyflow.crm.funnel.repository import (
    DealRepository,
    Mover,
    QuietConversations,
    RuleRepository,
    StageRepository,
)
from easyflow.db.database import Database
from easyflow.db.session import enter_system_scope
from easyflow.kit.errors import DomainError, NotFound, Unprocessable
from easyflow.kit.jobs import defer
from easyflow.live.staff import queue_staff_event
from easyflow.models.conversations import Conversation
from easyflow.models.crm import Deal, FunnelRule, MoveActor
from easyflow.tenancy.repository import MembershipRepository, TenantRepository

log = structlog.get_logger(__name__)

APPLY_RULES_JOB = "crm.apply_rules"
# The funnel's jobs wait in a queue of their own, so that a worker taking the conversations' queue never
# finds a rule's work between a customer's message and its reply.
FUNNEL_QUEUE = "crm"
NOTICE_EVENT = "crm.notice"
RULE_MESSAGE_NOTICE = "funnel_rule"
# Rules set off by rules (a move entering a stage whose rule moves it on) stop this deep: a loop of rules
# would otherwise run for ever.
MAX_RULE_DEPTH = 5
QUIET_CONVERSATIONS_PER_RULE = 200
DEFAULT_TITLE = {"ru": "Новая сделка", "en": "New deal"}


@dataclass(frozen=True)
class FunnelEvent:
    kind: str
    key: str
    contact_id: uuid.UUID | None = None
    conversation_id: uuid.UUID | None = None
    deal_id: uuid.UUID | None = None
    stage_id: uuid.UUID | None = None
    depth: int = 0
    only_rule: uuid.UUID | None = None  # the periodic search asks one rule at a time


def _uuid(value: str | None) -> uuid.UUID | None:
    return uuid.UUID(value) if value else None


def event_from_job(event: str, key: str, args: dict[str, Any]) -> FunnelEvent:
    return FunnelEvent(
        kind=event,
        key=key,
        contact_id=_uuid(args.get("contact_id")),
        conversation_id=_uuid(args.get("conversation_id")),
        deal_id=_uuid(args.get("deal_id")),
        stage_id=_uuid(args.get("stage_id")),
        depth=int(args.get("depth") or 0),
        only_rule=_uuid(args.get("only_rule")),
    )


async def emit_funnel_event(session: AsyncSession, tenant_id: uuid.UUID, event: FunnelEvent) -> None:
    """Have the rules see `event` once the caller's transaction commits (a booking made, a payment received)."""
    subject: dict[str, Any] = {
        name: str(value)
        for name, value in (
            ("contact_id", event.contact_id),
            ("conversation_id", event.conversation_id),
            ("deal_id", event.deal_id),
            ("stage_id", event.stage_id),
            ("only_rule", event.only_rule),
        )
        if value is not None
    }
    args = {"tenant_id": str(tenant_id), "event": event.kind, "key": event.key, "depth": event.depth, **subject}
    await defer(session, APPLY_RULES_JOB, **args)


@dataclass
class _Subject:
    """What an event is about, loaded once: the contact, its conversation and its deal, as far as known."""

    contact_id: uuid.UUID | None
    conversation: Conversation | None
    deal: Deal | None


class RuleEngine:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.rules = RuleRepository(session, tenant_id)
        self.deals = DealRepository(session, tenant_id)

    async def apply(self, event: FunnelEvent, now: datetime) -> dict[uuid.UUID, str]:
        """Every enabled rule of the event's kind whose conditions hold, each at most once per event key; what
        each did (or why it did nothing), by rule."""
        if event.depth >= MAX_RULE_DEPTH:
            log.warning("crm.rule_depth_reached", funnel_event=event.kind, key=event.key)
            return {}
        subject = await self._subject(event)
        outcomes: dict[uuid.UUID, str] = {}
        for rule in await self.rules.enabled_for(event.kind):
            if event.only_rule is not None and rule.id != event.only_rule:
                continue
            if not self._conditions_hold(rule, event, subject):
                continue
            if not await self.rules.claim_run(rule.id, event.key):
                outcomes[rule.id] = "already applied"
                continue
            try:
                async with self.session.begin_nested():
                    outcome = await self._act(rule, event, subject, now)
            except (DomainError, IntegrityError) as error:
                outcome = f"failed: {getattr(error, 'detail', None) or type(error).__name__}"
                log.info("crm.rule_failed", rule_id=str(rule.id), funnel_event=event.kind, outcome=outcome)
            await self.rules.record_outcome(rule.id, event.key, outcome)
            outcomes[rule.id] = outcome
            if subject.deal is None and subject.contact_id is not None:
                subject.deal = await self.deals.open_of_contact(subject.contact_id)
        return outcomes

    async def _subject(self, event: FunnelEvent) -> _Subject:
        deal = await self.deals.get(event.deal_id) if event.deal_id else None
        conversation_id = event.conversation_id or (deal.conversation_id if deal else None)
        conversation = (
            await ConversationRepository(self.session, self.tenant_id).get(conversation_id) if conversation_id else None
        )
        contact_id = event.contact_id or (deal.contact_id if deal else None)
        contact_id = contact_id or (conversation.contact_id if conversation else None)
        if deal is None and contact_id is not None and event.kind != "first_message":
            deal = await self.deals.open_of_contact(contact_id)
        return _Subject(contact_id, conversation, deal)

    @staticmethod
    def _conditions_hold(rule: FunnelRule, event: FunnelEvent, subject: _Subject) -> bool:
        conditions = rule.conditions
        if conditions.get("stage_id") and str(event.stage_id) != conditions["stage_id"]:
            return False
        wanted_channel = conditions.get("channel_type")
        if wanted_channel:
            return subject.conversation is not None and subject.conversation.channel_type == wanted_channel
        return True

    async def _act(self, rule: FunnelRule, event: FunnelEvent, subject: _Subject, now: datetime) -> str:
        params = rule.params
        mover = Mover(MoveActor.rule, rule.id, rule.name, event.depth + 1)
        deals = Deals(self.session, self.tenant_id)
        if rule.action == "create_deal":
            return await self._create_deal(rule, subject, mover)
        if subject.deal is None and rule.action in ("move_deal", "assign_member"):
            return "skipped: no open deal"
        if rule.action == "move_deal":
            assert subject.deal is not None
            stage_id = uuid.UUID(params["stage_id"])
            if subject.deal.stage_id == stage_id:
                return "skipped: already in the stage"
            stage = await deals.move(subject.deal, stage_id, mover, loss_reason=params.get("text") or rule.name)
            return f"moved to {stage.name}"
        if rule.action == "assign_member":
            assert subject.deal is not None
            user_id = uuid.UUID(params["user_id"])
            if await MembershipRepository(self.session, self.tenant_id).for_user(user_id) is None:
                return "failed: the member is no longer in the workspace"
            subject.deal.responsible_id = user_id
            await self.session.flush()
            return "assigned"
        if rule.action == "send_message":
            return await self._send_message(params["text"], subject, now)
        if rule.action == "notify_member":
            return self._notify(rule, params, subject)
        if rule.action == "create_task":
            return await self._create_task(params, subject, now)
        return f"failed: unknown action {rule.action}"

    async def _create_deal(self, rule: FunnelRule, subject: _Subject, mover: Mover) -> str:
        if subject.contact_id is None:
            return "skipped: no contact"
        stages = StageRepository(self.session, self.tenant_id)
        stage_id = rule.params.get("stage_id")
        stage = await (stages.get(uuid.UUID(stage_id)) if stage_id else stages.first_open_stage())
        if stage is None:
            return "failed: the stage no longer exists"
        if await self.deals.open_of_contact(subject.contact_id, stage.pipeline_id) is not None:
            return "skipped: the contact already has an open deal in this pipeline"
        contact = await ContactRepository(self.session, self.tenant_id).get(subject.contact_id)
        if contact is None:
            return "skipped: the contact is gone"
        tenant = await TenantRepository(self.session).get(self.tenant_id)
        language = "en" if tenant is not None and tenant.default_language == "en" else "ru"
        title = (contact.name or contact.phone or DEFAULT_TITLE[language])[:200]
        conversation = subject.conversation
        deal = await Deals(self.session, self.tenant_id).create(
            schemas.DealCreate(
                title=title,
                contact_id=contact.id,
                stage_id=stage.id,
                conversation_id=conversation.id if conversation and conversation.contact_id == contact.id else None,
            ),
            mover,
        )
        subject.deal = await self.deals.get(deal.id)
        return f"created deal {deal.id}"

    async def _send_message(self, text: str, subject: _Subject, now: datetime) -> str:
        conversation = subject.conversation
        if conversation is None:
            return "skipped: no conversation to write in"
        tenant = await TenantRepository(self.session).get(self.tenant_id)
        if tenant is None:
            raise NotFound("Tenant not found.")
        message = await CustomerNotices(self.session, self.tenant_id).send(
            conversation, tenant, text=text, notice=RULE_MESSAGE_NOTICE, buttons=[], reply_to=[], now=now
        )
        return f"sent message {message.id}"

    def _notify(self, rule: FunnelRule, params: dict[str, Any], subject: _Subject) -> str:
        user_id = params.get("user_id") or (
            str(subject.deal.responsible_id) if subject.deal and subject.deal.responsible_id else None
        )
        queue_staff_event(
            self.session,
            self.tenant_id,
            NOTICE_EVENT,
            {
                "user_id": user_id,
                "text": params.get("text") or rule.name,
                "deal_id": str(subject.deal.id) if subject.deal else None,
                "contact_id": str(subject.contact_id) if subject.contact_id else None,
            },
        )
        return "notified " + (user_id or "everyone")

    async def _create_task(self, params: dict[str, Any], subject: _Subject, now: datetime) -> str:
        due_in = params.get("due_in_hours")
        assignee = params.get("user_id") or (subject.deal.responsible_id if subject.deal else None)
        task = await MemberTasks(self.session, self.tenant_id).create(
            schemas.TaskCreate(
                title=params["text"][:300],
                deal_id=subject.deal.id if subject.deal else None,
                contact_id=subject.contact_id,
                assignee_id=uuid.UUID(str(assignee)) if assignee else None,
                due_at=now + timedelta(hours=due_in) if due_in is not None else None,
            ),
            default_assignee=None,
            created_by=MoveActor.rule,
        )
        return f"created task {task.id}"


async def apply_event(database: Database, tenant_id: uuid.UUID, event: FunnelEvent) -> dict[uuid.UUID, str]:
    async with database.tenant_transaction(tenant_id) as session:
        return await RuleEngine(session, tenant_id).apply(event, datetime.now(UTC))


async def find_quiet_conversations(database: Database, now: datetime) -> int:
    """For each `no_reply` rule, the conversations whose customer has not answered the business for its days:
    one event each, keyed by the conversation's last activity, so each silence sets the rule off once."""
    async with database.session() as session, session.begin():
        await enter_system_scope(session)
        quiet = QuietConversations(session)
        found = []
        for rule in await quiet.rules():
            before = now - timedelta(days=int(rule.conditions.get("days") or 1))
            for conversation in await quiet.quiet_since(rule.tenant_id, before, limit=QUIET_CONVERSATIONS_PER_RULE):
                found.append((rule, conversation))
    for rule, conversation in found:
        event = FunnelEvent(
            kind="no_reply",
            key=f"{conversation.conversation_id}:{conversation.last_activity_at.isoformat()}",
            contact_id=conversation.contact_id,
            conversation_id=conversation.conversation_id,
            only_rule=rule.id,
        )
        await apply_event(database, rule.tenant_id, event)
    return len(found)


class Rules:
    """The rules a workspace has, as its admins set them."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.rules = RuleRepository(session, tenant_id)

    async def list(self) -> list[schemas.RuleRead]:
        return [schemas.RuleRead.model_validate(rule) for rule in await self.rules.all()]

    async def create(self, body: schemas.RuleCreate) -> schemas.RuleRead:
        await self._check_references(body.conditions, body.params)
        rule = await self.rules.add(
            FunnelRule(
                name=body.name,
                event=body.event,
                conditions=body.conditions.model_dump(mode="json", exclude_none=True),
                action=body.action,
                params=body.params.model_dump(mode="json", exclude_none=True),
                enabled=body.enabled,
                position=await self.rules.next_position(),
            )
        )
        return schemas.RuleRead.model_validate(rule)

    async def update(self, rule_id: uuid.UUID, body: schemas.RuleUpdate) -> schemas.RuleRead:
        rule = await self._rule(rule_id)
        conditions = body.conditions or schemas.RuleConditions.model_validate(rule.conditions)
        params = body.params or schemas.RuleParams.model_validate(rule.params)
        try:
            schemas.check_rule(rule.event, conditions, rule.action, params)
        except ValueError as error:
            raise Unprocessable(str(error)) from None
        await self._check_references(conditions, params)
        rule.conditions = conditions.model_dump(mode="json", exclude_none=True)
        rule.params = params.model_dump(mode="json", exclude_none=True)
        if body.name is not None:
            rule.name = body.name
        if body.enabled is not None:
            rule.enabled = body.enabled
        await self.session.flush()
        return schemas.RuleRead.model_validate(rule)

    async def delete(self, rule_id: uuid.UUID) -> None:
        await self.rules.delete(await self._rule(rule_id))

    async def _rule(self, rule_id: uuid.UUID) -> FunnelRule:
        rule = await self.rules.get(rule_id)
        if rule is None:
            raise NotFound("Rule not found.")
        return rule

    async def _check_references(self, conditions: schemas.RuleConditions, params: schemas.RuleParams) -> None:
        stages = StageRepository(self.session, self.tenant_id)
        for name, stage_id in (("conditions.stage_id", conditions.stage_id), ("params.stage_id", params.stage_id)):
            if stage_id is not None and await stages.get(stage_id) is None:
                raise Unprocessable(f"{name} is not a stage of this workspace.")
        members = MembershipRepository(self.session, self.tenant_id)
        if params.user_id is not None and await members.for_user(params.user_id) is None:
            raise Unprocessable("params.user_id is not a member of this workspace.")
