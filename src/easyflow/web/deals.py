"""The deals pages: the kanban board of a pipeline (a column per stage with its count and totals, cards dragged
to move a deal), the list behind a column's "more", the new deal form, and a deal's page (its fields,
qualification and products, moves with a reason, its stage history, contact, conversation and tasks).
Reading and every change go through the funnel's services, as the API's routes do."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from easyflow.crm.contacts import ContactProfiles, read_contact
from easyflow.crm.funnel import schemas
from easyflow.crm.funnel.deals import LOSS_REASON_NEEDED as NO_LOSS_REASON
from easyflow.crm.funnel.deals import Deals
from easyflow.crm.funnel.member_tasks import MemberTasks
from easyflow.crm.funnel.pipelines import Pipelines, member_mover
from easyflow.crm.funnel.repository import DealFilters
from easyflow.crm.funnel.rules import Rules
from easyflow.crm.repository import ContactFilters
from easyflow.kit.errors import DomainError, NotFound, Unprocessable
from easyflow.models.crm import CURRENCIES, MoveActor
from easyflow.models.tenancy import Role
from easyflow.tenancy.auth import Session
from easyflow.web.funnel_shared import (
    ACTOR_TITLES,
    STAGE_KIND_TITLES,
    duration_parts,
    local_clock,
    members,
    money_for,
    refused_json,
    wants_json,
    zone_of,
)
from easyflow.web.page import N_, PageRefused, SignedIn, SignedInPage, render, see_other, text_field

router = APIRouter()

# A column shows its newest deals; the rest are behind its "more" link (the list filtered by stage).
CARDS_PER_COLUMN = 200
LIST_PAGE_SIZE = 50
MAX_LIST_PAGE = 10_000
MAX_SEARCH_CHARS = 200
CONTACTS_OFFERED = 20
MAX_PRODUCT_LINES = 100
TASKS_SHOWN = 100

NO_SUCH_DEAL = N_("There is no such deal in your workspace.")
NO_SUCH_PIPELINE = N_("There is no such pipeline in your workspace.")
BAD_FILTER = N_("The board cannot be shown: the member, stage, search or page asked for is not valid.")
OPERATORS_ONLY = N_("Only operators, admins and owners can change deals.")
LOSS_REASON_NEEDED = N_("Write why the deal was lost: a deal enters a lost stage only with its reason.")
CANNOT_MOVE = N_("The deal cannot be moved to that stage.")
BAD_DEAL = N_(
    "The deal was not saved: give it a title (at most 200 characters), choose a contact and a stage, and write "
    "the amount as a number such as 150000 or 150000.50."
)
BAD_CONTACT = N_("Choose a contact of this workspace.")
BAD_MEMBER = N_("Choose a member of this workspace.")
BAD_PRODUCTS = N_(
    "Write each product on its own line as: name; quantity; price (quantity and price may be left out), at most "
    "100 lines."
)
BAD_TASK = N_("The task was not added: give it a title (at most 300 characters) and, if you like, a due time.")
NO_SUCH_TASK = N_("There is no such task in your workspace.")


def _uuid(value: str | None, message: str, status_code: int = status.HTTP_404_NOT_FOUND) -> uuid.UUID:
    try:
        return uuid.UUID(value or "")
    except ValueError:
        raise PageRefused(status_code, message) from None


def _deal_id(deal_id: str) -> uuid.UUID:
    return _uuid(deal_id, NO_SUCH_DEAL)


DealId = Annotated[uuid.UUID, Depends(_deal_id)]


def _optional_uuid(value: str | None, message: str) -> uuid.UUID | None:
    return _uuid(value, message, status.HTTP_400_BAD_REQUEST) if value else None


def _search(value: str | None) -> str | None:
    query = (value or "").strip()
    if len(query) > MAX_SEARCH_CHARS or any(ord(char) < 32 for char in query):
        raise PageRefused(status.HTTP_400_BAD_REQUEST, BAD_FILTER)
    return query or None


def _operator(page: SignedIn) -> None:
    if not page.role.at_least(Role.operator):
        raise PageRefused(status.HTTP_403_FORBIDDEN, OPERATORS_ONLY)


async def _pipeline(session: AsyncSession, page: SignedIn, asked: uuid.UUID | None) -> tuple[Any, list[Any]]:
    """The pipeline asked for (the first when none), and all of them for the picker."""
    pipelines = await Pipelines(session, page.tenant_id).list()
    if asked is None:
        return (pipelines[0] if pipelines else None), pipelines
    chosen = next((pipeline for pipeline in pipelines if pipeline.id == asked), None)
    if chosen is None:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_PIPELINE)
    return chosen, pipelines


def _formatting(request: Request, page: SignedIn) -> dict[str, Any]:
    return {
        "money": money_for(request, page),
        "duration_parts": duration_parts,
        "when": local_clock(page),
        "kind_titles": STAGE_KIND_TITLES,
        "now": datetime.now(UTC),
    }


@router.get("/deals", response_class=HTMLResponse)
async def board(
    request: Request,
    session: Session,
    page: SignedInPage,
    pipeline: str = "",
    responsible: str = "",
    q: str = "",
) -> Response:
    """A pipeline's kanban board: a column per stage, newest deals first, filtered by member and search."""
    responsible_id = _optional_uuid(responsible, BAD_FILTER)
    query = _search(q)
    chosen, pipelines = await _pipeline(session, page, _optional_uuid(pipeline, BAD_FILTER))
    people = await members(session, page)
    if responsible_id is not None and responsible_id not in people:
        raise PageRefused(status.HTTP_400_BAD_REQUEST, BAD_FILTER)
    filters = DealFilters(responsible_id=responsible_id, query=query)
    columns = await Deals(session, page.tenant_id).board(chosen, filters, per_stage=CARDS_PER_COLUMN) if chosen else []
    context = {
        "pipelines": pipelines,
        "pipeline": chosen,
        "columns": columns,
        "people": people,
        "responsible": responsible_id,
        "q": query or "",
        "can_act": page.role.at_least(Role.operator),
        "list_query": lambda **more: urlencode(
            {key: value for key, value in {"responsible": responsible_id, "q": query, **more}.items() if value}
        ),
        **_formatting(request, page),
    }
    return render(request, "deals.html", context, page=page)


