"""The funnel moves itself: each event and action of the rules, their idempotency, the bound on rules setting
off rules, the stages' reminders, and tasks coming due."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text

from easyflow.crm.funnel.follow_ups import send_due_follow_ups
from easyflow.crm.funnel.member_tasks import remind_due
from easyflow.crm.funnel.rules import FunnelEvent, apply_event, find_quiet_conversations
from easyflow.db.database import Database
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, run_queued_jobs
from tests.crm.test_funnel import create_deal, new_contact, stage_named
from tests.inbox.staff import customer_writes, sign_in


async def add_rule(client: httpx.AsyncClient, tenant: TenantFixture, **rule: object) -> dict:
    response = await client.post("/api/v1/funnel-rules", json={"name": "правило", **rule}, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def deal_of(client: httpx.AsyncClient, tenant: TenantFixture, deal_id: str) -> dict:
    response = await client.get(f"/api/v1/deals/{deal_id}", headers=tenant.headers)
    assert response.status_code == 200
    return response.json()


async def messages(client: httpx.AsyncClient, tenant: TenantFixture, conversation_id: str) -> list[dict]:
    response = await client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=tenant.headers)
    return response.json()["items"] if isinstance(response.json(), dict) else response.json()


async def staff_events(database: Database, tenant: TenantFixture, kind: str) -> list[dict]:
    async with database.tenant_transaction(tenant.id) as session:
        rows = await session.execute(
            text("SELECT payload FROM staff_events WHERE tenant_id = :tenant AND kind = :kind ORDER BY id"),
            {"tenant": tenant.id, "kind": kind},
        )
        return [row.payload for row in rows]


async def test_a_deal_entering_a_stage_sets_off_its_rules_once(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    manager = await sign_in(client, database, tenant_a, Role.operator)
    qualification = await stage_named(client, tenant_a, "Квалификация")
    warming = await stage_named(client, tenant_a, "Прогрев")
    await add_rule(
        client,
        tenant_a,
        event="stage_entered",
        conditions={"stage_id": qualification["id"]},
        action="assign_member",
        params={"user_id": str(manager.user_id)},
    )
    await add_rule(
        client,
        tenant_a,
        event="stage_entered",
        conditions={"stage_id": qualification["id"]},
        action="create_task",
        params={"text": "Позвонить клиенту", "due_in_hours": 2},
    )
    await add_rule(
        client,
        tenant_a,
        name="квалифицирован — греем",
        event="stage_entered",
        conditions={"stage_id": qualification["id"]},
        action="move_deal",
        params={"stage_id": warming["id"]},
    )
    contact_id = await new_contact(client, tenant_a, runtime, "Эрмек")
    deal = (await client.get("/api/v1/deals", params={"contact_id": contact_id}, headers=tenant_a.headers)).json()
    deal_id = deal["items"][0]["id"]

    await client.patch(f"/api/v1/deals/{deal_id}", json={"stage_id": qualification["id"]}, headers=tenant_a.headers)
    await run_queued_jobs(runtime)

    moved = await deal_of(client, tenant_a, deal_id)
    assert moved["stage"]["name"] == "Прогрев"
    assert moved["responsible_id"] == str(manager.user_id)
    history = (await client.get(f"/api/v1/deals/{deal_id}/history", headers=tenant_a.headers)).json()
    assert [(move["to_stage"]["name"], move["actor"]) for move in history] == [
        ("Новый лид", "rule"),
        ("Квалификация", "member"),
        ("Прогрев", "rule"),
    ]
    assert history[-1]["reason"] == "квалифицирован — греем"
    tasks = (await client.get("/api/v1/tasks", params={"deal_id": deal_id}, headers=tenant_a.headers)).json()
    assert [task["title"] for task in tasks["items"]] == ["Позвонить клиенту"]
    assert tasks["items"][0]["created_by"] == "rule"

    # The move's event once more: nothing is done twice.
    move_id = history[1]["id"]
    event = FunnelEvent(
        kind="stage_entered", key=move_id, deal_id=uuid.UUID(deal_id), stage_id=uuid.UUID(qualification["id"])
    )
    outcomes = await apply_event(runtime.database, tenant_a.id, event)
    assert set(outcomes.values()) == {"already applied"}
    assert (await client.get("/api/v1/tasks", params={"deal_id": deal_id}, headers=tenant_a.headers)).json()[
        "total"
    ] == 1


async def test_every_creation_and_move_of_a_deal_is_a_staff_event(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, tenant_b: TenantFixture, runtime: Runtime
) -> None:
    manager = await sign_in(client, database, tenant_a, Role.operator)
    (pipeline,) = (await client.get("/api/v1/pipelines", headers=tenant_a.headers)).json()
    first, qualification, warming, offer = (stage["id"] for stage in pipeline["stages"][:4])
    await add_rule(
        client,
        tenant_a,
        name="квалифицирован — греем",
        event="stage_entered",
        conditions={"stage_id": qualification},
        action="move_deal",
        params={"stage_id": warming},
    )
    contact_id = await new_contact(client, tenant_a, runtime, "Эрмек")  # the first-message rule opens a deal
    opened = (await client.get("/api/v1/deals", params={"contact_id": contact_id}, headers=tenant_a.headers)).json()
    by_rule = opened["items"][0]["id"]
    by_member = await create_deal(client, tenant_a, contact_id, stage_id=offer)
    moved = await client.patch(
        f"/api/v1/deals/{by_member['id']}", json={"stage_id": qualification}, headers=manager.headers
    )
    assert moved.status_code == 200, moved.text
    await run_queued_jobs(runtime)  # the rule moves it on to warming up

    created = await staff_events(database, tenant_a, "deal.created")
    assert [(event["deal_id"], event["actor"], event["to_stage_id"]) for event in created] == [
        (by_rule, "rule", first),
        (by_member["id"], "member", offer),
    ]
    assert all(event["pipeline_id"] == pipeline["id"] and event["from_stage_id"] is None for event in created)
    moves = await staff_events(database, tenant_a, "deal.moved")
    assert [(event["deal_id"], event["from_stage_id"], event["to_stage_id"], event["actor"]) for event in moves] == [
        (by_member["id"], offer, qualification, "member"),
        (by_member["id"], qualification, warming, "rule"),
    ]
    assert moves[0]["actor_id"] == str(manager.user_id) and moves[0]["pipeline_id"] == pipeline["id"]

    # Removing a stage moves its deals: each move is announced too, as the admin's (an API key has no user).
    removed = await client.delete(
        f"/api/v1/pipelines/{pipeline['id']}/stages/{warming}", params={"move_to": offer}, headers=tenant_a.headers
    )
    assert removed.status_code == 200, removed.text
    last = (await staff_events(database, tenant_a, "deal.moved"))[-1]
    assert (last["deal_id"], last["from_stage_id"], last["to_stage_id"]) == (by_member["id"], warming, offer)
    assert last["actor"] == "member" and last["pipeline_id"] == last["from_pipeline_id"] == pipeline["id"]
    # A refused move announces nothing, and another workspace hears nothing of these.
    lost = pipeline["stages"][-1]["id"]
    refused = await client.patch(f"/api/v1/deals/{by_rule}", json={"stage_id": lost}, headers=manager.headers)
    assert refused.status_code == 422
    assert len(await staff_events(database, tenant_a, "deal.moved")) == 3
    assert await staff_events(database, tenant_b, "deal.moved") == []
    assert await staff_events(database, tenant_b, "deal.created") == []


async def test_rules_that_set_each_other_off_stop(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    offer = await stage_named(client, tenant_a, "Предложение")
    talks = await stage_named(client, tenant_a, "Переговоры")
    for source, target in ((offer, talks), (talks, offer)):
        await add_rule(
            client,
            tenant_a,
            event="stage_entered",
            conditions={"stage_id": source["id"]},
            action="move_deal",
            params={"stage_id": target["id"]},
        )
    contact_id = await new_contact(client, tenant_a, runtime, "Петля")
    deal = await create_deal(client, tenant_a, contact_id, stage_id=offer["id"])
    for _ in range(20):
        if not await run_queued_jobs(runtime):
            break
    history = (await client.get(f"/api/v1/deals/{deal['id']}/history", headers=tenant_a.headers)).json()
    assert 3 <= len(history) <= 7  # the member's move and at most five made by rules


async def test_a_handoff_and_a_silence_set_off_their_rules(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    manager = await sign_in(client, database, tenant_a, Role.operator)
    talks = await stage_named(client, tenant_a, "Переговоры")
    await add_rule(client, tenant_a, event="handed_off", action="move_deal", params={"stage_id": talks["id"]})
    await add_rule(
        client,
        tenant_a,
        event="no_reply",
        conditions={"days": 3},
        action="send_message",
        params={"text": "Вы ещё думаете над туром? Можем подобрать другие даты."},
    )
    await add_rule(
        client,
        tenant_a,
        event="no_reply",
        conditions={"days": 3},
        action="notify_member",
        params={"text": "Клиент молчит"},
    )
    accepted = await customer_writes(client, tenant_a, "Хочу тур", contact="silent-one")
    await run_queued_jobs(runtime)  # the offline assistant answers: the business spoke last
    conversation_id = accepted["conversation_id"]

    taken = await client.patch(
        f"/api/v1/conversations/{conversation_id}",
        json={"status": "open", "assignee_id": str(manager.user_id)},
        headers=manager.headers,
    )
    assert taken.status_code == 200, taken.text
    await run_queued_jobs(runtime)
    (deal,) = (await client.get("/api/v1/deals", headers=tenant_a.headers)).json()["items"]
    assert deal["stage"]["name"] == "Переговоры"

    assert await find_quiet_conversations(runtime.database, datetime.now(UTC)) == 0  # not quiet for 3 days yet
    async with runtime.database.tenant_transaction(tenant_a.id) as session:
        await session.execute(
            text("UPDATE conversations SET last_activity_at = now() - interval '4 days' WHERE id = :id"),
            {"id": conversation_id},
        )
    assert await find_quiet_conversations(runtime.database, datetime.now(UTC)) == 2
    assert await find_quiet_conversations(runtime.database, datetime.now(UTC)) == 2  # found again, acted on once
    await run_queued_jobs(runtime)
    texts = [message["text"] for message in await messages(client, tenant_a, conversation_id)]
    assert texts.count("Вы ещё думаете над туром? Можем подобрать другие даты.") == 1
    notices = await staff_events(database, tenant_a, "crm.notice")
    assert [notice["text"] for notice in notices] == ["Клиент молчит"]


async def test_a_stage_reminds_the_customer_unless_the_deal_moved_on(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    feedback = await stage_named(client, tenant_a, "Обратная связь")
    repeat = await stage_named(client, tenant_a, "Повторная продажа")
    (pipeline,) = (await client.get("/api/v1/pipelines", headers=tenant_a.headers)).json()
    for stage in (feedback, repeat):
        response = await client.patch(
            f"/api/v1/pipelines/{pipeline['id']}/stages/{stage['id']}",
            json={"follow_up_days": 2, "follow_up_text": f"Напоминание: {stage['name']}"},
            headers=tenant_a.headers,
        )
        assert response.status_code == 200
    first = await customer_writes(client, tenant_a, "Вернулся из тура", contact="traveller")
    second = await customer_writes(client, tenant_a, "И я тоже", contact="traveller-2")
    await run_queued_jobs(runtime)
    deals = {
        deal["conversation_id"]: deal
        for deal in (await client.get("/api/v1/deals", headers=tenant_a.headers)).json()["items"]
    }
    for conversation in (first, second):
        deal_id = deals[conversation["conversation_id"]]["id"]
        await client.patch(f"/api/v1/deals/{deal_id}", json={"stage_id": feedback["id"]}, headers=tenant_a.headers)
    # The second deal moves on before its reminder is due: it is reminded of the stage it is in now, later.
    await client.patch(
        f"/api/v1/deals/{deals[second['conversation_id']]['id']}",
        json={"stage_id": repeat["id"]},
        headers=tenant_a.headers,
    )
    now = datetime.now(UTC)
    assert await send_due_follow_ups(runtime.database, now) == 0
    assert await send_due_follow_ups(runtime.database, now + timedelta(days=2, minutes=1)) == 2
    assert await send_due_follow_ups(runtime.database, now + timedelta(days=3)) == 0
    first_texts = [message["text"] for message in await messages(client, tenant_a, first["conversation_id"])]
    second_texts = [message["text"] for message in await messages(client, tenant_a, second["conversation_id"])]
    assert first_texts.count("Напоминание: Обратная связь") == 1
    assert "Напоминание: Обратная связь" not in second_texts
    assert second_texts.count("Напоминание: Повторная продажа") == 1


async def test_a_task_coming_due_tells_its_assignee_once(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    manager = await sign_in(client, database, tenant_a, Role.operator)
    contact_id = await new_contact(client, tenant_a, runtime, "Гульнара")
    due = datetime.now(UTC) + timedelta(hours=1)
    created = await client.post(
        "/api/v1/tasks",
        json={"title": "Отправить договор", "contact_id": contact_id, "due_at": due.isoformat()},
        headers=manager.headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["assignee_id"] == str(manager.user_id)
    async with runtime.database.session() as session, session.begin():
        assert await remind_due(session, datetime.now(UTC)) == 0
    async with runtime.database.session() as session, session.begin():
        assert await remind_due(session, due + timedelta(seconds=1)) == 1
    async with runtime.database.session() as session, session.begin():
        assert await remind_due(session, due + timedelta(minutes=5)) == 0
    (event,) = await staff_events(database, tenant_a, "crm.task_due")
    assert event["title"] == "Отправить договор" and event["user_id"] == str(manager.user_id)

    done = await client.patch(f"/api/v1/tasks/{created.json()['id']}", json={"done": True}, headers=manager.headers)
    assert done.status_code == 200 and done.json()["done_at"] is not None
    open_tasks = (await client.get("/api/v1/tasks", params={"done": "false"}, headers=manager.headers)).json()
    assert open_tasks["total"] == 0


async def test_rules_are_checked_when_made(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    other_stage = await stage_named(client, tenant_b, "Продажа")
    for rule, mentions in [
        ({"event": "no_reply", "action": "notify_member"}, "days"),
        ({"event": "first_message", "action": "move_deal"}, "stage_id"),
        ({"event": "first_message", "action": "send_message", "params": {"text": "  "}}, "text"),
        ({"event": "stage_entered", "action": "move_deal", "params": {"stage_id": other_stage["id"]}}, "stage_id"),
        ({"event": "whenever", "action": "create_deal"}, "event"),
    ]:
        response = await client.post("/api/v1/funnel-rules", json={"name": "r", **rule}, headers=tenant_a.headers)
        assert response.status_code == 422, rule
        assert mentions in response.text
