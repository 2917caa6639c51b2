"""HTTP routes of the funnel: pipelines and stages, deals and their history, rules, tasks."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from easyflow.crm.funnel import schemas
from easyflow.crm.funnel.deals import Deals
from easyflow.crm.funnel.member_tasks import MemberTasks
from easyflow.crm.funnel.pipelines import Pipelines, member_mover
from easyflow.crm.funnel.repository import DealFilters
from easyflow.crm.funnel.rules import Rules
from easyflow.kit.schemas import Limit, Offset, Page, QueryText
from easyflow.models.crm import StageKind
from easyflow.tenancy.auth import Admin, Operator, Session, Viewer

router = APIRouter(prefix="/api/v1", tags=["crm"])


@router.get("/pipelines")
async def list_pipelines(principal: Viewer, session: Session) -> list[schemas.PipelineRead]:
    """Every pipeline with its stages in order."""
    return await Pipelines(session, principal.tenant_id).list()


@router.post("/pipelines", status_code=status.HTTP_201_CREATED)
async def create_pipeline(body: schemas.PipelineCreate, principal: Admin, session: Session) -> schemas.PipelineRead:
    return await Pipelines(session, principal.tenant_id).create(body)


@router.get("/pipelines/{pipeline_id}")
async def get_pipeline(pipeline_id: uuid.UUID, principal: Viewer, session: Session) -> schemas.PipelineRead:
    return await Pipelines(session, principal.tenant_id).get(pipeline_id)


@router.patch("/pipelines/{pipeline_id}")
async def update_pipeline(
    pipeline_id: uuid.UUID, body: schemas.PipelineUpdate, principal: Admin, session: Session
) -> schemas.PipelineRead:
    """Rename, let the assistant move deals back, or reorder the stages (`stage_order`: all of them)."""
    return await Pipelines(session, principal.tenant_id).update(pipeline_id, body)


@router.delete("/pipelines/{pipeline_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_pipeline(pipeline_id: uuid.UUID, principal: Admin, session: Session) -> None:
    """Only an empty pipeline, and never the last one (409)."""
    await Pipelines(session, principal.tenant_id).delete(pipeline_id)


@router.post("/pipelines/{pipeline_id}/stages", status_code=status.HTTP_201_CREATED)
async def add_stage(
    pipeline_id: uuid.UUID, body: schemas.StageCreate, principal: Admin, session: Session
) -> schemas.PipelineRead:
    return await Pipelines(session, principal.tenant_id).add_stage(pipeline_id, body)


@router.patch("/pipelines/{pipeline_id}/stages/{stage_id}")
async def update_stage(
    pipeline_id: uuid.UUID, stage_id: uuid.UUID, body: schemas.StageUpdate, principal: Admin, session: Session
) -> schemas.PipelineRead:
    return await Pipelines(session, principal.tenant_id).update_stage(pipeline_id, stage_id, body)


@router.delete("/pipelines/{pipeline_id}/stages/{stage_id}")
async def remove_stage(
    pipeline_id: uuid.UUID,
    stage_id: uuid.UUID,
    principal: Admin,
    session: Session,
    move_to: Annotated[uuid.UUID | None, Query(description="Where the stage's deals go first.")] = None,
) -> schemas.PipelineRead:
    """Remove a stage. A stage holding deals is removed only with `move_to` (409 without): its deals move
    there, each move kept in the deal's history."""
    mover = member_mover(principal.user_id, "stage removed")
    return await Pipelines(session, principal.tenant_id).remove_stage(
        pipeline_id, stage_id, move_to=move_to, mover=mover
    )


