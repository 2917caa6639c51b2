"""Staff events are numbered after they commit (migration 20261204_staff_event_numbering): writing one takes
no lock the tenant's other transactions wait for, and readers still get gap-free numbers in commit order.
Real commits on connections of their own (no test transaction around them); the tenant is deleted after."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from easyflow.db.database import Database
from easyflow.live.repository import StaffEventRepository, number_staff_events
from easyflow.live.staff import queue_staff_event
from tests.conftest import TenantFixture, make_tenant


@pytest.fixture
async def committed_tenant(database: Database) -> AsyncIterator[TenantFixture]:
    tenant = await make_tenant(database, "Numbering")
    yield tenant
    async with database.session() as session, session.begin():
        await session.execute(text("SELECT set_config('easyflow.scope', 'system', true)"))
        await session.execute(text("DELETE FROM tenants WHERE id = :id"), {"id": tenant.id})


async def numbered(database: Database, tenant_id: uuid.UUID) -> list[tuple[int, str]]:
    await number_staff_events(database, tenant_id)
    async with database.tenant_transaction(tenant_id) as session:
        return [
            (event.id, event.payload["note"]) for event in await StaffEventRepository(session, tenant_id).after(0, 100)
        ]


async def test_a_tenants_transactions_write_staff_events_without_waiting_for_each_other(
    database: Database, committed_tenant: TenantFixture
) -> None:
    tenant_id = committed_tenant.id
    async with database.tenant_transaction(tenant_id) as first:
        queue_staff_event(first, tenant_id, "test.note", {"note": "first, committed last"})
        await first.flush()
        await first.execute(
            text("SELECT easyflow_staff_event(:t, 'test.note', '{\"note\": \"written early\"}')"), {"t": tenant_id}
        )
        # While the first holds its event uncommitted, a second transaction of the tenant writes and commits.
        async with asyncio.timeout(5):
            async with database.tenant_transaction(tenant_id) as second:
                queue_staff_event(second, tenant_id, "test.note", {"note": "second, committed first"})
        assert await numbered(database, tenant_id) == [(1, "second, committed first")]
    events = await numbered(database, tenant_id)
    assert [number for number, _ in events] == [1, 2, 3]
    assert events[0] == (1, "second, committed first")
    assert {note for _, note in events[1:]} == {"written early", "first, committed last"}


async def test_numbering_twice_at_once_gives_each_event_one_number(
    database: Database, committed_tenant: TenantFixture
) -> None:
    tenant_id = committed_tenant.id
    for index in range(20):
        async with database.tenant_transaction(tenant_id) as session:
            queue_staff_event(session, tenant_id, "test.note", {"note": f"n{index}"})
    newest = await asyncio.gather(*(number_staff_events(database, tenant_id) for _ in range(3)))
    assert max(newest) == 20
    events = await numbered(database, tenant_id)
    assert [number for number, _ in events] == list(range(1, 21))
    assert [note for _, note in events] == [f"n{index}" for index in range(20)]


async def test_numbering_with_nothing_to_number_writes_nothing(
    database: Database, committed_tenant: TenantFixture
) -> None:
    """Every process's reader numbers on every NOTIFY: when there is nothing new the counter row stays as it was."""
    tenant_id = committed_tenant.id
    async with database.tenant_transaction(tenant_id) as session:
        queue_staff_event(session, tenant_id, "test.note", {"note": "one"})
    assert await number_staff_events(database, tenant_id) == 1

    async def counter_version() -> str:
        async with database.tenant_transaction(tenant_id) as session:
            query = text("SELECT xmin::text FROM staff_event_counters WHERE tenant_id = :t")
            return str((await session.execute(query, {"t": tenant_id})).scalar_one())

    before = await counter_version()
    assert await number_staff_events(database, tenant_id) == 1
    assert await counter_version() == before
