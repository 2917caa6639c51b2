"""The Staff pages: who works here, and each member's page with the services they do (with their own length
or price), the weekly hours with breaks, days off and one-off changes. Every part is a small form of its own,
so a phone's screen and a keyboard get through it, and each change is saved by the catalogue's `Staff`."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from easyflow.catalogue import schemas
from easyflow.catalogue.services import Services
from easyflow.catalogue.staff import Staff
from easyflow.kit.errors import NotFound, Unprocessable
from easyflow.models.tenancy import Role
from easyflow.tenancy.auth import Session
from easyflow.web.catalogue.forms import MAX_FORM_FIELDS, Message, amount, entered, field, not_found, optional
from easyflow.web.catalogue.hours import DayRow, rows_of, typed_rows, working_hours
from easyflow.web.funnel_shared import members
from easyflow.web.page import N_, AdminPage, SignedIn, SignedInPage, render, see_other

router = APIRouter()

STAFF_PATH = "/app/staff"
MAX_LISTED = 500
NO_SUCH_MEMBER = N_("There is no such staff member in your workspace.")
BAD_NAME = N_("Give a name of 1 to 200 characters.")
NO_SUCH_SERVICE = N_("Choose one of the services in the list.")
BAD_OWN_TERMS = N_(
    "Their own duration is a whole number of minutes from 5 to 1440, and their own price a sum such as 1500; "
    "leave either empty to use the service's."
)
BAD_DATE = N_("Choose a date.")
DAY_OFF_TWICE = N_("That date is already a day off.")
BAD_CHANGE = N_("For a one-off change, give the date and either the hours (the end after the start) or a day off.")
TOO_MANY_DATES = N_("A member has at most 400 days off and 400 one-off changes.")
NO_SUCH_ACCOUNT = N_("Choose one of the workspace's members, or nobody.")


def _member_id(member_id: uuid.UUID) -> str:
    return f"{STAFF_PATH}/{member_id}"


@router.get("/staff", response_class=HTMLResponse)
async def staff_page(request: Request, session: Session, page: SignedInPage) -> Response:
    return await _staff_page(request, session, page)


@router.post("/staff", response_class=HTMLResponse)
async def add_member(request: Request, session: Session, page: AdminPage) -> Response:
    form = await request.form(max_fields=MAX_FORM_FIELDS)
    try:
        created = await Staff(session, page.tenant_id).create(schemas.StaffCreate(name=field(form, "name")))
    except ValidationError:
        return await _staff_page(request, session, page, errors=[(BAD_NAME, {})], form=entered(form), status_code=422)
    return see_other(_member_id(created.id))


@router.get("/staff/{member_id}", response_class=HTMLResponse)
async def member_page(request: Request, session: Session, page: SignedInPage, member_id: uuid.UUID) -> Response:
    return await _member_page(request, session, page, await _member(session, page, member_id))


@router.post("/staff/{member_id}", response_class=HTMLResponse)
async def rename_member(request: Request, session: Session, page: AdminPage, member_id: uuid.UUID) -> Response:
    form = await request.form(max_fields=MAX_FORM_FIELDS)
    member = await _member(session, page, member_id)
    try:
        update = schemas.StaffUpdate(name=field(form, "name"))
    except ValidationError:
        return await _refused(request, session, page, member, BAD_NAME, form, "name")
    await Staff(session, page.tenant_id).update(member_id, update)
    return see_other(_member_id(member_id))


@router.post("/staff/{member_id}/account", response_class=HTMLResponse)
async def member_account(request: Request, session: Session, page: AdminPage, member_id: uuid.UUID) -> Response:
    """Which dashboard account this person is: that account is told of every booking with them."""
    form = await request.form(max_fields=MAX_FORM_FIELDS)
    member = await _member(session, page, member_id)
    chosen = field(form, "user_id")
    try:
        update = schemas.StaffUpdate(user_id=uuid.UUID(chosen) if chosen else None)
        await Staff(session, page.tenant_id).update(member_id, update)
    except (ValueError, Unprocessable):
        return await _refused(request, session, page, member, NO_SUCH_ACCOUNT, form, "account")
    return see_other(_member_id(member_id) + "#account")


@router.post("/staff/{member_id}/services", response_class=HTMLResponse)
async def member_service(request: Request, session: Session, page: AdminPage, member_id: uuid.UUID) -> Response:
    """Add a service the member does, change their own duration and price of it, or (action=remove) drop it."""
    form = await request.form(max_fields=MAX_FORM_FIELDS)
    member = await _member(session, page, member_id)
    terms = {link.service_id: link for link in member.service_overrides}
    # A service archived since it was given to them cannot be given again (the API refuses it): saving drops it.
    current = {service.id for service in await _services(session, page)}
    services = [known for known in member.services if known in current]
    # A row of a service they do, or the form adding one.
    section = "service-row" if field(form, "form") == "service-row" else "add-service"
    try:
        service_id = uuid.UUID(field(form, "service_id"))
    except ValueError:
        return await _refused(request, session, page, member, NO_SUCH_SERVICE, form, section)
    if field(form, "action") == "remove":
        services = [known for known in services if known != service_id]
    else:
        try:
            own = schemas.ServiceOverride.model_validate(
                {
                    "service_id": service_id,
                    "duration_minutes": optional(form, "duration_minutes"),
                    "price": amount(form, "price"),
                }
            )
        except ValidationError:
            return await _refused(request, session, page, member, BAD_OWN_TERMS, form, section)
        if service_id not in services:
            services.append(service_id)
        terms[service_id] = schemas.ServiceOverrideRead.model_validate(own.model_dump())
    overrides = [
        {"service_id": known, "duration_minutes": link.duration_minutes, "price": link.price}
        for known, link in terms.items()
        if known in services and (link.duration_minutes is not None or link.price is not None)
    ]
    try:
        await Staff(session, page.tenant_id).update(
            member_id, schemas.StaffUpdate.model_validate({"services": services, "service_overrides": overrides})
        )
    except Unprocessable:
        return await _refused(request, session, page, member, NO_SUCH_SERVICE, form, section)
    return see_other(_member_id(member_id) + "#services")


@router.post("/staff/{member_id}/hours", response_class=HTMLResponse)
async def member_hours(request: Request, session: Session, page: AdminPage, member_id: uuid.UUID) -> Response:
    """The whole week at once: each weekday's start, end and breaks (a day without hours is a day off)."""
    form = await request.form(max_fields=MAX_FORM_FIELDS)
    member = await _member(session, page, member_id)
    rows = typed_rows(form)
    hours, refused = working_hours(rows)
    if refused:
        return await _member_page(
            request, session, page, member, errors=refused, form={"form": "hours"}, rows=rows, status_code=422
        )
    await Staff(session, page.tenant_id).update(member_id, schemas.StaffUpdate(working_hours=hours))
    return see_other(_member_id(member_id) + "#hours")


