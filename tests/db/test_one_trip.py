"""One-round-trip reads (`db/one_trip.py`) and lazily sent tenant scopes (`db/session.py`): each shows the
tenant only its own rows, leaves nothing behind on the pooled connection, and a scope asked for is in force
for the first statement, whenever it was asked for."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import AsyncExitStack

import httpx
import pytest
from psycopg.errors import DataError
from psycopg.pq import TransactionStatus
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.db.database import Database
from easyflow.db.one_trip import OneTripStatement, run_as_tenant
from easyflow.db.rls import APP_ROLE, SCOPE_SETTING, TENANT_SETTING
from easyflow.db.session import enter_system_scope, scope_to_tenant
from easyflow.models.tenancy import Tenant
from tests.conftest import TenantFixture

EVERY_TENANT = OneTripStatement(select(Tenant.id, Tenant.name).order_by(Tenant.name))
SCOPE_SEEN = OneTripStatement(
    select(
        func.current_setting(TENANT_SETTING, True).label("tenant"),
        func.current_setting(SCOPE_SETTING, True).label("scope"),
    )
)
SLOW = OneTripStatement(select(func.pg_sleep(5)))


async def test_a_one_trip_read_sees_only_its_tenant_even_without_a_tenant_filter(
    database: Database, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    """The statement names no tenant: row-level security, scoped in the same message, is what filters."""
    for tenant in (tenant_a, tenant_b):
        rows = await database.in_one_trip(tenant.id, EVERY_TENANT)
        assert [row["id"] for row in rows] == [tenant.id]
    assert await database.in_one_trip(uuid.uuid4(), EVERY_TENANT) == []


async def test_the_tenant_route_reads_the_callers_tenant_and_never_another(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    for tenant in (tenant_a, tenant_b):
        response = await client.get("/api/v1/tenant", headers=tenant.headers)
        assert response.status_code == 200
        assert response.json()["id"] == str(tenant.id)
    assert (await client.get("/api/v1/tenant", headers=tenant_a.headers)).json()["name"] == "Салон «Лотос»"


async def test_outside_a_transaction_the_read_is_its_own_transaction_and_leaves_the_connection_clean(
    database: Database,
) -> None:
    """The production path (no test transaction around it): the scope holds for the read and ends with it;
    the pool's connections are the app role's, in autocommit, with no transaction left open."""
    tenant_id = uuid.uuid4()
    rows = await run_as_tenant(database.one_trip_pool.connection, tenant_id, SCOPE_SEEN)
    assert rows == [{"tenant": str(tenant_id), "scope": ""}]
    await pool_is_clean(database)


async def test_a_read_cancelled_midway_leaves_the_pool_clean(database: Database) -> None:
    """A client that disconnects cancels the read: psycopg cancels the query, and no connection the pool hands
    out afterwards is stuck in it or still scoped."""
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(run_as_tenant(database.one_trip_pool.connection, uuid.uuid4(), SLOW), timeout=0.3)
    await pool_is_clean(database)


async def pool_is_clean(database: Database) -> None:
    pool = database.one_trip_pool
    async with AsyncExitStack() as held:  # every connection the pool may hold, at once
        connections = [await held.enter_async_context(pool.connection()) for _ in range(pool.max_size)]
        for connection in connections:
            assert connection.autocommit and connection.info.transaction_status == TransactionStatus.IDLE
            cursor = await connection.execute(f"SELECT current_user, current_setting('{TENANT_SETTING}', true)")
            user, scope = await cursor.fetchone() or (None, None)
            assert user == APP_ROLE and scope in (None, "")


async def test_a_scope_asked_for_before_any_statement_is_in_force_for_the_first_one(
    session: AsyncSession, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await scope_to_tenant(session, tenant_b.id)
    names = (await session.execute(text("SELECT id FROM tenants"))).scalars().all()
    assert names == [tenant_b.id]


async def test_a_scope_asked_for_after_other_statements_is_in_force_at_once(
    session: AsyncSession, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await enter_system_scope(session)
    everyone = set((await session.execute(text("SELECT id FROM tenants"))).scalars())
    assert {tenant_a.id, tenant_b.id} <= everyone
    await scope_to_tenant(session, tenant_a.id)
    assert (await session.execute(text("SELECT id FROM tenants"))).scalars().all() == [tenant_a.id]


async def test_a_system_scope_replaces_a_tenant_scope_not_yet_sent(
    session: AsyncSession, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await scope_to_tenant(session, tenant_a.id)
    await enter_system_scope(session)
    everyone = set((await session.execute(text("SELECT id FROM tenants"))).scalars())
    assert {tenant_a.id, tenant_b.id} <= everyone


async def test_a_statement_that_fails_leaves_the_connection_as_it_came(database: Database) -> None:
    failing = OneTripStatement(select((func.random() / 0).label("never")))
    with pytest.raises(DataError):
        await run_as_tenant(database.one_trip_pool.connection, uuid.uuid4(), failing)
    tenant_id = uuid.uuid4()
    assert await run_as_tenant(database.one_trip_pool.connection, tenant_id, SCOPE_SEEN) == [
        {"tenant": str(tenant_id), "scope": ""}
    ]
