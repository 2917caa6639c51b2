"""Tasks for members (call back, send the contract): made by a person, a rule or the assistant, with a due time
at which the assignee is told (`remind_due`, from the periodic job)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.conversations.repository import ContactRepository
from easyflow.crm.funnel import schemas
from easyflow.crm.funnel.repository import DealRepository, DueTasks, TaskRepository
from easyflow.db.session import enter_system_scope
from easyflow.kit.errors import NotFound, Unprocessable
from easyflow.live.staff import queue_staff_event
from easyflow.models.crm import CrmTask, MoveActor
from easyflow.tenancy.repository import MembershipRepository

TASK_DUE_EVENT = "crm.task_due"
REMINDERS_PER_RUN = 500


class MemberTasks:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.tasks = TaskRepository(session, tenant_id)

    async def page(
        self,
        *,
        assignee_id: uuid.UUID | None,
        deal_id: uuid.UUID | None,
        contact_id: uuid.UUID | None,
        done: bool | None,
        limit: int,
        offset: int,
    ) -> tuple[list[schemas.TaskRead], int]:
        rows, total = await self.tasks.page(
            assignee_id=assignee_id, deal_id=deal_id, contact_id=contact_id, done=done, limit=limit, offset=offset
        )
        return [schemas.TaskRead.model_validate(row) for row in rows], total

    async def due_by(self, assignee_id: uuid.UUID, moment: datetime) -> int:
        """How many of the member's open tasks are due by `moment` (the home page's "due today")."""
        return await self.tasks.count_undone_due_by(assignee_id, moment)

    async def create(
        self,
        body: schemas.TaskCreate,
        *,
        default_assignee: uuid.UUID | None,
        created_by: MoveActor = MoveActor.member,
    ) -> schemas.TaskRead:
        assignee_id = body.assignee_id if "assignee_id" in body.model_fields_set else default_assignee
        await self._check(assignee_id=assignee_id, deal_id=body.deal_id, contact_id=body.contact_id)
        contact_id = body.contact_id
        if contact_id is None and body.deal_id is not None:
            deal = await DealRepository(self.session, self.tenant_id).get(body.deal_id)
            contact_id = deal.contact_id if deal else None
        task = await self.tasks.add(
            CrmTask(
                title=body.title,
                details=body.details,
                deal_id=body.deal_id,
                contact_id=contact_id,
                assignee_id=assignee_id,
                due_at=body.due_at,
                created_by=created_by,
            )
        )
        return schemas.TaskRead.model_validate(task)

    async def update(self, task_id: uuid.UUID, body: schemas.TaskUpdate) -> schemas.TaskRead:
        task = await self.tasks.get(task_id)
        if task is None:
            raise NotFound("Task not found.")
        fields = body.model_fields_set
        if "assignee_id" in fields:
            await self._check(assignee_id=body.assignee_id)
            task.assignee_id = body.assignee_id
        if body.title is not None:
            task.title = body.title
        if body.details is not None:
            task.details = body.details
        if "due_at" in fields:
            task.due_at = body.due_at
            task.notified_at = None  # a new due time is a new reminder
        if body.done is not None:
            task.done_at = (task.done_at or datetime.now(task.created_at.tzinfo)) if body.done else None
        await self.session.flush()
        return schemas.TaskRead.model_validate(task)

    async def _check(
        self,
        *,
        assignee_id: uuid.UUID | None = None,
        deal_id: uuid.UUID | None = None,
        contact_id: uuid.UUID | None = None,
    ) -> None:
        if assignee_id and await MembershipRepository(self.session, self.tenant_id).for_user(assignee_id) is None:
            raise Unprocessable("assignee_id is not a member of this workspace.")
        if deal_id and await DealRepository(self.session, self.tenant_id).get(deal_id) is None:
            raise Unprocessable("deal_id is not a deal of this workspace.")
        if contact_id and await ContactRepository(self.session, self.tenant_id).get(contact_id) is None:
            raise Unprocessable("contact_id is not a contact of this workspace.")


async def remind_due(session: AsyncSession, now: datetime) -> int:
    """Tell each assignee of a task that came due (a live staff event the dashboard shows); each task once."""
    await enter_system_scope(session)
    due = await DueTasks(session).claim(now, limit=REMINDERS_PER_RUN)
    for task in due:
        queue_staff_event(
            session,
            task.tenant_id,
            TASK_DUE_EVENT,
            {
                "task_id": str(task.id),
                "user_id": str(task.assignee_id) if task.assignee_id else None,
                "title": task.title,
                "deal_id": str(task.deal_id) if task.deal_id else None,
            },
        )
    return len(due)