@router.get("/deals/list", response_class=HTMLResponse)
async def deal_list(
    request: Request,
    session: Session,
    page: SignedInPage,
    stage: str = "",
    pipeline: str = "",
    responsible: str = "",
    q: str = "",
    p: int = Query(default=1, ge=1, le=MAX_LIST_PAGE),
) -> Response:
    """Deals as a list, most recently changed first: a column's deals beyond those its card shows."""
    filters = DealFilters(
        pipeline_id=_optional_uuid(pipeline, BAD_FILTER),
        stage_id=_optional_uuid(stage, BAD_FILTER),
        responsible_id=_optional_uuid(responsible, BAD_FILTER),
        query=_search(q),
    )
    listed, total = await Deals(session, page.tenant_id).page(
        filters, limit=LIST_PAGE_SIZE, offset=(p - 1) * LIST_PAGE_SIZE
    )
    stages = {stage.id: stage for each in await Pipelines(session, page.tenant_id).list() for stage in each.stages}
    shown = {"stage": stage, "pipeline": pipeline, "responsible": responsible, "q": filters.query or ""}
    context = {
        "deals": listed,
        "total": total,
        "stage": stages.get(filters.stage_id) if filters.stage_id else None,
        "people": await members(session, page),
        "page_number": p,
        "has_next": p * LIST_PAGE_SIZE < total,
        "query": lambda number: urlencode({**{k: v for k, v in shown.items() if v}, "p": number}),
        **_formatting(request, page),
    }
    return render(request, "deal_list.html", context, page=page)