@router.get("/deals")
async def list_deals(
    principal: Viewer,
    session: Session,
    pipeline_id: uuid.UUID | None = None,
    stage_id: uuid.UUID | None = None,
    contact_id: uuid.UUID | None = None,
    responsible_id: uuid.UUID | None = None,
    state: Annotated[StageKind | None, Query(description="open, won or lost.")] = None,
    q: Annotated[QueryText, Query(max_length=200, description="In the title or the contact's name.")] = "",
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[schemas.DealRead]:
    """Deals, most recently changed first."""
    filters = DealFilters(pipeline_id, stage_id, contact_id, responsible_id, state, q.strip() or None)
    items, total = await Deals(session, principal.tenant_id).page(filters, limit=limit, offset=offset)
    return Page(items=items, total=total)


@router.post("/deals", status_code=status.HTTP_201_CREATED)
async def create_deal(body: schemas.DealCreate, principal: Operator, session: Session) -> schemas.DealRead:
    """A deal for a contact, in `stage_id` (the first stage of the first pipeline when omitted)."""
    return await Deals(session, principal.tenant_id).create(body, member_mover(principal.user_id))


@router.get("/deals/{deal_id}")
async def get_deal(deal_id: uuid.UUID, principal: Viewer, session: Session) -> schemas.DealRead:
    return await Deals(session, principal.tenant_id).get(deal_id)


@router.patch("/deals/{deal_id}")
async def update_deal(
    deal_id: uuid.UUID, body: schemas.DealUpdate, principal: Operator, session: Session
) -> schemas.DealRead:
    """Change a deal; `stage_id` moves it (with `reason` kept in its history, and `loss_reason` required to
    enter a lost stage)."""
    mover = member_mover(principal.user_id, body.reason)
    return await Deals(session, principal.tenant_id).update(deal_id, body, mover)


@router.get("/deals/{deal_id}/history")
async def deal_history(deal_id: uuid.UUID, principal: Viewer, session: Session) -> list[schemas.DealMoveRead]:
    """Every stage the deal entered, oldest first: from, to, who (member, assistant, rule, system), why, when."""
    return await Deals(session, principal.tenant_id).history(deal_id)


@router.get("/funnel-rules")
async def list_rules(principal: Viewer, session: Session) -> list[schemas.RuleRead]:
    return await Rules(session, principal.tenant_id).list()


@router.post("/funnel-rules", status_code=status.HTTP_201_CREATED)
async def create_rule(body: schemas.RuleCreate, principal: Admin, session: Session) -> schemas.RuleRead:
    """When `event` happens (first_message, handed_off, booking_made, booking_cancelled, payment_received,
    no_reply after `conditions.days`, stage_entered `conditions.stage_id`), do `action` (create_deal,
    move_deal, assign_member, send_message, notify_member, create_task) with `params`."""
    return await Rules(session, principal.tenant_id).create(body)


@router.patch("/funnel-rules/{rule_id}")
async def update_rule(
    rule_id: uuid.UUID, body: schemas.RuleUpdate, principal: Admin, session: Session
) -> schemas.RuleRead:
    return await Rules(session, principal.tenant_id).update(rule_id, body)


@router.delete("/funnel-rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_rule(rule_id: uuid.UUID, principal: Admin, session: Session) -> None:
    await Rules(session, principal.tenant_id).delete(rule_id)


@router.get("/tasks")
async def list_tasks(
    principal: Viewer,
    session: Session,
    assignee_id: uuid.UUID | None = None,
    deal_id: uuid.UUID | None = None,
    contact_id: uuid.UUID | None = None,
    done: bool | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[schemas.TaskRead]:
    """Tasks, soonest due first."""
    items, total = await MemberTasks(session, principal.tenant_id).page(
        assignee_id=assignee_id, deal_id=deal_id, contact_id=contact_id, done=done, limit=limit, offset=offset
    )
    return Page(items=items, total=total)


@router.post("/tasks", status_code=status.HTTP_201_CREATED)
async def create_task(body: schemas.TaskCreate, principal: Operator, session: Session) -> schemas.TaskRead:
    """A task for a member (yourself when `assignee_id` is omitted); they are notified when it is due."""
    return await MemberTasks(session, principal.tenant_id).create(body, default_assignee=principal.user_id)


@router.patch("/tasks/{task_id}")
async def update_task(
    task_id: uuid.UUID, body: schemas.TaskUpdate, principal: Operator, session: Session
) -> schemas.TaskRead:
    return await MemberTasks(session, principal.tenant_id).update(task_id, body)
