"""Products (and tours: products with dates): create, change, search, remove."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.catalogue import schemas
from easyflow.catalogue.repository import ProductRepository
from easyflow.kit.errors import NotFound, Unprocessable
from easyflow.models.catalogue import Product

REQUIRED = ("name", "description", "price", "currency", "attributes", "pictures", "variants", "dates")


def read_product(product: Product) -> schemas.ProductRead:
    return schemas.ProductRead.model_validate(product)


class Products:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.products = ProductRepository(session, tenant_id)

    async def page(self, *, query: str | None, limit: int, offset: int) -> tuple[list[schemas.ProductRead], int]:
        rows, total = await self.products.page(query=query, limit=limit, offset=offset)
        return [read_product(row) for row in rows], total

    async def get(self, product_id: uuid.UUID) -> schemas.ProductRead:
        return read_product(await self._product(product_id))

    async def create(self, body: schemas.ProductCreate) -> schemas.ProductRead:
        product = await self.products.add(Product(**body.model_dump(mode="json")))
        await self.session.refresh(product)
        return read_product(product)

    async def update(self, product_id: uuid.UUID, body: schemas.ProductUpdate) -> schemas.ProductRead:
        product = await self._product(product_id)
        changes = body.model_dump(mode="json", exclude_unset=True)
        for field in REQUIRED:
            if field in changes and changes[field] is None:
                raise Unprocessable(f"{field} cannot be null")
        for field, value in changes.items():
            setattr(product, field, value)
        await self.session.flush()
        await self.session.refresh(product)
        return read_product(product)

    async def delete(self, product_id: uuid.UUID) -> None:
        await self.products.delete(await self._product(product_id))

    async def _product(self, product_id: uuid.UUID) -> Product:
        product = await self.products.get(product_id)
        if product is None:
            raise NotFound("no such product")
        return product