@router.get("/deals/new", response_class=HTMLResponse)
async def new_deal_form(
    request: Request,
    session: Session,
    page: SignedInPage,
    contact: str = "",
    conversation: str = "",
    contact_q: str = "",
    stage: str = "",
) -> Response:
    """The new deal form: a contact found by name or phone (or the one the conversation came from), a title,
    an amount and its currency, and the stage it starts in."""
    _operator(page)
    return await _new_deal_page(
        request,
        session,
        page,
        contact_id=_optional_uuid(contact, BAD_CONTACT),
        conversation_id=_optional_uuid(conversation, BAD_CONTACT),
        contact_q=_search(contact_q),
        values={"stage_id": stage},
    )


async def _new_deal_page(
    request: Request,
    session: AsyncSession,
    page: SignedIn,
    *,
    contact_id: uuid.UUID | None,
    conversation_id: uuid.UUID | None,
    contact_q: str | None,
    values: dict[str, str],
    error: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    profiles = ContactProfiles(session, page.principal)
    offered = []
    if contact_id is not None:
        try:
            offered = [read_contact(await profiles.get(contact_id))]
        except NotFound:
            raise PageRefused(status.HTTP_404_NOT_FOUND, BAD_CONTACT) from None
    if contact_q is not None:
        found = await profiles.search(ContactFilters(q=contact_q), limit=CONTACTS_OFFERED, offset=0)
        offered += [contact for contact in found.items if contact.id != contact_id]
    context = {
        "pipelines": await Pipelines(session, page.tenant_id).list(),
        "contacts": offered,
        "contact_id": contact_id,
        "conversation_id": conversation_id,
        "contact_q": contact_q or "",
        "currencies": CURRENCIES,
        "values": values,
        "error": error,
    }
    return render(request, "deal_new.html", context, status_code, page=page)


@router.post("/deals")
async def create_deal(request: Request, session: Session, page: SignedInPage) -> Response:
    """A deal through the API's `Deals.create`, the member recorded as who opened it."""
    _operator(page)
    form = await request.form(max_fields=20)
    values = {name: text_field(form, name) or "" for name in ("title", "amount", "currency", "stage_id")}
    contact_id = _optional_uuid(text_field(form, "contact_id"), BAD_CONTACT)
    conversation_id = _optional_uuid(text_field(form, "conversation_id"), BAD_CONTACT)

    async def refused(message: str, status_code: int = status.HTTP_422_UNPROCESSABLE_CONTENT) -> Response:
        return await _new_deal_page(
            request,
            session,
            page,
            contact_id=contact_id,
            conversation_id=conversation_id,
            contact_q=None,
            values=values,
            error=message,
            status_code=status_code,
        )

    if contact_id is None:
        return await refused(BAD_CONTACT)
    try:
        body = schemas.DealCreate(
            title=values["title"],
            contact_id=contact_id,
            conversation_id=conversation_id,
            stage_id=values["stage_id"] or None,
            amount=_amount(values["amount"]),
            currency=values["currency"] or "RUB",
        )
    except (ValidationError, ValueError):
        return await refused(BAD_DEAL)
    try:
        async with session.begin_nested():
            created = await Deals(session, page.tenant_id).create(body, member_mover(page.user.id))
    except Unprocessable:
        return await refused(BAD_DEAL)
    return see_other(f"/app/deals/{created.id}")


def _amount(text: str) -> Decimal | None:
    """An amount as people write it: spaces between thousands, a comma or a point before the kopecks."""
    cleaned = text.replace("\u00a0", "").replace(" ", "").replace(",", ".")
    if not cleaned:
        return None
    try:
        return Decimal(cleaned)
    except InvalidOperation:
        raise ValueError("not an amount") from None


@router.get("/deals/{deal_id}", response_class=HTMLResponse)
async def deal_page(deal_id: DealId, request: Request, session: Session, page: SignedInPage) -> Response:
    return await _deal_page(request, session, page, deal_id)


async def _deal_page(
    request: Request,
    session: AsyncSession,
    page: SignedIn,
    deal_id: uuid.UUID,
    *,
    error: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    deals = Deals(session, page.tenant_id)
    try:
        deal = await deals.get(deal_id)
        history = await deals.history(deal_id)
        pipeline = await Pipelines(session, page.tenant_id).get(deal.pipeline_id)
    except NotFound:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_DEAL) from None
    people = await members(session, page)
    rules = {rule.id: rule.name for rule in await Rules(session, page.tenant_id).list()}
    tasks, _ = await MemberTasks(session, page.tenant_id).page(
        assignee_id=None, deal_id=deal_id, contact_id=None, done=None, limit=TASKS_SHOWN, offset=0
    )
    context = {
        "deal": deal,
        "pipeline": pipeline,
        "history": [(move, _mover_name(move, people, rules)) for move in reversed(history)],
        "people": people,
        "tasks": tasks,
        "actor_titles": ACTOR_TITLES,
        "currencies": CURRENCIES,
        "products_text": _products_text(deal.products),
        "can_act": page.role.at_least(Role.operator),
        "error": error,
        "zone": zone_of(page).key,
        **_formatting(request, page),
    }
    return render(request, "deal.html", context, status_code, page=page)


def _mover_name(move: schemas.DealMoveRead, people: dict[uuid.UUID, str], rules: dict[uuid.UUID, str]) -> str | None:
    """Who moved the deal by name where one is known (the member, the rule); None: the actor's kind says it."""
    if move.actor_id is None:
        return None
    if move.actor == MoveActor.member:
        return people.get(move.actor_id)
    if move.actor == MoveActor.rule:
        return rules.get(move.actor_id)
    return None


def _products_text(products: list[dict[str, Any]]) -> str:
    lines = []
    for product in products:
        parts = [str(product.get("name", "")), str(product.get("quantity", 1))]
        if product.get("price") is not None:
            parts.append(str(product["price"]))
        lines.append("; ".join(parts))
    return "\n".join(lines)


def _products(text: str) -> list[schemas.DealProduct]:
    """Products from the form's lines: "name; quantity; price", the last two optional."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > MAX_PRODUCT_LINES:
        raise ValueError("too many products")
    products = []
    for line in lines:
        parts = [part.strip() for part in line.split(";")]
        if len(parts) > 3:
            raise ValueError("too many parts")
        quantity = int(parts[1]) if len(parts) > 1 and parts[1] else 1
        price = _amount(parts[2]) if len(parts) > 2 else None
        products.append(schemas.DealProduct(name=parts[0], quantity=quantity, price=price))
    return products


@router.post("/deals/{deal_id}", response_class=HTMLResponse)
async def edit_deal(deal_id: DealId, request: Request, session: Session, page: SignedInPage) -> Response:
    """Title, amount and currency, the responsible member, qualification and products, through the API's
    `Deals.update`."""
    _operator(page)
    form = await request.form(max_fields=20)
    fields = {
        name: text_field(form, name, max_chars=4000)
        for name in ("title", "amount", "currency", "responsible_id", "needs", "budget", "dates", "products")
    }
    if any(value is None for value in fields.values()):
        return await _deal_page(
            request, session, page, deal_id, error=BAD_DEAL, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
        )
    text: dict[str, str] = {name: value or "" for name, value in fields.items()}
    try:
        products = _products(text["products"])
    except (ValidationError, ValueError):
        return await _deal_page(
            request, session, page, deal_id, error=BAD_PRODUCTS, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
        )
    try:
        body = schemas.DealUpdate(
            title=text["title"],
            amount=_amount(text["amount"]),
            currency=text["currency"] or None,
            responsible_id=uuid.UUID(text["responsible_id"]) if text["responsible_id"] else None,
            qualification=schemas.Qualification(
                needs=text["needs"].strip(), budget=text["budget"].strip(), dates=text["dates"].strip()
            ),
            products=products,
        )
    except (ValidationError, ValueError):
        return await _deal_page(
            request, session, page, deal_id, error=BAD_DEAL, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
        )
    try:
        async with session.begin_nested():
            await Deals(session, page.tenant_id).update(deal_id, body, member_mover(page.user.id))
    except NotFound:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_DEAL) from None
    except Unprocessable:
        return await _deal_page(
            request, session, page, deal_id, error=BAD_MEMBER, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
        )
    return see_other(f"/app/deals/{deal_id}")


@router.post("/deals/{deal_id}/move")
async def move_deal(deal_id: DealId, request: Request, session: Session, page: SignedInPage) -> Response:
    """Move the deal to `stage_id` with a `reason` (and a `loss_reason` into a lost stage), through the API's
    `Deals.update` with the member as mover. The board's script asks for JSON and shows a refusal's message;
    the deal page's form is answered with the page."""
    as_json = wants_json(request)

    def refused(status_code: int, message: str) -> Response:
        if as_json:
            return refused_json(request, page, status_code, message)
        raise PageRefused(status_code, message)

    if not page.role.at_least(Role.operator):
        return refused(status.HTTP_403_FORBIDDEN, OPERATORS_ONLY)
    form = await request.form(max_fields=20)
    stage_text = text_field(form, "stage_id", max_chars=36)
    reason = text_field(form, "reason", max_chars=4000)
    loss_reason = text_field(form, "loss_reason", max_chars=4000)
    try:
        body = schemas.DealUpdate(
            stage_id=uuid.UUID(stage_text or ""),
            reason=(reason or "").strip(),
            loss_reason=(loss_reason or "").strip() or None,
        )
    except (ValidationError, ValueError):
        return refused(status.HTTP_422_UNPROCESSABLE_CONTENT, CANNOT_MOVE)
    try:
        async with session.begin_nested():
            moved = await Deals(session, page.tenant_id).update(deal_id, body, member_mover(page.user.id, body.reason))
    except NotFound:
        return refused(status.HTTP_404_NOT_FOUND, NO_SUCH_DEAL)
    except DomainError as refusal:
        message = LOSS_REASON_NEEDED if refusal.detail == NO_LOSS_REASON else CANNOT_MOVE
        if as_json:
            return refused_json(request, page, status.HTTP_422_UNPROCESSABLE_CONTENT, message)
        return await _deal_page(
            request, session, page, deal_id, error=message, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
        )
    if as_json:
        return Response(
            content=schemas.StageBrief.model_validate(moved.stage).model_dump_json(), media_type="application/json"
        )
    return see_other(f"/app/deals/{deal_id}")


@router.post("/deals/{deal_id}/tasks", response_class=HTMLResponse)
async def add_deal_task(deal_id: DealId, request: Request, session: Session, page: SignedInPage) -> Response:
    """A task on the deal through the API's `MemberTasks.create` (for the member chosen, else oneself)."""
    _operator(page)
    form = await request.form(max_fields=20)
    title = text_field(form, "title", max_chars=300)
    due = text_field(form, "due_at", max_chars=20)
    assignee = text_field(form, "assignee_id", max_chars=36)
    try:
        due_at = datetime.fromisoformat(due).replace(tzinfo=zone_of(page)) if due else None
        body = schemas.TaskCreate(
            title=title or "",
            deal_id=deal_id,
            due_at=due_at,
            **({"assignee_id": uuid.UUID(assignee)} if assignee else {}),
        )
    except (ValidationError, ValueError):
        return await _deal_page(
            request, session, page, deal_id, error=BAD_TASK, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
        )
    try:
        await MemberTasks(session, page.tenant_id).create(body, default_assignee=page.user.id)
    except Unprocessable as refused:
        if "deal_id" in str(refused.detail):  # the deal in the address is not this workspace's
            raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_DEAL) from None
        return await _deal_page(
            request, session, page, deal_id, error=BAD_MEMBER, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
        )
    return see_other(f"/app/deals/{deal_id}#tasks")


def back_to(form: FormData, fallback: str) -> str:
    """Where a form asks to go back to: a dashboard path only."""
    back = text_field(form, "next", max_chars=300) or fallback
    return back if back.startswith("/app/") and not back.startswith("/app//") else fallback
