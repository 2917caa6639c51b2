"""The assistant works the funnel: the customer's deal and its stage's instructions go into the model's
instructions, and the model may read the deal, record its qualification, move it forward (back only when the
business allows) and ask a colleague for a task. Each tool call is its own short transaction, written in the
assistant's name (a deal's history says the assistant moved it, and why)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.agents.answers import DealContext
from easyflow.agents.funnel_port import register_funnel
from easyflow.crm.funnel import schemas
from easyflow.crm.funnel.deals import Deals
from easyflow.crm.funnel.member_tasks import MemberTasks
from easyflow.crm.funnel.repository import DealRepository, Mover, PipelineRepository, StageRepository
from easyflow.db.database import Database
from easyflow.kit.errors import DomainError
from easyflow.models.crm import Deal, MoveActor, PipelineStage, StageKind

QUALIFICATION_LIMITS = {"needs": 2000, "budget": 200, "dates": 200}
MAX_TASK_HOURS = 24 * 90


async def _deal_of(session: AsyncSession, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> Deal | None:
    return await DealRepository(session, tenant_id).of_conversation(conversation_id)


async def _reachable_stages(
    session: AsyncSession, tenant_id: uuid.UUID, deal: Deal
) -> tuple[PipelineStage, list[PipelineStage]]:
    """The deal's stage, and the stages the assistant may move it to."""
    pipeline = await PipelineRepository(session, tenant_id).get(deal.pipeline_id)
    stages = list(await StageRepository(session, tenant_id).of_pipelines([deal.pipeline_id]))
    current = next(stage for stage in stages if stage.id == deal.stage_id)
    may_go_back = pipeline is not None and pipeline.assistant_may_move_back
    reachable = [
        stage for stage in stages if stage.id != current.id and (may_go_back or stage.position > current.position)
    ]
    return current, reachable


class AssistantFunnel:
    """The CRM's side of the agents' funnel port."""

    async def deal_context(
        self, session: AsyncSession, tenant_id: uuid.UUID, conversation_id: uuid.UUID, contact_id: uuid.UUID
    ) -> DealContext | None:
        deal = await _deal_of(session, tenant_id, conversation_id)
        if deal is None:
            return None
        current, reachable = await _reachable_stages(session, tenant_id, deal)
        return DealContext(
            title=deal.title,
            stage=current.name,
            stage_instructions=current.instructions,
            qualification={key: str(value) for key, value in deal.qualification.items() if value},
            next_stages=[stage.name for stage in reachable],
        )

    def tools(
        self, database: Database, tenant_id: uuid.UUID, conversation_id: uuid.UUID, assistant_id: uuid.UUID
    ) -> ConversationDealTools:
        return ConversationDealTools(database, tenant_id, conversation_id, assistant_id)


@dataclass(frozen=True)
class ConversationDealTools:
    database: Database
    tenant_id: uuid.UUID
    conversation_id: uuid.UUID
    assistant_id: uuid.UUID

    async def get_deal(self) -> dict[str, Any]:
        async with self.database.tenant_transaction(self.tenant_id) as session:
            deal = await _deal_of(session, self.tenant_id, self.conversation_id)
            if deal is None:
                return {"deal": None, "note": "This customer has no open deal."}
            current, reachable = await _reachable_stages(session, self.tenant_id, deal)
            return {
                "title": deal.title,
                "stage": current.name,
                "amount": f"{deal.amount} {deal.currency}" if deal.amount is not None else None,
                "qualification": deal.qualification,
                "stages_you_may_move_to": [stage.name for stage in reachable],
            }

    async def update_qualification(self, needs: str | None, budget: str | None, dates: str | None) -> str:
        said = {
            key: value.strip()[: QUALIFICATION_LIMITS[key]].replace("\x00", "")
            for key, value in (("needs", needs), ("budget", budget), ("dates", dates))
            if value and value.strip()
        }
        if not said:
            return "Nothing to record."
        async with self.database.tenant_transaction(self.tenant_id) as session:
            deal = await _deal_of(session, self.tenant_id, self.conversation_id)
            if deal is None:
                return "This customer has no open deal; nothing recorded."
            deal.qualification = {**deal.qualification, **said}
            await session.flush()
        return "Recorded: " + ", ".join(said)

    async def move_deal_stage(self, stage: str, reason: str) -> str:
        async with self.database.tenant_transaction(self.tenant_id) as session:
            deal = await _deal_of(session, self.tenant_id, self.conversation_id)
            if deal is None:
                return "This customer has no open deal."
            current, reachable = await _reachable_stages(session, self.tenant_id, deal)
            wanted = stage.strip().strip("«»\"'").casefold()
            target = next((each for each in reachable if each.name.casefold() == wanted), None)
            if target is None:
                if current.name.casefold() == wanted:
                    return f"The deal is already at «{current.name}»."
                allowed = ", ".join(f"«{each.name}»" for each in reachable) or "none"
                return f"You cannot move the deal to «{stage}». Stages you may move it to: {allowed}."
            mover = Mover(MoveActor.assistant, self.assistant_id, reason.strip()[:1000])
            loss_reason = reason.strip()[:1000] if target.kind == StageKind.lost else None
            try:
                await Deals(session, self.tenant_id).move(deal, target.id, mover, loss_reason=loss_reason)
            except DomainError as error:
                return f"Not moved: {error.detail}"
        return f"Moved to «{target.name}»."

    async def create_task(self, title: str, due_in_hours: int | None) -> str:
        cleaned = title.strip().replace("\x00", "")[:300]
        if not cleaned:
            return "A task needs a title."
        hours = min(max(due_in_hours, 0), MAX_TASK_HOURS) if due_in_hours is not None else None
        async with self.database.tenant_transaction(self.tenant_id) as session:
            deal = await _deal_of(session, self.tenant_id, self.conversation_id)
            await MemberTasks(session, self.tenant_id).create(
                schemas.TaskCreate(
                    title=cleaned,
                    deal_id=deal.id if deal else None,
                    contact_id=deal.contact_id if deal else None,
                    assignee_id=deal.responsible_id if deal else None,
                    due_at=datetime.now(UTC) + timedelta(hours=hours) if hours is not None else None,
                ),
                default_assignee=None,
                created_by=MoveActor.assistant,
            )
        return "Task created for the team."


register_funnel(AssistantFunnel())
