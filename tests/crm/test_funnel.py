"""Pipelines, deals and their history through the API: the default funnel, moves and who made them, lost stages,
removing and reordering stages, and the walls between tenants."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import text

from easyflow.db.database import Database
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, make_key, run_queued_jobs
from tests.inbox.staff import customer_writes, sign_in

DEFAULT_STAGES = [
    "Новый лид",
    "Квалификация",
    "Прогрев",
    "Предложение",
    "Переговоры",
    "Продажа",
    "Сервис",
    "Обратная связь",
    "Повторная продажа",
    "Отказ",
]


async def pipelines(client: httpx.AsyncClient, tenant: TenantFixture) -> list[dict]:
    response = await client.get("/api/v1/pipelines", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def stage_named(client: httpx.AsyncClient, tenant: TenantFixture, name: str) -> dict:
    return next(stage for stage in (await pipelines(client, tenant))[0]["stages"] if stage["name"] == name)


async def new_contact(client: httpx.AsyncClient, tenant: TenantFixture, runtime: Runtime, name: str) -> str:
    """A customer who wrote once (their first message opens a deal by the default rule)."""
    accepted = await customer_writes(client, tenant, "Здравствуйте", contact=f"c-{uuid.uuid4().hex[:8]}")
    await run_queued_jobs(runtime)
    detail = (await client.get(f"/api/v1/conversations/{accepted['conversation_id']}", headers=tenant.headers)).json()
    contact_id = detail["contact"]["id"] if "contact" in detail else detail["contact_id"]
    async with runtime.database.tenant_transaction(tenant.id) as session:
        await session.execute(text("UPDATE contacts SET name = :name WHERE id = :id"), {"name": name, "id": contact_id})
    return str(contact_id)


async def create_deal(client: httpx.AsyncClient, tenant: TenantFixture, contact_id: str, **fields: object) -> dict:
    response = await client.post(
        "/api/v1/deals", json={"title": "Тур в Каракол", "contact_id": contact_id, **fields}, headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_new_workspace_has_the_tour_funnel_and_the_first_message_rule(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    (pipeline,) = await pipelines(client, tenant_a)
    assert pipeline["name"] == "Продажи"
    assert [stage["name"] for stage in pipeline["stages"]] == DEFAULT_STAGES
    kinds = {stage["name"]: stage["kind"] for stage in pipeline["stages"]}
    assert kinds["Переговоры"] == "open" and kinds["Продажа"] == "won" and kinds["Отказ"] == "lost"
    assert "оценить" in next(s for s in pipeline["stages"] if s["name"] == "Обратная связь")["instructions"]
    rules = (await client.get("/api/v1/funnel-rules", headers=tenant_a.headers)).json()
    assert [(rule["event"], rule["action"]) for rule in rules] == [("first_message", "create_deal")]
    assert rules[0]["params"]["stage_id"] == pipeline["stages"][0]["id"]


async def test_a_customers_first_message_opens_a_deal_once(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    accepted = await customer_writes(client, tenant_a, "Хочу тур на Иссык-Куль", contact="first-timer")
    ran = await run_queued_jobs(runtime)
    assert "crm.apply_rules" in ran
    await customer_writes(client, tenant_a, "И ещё вопрос", contact="first-timer")
    await run_queued_jobs(runtime)

    deals = (await client.get("/api/v1/deals", headers=tenant_a.headers)).json()
    assert deals["total"] == 1
    (deal,) = deals["items"]
    assert deal["stage"]["name"] == "Новый лид"
    assert deal["conversation_id"] == accepted["conversation_id"]
    assert deal["source_channel"] == "api"
    (move,) = (await client.get(f"/api/v1/deals/{deal['id']}/history", headers=tenant_a.headers)).json()
    assert move["actor"] == "rule" and move["from_stage"] is None and move["to_stage"]["name"] == "Новый лид"
    assert move["reason"] == "Первое сообщение открывает сделку"

    # The same event delivered again (a retried job) moves nothing twice.
    async with runtime.database.session() as session, session.begin():
        await session.execute(
            text(
                "SELECT easyflow_defer_job('crm', 'crm.apply_rules', NULL, NULL, jsonb_build_object("
                "'tenant_id', CAST(:tenant AS text), 'event', 'first_message', 'key', CAST(:conversation AS text),"
                "'conversation_id', CAST(:conversation AS text), 'depth', 0))"
            ),
            {"tenant": str(tenant_a.id), "conversation": accepted["conversation_id"]},
        )
    assert await run_queued_jobs(runtime) == ["crm.apply_rules"]
    assert (await client.get("/api/v1/deals", headers=tenant_a.headers)).json()["total"] == 1


async def test_moves_are_kept_with_who_and_why_and_lost_needs_a_reason(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    manager = await sign_in(client, database, tenant_a, Role.operator)
    contact_id = await new_contact(client, tenant_a, runtime, "Айгуль")
    deal = await create_deal(client, tenant_a, contact_id, amount="125000.50", currency="KGS")
    assert deal["amount"] == "125000.50" and deal["stage"]["name"] == "Новый лид"
    offer = await stage_named(client, tenant_a, "Предложение")
    lost = await stage_named(client, tenant_a, "Отказ")

    moved = await client.patch(
        f"/api/v1/deals/{deal['id']}",
        json={"stage_id": offer["id"], "reason": "бюджет подтверждён"},
        headers=manager.headers,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["stage"]["name"] == "Предложение" and moved.json()["closed_at"] is None

    refused = await client.patch(f"/api/v1/deals/{deal['id']}", json={"stage_id": lost["id"]}, headers=manager.headers)
    assert refused.status_code == 422
    assert "loss_reason" in refused.json()["detail"]
    assert (await client.get(f"/api/v1/deals/{deal['id']}", headers=tenant_a.headers)).json()["stage"]["id"] == offer[
        "id"
    ]

    closed = await client.patch(
        f"/api/v1/deals/{deal['id']}",
        json={"stage_id": lost["id"], "loss_reason": "выбрали другое агентство"},
        headers=manager.headers,
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["closed_at"] is not None and closed.json()["loss_reason"] == "выбрали другое агентство"

    history = (await client.get(f"/api/v1/deals/{deal['id']}/history", headers=tenant_a.headers)).json()
    assert [(move["to_stage"]["name"], move["actor"]) for move in history] == [
        ("Новый лид", "member"),
        ("Предложение", "member"),
        ("Отказ", "member"),
    ]
    assert history[1]["reason"] == "бюджет подтверждён"
    assert history[1]["actor_id"] == str(manager.user_id)
    assert history[1]["from_stage"]["name"] == "Новый лид"


async def test_no_path_moves_a_deal_without_a_history_row(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    contact_id = await new_contact(client, tenant_a, runtime, "Нурлан")
    deal = await create_deal(client, tenant_a, contact_id)
    warming = await stage_named(client, tenant_a, "Прогрев")
    lost = await stage_named(client, tenant_a, "Отказ")
    async with runtime.database.tenant_transaction(tenant_a.id) as session:
        # Written past every service: the database still keeps the move (as the system's).
        await session.execute(
            text("UPDATE deals SET stage_id = :stage WHERE id = :deal"), {"stage": warming["id"], "deal": deal["id"]}
        )
    history = (await client.get(f"/api/v1/deals/{deal['id']}/history", headers=tenant_a.headers)).json()
    assert [(move["to_stage"]["name"], move["actor"]) for move in history][-1] == ("Прогрев", "system")

    with pytest.raises(Exception, match="loss reason"):
        async with runtime.database.tenant_transaction(tenant_a.id) as session:
            await session.execute(
                text("UPDATE deals SET stage_id = :stage WHERE id = :deal"), {"stage": lost["id"], "deal": deal["id"]}
            )


async def test_a_stage_with_deals_is_removed_only_by_moving_them(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    (pipeline,) = await pipelines(client, tenant_a)
    contact_id = await new_contact(client, tenant_a, runtime, "Бакыт")
    warming = await stage_named(client, tenant_a, "Прогрев")
    offer = await stage_named(client, tenant_a, "Предложение")
    deal = await create_deal(client, tenant_a, contact_id, stage_id=warming["id"])
    url = f"/api/v1/pipelines/{pipeline['id']}/stages/{warming['id']}"

    refused = await client.delete(url, headers=tenant_a.headers)
    assert refused.status_code == 409
    assert "move_to" in refused.json()["detail"]

    removed = await client.delete(url, params={"move_to": offer["id"]}, headers=tenant_a.headers)
    assert removed.status_code == 200, removed.text
    names = [stage["name"] for stage in removed.json()["stages"]]
    assert "Прогрев" not in names and [stage["position"] for stage in removed.json()["stages"]] == list(range(9))
    assert (await client.get(f"/api/v1/deals/{deal['id']}", headers=tenant_a.headers)).json()["stage"]["id"] == offer[
        "id"
    ]
    history = (await client.get(f"/api/v1/deals/{deal['id']}/history", headers=tenant_a.headers)).json()
    assert history[-1]["reason"] == "stage removed" and history[-1]["to_stage"]["name"] == "Предложение"


async def test_the_owner_renames_reorders_and_adds_stages(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    (pipeline,) = await pipelines(client, tenant_a)
    stage_ids = [stage["id"] for stage in pipeline["stages"]]
    base = f"/api/v1/pipelines/{pipeline['id']}"

    reordered = await client.patch(
        base,
        json={"name": "Туры", "stage_order": [stage_ids[1], stage_ids[0], *stage_ids[2:]]},
        headers=tenant_a.headers,
    )
    assert reordered.status_code == 200, reordered.text
    assert reordered.json()["name"] == "Туры"
    assert [stage["name"] for stage in reordered.json()["stages"]][:2] == ["Квалификация", "Новый лид"]

    incomplete = await client.patch(base, json={"stage_order": stage_ids[:3]}, headers=tenant_a.headers)
    assert incomplete.status_code == 422

    added = await client.post(
        f"{base}/stages",
        json={"name": "Бронь отеля", "position": 6, "follow_up_days": 2, "follow_up_text": "Как вам отель?"},
        headers=tenant_a.headers,
    )
    assert added.status_code == 201, added.text
    assert added.json()["stages"][6]["name"] == "Бронь отеля"
    assert added.json()["stages"][6]["follow_up_days"] == 2

    renamed = await client.patch(
        f"{base}/stages/{stage_ids[0]}", json={"name": "Новая заявка"}, headers=tenant_a.headers
    )
    assert renamed.status_code == 200
    assert "Новая заявка" in [stage["name"] for stage in renamed.json()["stages"]]


@pytest.mark.parametrize(
    ("fields", "mentions"),
    [
        ({"amount": "1e20"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"currency": "BTC"}, "currency"),
        ({"title": "Тур\x00"}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"custom_fields": {f"k{i}": i for i in range(60)}}, "custom_fields"),
    ],
)
async def test_bad_deal_input_is_refused_with_what_was_wrong(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, fields: dict, mentions: str
) -> None:
    contact_id = await new_contact(client, tenant_a, runtime, "Ольга")
    before = (await client.get("/api/v1/deals", headers=tenant_a.headers)).json()["total"]
    response = await client.post(
        "/api/v1/deals", json={"title": "Тур", "contact_id": contact_id, **fields}, headers=tenant_a.headers
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert mentions in response.text
    assert (await client.get("/api/v1/deals", headers=tenant_a.headers)).json()["total"] == before


async def test_deals_pipelines_and_rules_of_another_workspace_are_not_found(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture, runtime: Runtime
) -> None:
    contact_id = await new_contact(client, tenant_a, runtime, "Асель")
    deal = await create_deal(client, tenant_a, contact_id)
    (pipeline,) = await pipelines(client, tenant_a)
    rule_id = (await client.get("/api/v1/funnel-rules", headers=tenant_a.headers)).json()[0]["id"]
    other = tenant_b.headers
    for method, url, body in [
        ("GET", f"/api/v1/deals/{deal['id']}", None),
        ("PATCH", f"/api/v1/deals/{deal['id']}", {"title": "чужая"}),
        ("GET", f"/api/v1/deals/{deal['id']}/history", None),
        ("GET", f"/api/v1/pipelines/{pipeline['id']}", None),
        ("PATCH", f"/api/v1/pipelines/{pipeline['id']}", {"name": "чужая"}),
        ("DELETE", f"/api/v1/pipelines/{pipeline['id']}/stages/{pipeline['stages'][0]['id']}", None),
        ("PATCH", f"/api/v1/funnel-rules/{rule_id}", {"enabled": False}),
        ("DELETE", f"/api/v1/funnel-rules/{rule_id}", None),
    ]:
        response = await client.request(method, url, json=body, headers=other)
        assert response.status_code == 404, (method, url, response.text)
    # Nor can another workspace's contact or stage be named in a deal of one's own.
    refused = await client.post("/api/v1/deals", json={"title": "x", "contact_id": contact_id}, headers=other)
    assert refused.status_code == 422
    assert (await client.get("/api/v1/deals", headers=other)).json()["total"] == 0
    assert (await client.get(f"/api/v1/deals/{deal['id']}", headers=tenant_a.headers)).json()["title"] == deal["title"]


async def test_who_may_do_what(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    contact_id = await new_contact(client, tenant_a, runtime, "Марат")
    viewer = {"Authorization": f"Bearer {await make_key(database, tenant_a, Role.viewer)}"}
    operator = {"Authorization": f"Bearer {await make_key(database, tenant_a, Role.operator)}"}
    assert (await client.get("/api/v1/deals")).status_code == 401
    assert (await client.get("/api/v1/deals", headers=viewer)).status_code == 200
    body = {"title": "Тур", "contact_id": contact_id}
    assert (await client.post("/api/v1/deals", json=body, headers=viewer)).status_code == 403
    assert (await client.post("/api/v1/deals", json=body, headers=operator)).status_code == 201
    new_pipeline = {"name": "Оптовики", "stages": [{"name": "Заявка"}, {"name": "Отгрузка", "kind": "won"}]}
    assert (await client.post("/api/v1/pipelines", json=new_pipeline, headers=operator)).status_code == 403
    created = await client.post("/api/v1/pipelines", json=new_pipeline, headers=tenant_a.headers)
    assert created.status_code == 201
    assert [stage["kind"] for stage in created.json()["stages"]] == ["open", "won"]
