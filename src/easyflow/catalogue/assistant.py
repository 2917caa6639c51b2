"""The assistant reads the catalogue: the model searches products (by name, description and attributes, in any
Russian word form) and cites what it finds; the offline answerer quotes the prices of products and services.
Each call is its own short read-only transaction in the tenant's scope."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from easyflow.agents.answers import PricedItem
from easyflow.agents.catalogue_port import register_catalogue
from easyflow.catalogue.products import Products
from easyflow.catalogue.repository import ProductRepository, ServiceRepository
from easyflow.catalogue.schemas import ProductRead
from easyflow.db.database import Database

FOUND_PRODUCTS = 5
DESCRIPTION_CHARS = 300
MAX_QUERY_CHARS = 200
# Services carry no currency of their own; without products to tell the business's, roubles.
DEFAULT_CURRENCY = "RUB"


def _cited(product: ProductRead) -> dict[str, Any]:
    """A product as the model is shown it: enough to answer and to name it exactly."""
    return {
        "id": str(product.id),
        "name": product.name,
        "price": str(product.price),
        "currency": product.currency,
        "stock": "not tracked" if product.stock is None else product.stock,
        "description": product.description[:DESCRIPTION_CHARS],
        "attributes": product.attributes,
        "variants": [
            {
                "name": variant.name,
                "price": str(product.price if variant.price is None else variant.price),
                "stock": variant.stock,
            }
            for variant in product.variants
        ],
        "picture": product.pictures[0] if product.pictures else None,
        "dates": [{"start": str(d.start), "end": str(d.end), "seats": d.seats} for d in product.dates[:10]],
    }


class AssistantCatalogue:
    """The catalogue's side of the agents' catalogue port."""

    def tools(self, database: Database, tenant_id: uuid.UUID) -> TenantCatalogueTools:
        return TenantCatalogueTools(database, tenant_id)


@dataclass(frozen=True)
class TenantCatalogueTools:
    database: Database
    tenant_id: uuid.UUID

    async def search_products(self, query: str) -> list[dict[str, Any]]:
        words = query.replace("\x00", "").strip()[:MAX_QUERY_CHARS]
        if not words:
            return []
        async with self.database.tenant_transaction(self.tenant_id) as session:
            found, _ = await Products(session, self.tenant_id).page(query=words, limit=FOUND_PRODUCTS, offset=0)
        return [_cited(product) for product in found]

    async def priced(self, query: str, limit: int) -> list[PricedItem]:
        """The products, then the services, whose names match `query` best, with their prices (names only: a
        price quoted for a product merely mentioned in another's description would be a wrong answer)."""
        words = query.replace("\x00", "").strip()[:MAX_QUERY_CHARS]
        if not words:
            return []
        async with self.database.tenant_transaction(self.tenant_id) as session:
            products = await ProductRepository(session, self.tenant_id).named_like(words, limit)
            services = await ServiceRepository(session, self.tenant_id).named_like(words, limit)
            currency = await ProductRepository(session, self.tenant_id).usual_currency() or DEFAULT_CURRENCY
        items = [PricedItem(p.name, p.price, None, None, p.currency, p.stock) for p in products]
        items += [PricedItem(s.name, s.price, s.price_from, s.price_to, currency) for s in services]
        return items[:limit]


register_catalogue(AssistantCatalogue())
