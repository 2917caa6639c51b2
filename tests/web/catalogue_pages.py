"""Helpers of the catalogue pages' tests: signing in as a member of a role, and the catalogue through its API."""

from __future__ import annotations

from typing import Any

import httpx

from easyflow.db.database import Database
from easyflow.models.tenancy import Role
from tests.conftest import TenantFixture, make_member
from tests.web.dashboard import csrf_of, open_login


async def sign_in_as(client: httpx.AsyncClient, database: Database, tenant: TenantFixture, role: Role) -> str:
    """Signs `client` in as a new member of `role`; the CSRF token of its pages."""
    email = await make_member(database, tenant, role)
    token = await open_login(client)
    signed_in = await client.post("/app/login", data={"email": email, "password": "member-pass-1", "csrf_token": token})
    assert signed_in.status_code == 303, signed_in.text
    return csrf_of(await client.get("/app/"))


async def api_create(client: httpx.AsyncClient, tenant: TenantFixture, what: str, body: dict[str, Any]) -> dict:
    created = await client.post(f"/api/v1/{what}", json=body, headers=tenant.headers)
    assert created.status_code == 201, created.text
    return dict(created.json())


async def api_get(client: httpx.AsyncClient, tenant: TenantFixture, path: str) -> Any:
    found = await client.get(f"/api/v1/{path}", headers=tenant.headers)
    assert found.status_code == 200, found.text
    return found.json()
