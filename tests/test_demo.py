"""The demo's owner signs in with the password its banner shows, also in a demo folder from before the
password rules (when the demo owner had a weaker one)."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from easyflow.config import Settings
from easyflow.db.database import Database
from easyflow.demo import DEMO_EMAIL, DEMO_PASSWORD, DEMO_TENANT_NAME, seed_demo
from easyflow.tenancy.service import TenantService


async def test_an_older_demo_owner_gets_the_password_the_banner_shows(
    client: httpx.AsyncClient, database: Database, settings: Settings, connection: AsyncConnection
) -> None:
    async with database.session() as session, session.begin():
        await TenantService(session).create(DEMO_TENANT_NAME, DEMO_EMAIL, "demo-password")  # the old demo's
    await seed_demo(database, settings, ["http://127.0.0.1:8000"])
    signed_in = await client.post("/api/v1/auth/login", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    old = await client.post("/api/v1/auth/login", json={"email": DEMO_EMAIL, "password": "demo-password"})
    assert old.status_code == 401
