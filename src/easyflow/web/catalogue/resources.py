"""The Resources page: the chairs and rooms only one appointment at a time can hold, and the services that
need each one."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from easyflow.catalogue import schemas
from easyflow.catalogue.services import Services
from easyflow.catalogue.staff import Resources
from easyflow.kit.errors import NotFound, Unprocessable
from easyflow.models.tenancy import Role
from easyflow.tenancy.auth import Session
from easyflow.web.catalogue.forms import MAX_FORM_FIELDS, Message, entered, field, not_found
from easyflow.web.page import N_, AdminPage, SignedIn, SignedInPage, render, see_other

router = APIRouter()

RESOURCES_PATH = "/app/resources"
MAX_LISTED = 500
NO_SUCH_RESOURCE = N_("There is no such resource in your workspace.")
BAD_NAME = N_("Give a name of 1 to 200 characters.")
NO_SUCH_SERVICE = N_("Choose services from the list: one of them is no longer offered.")


def _body(form: FormData) -> dict[str, Any]:
    return {
        "name": field(form, "name"),
        "services": [value for value in form.getlist("services") if isinstance(value, str)],
    }


@router.get("/resources", response_class=HTMLResponse)
async def resources_page(request: Request, session: Session, page: SignedInPage) -> Response:
    return await _resources_page(request, session, page)


@router.post("/resources", response_class=HTMLResponse)
async def add_resource(request: Request, session: Session, page: AdminPage) -> Response:
    form = await request.form(max_fields=MAX_FORM_FIELDS)
    try:
        await Resources(session, page.tenant_id).create(schemas.ResourceCreate.model_validate(_body(form)))
    except (ValidationError, Unprocessable) as refused:
        return await _resources_page(request, session, page, errors=_why(refused), form=form, status_code=422)
    return see_other(RESOURCES_PATH)


@router.post("/resources/{resource_id}", response_class=HTMLResponse)
async def change_resource(request: Request, session: Session, page: AdminPage, resource_id: uuid.UUID) -> Response:
    """The form's name and services are the resource's new ones (no service ticked: none needs it)."""
    form = await request.form(max_fields=MAX_FORM_FIELDS)
    try:
        body = schemas.ResourceUpdate.model_validate(_body(form))
        # Refused here, before `update` renames the resource: a refused form must change nothing, and the
        # request's transaction commits when the page answers.
        if set(body.services or ()) - {service.id for service in await _current_services(session, page)}:
            raise Unprocessable("no such services")
        await Resources(session, page.tenant_id).update(resource_id, body)
    except NotFound:
        raise not_found(NO_SUCH_RESOURCE) from None
    except (ValidationError, Unprocessable) as refused:
        return await _resources_page(
            request, session, page, errors=_why(refused), form=form, changing=resource_id, status_code=422
        )
    return see_other(RESOURCES_PATH)


@router.post("/resources/{resource_id}/delete")
async def remove_resource(request: Request, session: Session, page: AdminPage, resource_id: uuid.UUID) -> Response:
    try:
        await Resources(session, page.tenant_id).delete(resource_id)
    except NotFound:
        raise not_found(NO_SUCH_RESOURCE) from None
    return see_other(RESOURCES_PATH)


def _why(refused: ValidationError | Unprocessable) -> list[Message]:
    if isinstance(refused, ValidationError) and any(detail["loc"][:1] == ("name",) for detail in refused.errors()):
        return [(BAD_NAME, {})]
    return [(NO_SUCH_SERVICE, {})]


async def _current_services(session: Session, page: SignedIn) -> list[schemas.ServiceRead]:
    services, _ = await Services(session, page.tenant_id).page(
        query=None, category=None, archived=False, limit=MAX_LISTED, offset=0
    )
    return services


async def _resources_page(
    request: Request,
    session: Session,
    page: SignedIn,
    *,
    errors: list[Message] | None = None,
    form: FormData | None = None,
    changing: uuid.UUID | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    resources, total = await Resources(session, page.tenant_id).page(limit=MAX_LISTED, offset=0)
    services = await _current_services(session, page)
    typed = {**entered(form), "services": _body(form)["services"]} if form is not None else None
    context = {
        "resources": resources,
        "total": total,
        "services": services,
        "service_names": {service.id: service.name for service in services},
        "admin": page.role.at_least(Role.admin),
        "errors": errors or [],
        # What was typed goes back into the form it came from: a resource's, or the new one's.
        "changing": changing,
        "entered": typed if typed is not None else {"services": []},
    }
    return render(request, "catalogue/resources.html", context, status_code=status_code, page=page)
