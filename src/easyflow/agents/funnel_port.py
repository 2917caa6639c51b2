"""The port through which the reply pipeline reaches the sales funnel: the customer's deal for the assistant's
instructions, and the tools that let the model work the deal. The agents own this interface; the CRM
implements it and registers itself (`register_funnel`), so neither the pipeline nor the agents import the CRM."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.agents.answers import DealContext, FunnelTools

if TYPE_CHECKING:
    from easyflow.db.database import Database


class FunnelPort(Protocol):
    async def deal_context(
        self, session: AsyncSession, tenant_id: uuid.UUID, conversation_id: uuid.UUID, contact_id: uuid.UUID
    ) -> DealContext | None: ...

    def tools(
        self, database: Database, tenant_id: uuid.UUID, conversation_id: uuid.UUID, assistant_id: uuid.UUID
    ) -> FunnelTools: ...


_FUNNEL: list[FunnelPort] = []


def register_funnel(port: FunnelPort) -> None:
    _FUNNEL[:] = [port]


def funnel() -> FunnelPort | None:
    return _FUNNEL[0] if _FUNNEL else None
