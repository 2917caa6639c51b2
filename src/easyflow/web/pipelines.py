"""The Pipelines page, for admins: pipelines renamed, added and removed; their stages added, edited (name, kind,
the assistant's instructions, the follow-up to the customer), moved up and down, and removed (asking where
their deals go); and the funnel's rules listed, added, switched on and off, and deleted. Every change goes
through the funnel's `Pipelines` and `Rules` services, as the API's routes do."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Any, TypeVar, get_args

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from easyflow.crm.funnel import schemas
from easyflow.crm.funnel.pipelines import Pipelines, member_mover
from easyflow.crm.funnel.rules import Rules
from easyflow.kit.errors import Conflict, DomainError, NotFound
from easyflow.models.crm import StageKind
from easyflow.tenancy.auth import Session
from easyflow.web.funnel_shared import STAGE_KIND_TITLES, members
from easyflow.web.i18n import choose_locale, translations
from easyflow.web.page import N_, AdminPage, PageRefused, SignedIn, render, see_other, text_field

router = APIRouter()
T = TypeVar("T")

PIPELINES_PATH = "/app/pipelines"
NO_SUCH_PIPELINE = N_("There is no such pipeline in your workspace.")
NO_SUCH_STAGE = N_("There is no such stage in this pipeline.")
NO_SUCH_RULE = N_("There is no such rule in your workspace.")
BAD_NAME = N_("Give a name of 1 to 120 characters.")
BAD_STAGE = N_(
    "The stage was not saved: give it a name (1 to 120 characters), a kind from the list, instructions and a "
    "follow-up text of at most 4000 characters, and the follow-up's days as a whole number from 1 to 365."
)
STAGE_HOLDS_DEALS = N_("Deals are in this stage: choose another stage (not a lost one) for them first.")
LAST_STAGE = N_("A pipeline keeps at least one stage.")
CANNOT_BECOME_LOST = N_("Deals are in this stage: it becomes a lost stage only once they are moved out.")
PIPELINE_NOT_EMPTY = N_("A pipeline is removed only without deals, and the workspace keeps at least one.")
BAD_RULE = N_(
    "The rule was not saved: name it, choose what happens and what to do, and fill what that needs (the stage for "
    "moving a deal, the member to assign, the text of a message or task, the days without a reply)."
)
# A new pipeline starts with these stages, named in the admin's language.
NEW_STAGES = ((N_("New"), StageKind.open), (N_("Won"), StageKind.won), (N_("Lost"), StageKind.lost))
EVENT_TITLES = {
    "first_message": N_("A new contact's first message"),
    "handed_off": N_("A conversation handed to a person"),
    "booking_made": N_("A booking made"),
    "booking_cancelled": N_("A booking cancelled"),
    "payment_received": N_("A payment received"),
    "no_reply": N_("No reply from the customer for some days"),
    "stage_entered": N_("A deal enters a stage"),
}
ACTION_TITLES = {
    "create_deal": N_("Create a deal in a stage"),
    "move_deal": N_("Move the deal to a stage"),
    "assign_member": N_("Make a member responsible"),
    "send_message": N_("Send the customer a message"),
    "notify_member": N_("Notify a member"),
    "create_task": N_("Create a task"),
}
assert set(EVENT_TITLES) == set(get_args(schemas.RuleEvent))
assert set(ACTION_TITLES) == set(get_args(schemas.RuleAction))
CHANNEL_TYPES = ("telegram", "whatsapp", "vk", "viber", "alice", "widget", "api")


def _id(value: str | None, message: str) -> uuid.UUID:
    try:
        return uuid.UUID(value or "")
    except ValueError:
        raise PageRefused(status.HTTP_404_NOT_FOUND, message) from None


async def _page(
    request: Request,
    session: AsyncSession,
    page: SignedIn,
    *,
    pipeline_id: uuid.UUID | None = None,
    error: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    pipelines = await Pipelines(session, page.tenant_id).list()
    chosen = next((each for each in pipelines if each.id == pipeline_id), pipelines[0] if pipelines else None)
    if pipeline_id is not None and (chosen is None or chosen.id != pipeline_id):
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_PIPELINE)
    # By the ids' text, as rules keep them.
    stage_names = {str(stage.id): f"{each.name}: {stage.name}" for each in pipelines for stage in each.stages}
    context = {
        "pipelines": pipelines,
        "pipeline": chosen,
        "rules": await Rules(session, page.tenant_id).list(),
        "people": {str(user_id): name for user_id, name in (await members(session, page)).items()},
        "stage_names": stage_names,
        "kinds": [kind.value for kind in StageKind],
        "kind_titles": STAGE_KIND_TITLES,
        "event_titles": EVENT_TITLES,
        "action_titles": ACTION_TITLES,
        "channel_types": CHANNEL_TYPES,
        "error": error,
    }
    return render(request, "pipelines.html", context, status_code, page=page)


def _back(pipeline_id: uuid.UUID | None = None) -> Response:
    return see_other(f"{PIPELINES_PATH}?pipeline={pipeline_id}" if pipeline_id else PIPELINES_PATH)


@router.get("/pipelines", response_class=HTMLResponse)
async def pipelines_page(request: Request, session: Session, page: AdminPage, pipeline: str = "") -> Response:
    return await _page(request, session, page, pipeline_id=_id(pipeline, NO_SUCH_PIPELINE) if pipeline else None)


@router.post("/pipelines", response_class=HTMLResponse)
async def add_pipeline(request: Request, session: Session, page: AdminPage) -> Response:
    """A pipeline with three stages to start from (new, won, lost), named in the admin's language."""
    form = await request.form(max_fields=20)
    words = translations(choose_locale(page.user.language, request.headers.get("accept-language")))
    try:
        body = schemas.PipelineCreate(
            name=text_field(form, "name", 120) or "",
            stages=[schemas.StageCreate(name=words.gettext(name), kind=kind) for name, kind in NEW_STAGES],
        )
    except ValidationError:
        return await _page(request, session, page, error=BAD_NAME, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    created = await Pipelines(session, page.tenant_id).create(body)
    return _back(created.id)


@router.post("/pipelines/{pipeline_id}", response_class=HTMLResponse)
async def rename_pipeline(pipeline_id: str, request: Request, session: Session, page: AdminPage) -> Response:
    chosen = _id(pipeline_id, NO_SUCH_PIPELINE)
    form = await request.form(max_fields=20)
    try:
        body = schemas.PipelineUpdate(
            name=text_field(form, "name", 120) or "", assistant_may_move_back="assistant_may_move_back" in form
        )
    except ValidationError:
        return await _page(
            request,
            session,
            page,
            pipeline_id=chosen,
            error=BAD_NAME,
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    await _call(Pipelines(session, page.tenant_id).update(chosen, body))
    return _back(chosen)


@router.post("/pipelines/{pipeline_id}/delete", response_class=HTMLResponse)
async def delete_pipeline(pipeline_id: str, request: Request, session: Session, page: AdminPage) -> Response:
    chosen = _id(pipeline_id, NO_SUCH_PIPELINE)
    try:
        await _call(Pipelines(session, page.tenant_id).delete(chosen))
    except Conflict:
        return await _page(
            request, session, page, pipeline_id=chosen, error=PIPELINE_NOT_EMPTY, status_code=status.HTTP_409_CONFLICT
        )
    return _back()


def _stage_fields(form: FormData) -> dict[str, Any]:
    """A stage's fields from its form (no follow-up days: no follow-up); ValueError when the name or kind
    cannot be read, the rest is checked by the schema they go to."""
    fields: dict[str, Any] = {
        "name": text_field(form, "name", 120),
        "kind": text_field(form, "kind", 10),
        "instructions": (text_field(form, "instructions", 4000) or "").replace("\r\n", "\n"),
        "follow_up_text": (text_field(form, "follow_up_text", 4000) or "").replace("\r\n", "\n"),
        "follow_up_days": text_field(form, "follow_up_days", 4) or None,
    }
    if fields["name"] is None or fields["kind"] is None:
        raise ValueError("a field could not be read")
    return fields


@router.post("/pipelines/{pipeline_id}/stages", response_class=HTMLResponse)
async def add_stage(pipeline_id: str, request: Request, session: Session, page: AdminPage) -> Response:
    chosen = _id(pipeline_id, NO_SUCH_PIPELINE)
    form = await request.form(max_fields=20)
    try:
        body = schemas.StageCreate.model_validate(_stage_fields(form))
    except (ValidationError, ValueError):
        return await _page(
            request,
            session,
            page,
            pipeline_id=chosen,
            error=BAD_STAGE,
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    await _call(Pipelines(session, page.tenant_id).add_stage(chosen, body))
    return _back(chosen)


@router.post("/pipelines/{pipeline_id}/stages/{stage_id}", response_class=HTMLResponse)
async def edit_stage(pipeline_id: str, stage_id: str, request: Request, session: Session, page: AdminPage) -> Response:
    chosen, stage = _id(pipeline_id, NO_SUCH_PIPELINE), _id(stage_id, NO_SUCH_STAGE)
    form = await request.form(max_fields=20)
    try:
        body = schemas.StageUpdate.model_validate(_stage_fields(form))
    except (ValidationError, ValueError):
        return await _page(
            request,
            session,
            page,
            pipeline_id=chosen,
            error=BAD_STAGE,
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    try:
        await _call(Pipelines(session, page.tenant_id).update_stage(chosen, stage, body))
    except Conflict:
        return await _page(
            request, session, page, pipeline_id=chosen, error=CANNOT_BECOME_LOST, status_code=status.HTTP_409_CONFLICT
        )
    return _back(chosen)


@router.post("/pipelines/{pipeline_id}/stages/{stage_id}/move", response_class=HTMLResponse)
async def move_stage(pipeline_id: str, stage_id: str, request: Request, session: Session, page: AdminPage) -> Response:
    """One place up or down the pipeline's order."""
    chosen, stage = _id(pipeline_id, NO_SUCH_PIPELINE), _id(stage_id, NO_SUCH_STAGE)
    form = await request.form(max_fields=20)
    pipelines = Pipelines(session, page.tenant_id)
    current = await _call(pipelines.get(chosen))
    order = [each.id for each in current.stages]
    if stage not in order:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_STAGE)
    index = order.index(stage)
    step = -1 if text_field(form, "direction", 4) == "up" else 1
    if 0 <= index + step < len(order):
        await pipelines.update_stage(chosen, stage, schemas.StageUpdate(position=index + step))
    return _back(chosen)


@router.post("/pipelines/{pipeline_id}/stages/{stage_id}/remove", response_class=HTMLResponse)
async def remove_stage(
    pipeline_id: str, stage_id: str, request: Request, session: Session, page: AdminPage
) -> Response:
    """Remove a stage; its deals, if any, first go to the stage chosen (each move kept in the deal's history)."""
    chosen, stage = _id(pipeline_id, NO_SUCH_PIPELINE), _id(stage_id, NO_SUCH_STAGE)
    form = await request.form(max_fields=20)
    target = text_field(form, "move_to", 36)
    move_to = _id(target, NO_SUCH_STAGE) if target else None
    try:
        async with session.begin_nested():
            await _call(
                Pipelines(session, page.tenant_id).remove_stage(
                    chosen, stage, move_to=move_to, mover=member_mover(page.user.id, "stage removed")
                )
            )
    except DomainError as refused:
        message = LAST_STAGE if "at least one" in str(refused.detail) else STAGE_HOLDS_DEALS
        return await _page(
            request, session, page, pipeline_id=chosen, error=message, status_code=status.HTTP_409_CONFLICT
        )
    return _back(chosen)


def _optional_id(form: FormData, name: str) -> str | None:
    return text_field(form, name, 36) or None


@router.post("/pipelines/rules/new", response_class=HTMLResponse)
async def add_rule(request: Request, session: Session, page: AdminPage) -> Response:
    form = await request.form(max_fields=20)
    try:
        body = schemas.RuleCreate.model_validate(
            {
                "name": text_field(form, "name", 200) or "",
                "event": text_field(form, "event", 40),
                "action": text_field(form, "action", 40),
                "conditions": {
                    "stage_id": _optional_id(form, "condition_stage_id"),
                    "days": text_field(form, "days", 4) or None,
                    "channel_type": text_field(form, "channel_type", 32) or None,
                },
                "params": {
                    "stage_id": _optional_id(form, "stage_id"),
                    "user_id": _optional_id(form, "user_id"),
                    "text": text_field(form, "text", 4000) or None,
                    "due_in_hours": text_field(form, "due_in_hours", 5) or None,
                },
            }
        )
        await Rules(session, page.tenant_id).create(body)
    except (ValidationError, DomainError):
        return await _page(request, session, page, error=BAD_RULE, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    return see_other(f"{PIPELINES_PATH}#rules")


@router.post("/pipelines/rules/{rule_id}", response_class=HTMLResponse)
async def change_rule(rule_id: str, request: Request, session: Session, page: AdminPage) -> Response:
    """Switch a rule on or off (`enabled` = 1 or 0), or delete it (`delete`)."""
    rule = _id(rule_id, NO_SUCH_RULE)
    form = await request.form(max_fields=20)
    rules = Rules(session, page.tenant_id)
    if "delete" in form:
        await _call(rules.delete(rule))
    else:
        await _call(rules.update(rule, schemas.RuleUpdate(enabled=text_field(form, "enabled", 1) == "1")))
    return see_other(f"{PIPELINES_PATH}#rules")


async def _call(work: Awaitable[T]) -> T:
    """Await a service call; its NotFound (another workspace's id) is the page that is not there."""
    try:
        return await work
    except NotFound:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_PIPELINE) from None
