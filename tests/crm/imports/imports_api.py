"""Helpers of the import tests: upload exports over HTTP, run the queued import, read it back."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.db.session import enter_system_scope
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, run_queued_jobs

IMPORTS = "/api/v1/imports"


async def upload(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    files: list[tuple[str, bytes]],
    *,
    business: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.post(
        IMPORTS,
        headers=headers or tenant.headers,
        files=[("file", (name, data)) for name, data in files],
        data={"business": business} if business else None,
    )


async def imported(
    client: httpx.AsyncClient,
    runtime: Runtime,
    tenant: TenantFixture,
    files: list[tuple[str, bytes]],
    *,
    business: str | None = None,
) -> dict[str, Any]:
    """Upload, run the import as a worker would, and return the finished import."""
    response = await upload(client, tenant, files, business=business)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    assert await run_queued_jobs(runtime) == ["crm.import_chats"]
    read = await client.get(f"{IMPORTS}/{response.json()['id']}", headers=tenant.headers)
    assert read.status_code == 200
    body: dict[str, Any] = read.json()
    return body


async def count(session: AsyncSession, table: str) -> int:
    await enter_system_scope(session)
    return int((await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())
