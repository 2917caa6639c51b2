"""The Products pages: the products with a search, a form to add one, and each one's page to change all of it
(variants, attributes, pictures by address, a tour's dates and seats) or remove it. The lists are written a line
an item, which a phone's keyboard and a screen reader handle as well as a mouse."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from easyflow.catalogue import schemas
from easyflow.catalogue.products import Products
from easyflow.kit.errors import NotFound
from easyflow.models.tenancy import Role
from easyflow.tenancy.auth import Session
from easyflow.web.catalogue.forms import (
    MAX_FORM_FIELDS,
    SPACES,
    Message,
    amount,
    entered,
    field,
    not_found,
    optional,
    problems,
)
from easyflow.web.page import N_, AdminPage, SignedIn, SignedInPage, render, see_other

router = APIRouter()

PRODUCTS_PATH = "/app/products"
PAGE_SIZE = 50
MAX_QUERY = 200
NO_SUCH_PRODUCT = N_("There is no such product in your workspace.")
FIELD_PROBLEMS = {
    "name": N_("Give the product a name of 1 to 200 characters."),
    "description": N_("The description is at most 4000 characters."),
    "price": N_("The price is a sum of money, such as 1500 or 1500.50."),
    "currency": N_("Choose a currency from the list."),
    "stock": N_("The stock is a whole number from 0, or empty when it is not counted."),
    "attributes": N_("At most 50 attributes, each name up to 64 characters and each value up to 500."),
    "pictures": N_("At most 20 pictures, each an address starting with http:// or https://."),
    "variants": N_("At most 100 variants, each with a name; a price is a sum and a stock a whole number from 0."),
    "dates": N_("At most 500 dates; each ends on or after its start and has 0 to 100000 seats."),
}
SOMETHING_ELSE = N_("Check the product's fields.")
BAD_ATTRIBUTE = N_("Attributes, line %(line)d: write it as name: value.")
BAD_VARIANT = N_("Variants, line %(line)d: write it as name | price | stock (price and stock may be left out).")
BAD_DATE = N_("Dates, line %(line)d: write it as 2027-06-01 | 2027-06-07 | 12 (start, end, seats).")
CURRENCIES = ("RUB", "KGS", "KZT", "USD", "EUR")
WHOLE = re.compile(r"^(0|[1-9]\d{0,9})$")
TRUTH = {"true": True, "false": False}


def _lines(form: FormData, name: str) -> list[tuple[int, str]]:
    return [(number, line.strip()) for number, line in enumerate(field(form, name).splitlines(), 1) if line.strip()]


def _parts(line: str) -> list[str]:
    return [part.strip() for part in line.split("|")]


def _sum(text: str) -> str | None:
    return SPACES.sub("", text).replace(",", ".") or None


def _attributes(form: FormData, problems: list[Message]) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    for number, line in _lines(form, "attributes"):
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            problems.append((BAD_ATTRIBUTE, {"line": number}))
            continue
        value = value.strip()
        # Whole numbers and yes/no as the API keeps them, so a product made through it is saved back unchanged.
        attributes[name.strip()] = int(value) if WHOLE.match(value) else TRUTH.get(value, value)
    return attributes


def _variants(form: FormData, problems: list[Message], before: list[schemas.VariantRead]) -> list[dict[str, Any]]:
    """The variants typed; a variant kept by its name keeps its attributes (the form has no place for them)."""
    attributes = {variant.name: variant.attributes for variant in before}
    variants = []
    for number, line in _lines(form, "variants"):
        parts = _parts(line)
        if len(parts) > 3 or not parts[0]:
            problems.append((BAD_VARIANT, {"line": number}))
            continue
        name, price, stock = [*parts, "", ""][:3]
        variants.append(
            {"name": name, "price": _sum(price), "stock": stock or None, "attributes": attributes.get(name, {})}
        )
    return variants


def _dates(form: FormData, problems: list[Message]) -> list[dict[str, Any]]:
    dates = []
    for number, line in _lines(form, "dates"):
        parts = _parts(line)
        if len(parts) != 3 or not all(parts):
            problems.append((BAD_DATE, {"line": number}))
            continue
        dates.append({"start": parts[0], "end": parts[1], "seats": parts[2]})
    return dates


def _body(form: FormData, before: schemas.ProductRead | None) -> tuple[dict[str, Any], list[Message]]:
    """The form as the API's body (every field the product's new value), and the lines that could not be read."""
    lines: list[Message] = []
    body: dict[str, Any] = {
        "name": field(form, "name"),
        "description": field(form, "description"),
        "price": amount(form, "price"),
        "currency": field(form, "currency") or "RUB",
        "stock": optional(form, "stock"),
    }
    if before is not None:
        body["attributes"] = _attributes(form, lines)
        body["pictures"] = [line for _, line in _lines(form, "pictures")]
        body["variants"] = _variants(form, lines, before.variants)
        body["dates"] = _dates(form, lines)
    return body, lines


@router.get("/products", response_class=HTMLResponse)
async def products_page(
    request: Request,
    session: Session,
    page: SignedInPage,
    q: str = "",
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    """By name, or the best matches of `q` first (a longer query is cut, not refused)."""
    # Control characters (a NUL above all, which PostgreSQL refuses in text) are no part of any product's words.
    query = "".join(character for character in q[:MAX_QUERY] if character.isprintable())
    return await _products_page(request, session, page, query=query, offset=offset)


@router.post("/products", response_class=HTMLResponse)
async def add_product(request: Request, session: Session, page: AdminPage) -> Response:
    form = await request.form(max_fields=MAX_FORM_FIELDS)
    body, _ = _body(form, None)
    try:
        created = await Products(session, page.tenant_id).create(schemas.ProductCreate.model_validate(body))
    except ValidationError as refused:
        return await _products_page(
            request,
            session,
            page,
            errors=problems(refused, FIELD_PROBLEMS, SOMETHING_ELSE),
            form=entered(form),
            status_code=422,
        )
    return see_other(f"{PRODUCTS_PATH}/{created.id}")


@router.get("/products/{product_id}", response_class=HTMLResponse)
async def product_page(request: Request, session: Session, page: SignedInPage, product_id: uuid.UUID) -> Response:
    product = await _product(session, page, product_id)
    return _product_page(request, page, product, values=_shown(product))


@router.post("/products/{product_id}", response_class=HTMLResponse)
async def change_product(request: Request, session: Session, page: AdminPage, product_id: uuid.UUID) -> Response:
    form = await request.form(max_fields=MAX_FORM_FIELDS)
    product = await _product(session, page, product_id)
    body, unreadable = _body(form, product)
    if unreadable:
        return _product_page(request, page, product, values=entered(form), errors=unreadable, status_code=422)
    try:
        await Products(session, page.tenant_id).update(product_id, schemas.ProductUpdate.model_validate(body))
    except ValidationError as refused:
        errors = problems(refused, FIELD_PROBLEMS, SOMETHING_ELSE)
        return _product_page(request, page, product, values=entered(form), errors=errors, status_code=422)
    return see_other(f"{PRODUCTS_PATH}/{product_id}")


@router.post("/products/{product_id}/delete")
async def remove_product(request: Request, session: Session, page: AdminPage, product_id: uuid.UUID) -> Response:
    try:
        await Products(session, page.tenant_id).delete(product_id)
    except NotFound:
        raise not_found(NO_SUCH_PRODUCT) from None
    return see_other(PRODUCTS_PATH)


async def _product(session: Session, page: SignedIn, product_id: uuid.UUID) -> schemas.ProductRead:
    try:
        return await Products(session, page.tenant_id).get(product_id)
    except NotFound:
        raise not_found(NO_SUCH_PRODUCT) from None


def _shown(product: schemas.ProductRead) -> dict[str, Any]:
    """The product as the form's fields, its lists a line an item."""

    def value(attribute: Any) -> str:
        return str(attribute).lower() if isinstance(attribute, bool) else str(attribute)

    def blank(amount: Any) -> str:
        return "" if amount is None else str(amount)

    return {
        "name": product.name,
        "description": product.description,
        "price": str(product.price),
        "currency": product.currency,
        "stock": blank(product.stock),
        "attributes": "\n".join(f"{name}: {value(attribute)}" for name, attribute in product.attributes.items()),
        "pictures": "\n".join(product.pictures),
        "variants": "\n".join(
            " | ".join([variant.name, blank(variant.price), blank(variant.stock)]).rstrip(" |")
            for variant in product.variants
        ),
        "dates": "\n".join(f"{tour.start} | {tour.end} | {tour.seats}" for tour in product.dates),
    }


async def _products_page(
    request: Request,
    session: Session,
    page: SignedIn,
    *,
    query: str = "",
    offset: int = 0,
    errors: list[Message] | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    products, total = await Products(session, page.tenant_id).page(
        query=query.strip() or None, limit=PAGE_SIZE, offset=offset
    )
    context = {
        "products": products,
        "total": total,
        "query": query,
        "offset": offset,
        "page_size": PAGE_SIZE,
        "currencies": CURRENCIES,
        "admin": page.role.at_least(Role.admin),
        "errors": errors or [],
        "entered": form if form is not None else {"currency": "RUB"},
    }
    return render(request, "catalogue/products.html", context, status_code=status_code, page=page)


def _product_page(
    request: Request,
    page: SignedIn,
    product: schemas.ProductRead,
    *,
    values: dict[str, Any],
    errors: list[Message] | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    context = {
        "product": product,
        "values": values,
        "currencies": CURRENCIES,
        "admin": page.role.at_least(Role.admin),
        "errors": errors or [],
    }
    return render(request, "catalogue/product.html", context, status_code=status_code, page=page)