@router.post("/staff/{member_id}/days-off", response_class=HTMLResponse)
async def member_day_off(request: Request, session: Session, page: AdminPage, member_id: uuid.UUID) -> Response:
    """Add a day off, or (action=remove) take one back."""
    form = await request.form(max_fields=MAX_FORM_FIELDS)
    member = await _member(session, page, member_id)
    day = _date(form)
    if day is None:
        return await _refused(request, session, page, member, BAD_DATE, form, "days-off")
    if field(form, "action") == "remove":
        days_off = [known for known in member.days_off if known != day]
    elif day in member.days_off:
        return await _refused(request, session, page, member, DAY_OFF_TWICE, form, "days-off")
    else:
        days_off = sorted([*member.days_off, day])
    try:
        update = schemas.StaffUpdate(days_off=days_off)
    except ValidationError:
        return await _refused(request, session, page, member, TOO_MANY_DATES, form, "days-off")
    await Staff(session, page.tenant_id).update(member_id, update)
    return see_other(_member_id(member_id) + "#days-off")


@router.post("/staff/{member_id}/exceptions", response_class=HTMLResponse)
async def member_exception(request: Request, session: Session, page: AdminPage, member_id: uuid.UUID) -> Response:
    """A date's own hours or a day off (replacing that date's earlier change), or (action=remove) drop it."""
    form = await request.form(max_fields=MAX_FORM_FIELDS)
    member = await _member(session, page, member_id)
    day = _date(form)
    if day is None:
        return await _refused(request, session, page, member, BAD_DATE, form, "exceptions")
    others = [change for change in member.exceptions if change.date != day]
    if field(form, "action") == "remove":
        changes = others
    else:
        off = "off" in form
        try:
            change = schemas.DayException.model_validate(
                {"date": day, "off": off}
                if off
                else {"date": day, "start": optional(form, "start"), "end": optional(form, "end")}
            )
        except ValidationError:
            return await _refused(request, session, page, member, BAD_CHANGE, form, "exceptions")
        changes = sorted([*others, change], key=lambda known: known.date)
    try:
        update = schemas.StaffUpdate(exceptions=changes)
    except ValidationError:
        return await _refused(request, session, page, member, TOO_MANY_DATES, form, "exceptions")
    await Staff(session, page.tenant_id).update(member_id, update)
    return see_other(_member_id(member_id) + "#exceptions")


