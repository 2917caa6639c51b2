"""HTTP routes of the catalogue: services, staff, resources and products."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Query, Request, UploadFile, status

from easyflow.catalogue import schemas
from easyflow.catalogue.importing import CatalogueImport, Kind
from easyflow.catalogue.products import Products
from easyflow.catalogue.services import Services
from easyflow.catalogue.staff import Resources, Staff
from easyflow.config import Settings
from easyflow.kit.errors import PayloadTooLarge
from easyflow.kit.schemas import Limit, Offset, Page, QueryText
from easyflow.tenancy.auth import Admin, Session, Viewer

router = APIRouter(prefix="/api/v1", tags=["catalogue"])
UPLOAD_PATHS = ("/api/v1/services/import", "/api/v1/products/import")
DryRun = Annotated[
    bool, Query(description="Report what would be created and updated, and the bad rows; write nothing.")
]
PriceList = Annotated[UploadFile, File(description="A CSV (UTF-8 or Windows-1251, `;` or `,`) or an XLSX workbook.")]


async def _import(
    request: Request, kind: Kind, file: UploadFile, tenant_id: uuid.UUID, session: Session, dry_run: bool
) -> schemas.ImportReport:
    settings: Settings = request.app.state.settings
    limit = settings.catalogue_import_max_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"The file is larger than the import limit of {limit:,} bytes.")
    return await CatalogueImport(session, tenant_id).run(kind, data, file.filename or "file", dry_run=dry_run)


@router.post("/services/import")
async def import_services(
    request: Request, file: PriceList, principal: Admin, session: Session, dry_run: DryRun = False
) -> schemas.ImportReport:
    """Import services from a price list: a row whose «Название»/name matches a current service (in any case)
    updates it, the others create services. Columns in Russian or English: «Название»/name,
    «Категория»/category, «Описание»/description, «Длительность»/duration_minutes (60, «1 ч 30 мин», 1:30),
    «Цена»/price («1 500,50», «от 1 500», «1 500 – 3 000»), «Цена от»/price_from, «Цена до»/price_to,
    «Перерыв»/buffer_after_minutes, «Онлайн-запись»/online_bookable (да/нет). Bad rows are listed with their
    numbers and skipped; empty cells leave stored values as they are."""
    return await _import(request, "services", file, principal.tenant_id, session, dry_run)


@router.post("/products/import")
async def import_products(
    request: Request, file: PriceList, principal: Admin, session: Session, dry_run: DryRun = False
) -> schemas.ImportReport:
    """Import products from a price list, matched by name as services are. Columns: «Название»/name,
    «Описание»/description, «Цена»/price, «Валюта»/currency (RUB, ₽, сом, KZT...), «Остаток»/stock,
    «Фото»/pictures (addresses separated by spaces); any other column becomes an attribute («Цвет», «Объём»)."""
    return await _import(request, "products", file, principal.tenant_id, session, dry_run)


@router.get("/services")
async def list_services(
    principal: Viewer,
    session: Session,
    q: Annotated[QueryText, Query(max_length=200, description="In the name.")] = "",
    category: Annotated[QueryText, Query(max_length=100)] = "",
    archived: Annotated[bool, Query(description="The archived services instead of the current ones.")] = False,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[schemas.ServiceRead]:
    """The services, by name."""
    items, total = await Services(session, principal.tenant_id).page(
        query=q.strip() or None, category=category.strip() or None, archived=archived, limit=limit, offset=offset
    )
    return Page(items=items, total=total)


@router.post("/services", status_code=status.HTTP_201_CREATED)
async def create_service(body: schemas.ServiceCreate, principal: Admin, session: Session) -> schemas.ServiceRead:
    return await Services(session, principal.tenant_id).create(body)


@router.get("/services/{service_id}")
async def get_service(service_id: uuid.UUID, principal: Viewer, session: Session) -> schemas.ServiceRead:
    """A service, archived ones included (appointments still name them)."""
    return await Services(session, principal.tenant_id).get(service_id)


@router.patch("/services/{service_id}")
async def update_service(
    service_id: uuid.UUID, body: schemas.ServiceUpdate, principal: Admin, session: Session
) -> schemas.ServiceRead:
    return await Services(session, principal.tenant_id).update(service_id, body)


@router.delete("/services/{service_id}", status_code=status.HTTP_204_NO_CONTENT)
async def archive_service(service_id: uuid.UUID, principal: Admin, session: Session) -> None:
    """Archive the service: it leaves the list and cannot be booked, but stays readable by its id."""
    await Services(session, principal.tenant_id).archive(service_id)


@router.get("/staff")
async def list_staff(
    principal: Viewer,
    session: Session,
    q: Annotated[QueryText, Query(max_length=200, description="In the name.")] = "",
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[schemas.StaffRead]:
    """Staff by name, with their services and hours."""
    items, total = await Staff(session, principal.tenant_id).page(query=q.strip() or None, limit=limit, offset=offset)
    return Page(items=items, total=total)


@router.post("/staff", status_code=status.HTTP_201_CREATED)
async def create_staff(body: schemas.StaffCreate, principal: Admin, session: Session) -> schemas.StaffRead:
    """A member of staff. Hours are local wall-clock times in the workspace's time zone (its `timezone`);
    `services` must be current services of this workspace (422 naming the others)."""
    return await Staff(session, principal.tenant_id).create(body)


@router.get("/staff/{staff_id}")
async def get_staff(staff_id: uuid.UUID, principal: Viewer, session: Session) -> schemas.StaffRead:
    return await Staff(session, principal.tenant_id).get(staff_id)


@router.patch("/staff/{staff_id}")
async def update_staff(
    staff_id: uuid.UUID, body: schemas.StaffUpdate, principal: Admin, session: Session
) -> schemas.StaffRead:
    return await Staff(session, principal.tenant_id).update(staff_id, body)


@router.delete("/staff/{staff_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_staff(staff_id: uuid.UUID, principal: Admin, session: Session) -> None:
    await Staff(session, principal.tenant_id).delete(staff_id)


@router.get("/resources")
async def list_resources(
    principal: Viewer, session: Session, limit: Limit = 50, offset: Offset = 0
) -> Page[schemas.ResourceRead]:
    items, total = await Resources(session, principal.tenant_id).page(limit=limit, offset=offset)
    return Page(items=items, total=total)


@router.post("/resources", status_code=status.HTTP_201_CREATED)
async def create_resource(body: schemas.ResourceCreate, principal: Admin, session: Session) -> schemas.ResourceRead:
    """A chair, a room: something only one appointment at a time can hold, and the services that need it."""
    return await Resources(session, principal.tenant_id).create(body)


@router.get("/resources/{resource_id}")
async def get_resource(resource_id: uuid.UUID, principal: Viewer, session: Session) -> schemas.ResourceRead:
    return await Resources(session, principal.tenant_id).get(resource_id)


@router.patch("/resources/{resource_id}")
async def update_resource(
    resource_id: uuid.UUID, body: schemas.ResourceUpdate, principal: Admin, session: Session
) -> schemas.ResourceRead:
    return await Resources(session, principal.tenant_id).update(resource_id, body)


@router.delete("/resources/{resource_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_resource(resource_id: uuid.UUID, principal: Admin, session: Session) -> None:
    await Resources(session, principal.tenant_id).delete(resource_id)


@router.get("/products")
async def list_products(
    principal: Viewer,
    session: Session,
    q: Annotated[
        QueryText, Query(max_length=200, description="Words of the name or description, in any form (Russian too).")
    ] = "",
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[schemas.ProductRead]:
    """Products by name, or the best matches of `q` first."""
    items, total = await Products(session, principal.tenant_id).page(
        query=q.strip() or None, limit=limit, offset=offset
    )
    return Page(items=items, total=total)


@router.post("/products", status_code=status.HTTP_201_CREATED)
async def create_product(body: schemas.ProductCreate, principal: Admin, session: Session) -> schemas.ProductRead:
    """A product; a tour is a product with `dates` (each departure's start, end and seats)."""
    return await Products(session, principal.tenant_id).create(body)


@router.get("/products/{product_id}")
async def get_product(product_id: uuid.UUID, principal: Viewer, session: Session) -> schemas.ProductRead:
    return await Products(session, principal.tenant_id).get(product_id)


@router.patch("/products/{product_id}")
async def update_product(
    product_id: uuid.UUID, body: schemas.ProductUpdate, principal: Admin, session: Session
) -> schemas.ProductRead:
    return await Products(session, principal.tenant_id).update(product_id, body)


@router.delete("/products/{product_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_product(product_id: uuid.UUID, principal: Admin, session: Session) -> None:
    await Products(session, principal.tenant_id).delete(product_id)
