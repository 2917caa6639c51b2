"""The port through which the reply pipeline reaches the business's catalogue: the products the model may search
and the prices the offline answerer quotes. The agents own this interface; the catalogue implements it and
registers itself (`register_catalogue`), so neither the pipeline nor the agents import the catalogue."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Protocol

from easyflow.agents.answers import CatalogueTools

if TYPE_CHECKING:
    from easyflow.db.database import Database


class CataloguePort(Protocol):
    def tools(self, database: Database, tenant_id: uuid.UUID) -> CatalogueTools: ...


_CATALOGUE: list[CataloguePort] = []


def register_catalogue(port: CataloguePort) -> None:
    _CATALOGUE[:] = [port]


def catalogue() -> CataloguePort | None:
    return _CATALOGUE[0] if _CATALOGUE else None
