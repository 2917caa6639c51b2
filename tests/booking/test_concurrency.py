"""The no-double-booking guarantee under a real race: 50 requests at once through the app, for overlapping
times of one member (some the same, some overlapping in part), each in its own committed transaction on its own
connection. PostgreSQL's exclusion constraint lets exactly one through; the rest are 409 slot-taken."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from easyflow.app import create_app
from easyflow.config import Settings
from easyflow.db.database import Database
from easyflow.runtime import Runtime
from tests.booking.support import APPOINTMENTS, booking_body, make_salon
from tests.conftest import make_tenant

REQUESTS = 50
# Every pair overlaps (a 60-minute service, starts within 45 minutes of each other), some only in part.
STARTS = ("10:00", "10:15", "10:30", "10:45")


@pytest.fixture
async def committing_client(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Database]]:
    """The app on a database of its own pool (no test transaction around it): every request commits."""
    database = await Database.open(settings, pool_size=20)
    runtime = Runtime.create(settings, database)
    app = create_app(settings, runtime=runtime)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
            yield http, database
    finally:
        await runtime.close()
        await database.close()


async def test_fifty_concurrent_bookings_of_overlapping_times_make_exactly_one(
    committing_client: tuple[httpx.AsyncClient, Database],
) -> None:
    client, database = committing_client
    tenant = await make_tenant(database, "Concurrent salon")
    try:
        salon = await make_salon(client, tenant)
        bodies = [
            booking_body(salon, STARTS[index % len(STARTS)], note=f"request {index}") for index in range(REQUESTS)
        ]
        responses = await asyncio.gather(
            *(client.post(APPOINTMENTS, json=body, headers=tenant.headers) for body in bodies)
        )
        assert Counter(response.status_code for response in responses) == {201: 1, 409: REQUESTS - 1}, [
            response.text for response in responses if response.status_code not in (201, 409)
        ]
        assert all(r.json()["type"].endswith("slot-taken") for r in responses if r.status_code == 409)
        async with database.tenant_transaction(tenant.id) as session:
            rows = (await session.execute(text("SELECT id, note FROM appointments"))).all()
        winner = next(response.json() for response in responses if response.status_code == 201)
        assert [(str(row.id), row.note) for row in rows] == [(winner["id"], winner["note"])]
    finally:
        await _delete(database, tenant.id)


async def test_ten_concurrent_retries_with_one_idempotency_key_make_one_booking(
    committing_client: tuple[httpx.AsyncClient, Database],
) -> None:
    client, database = committing_client
    tenant = await make_tenant(database, "Concurrent retries")
    try:
        salon = await make_salon(client, tenant)
        headers = {**tenant.headers, "Idempotency-Key": "retry-1"}
        responses = await asyncio.gather(
            *(client.post(APPOINTMENTS, json=booking_body(salon, "10:00"), headers=headers) for _ in range(10))
        )
        assert Counter(response.status_code for response in responses) == {201: 1, 200: 9}, [
            response.text for response in responses
        ]
        assert len({response.json()["id"] for response in responses}) == 1
    finally:
        await _delete(database, tenant.id)


async def _delete(database: Database, tenant_id: uuid.UUID) -> None:
    async with database.session() as session, session.begin():
        await session.execute(text("SELECT set_config('easyflow.scope', 'system', true)"))
        # Appointments first: they hold their service and member back from the tenant's cascade.
        await session.execute(text("DELETE FROM appointments WHERE tenant_id = :id"), {"id": tenant_id})
        await session.execute(text("DELETE FROM tenants WHERE id = :id"), {"id": tenant_id})
