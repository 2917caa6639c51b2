"""Presence and automatic assignment: who is online, least loaded first, capacity, the backlog assigned as
someone comes online, conversations released when their operator goes offline, and no double assignment
under concurrency."""

from __future__ import annotations

import asyncio
import os
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from easyflow.config import Settings
from easyflow.db import migrate
from easyflow.db.database import Database
from easyflow.db.embedded import app_login_url
from easyflow.db.session import scope_to_tenant
from easyflow.inbox.presence import PresenceService
from easyflow.inbox.routing import Router
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from easyflow.tenancy.principal import Principal
from easyflow.tenancy.schemas import MemberCreate
from easyflow.tenancy.service import MemberService
from tests.conftest import TenantFixture, make_tenant, run_queued_jobs
from tests.inbox.staff import Staff, conversation, customer_writes, events, patch, send_as_staff, sign_in
from tests.support import create_database, drop_database


async def go_online(client: httpx.AsyncClient, staff: Staff, status: str = "online") -> dict:
    response = await client.put("/api/v1/presence", json={"status": status}, headers=staff.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def silence(database: Database, tenant: TenantFixture, staff: Staff, seconds: int) -> None:
    """As if the operator's live connection had not been heard for `seconds`."""
    async with database.tenant_transaction(tenant.id) as session:
        await session.execute(
            text("UPDATE operator_presence SET last_seen_at = now() - make_interval(secs => :s) WHERE user_id = :u"),
            {"s": seconds, "u": staff.user_id},
        )


async def operators(client: httpx.AsyncClient, tenant: TenantFixture) -> dict[str, dict]:
    response = await client.get("/api/v1/operators", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return {item["email"]: item for item in response.json()}


async def test_a_handoff_goes_to_the_least_loaded_online_operator(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    anna = await sign_in(client, database, tenant_a)
    boris = await sign_in(client, database, tenant_a)
    away = await sign_in(client, database, tenant_a)
    await go_online(client, anna)
    await go_online(client, boris)
    await run_queued_jobs(runtime)
    first = await customer_writes(client, tenant_a, "Позовите оператора", contact="c1")
    await run_queued_jobs(runtime)
    second = await customer_writes(client, tenant_a, "Позовите оператора", contact="c2")
    await run_queued_jobs(runtime)
    assignees = {
        (await conversation(client, tenant_a, first["conversation_id"]))["assignee_id"],
        (await conversation(client, tenant_a, second["conversation_id"]))["assignee_id"],
    }
    assert assignees == {str(anna.user_id), str(boris.user_id)}  # one each: least loaded first
    waiting = await conversation(client, tenant_a, first["conversation_id"])
    assert waiting["status"] == "pending"  # assigned, waiting for their first reply
    assert [e["kind"] for e in await events(client, tenant_a, first["conversation_id"])] == ["handed_off", "assigned"]
    listed = await operators(client, tenant_a)
    assert listed[anna.email]["presence"] == "online" and listed[anna.email]["holding"] == 1
    assert listed[away.email]["presence"] == "offline" and listed[away.email]["holding"] == 0
    mine = await client.get("/api/v1/conversations?assignee=me&status=pending", headers=anna.headers)
    assert len(mine.json()["items"]) == 1


async def test_nobody_online_leaves_it_in_the_queue_until_someone_comes(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    anna = await sign_in(client, database, tenant_a)
    ids = []
    for n in range(3):
        ids.append((await customer_writes(client, tenant_a, "Позовите оператора", contact=f"c{n}"))["conversation_id"])
        await run_queued_jobs(runtime)
    queue = (await client.get("/api/v1/conversations?assignee=none&status=pending", headers=anna.headers)).json()
    assert {c["id"] for c in queue["items"]} == set(ids)
    await go_online(client, anna)
    ran = await run_queued_jobs(runtime)
    assert "inbox.route_backlog" in ran  # coming online is the event that routes the queue
    for conversation_id in ids:
        assert (await conversation(client, tenant_a, conversation_id))["assignee_id"] == str(anna.user_id)


async def test_capacity_is_never_exceeded_and_busy_takes_nothing_new(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    async with database.tenant_transaction(tenant_a.id) as session:
        await session.execute(text("UPDATE tenants SET operator_capacity = 2 WHERE id = :t"), {"t": tenant_a.id})
    anna = await sign_in(client, database, tenant_a)
    boris = await sign_in(client, database, tenant_a)
    await go_online(client, anna)
    await go_online(client, boris, "busy")
    ids = []
    for n in range(3):
        ids.append((await customer_writes(client, tenant_a, "Позовите оператора", contact=f"c{n}"))["conversation_id"])
        await run_queued_jobs(runtime)
    holders = Counter([(await conversation(client, tenant_a, i))["assignee_id"] for i in ids])
    assert holders == {str(anna.user_id): 2, None: 1}
    assert (await operators(client, tenant_a))[boris.email]["presence"] == "busy"


async def test_an_operator_gone_silent_is_offline_and_what_waited_for_them_goes_to_someone_else(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    anna = await sign_in(client, database, tenant_a)
    boris = await sign_in(client, database, tenant_a)
    await go_online(client, anna)
    await run_queued_jobs(runtime)
    waiting = await customer_writes(client, tenant_a, "Позовите оператора", contact="c1")
    answered = await customer_writes(client, tenant_a, "Позовите оператора", contact="c2")
    await run_queued_jobs(runtime)
    await send_as_staff(client, anna.headers, answered["conversation_id"], "Слушаю")
    await go_online(client, boris)
    await silence(database, tenant_a, anna, 61)
    assert (await operators(client, tenant_a))[anna.email]["presence"] == "offline"
    async with database.tenant_transaction(tenant_a.id) as session:  # the scheduled check, due now
        await session.execute(text("UPDATE procrastinate_jobs SET scheduled_at = now() WHERE status = 'todo'"))
    ran = await run_queued_jobs(runtime)
    assert "inbox.check_presence" in ran
    moved = await conversation(client, tenant_a, waiting["conversation_id"])
    assert (moved["status"], moved["assignee_id"]) == ("pending", str(boris.user_id))
    kinds = [e["kind"] for e in await events(client, tenant_a, waiting["conversation_id"])]
    assert kinds == ["handed_off", "assigned", "unassigned", "assigned"]
    # The one Anna had already answered stays hers.
    kept = await conversation(client, tenant_a, answered["conversation_id"])
    assert (kept["status"], kept["assignee_id"]) == ("open", str(anna.user_id))


async def test_saying_offline_releases_at_once_and_a_reopened_conversation_prefers_its_last_operator(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    anna = await sign_in(client, database, tenant_a)
    boris = await sign_in(client, database, tenant_a)
    await go_online(client, anna)
    await run_queued_jobs(runtime)
    first = await customer_writes(client, tenant_a, "Позовите оператора", contact="c1")
    await run_queued_jobs(runtime)
    await send_as_staff(client, anna.headers, first["conversation_id"], "Готово")
    await patch(client, anna.headers, first["conversation_id"], status="resolved")
    await go_online(client, boris)
    await run_queued_jobs(runtime)
    # Boris holds less than Anna, but the customer comes back to Anna, who is online.
    other = await customer_writes(client, tenant_a, "Позовите оператора", contact="c2")
    await run_queued_jobs(runtime)
    assert (await conversation(client, tenant_a, other["conversation_id"]))["assignee_id"] == str(boris.user_id)
    await customer_writes(client, tenant_a, "Ещё вопрос", contact="c1")
    await run_queued_jobs(runtime)
    back = await conversation(client, tenant_a, first["conversation_id"])
    assert (back["status"], back["assignee_id"]) == ("pending", str(anna.user_id))
    assert (await go_online(client, anna, "offline"))["presence"] == "offline"
    await run_queued_jobs(runtime)
    moved = await conversation(client, tenant_a, first["conversation_id"])
    assert moved["assignee_id"] == str(boris.user_id)


async def test_presence_is_a_persons_and_bad_values_are_refused(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture
) -> None:
    viewer = await sign_in(client, database, tenant_a, Role.viewer)
    assert (
        await client.put("/api/v1/presence", json={"status": "online"}, headers=tenant_a.headers)
    ).status_code == 422
    assert (await client.put("/api/v1/presence", json={"status": "online"}, headers=viewer.headers)).status_code == 403
    anna = await sign_in(client, database, tenant_a)
    for body in ({"status": "away"}, {}, {"status": "online", "x": 1}):
        assert (await client.put("/api/v1/presence", json=body, headers=anna.headers)).status_code == 422


async def test_operators_of_another_tenant_are_not_listed(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    theirs = await sign_in(client, database, tenant_b)
    await go_online(client, theirs)
    listed = await operators(client, tenant_a)
    assert theirs.email not in listed and tenant_a.owner_email in listed


# Under concurrency: a database of this test's own, where every transaction really commits.


@pytest.fixture
async def committed(embedded_server: str, settings: Settings) -> AsyncIterator[Database]:
    name = f"easyflow_routing_{os.getpid()}"
    url = create_database(embedded_server, name)
    migrate.upgrade(url)
    own = settings.model_copy(update={"database_url": url, "database_app_url": app_login_url(url)})
    database = await Database.open(own, pool_size=12)
    try:
        yield database
    finally:
        await database.close()
        drop_database(embedded_server, name)


async def test_routing_100_conversations_at_once_assigns_each_once_and_keeps_capacity(committed: Database) -> None:

    tenant = await make_tenant(committed, "Concurrent")
    operators_ids: list[uuid.UUID] = []
    async with committed.tenant_transaction(tenant.id) as session:
        await session.execute(text("UPDATE tenants SET operator_capacity = 20 WHERE id = :t"), {"t": tenant.id})
        owner = Principal(tenant_id=tenant.id, role=Role.owner)
        for n in range(4):
            email = f"op{n}-{uuid.uuid4().hex[:6]}@example.com"
            await MemberService(session, owner).add(
                MemberCreate(email=email, password="member-pass-1", role=Role.operator)
            )
        rows = await session.execute(text("SELECT user_id FROM memberships WHERE role = 'operator'"))
        operators_ids = [row[0] for row in rows]
        for user_id in operators_ids:
            await PresenceService(session, tenant.id).heard(user_id)
        await scope_to_tenant(session, tenant.id)
        await session.execute(
            text(
                "WITH c AS (INSERT INTO contacts (id, tenant_id, name, unreachable) "
                "SELECT gen_random_uuid(), :t, 'c' || n, false FROM generate_series(1, 100) n RETURNING id) "
                "INSERT INTO conversations (id, tenant_id, contact_id, channel_type, channel_key, status, summary, "
                "summarized_up_to, unanswered_turns, last_activity_at, status_changed_at) "
                "SELECT gen_random_uuid(), :t, c.id, 'api', 'api', 'pending', '', 0, 0, now(), clock_timestamp() FROM c"
            ),
            {"t": tenant.id},
        )
        ids = [row[0] for row in await session.execute(text("SELECT id FROM conversations"))]
    assert len(operators_ids) == 4 and len(ids) == 100

    router = Router(committed)
    # Every conversation routed twice, by ten workers at once, in random order.
    work = ids * 2
    random.shuffle(work)
    queue: asyncio.Queue[uuid.UUID] = asyncio.Queue()
    for conversation_id in work:
        queue.put_nowait(conversation_id)

    async def worker() -> None:
        while not queue.empty():
            await router.route(tenant.id, queue.get_nowait())

    await asyncio.gather(*(worker() for _ in range(10)))

    async with committed.tenant_transaction(tenant.id) as session:
        held = Counter(
            row[0]
            for row in await session.execute(
                text("SELECT assignee_id FROM conversations WHERE tenant_id = :t"), {"t": tenant.id}
            )
        )
        assignments = Counter(
            row[0]
            for row in await session.execute(
                text("SELECT conversation_id FROM conversation_events WHERE kind = 'assigned' AND tenant_id = :t"),
                {"t": tenant.id},
            )
        )
    assert held[None] == 20  # 4 operators x capacity 20 = 80 assigned; the rest wait in the queue
    assert sorted(count for user, count in held.items() if user is not None) == [20, 20, 20, 20]
    assert len(assignments) == 80 and set(assignments.values()) == {1}  # nobody assigned twice
