"""The knowledge base's HTTP calls as the knowledge tests make them (a helper module, not tests)."""

from __future__ import annotations

import httpx

from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, run_queued_jobs

DOCS = "/api/v1/knowledge/documents"
SEARCH = "/api/v1/knowledge/search"


async def upload(client: httpx.AsyncClient, tenant: TenantFixture, name: str, data: bytes) -> httpx.Response:
    return await client.post(DOCS, files={"file": (name, data)}, headers=tenant.headers)


async def indexed(client: httpx.AsyncClient, tenant: TenantFixture, runtime: Runtime, name: str, data: bytes) -> dict:
    response = await upload(client, tenant, name, data)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    await run_queued_jobs(runtime)
    document = (await client.get(f"{DOCS}/{response.json()['id']}", headers=tenant.headers)).json()
    return dict(document)


async def search(client: httpx.AsyncClient, tenant: TenantFixture, query: str, limit: int = 3) -> dict:
    response = await client.post(SEARCH, json={"query": query, "limit": limit}, headers=tenant.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())
