"""The Tasks page: the member's own tasks or everyone's, soonest due first, each marked done from here (or
from its deal's page), through the funnel's `MemberTasks`, as the API's routes do."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import HTMLResponse, Response

from easyflow.crm.funnel import schemas
from easyflow.crm.funnel.member_tasks import MemberTasks
from easyflow.kit.errors import NotFound
from easyflow.models.tenancy import Role
from easyflow.tenancy.auth import Session
from easyflow.web.deals import NO_SUCH_TASK, OPERATORS_ONLY, back_to
from easyflow.web.funnel_shared import local_clock, members
from easyflow.web.page import N_, PageRefused, SignedInPage, render, see_other

router = APIRouter()

PAGE_SIZE = 50
MAX_PAGE = 10_000
WHOSE = {"mine": N_("Mine"), "all": N_("Everyone's")}
SHOWN = {"open": N_("To do"), "done": N_("Done")}
BAD_FILTER = N_("This list cannot be shown: choose mine or everyone's, to do or done.")


@router.get("/tasks", response_class=HTMLResponse)
async def tasks_page(
    request: Request,
    session: Session,
    page: SignedInPage,
    whose: str = "mine",
    shown: str = "open",
    p: int = Query(default=1, ge=1, le=MAX_PAGE),
) -> Response:
    if whose not in WHOSE or shown not in SHOWN:
        raise PageRefused(status.HTTP_400_BAD_REQUEST, BAD_FILTER)
    listed, total = await MemberTasks(session, page.tenant_id).page(
        assignee_id=page.user.id if whose == "mine" else None,
        deal_id=None,
        contact_id=None,
        done=shown == "done",
        limit=PAGE_SIZE,
        offset=(p - 1) * PAGE_SIZE,
    )
    context = {
        "tasks": listed,
        "total": total,
        "whose": whose,
        "shown": shown,
        "whose_titles": WHOSE,
        "shown_titles": SHOWN,
        "people": await members(session, page),
        "when": local_clock(page),
        "page_number": p,
        "has_next": p * PAGE_SIZE < total,
        "can_act": page.role.at_least(Role.operator),
    }
    return render(request, "tasks.html", context, page=page)


@router.post("/tasks/{task_id}/done")
async def mark_done(task_id: str, request: Request, session: Session, page: SignedInPage) -> Response:
    """Mark a task done through the API's `MemberTasks.update`; back to the page it was marked on."""
    if not page.role.at_least(Role.operator):
        raise PageRefused(status.HTTP_403_FORBIDDEN, OPERATORS_ONLY)
    try:
        task = uuid.UUID(task_id)
    except ValueError:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_TASK) from None
    form = await request.form(max_fields=20)
    try:
        await MemberTasks(session, page.tenant_id).update(task, schemas.TaskUpdate(done=True))
    except NotFound:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_TASK) from None
    return see_other(back_to(form, "/app/tasks"))
