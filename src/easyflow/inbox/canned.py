"""Canned responses: replies operators insert by a short code, unique per tenant (any case)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.inbox import schemas
from easyflow.inbox.repository import CannedResponseRepository
from easyflow.kit.errors import Conflict, NotFound
from easyflow.models.inbox import CannedResponse


class CannedResponses:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.responses = CannedResponseRepository(session, tenant_id)

    async def find(self, prefix: str, *, limit: int, offset: int) -> list[CannedResponse]:
        return list(await self.responses.by_prefix(prefix, limit=limit, offset=offset))

    async def create(self, body: schemas.CannedResponseCreate) -> CannedResponse:
        await self._code_is_free(body.short_code)
        return await self.responses.add(CannedResponse(short_code=body.short_code, text=body.text))

    async def update(self, response_id: uuid.UUID, body: schemas.CannedResponseUpdate) -> CannedResponse:
        response = await self.get(response_id)
        if body.short_code is not None and body.short_code.lower() != response.short_code.lower():
            await self._code_is_free(body.short_code)
        if body.short_code is not None:
            response.short_code = body.short_code
        if body.text is not None:
            response.text = body.text
        await self.session.flush()
        return response

    async def delete(self, response_id: uuid.UUID) -> None:
        await self.responses.delete(await self.get(response_id))

    async def get(self, response_id: uuid.UUID) -> CannedResponse:
        response = await self.responses.get(response_id)
        if response is None:
            raise NotFound("No such canned response in this tenant.")
        return response

    async def _code_is_free(self, short_code: str) -> None:
        if await self.responses.by_code(short_code) is not None:
            raise Conflict(f"short_code: «{short_code}» is already used by another canned response.")
