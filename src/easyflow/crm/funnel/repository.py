"""Every SQL statement of the funnel: pipelines and stages, deals and their history, rules and what they did,
tasks and the stages' reminders."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, literal_column, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import aliased

from easyflow.kit.repository import TenantScopedRepository
from easyflow.models.conversations import Contact, Conversation, Message, MessageRole
from easyflow.models.crm import (
    CrmTask,
    Deal,
    DealFollowUp,
    DealMove,
    FunnelRule,
    FunnelRuleRun,
    MoveActor,
    Pipeline,
    PipelineStage,
    StageKind,
)

# Who moves a deal and why, as the stage-move trigger reads them (migration 20261206_crm_funnel).
_DECLARE_MOVER = text(
    "SELECT set_config('easyflow.move_actor', :actor, true), set_config('easyflow.move_actor_id', :actor_id, true),"
    " set_config('easyflow.move_reason', :reason, true), set_config('easyflow.rule_depth', :depth, true)"
)


@dataclass(frozen=True)
class Mover:
    """Who moves a deal (a member, the assistant, a rule) and why; `depth` counts rules set off by rules."""

    actor: MoveActor
    actor_id: uuid.UUID | None = None
    reason: str = ""
    depth: int = 0


class PipelineRepository(TenantScopedRepository[Pipeline]):
    model = Pipeline

    async def all(self) -> Sequence[Pipeline]:
        return (
            (await self.session.execute(self.scoped().order_by(Pipeline.position, Pipeline.created_at))).scalars().all()
        )

    async def next_position(self) -> int:
        statement = select(func.coalesce(func.max(Pipeline.position) + 1, 0)).where(
            Pipeline.tenant_id == self.tenant_id
        )
        return int((await self.session.execute(statement)).scalar_one())

    async def seed_default(self, language: str) -> uuid.UUID:
        """The tour business's stages and the first-message rule (the SQL function every tenant was given by)."""
        statement = text("SELECT easyflow_seed_funnel(:tenant, :language)")
        result = await self.session.execute(statement, {"tenant": self.tenant_id, "language": language})
        return uuid.UUID(str(result.scalar_one()))


