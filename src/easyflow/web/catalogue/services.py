"""The Services pages: the services by category, a form to add one, each one's page to change or archive it."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from easyflow.catalogue import schemas
from easyflow.catalogue.services import Services
from easyflow.kit.errors import NotFound, Unprocessable
from easyflow.models.tenancy import Role
from easyflow.tenancy.auth import Session
from easyflow.web.catalogue.forms import MAX_FORM_FIELDS, Message, amount, entered, field, not_found, optional, problems
from easyflow.web.page import N_, AdminPage, SignedIn, SignedInPage, render, see_other

router = APIRouter()

SERVICES_PATH = "/app/services"
MAX_LISTED = 500
NO_SUCH_SERVICE = N_("There is no such service in your workspace.")
FIELD_PROBLEMS = {
    "category": N_("The category is at most 100 characters."),
    "name": N_("Give the service a name of 1 to 200 characters."),
    "description": N_("The description is at most 4000 characters."),
    "duration_minutes": N_("The duration is a whole number of minutes from 5 to 1440."),
    "price": N_("The price is a sum of money, such as 1500 or 1500.50."),
    "price_from": N_("The lowest price is a sum of money, such as 1500."),
    "price_to": N_("The highest price is a sum of money, such as 3000."),
    "buffer_after_minutes": N_("The break after the service is a whole number of minutes from 0 to 1440."),
}
PRICE_PROBLEM = N_("Give either a fixed price or a range from–to (the lowest not above the highest), not both.")


def _body(form: FormData) -> dict[str, Any]:
    """The form as the API's body: every field is the service's new value (an empty price clears it)."""
    return {
        "category": field(form, "category"),
        "name": field(form, "name"),
        "description": field(form, "description"),
        # Empty is refused by the schema as not a number, with the duration's own message.
        "duration_minutes": field(form, "duration_minutes"),
        "price": amount(form, "price"),
        "price_from": amount(form, "price_from"),
        "price_to": amount(form, "price_to"),
        "buffer_after_minutes": optional(form, "buffer_after_minutes") or 0,
        "online_bookable": "online_bookable" in form,
    }


def _refused(error: ValidationError | Unprocessable) -> list[Message]:
    if isinstance(error, Unprocessable):
        return [(PRICE_PROBLEM, {})]
    return problems(error, FIELD_PROBLEMS, PRICE_PROBLEM)


@router.get("/services", response_class=HTMLResponse)
async def services_page(request: Request, session: Session, page: SignedInPage) -> Response:
    return await _services_page(request, session, page)


@router.post("/services", response_class=HTMLResponse)
async def add_service(request: Request, session: Session, page: AdminPage) -> Response:
    form = await request.form(max_fields=MAX_FORM_FIELDS)
    try:
        created = await Services(session, page.tenant_id).create(schemas.ServiceCreate.model_validate(_body(form)))
    except ValidationError as refused:
        return await _services_page(
            request, session, page, errors=_refused(refused), form=entered(form), status_code=422
        )
    return see_other(f"{SERVICES_PATH}#service-{created.id}")


@router.get("/services/{service_id}", response_class=HTMLResponse)
async def service_page(request: Request, session: Session, page: SignedInPage, service_id: uuid.UUID) -> Response:
    try:
        service = await Services(session, page.tenant_id).get(service_id)
    except NotFound:
        raise not_found(NO_SUCH_SERVICE) from None
    return _service_page(request, page, service, values=service)


@router.post("/services/{service_id}", response_class=HTMLResponse)
async def change_service(request: Request, session: Session, page: AdminPage, service_id: uuid.UUID) -> Response:
    form = await request.form(max_fields=MAX_FORM_FIELDS)
    catalogue = Services(session, page.tenant_id)
    try:
        await catalogue.update(service_id, schemas.ServiceUpdate.model_validate(_body(form)))
    except NotFound:
        raise not_found(NO_SUCH_SERVICE) from None
    except (ValidationError, Unprocessable) as refused:
        try:
            service = await catalogue.get(service_id)
        except NotFound:
            raise not_found(NO_SUCH_SERVICE) from None
        return _service_page(request, page, service, values=entered(form), errors=_refused(refused), status_code=422)
    return see_other(f"{SERVICES_PATH}#service-{service_id}")


@router.post("/services/{service_id}/archive")
async def archive_service(request: Request, session: Session, page: AdminPage, service_id: uuid.UUID) -> Response:
    try:
        await Services(session, page.tenant_id).archive(service_id)
    except NotFound:
        raise not_found(NO_SUCH_SERVICE) from None
    return see_other(SERVICES_PATH)


async def _services_page(
    request: Request,
    session: Session,
    page: SignedIn,
    *,
    errors: list[Message] | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    catalogue = Services(session, page.tenant_id)
    current, total = await catalogue.page(query=None, category=None, archived=False, limit=MAX_LISTED, offset=0)
    archived, _ = await catalogue.page(query=None, category=None, archived=True, limit=MAX_LISTED, offset=0)
    by_category = sorted(current, key=lambda service: (service.category.casefold(), service.name.casefold()))
    context = {
        "categories": [
            (category, list(services))
            for category, services in itertools.groupby(by_category, key=lambda service: service.category)
        ],
        "total": total,
        "archived": archived,
        "admin": page.role.at_least(Role.admin),
        "errors": errors or [],
        "entered": form if form is not None else {"online_bookable": "on", "buffer_after_minutes": "0"},
    }
    return render(request, "catalogue/services.html", context, status_code=status_code, page=page)


def _service_page(
    request: Request,
    page: SignedIn,
    service: schemas.ServiceRead,
    *,
    values: Any,
    errors: list[Message] | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    context = {"service": service, "values": values, "admin": page.role.at_least(Role.admin), "errors": errors or []}
    return render(request, "catalogue/service.html", context, status_code=status_code, page=page)