@router.post("/staff/{member_id}/delete")
async def remove_member(request: Request, session: Session, page: AdminPage, member_id: uuid.UUID) -> Response:
    try:
        await Staff(session, page.tenant_id).delete(member_id)
    except NotFound:
        raise not_found(NO_SUCH_MEMBER) from None
    return see_other(STAFF_PATH)


def _date(form: FormData) -> date | None:
    try:
        return date.fromisoformat(field(form, "date"))
    except ValueError:
        return None


async def _member(session: Session, page: SignedIn, member_id: uuid.UUID) -> schemas.StaffRead:
    try:
        return await Staff(session, page.tenant_id).get(member_id)
    except NotFound:
        raise not_found(NO_SUCH_MEMBER) from None


async def _refused(
    request: Request,
    session: Session,
    page: SignedIn,
    member: schemas.StaffRead,
    message: str,
    form: FormData,
    section: str,
) -> Response:
    """The member's page again, the message and what was typed shown in the `section` whose form was sent."""
    typed = entered(form) | {"form": section}
    return await _member_page(request, session, page, member, errors=[(message, {})], form=typed, status_code=422)


async def _services(session: Session, page: SignedIn) -> list[schemas.ServiceRead]:
    services, _ = await Services(session, page.tenant_id).page(
        query=None, category=None, archived=False, limit=MAX_LISTED, offset=0
    )
    return services


async def _staff_page(
    request: Request,
    session: Session,
    page: SignedIn,
    *,
    errors: list[Message] | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    members, total = await Staff(session, page.tenant_id).page(query=None, limit=MAX_LISTED, offset=0)
    context = {
        "members": members,
        "total": total,
        "rows": {member.id: rows_of(member.working_hours) for member in members},
        "service_names": {service.id: service.name for service in await _services(session, page)},
        "admin": page.role.at_least(Role.admin),
        "errors": errors or [],
        "entered": form or {},
    }
    return render(request, "catalogue/staff.html", context, status_code=status_code, page=page)


async def _member_page(
    request: Request,
    session: Session,
    page: SignedIn,
    member: schemas.StaffRead,
    *,
    errors: list[Message] | None = None,
    form: dict[str, Any] | None = None,
    rows: list[DayRow] | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    services = await _services(session, page)
    terms = {link.service_id: link for link in member.service_overrides}
    known = {service.id: service for service in services}
    archived, _ = await Services(session, page.tenant_id).page(
        query=None, category=None, archived=True, limit=MAX_LISTED, offset=0
    )
    context = {
        "member": member,
        "does": [(known[service_id], terms.get(service_id)) for service_id in member.services if service_id in known],
        "archived": [service for service in archived if service.id in member.services],
        "others": [service for service in services if service.id not in member.services],
        "rows": rows if rows is not None else rows_of(member.working_hours),
        "people": await members(session, page),
        "admin": page.role.at_least(Role.admin),
        "errors": errors or [],
        "entered": form or {},
    }
    return render(request, "catalogue/member.html", context, status_code=status_code, page=page)