class StageRepository(TenantScopedRepository[PipelineStage]):
    model = PipelineStage

    async def of_pipelines(self, pipeline_ids: Sequence[uuid.UUID]) -> Sequence[PipelineStage]:
        statement = (
            self.scoped()
            .where(PipelineStage.pipeline_id.in_(pipeline_ids))
            .order_by(PipelineStage.pipeline_id, PipelineStage.position, PipelineStage.created_at)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def first_open_stage(self, pipeline_id: uuid.UUID | None = None) -> PipelineStage | None:
        """The first stage of `pipeline_id` (of the first pipeline when None): where a new deal starts."""
        statement = (
            self.scoped()
            .join(Pipeline, Pipeline.id == PipelineStage.pipeline_id)
            .where(PipelineStage.kind == StageKind.open)
            .order_by(Pipeline.position, Pipeline.created_at, PipelineStage.position, PipelineStage.created_at)
            .limit(1)
        )
        if pipeline_id is not None:
            statement = statement.where(PipelineStage.pipeline_id == pipeline_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def renumber(self, pipeline_id: uuid.UUID, ordered_ids: Sequence[uuid.UUID]) -> None:
        for position, stage_id in enumerate(ordered_ids):
            await self.session.execute(
                update(PipelineStage)
                .where(
                    PipelineStage.tenant_id == self.tenant_id,
                    PipelineStage.pipeline_id == pipeline_id,
                    PipelineStage.id == stage_id,
                )
                .values(position=position)
            )

    async def by_name(self, name: str) -> Sequence[PipelineStage]:
        statement = self.scoped().where(func.lower(PipelineStage.name) == name.strip().lower())
        return (await self.session.execute(statement)).scalars().all()


@dataclass(frozen=True)
class DealRow:
    deal: Deal
    stage: PipelineStage
    contact_name: str


@dataclass(frozen=True)
class DealFilters:
    pipeline_id: uuid.UUID | None = None
    stage_id: uuid.UUID | None = None
    contact_id: uuid.UUID | None = None
    responsible_id: uuid.UUID | None = None
    kind: StageKind | None = None
    query: str | None = None


@dataclass(frozen=True)
class StageTotal:
    stage_id: uuid.UUID
    deals: int
    amounts: dict[str, Any]


class DealRepository(TenantScopedRepository[Deal]):
    model = Deal

    async def declare_mover(self, mover: Mover) -> None:
        """Tell the stage-move trigger who moves the deals written next in this transaction, and why."""
        await self.session.execute(
            _DECLARE_MOVER,
            {
                "actor": "" if mover.actor == MoveActor.system else mover.actor.value,
                "actor_id": str(mover.actor_id) if mover.actor_id else "",
                "reason": mover.reason,
                "depth": str(mover.depth),
            },
        )

    async def forget_mover(self) -> None:
        """After the moves it was declared for: a later write in the same transaction names its own mover, or
        is the system's."""
        await self.declare_mover(Mover(MoveActor.system))

    def _rows(self) -> Any:
        return (
            select(Deal, PipelineStage, Contact.name)
            .join(PipelineStage, PipelineStage.id == Deal.stage_id)
            .join(Contact, Contact.id == Deal.contact_id)
            .where(Deal.tenant_id == self.tenant_id)
        )

    async def row(self, deal_id: uuid.UUID) -> DealRow | None:
        found = (await self.session.execute(self._rows().where(Deal.id == deal_id))).one_or_none()
        return DealRow(found[0], found[1], found[2]) if found else None

    async def get_for_update(self, deal_id: uuid.UUID) -> Deal | None:
        statement = self.scoped().where(Deal.id == deal_id).with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    def _filtered(self, statement: Any, filters: DealFilters) -> Any:
        conditions = []
        if filters.pipeline_id:
            conditions.append(Deal.pipeline_id == filters.pipeline_id)
        if filters.stage_id:
            conditions.append(Deal.stage_id == filters.stage_id)
        if filters.contact_id:
            conditions.append(Deal.contact_id == filters.contact_id)
        if filters.responsible_id:
            conditions.append(Deal.responsible_id == filters.responsible_id)
        if filters.kind:
            conditions.append(PipelineStage.kind == filters.kind)
        if filters.query:
            pattern = "%" + filters.query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            conditions.append(
                func.lower(Deal.title).like(pattern, escape="\\") | func.lower(Contact.name).like(pattern, escape="\\")
            )
        return statement.where(and_(*conditions)) if conditions else statement

    async def page(self, filters: DealFilters, *, limit: int, offset: int) -> tuple[list[DealRow], int]:
        statement = self._filtered(self._rows(), filters)
        ordered = statement.order_by(Deal.updated_at.desc(), Deal.id).limit(limit).offset(offset)
        rows = [DealRow(deal, stage, name) for deal, stage, name in (await self.session.execute(ordered)).all()]
        counted = self._filtered(
            select(func.count())
            .select_from(Deal)
            .join(PipelineStage, PipelineStage.id == Deal.stage_id)
            .join(Contact, Contact.id == Deal.contact_id)
            .where(Deal.tenant_id == self.tenant_id),
            filters,
        )
        return rows, int((await self.session.execute(counted)).scalar_one())

    async def board(
        self, pipeline_id: uuid.UUID, *, per_stage: int, filters: DealFilters | None = None
    ) -> list[DealRow]:
        """The newest `per_stage` deals of each stage of a pipeline (what a kanban column shows), of those that
        pass `filters` (a member's, a search) when given."""
        ranked = self._filtered(
            select(
                Deal.id, func.row_number().over(partition_by=Deal.stage_id, order_by=Deal.updated_at.desc()).label("n")
            )
            .join(PipelineStage, PipelineStage.id == Deal.stage_id)
            .join(Contact, Contact.id == Deal.contact_id)
            .where(Deal.tenant_id == self.tenant_id, Deal.pipeline_id == pipeline_id),
            filters or DealFilters(),
        ).subquery()
        statement = (
            self._rows()
            .join(ranked, ranked.c.id == Deal.id)
            .where(ranked.c.n <= per_stage)
            .order_by(Deal.updated_at.desc())
        )
        return [DealRow(deal, stage, name) for deal, stage, name in (await self.session.execute(statement)).all()]

    async def stage_totals(self, pipeline_id: uuid.UUID, filters: DealFilters | None = None) -> list[StageTotal]:
        """Per stage of the pipeline: how many deals and their amounts per currency (of those that pass
        `filters` when given)."""
        per_currency = self._filtered(
            select(
                Deal.stage_id,
                Deal.currency,
                func.count().label("deals"),
                func.coalesce(func.sum(Deal.amount), 0).label("amount"),
            )
            .join(PipelineStage, PipelineStage.id == Deal.stage_id)
            .join(Contact, Contact.id == Deal.contact_id)
            .where(Deal.tenant_id == self.tenant_id, Deal.pipeline_id == pipeline_id),
            filters or DealFilters(),
        ).group_by(Deal.stage_id, Deal.currency)
        totals: dict[uuid.UUID, StageTotal] = {}
        for stage_id, currency, deals, amount in (await self.session.execute(per_currency)).all():
            total = totals.setdefault(stage_id, StageTotal(stage_id, 0, {}))
            totals[stage_id] = StageTotal(stage_id, total.deals + deals, {**total.amounts, currency: amount})
        return list(totals.values())

    async def count_in_stage(self, stage_id: uuid.UUID) -> int:
        statement = select(func.count()).where(Deal.tenant_id == self.tenant_id, Deal.stage_id == stage_id)
        return int((await self.session.execute(statement)).scalar_one())

    async def in_stage(self, stage_id: uuid.UUID) -> Sequence[Deal]:
        statement = self.scoped().where(Deal.stage_id == stage_id).with_for_update()
        return (await self.session.execute(statement)).scalars().all()

    async def open_of_contact(self, contact_id: uuid.UUID, pipeline_id: uuid.UUID | None = None) -> Deal | None:
        """The contact's most recent deal still being worked (in `pipeline_id` when given)."""
        statement = (
            self.scoped()
            .join(PipelineStage, PipelineStage.id == Deal.stage_id)
            .where(Deal.contact_id == contact_id, PipelineStage.kind == StageKind.open)
            .order_by(Deal.updated_at.desc())
            .limit(1)
        )
        if pipeline_id is not None:
            statement = statement.where(Deal.pipeline_id == pipeline_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def of_conversation(self, conversation_id: uuid.UUID) -> Deal | None:
        """The deal a conversation is about: the one opened from it, else its contact's most recent one, as long
        as it is not lost (a won deal is still worked: service, feedback, the next sale)."""
        statement = (
            self.scoped()
            .join(PipelineStage, PipelineStage.id == Deal.stage_id)
            .join(Conversation, Conversation.id == conversation_id)
            .where(Deal.contact_id == Conversation.contact_id, PipelineStage.kind != StageKind.lost)
            .order_by((Deal.conversation_id == conversation_id).desc(), Deal.updated_at.desc())
            .limit(1)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def history(self, deal_id: uuid.UUID) -> list[tuple[DealMove, PipelineStage | None, PipelineStage | None]]:
        from_stage = aliased(PipelineStage)
        to_stage = aliased(PipelineStage)
        statement = (
            select(DealMove, from_stage, to_stage)
            .outerjoin(from_stage, from_stage.id == DealMove.from_stage_id)
            .outerjoin(to_stage, to_stage.id == DealMove.to_stage_id)
            .where(DealMove.tenant_id == self.tenant_id, DealMove.deal_id == deal_id)
            .order_by(DealMove.at, DealMove.id)
        )
        return [(move, before, after) for move, before, after in (await self.session.execute(statement)).all()]

    async def moves_of_contact(
        self, contact_id: uuid.UUID, *, before: datetime | None, limit: int
    ) -> list[tuple[DealMove, str, str | None, str | None]]:
        """The contact's deals entering stages, newest first: each move with its deal's title and the stages'
        names."""
        from_stage = aliased(PipelineStage)
        to_stage = aliased(PipelineStage)
        statement = (
            select(DealMove, Deal.title, from_stage.name, to_stage.name)
            .join(Deal, Deal.id == DealMove.deal_id)
            .outerjoin(from_stage, from_stage.id == DealMove.from_stage_id)
            .outerjoin(to_stage, to_stage.id == DealMove.to_stage_id)
            .where(DealMove.tenant_id == self.tenant_id, Deal.contact_id == contact_id)
            .order_by(DealMove.at.desc())
            .limit(limit)
        )
        if before is not None:
            statement = statement.where(DealMove.at < before)
        return [(move, title, start, end) for move, title, start, end in (await self.session.execute(statement)).all()]


@dataclass(frozen=True)
class DueFollowUp:
    tenant_id: uuid.UUID
    deal_id: uuid.UUID
    move_id: uuid.UUID
    stage_id: uuid.UUID


class FollowUpRepository:
    """The stages' reminders: which are due (every tenant at once, from the periodic job) and which were sent."""

    def __init__(self, session: Any) -> None:
        self.session = session

    async def due(self, now: datetime, *, limit: int) -> list[DueFollowUp]:
        """Deals whose current stage sends a reminder that is due and was not sent for this entry."""
        # The move that brought the deal into its current stage: written just after the trigger set
        # `stage_entered_at`, while earlier entries into the same stage are older than it.
        statement = (
            select(Deal.tenant_id, Deal.id, DealMove.id, PipelineStage.id)
            .join(PipelineStage, PipelineStage.id == Deal.stage_id)
            .join(
                DealMove,
                (DealMove.deal_id == Deal.id)
                & (DealMove.to_stage_id == Deal.stage_id)
                & (DealMove.at >= Deal.stage_entered_at),
            )
            .outerjoin(DealFollowUp, DealFollowUp.move_id == DealMove.id)
            .where(
                PipelineStage.follow_up_days.is_not(None),
                PipelineStage.follow_up_text != "",
                Deal.stage_entered_at + PipelineStage.follow_up_days * literal_column("interval '1 day'") <= now,
                DealFollowUp.move_id.is_(None),
            )
            .limit(limit)
        )
        return [DueFollowUp(*row) for row in (await self.session.execute(statement)).all()]

    async def claim(self, tenant_id: uuid.UUID, move_id: uuid.UUID) -> bool:
        """Record the reminder of this stage entry as sent; False when it already was."""
        statement = (
            insert(DealFollowUp)
            .values(tenant_id=tenant_id, move_id=move_id)
            .on_conflict_do_nothing()
            .returning(DealFollowUp.move_id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None

    async def set_message(self, move_id: uuid.UUID, message_id: uuid.UUID) -> None:
        await self.session.execute(
            update(DealFollowUp).where(DealFollowUp.move_id == move_id).values(message_id=message_id)
        )


class RuleRepository(TenantScopedRepository[FunnelRule]):
    model = FunnelRule

    async def enabled_for(self, event: str) -> Sequence[FunnelRule]:
        statement = (
            self.scoped()
            .where(FunnelRule.event == event, FunnelRule.enabled)
            .order_by(FunnelRule.position, FunnelRule.created_at)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def all(self) -> Sequence[FunnelRule]:
        return (
            (await self.session.execute(self.scoped().order_by(FunnelRule.position, FunnelRule.created_at)))
            .scalars()
            .all()
        )

    async def next_position(self) -> int:
        statement = select(func.coalesce(func.max(FunnelRule.position) + 1, 0)).where(
            FunnelRule.tenant_id == self.tenant_id
        )
        return int((await self.session.execute(statement)).scalar_one())

    async def claim_run(self, rule_id: uuid.UUID, event_key: str) -> bool:
        """Record that the rule acts on this event; False when it already did (a repeated event)."""
        statement = (
            insert(FunnelRuleRun)
            .values(tenant_id=self.tenant_id, rule_id=rule_id, event_key=event_key)
            .on_conflict_do_nothing()
            .returning(FunnelRuleRun.rule_id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none() is not None

    async def record_outcome(self, rule_id: uuid.UUID, event_key: str, outcome: str) -> None:
        await self.session.execute(
            update(FunnelRuleRun)
            .where(
                FunnelRuleRun.tenant_id == self.tenant_id,
                FunnelRuleRun.rule_id == rule_id,
                FunnelRuleRun.event_key == event_key,
            )
            .values(outcome=outcome)
        )

    async def runs(self, rule_id: uuid.UUID, *, limit: int) -> Sequence[FunnelRuleRun]:
        statement = (
            select(FunnelRuleRun)
            .where(FunnelRuleRun.tenant_id == self.tenant_id, FunnelRuleRun.rule_id == rule_id)
            .order_by(FunnelRuleRun.at.desc())
            .limit(limit)
        )
        return (await self.session.execute(statement)).scalars().all()


@dataclass(frozen=True)
class QuietConversation:
    tenant_id: uuid.UUID
    conversation_id: uuid.UUID
    contact_id: uuid.UUID
    channel_type: str
    last_activity_at: datetime


class QuietConversations:
    """Conversations where the business spoke last and the customer has not answered for a while: what the
    `no_reply` rules look for (every tenant's rules, from the periodic job)."""

    def __init__(self, session: Any) -> None:
        self.session = session

    async def rules(self) -> Sequence[FunnelRule]:
        statement = select(FunnelRule).where(FunnelRule.event == "no_reply", FunnelRule.enabled)
        return (await self.session.execute(statement)).scalars().all()

    async def quiet_since(self, tenant_id: uuid.UUID, before: datetime, *, limit: int) -> list[QuietConversation]:
        last_author = (
            select(Message.role)
            .where(
                Message.conversation_id == Conversation.id,
                Message.role != MessageRole.system,
                Message.private.is_(False),
            )
            .order_by(Message.position.desc())
            .limit(1)
            .correlate(Conversation)
            .scalar_subquery()
        )
        statement = (
            select(
                Conversation.tenant_id,
                Conversation.id,
                Conversation.contact_id,
                Conversation.channel_type,
                Conversation.last_activity_at,
            )
            .where(
                Conversation.tenant_id == tenant_id,
                Conversation.last_activity_at <= before,
                Conversation.status != "resolved",
                ~Conversation.channel_key.like("import:%"),
                last_author.in_([MessageRole.assistant, MessageRole.operator]),
            )
            .order_by(Conversation.last_activity_at.desc())
            .limit(limit)
        )
        return [QuietConversation(*row) for row in (await self.session.execute(statement)).all()]


class TaskRepository(TenantScopedRepository[CrmTask]):
    model = CrmTask

    async def page(
        self,
        *,
        assignee_id: uuid.UUID | None,
        deal_id: uuid.UUID | None,
        contact_id: uuid.UUID | None,
        done: bool | None,
        limit: int,
        offset: int,
    ) -> tuple[Sequence[CrmTask], int]:
        conditions = [CrmTask.tenant_id == self.tenant_id]
        if assignee_id:
            conditions.append(CrmTask.assignee_id == assignee_id)
        if deal_id:
            conditions.append(CrmTask.deal_id == deal_id)
        if contact_id:
            conditions.append(CrmTask.contact_id == contact_id)
        if done is not None:
            conditions.append(CrmTask.done_at.is_not(None) if done else CrmTask.done_at.is_(None))
        statement = (
            select(CrmTask)
            .where(*conditions)
            .order_by(CrmTask.due_at.asc().nulls_last(), CrmTask.created_at)
            .limit(limit)
            .offset(offset)
        )
        total = select(func.count()).select_from(CrmTask).where(*conditions)
        return (
            (await self.session.execute(statement)).scalars().all(),
            int((await self.session.execute(total)).scalar_one()),
        )

    async def count_undone_due_by(self, assignee_id: uuid.UUID, moment: datetime) -> int:
        """How many of the member's tasks not yet done are due by `moment` (overdue ones included)."""
        statement = select(func.count()).where(
            CrmTask.tenant_id == self.tenant_id,
            CrmTask.assignee_id == assignee_id,
            CrmTask.done_at.is_(None),
            CrmTask.due_at <= moment,
        )
        return int((await self.session.execute(statement)).scalar_one())


class DueTasks:
    """Tasks whose time came and whose assignee was not yet told (every tenant, from the periodic job)."""

    def __init__(self, session: Any) -> None:
        self.session = session

    async def claim(self, now: datetime, *, limit: int) -> Sequence[CrmTask]:
        statement = (
            update(CrmTask)
            .where(
                CrmTask.id.in_(
                    select(CrmTask.id)
                    .where(CrmTask.done_at.is_(None), CrmTask.notified_at.is_(None), CrmTask.due_at <= now)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            .values(notified_at=now)
            .returning(CrmTask)
        )
        return (await self.session.execute(statement)).scalars().all()
