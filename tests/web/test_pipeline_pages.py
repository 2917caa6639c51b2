"""The Pipelines page over HTTP: an admin renames a pipeline, adds, edits, reorders and removes stages (a
stage with deals only by naming where they go), adds a pipeline, and adds, switches and deletes rules in
Russian; an operator is refused; another workspace's pipeline, stage and rule are not found."""

from __future__ import annotations

import re

import httpx

from easyflow.db.database import Database
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture
from tests.web.dashboard import csrf_of, home_csrf, sign_in
from tests.web.test_deal_pages import contact, new_deal, sign_in_member


async def pipeline(client: httpx.AsyncClient, tenant: TenantFixture, index: int = 0) -> dict:
    return (await client.get("/api/v1/pipelines", headers=tenant.headers)).json()[index]


async def test_an_admin_edits_the_pipeline_and_its_stages(
    client: httpx.AsyncClient, runtime: Runtime, tenant_a: TenantFixture
) -> None:
    sales = await pipeline(client, tenant_a)
    stages = {stage["name"]: stage["id"] for stage in sales["stages"]}
    customer, _ = await contact(client, runtime, tenant_a, "Айгуль")
    deal = await new_deal(client, tenant_a, customer, stage_id=stages["Прогрев"])
    await sign_in(client, tenant_a)
    page = await client.get("/app/pipelines")
    assert page.status_code == 200, page.text
    assert "Прогрев" in page.text and "Первое сообщение открывает сделку" in page.text
    csrf = csrf_of(page)
    base = f"/app/pipelines/{sales['id']}"

    renamed = await client.post(base, data={"csrf_token": csrf, "name": "Туры", "assistant_may_move_back": "1"})
    assert renamed.status_code == 303
    added = await client.post(f"{base}/stages", data={"csrf_token": csrf, "name": "Предоплата", "kind": "open"})
    assert added.status_code == 303
    sales = await pipeline(client, tenant_a)
    assert sales["name"] == "Туры" and sales["assistant_may_move_back"] is True
    new_stage = sales["stages"][-1]
    assert new_stage["name"] == "Предоплата"

    up = await client.post(f"{base}/stages/{new_stage['id']}/move", data={"csrf_token": csrf, "direction": "up"})
    assert up.status_code == 303
    assert [s["name"] for s in (await pipeline(client, tenant_a))["stages"]][-2:] == ["Предоплата", "Отказ"]

    edited = await client.post(
        f"{base}/stages/{stages['Прогрев']}",
        data={
            "csrf_token": csrf, "name": "Прогрев клиента", "kind": "open", "instructions": "Отвечай на сомнения",
            "follow_up_days": "3", "follow_up_text": "Вы ещё думаете о туре?",
        },
    )  # fmt: skip
    assert edited.status_code == 303
    warming = next(s for s in (await pipeline(client, tenant_a))["stages"] if s["id"] == stages["Прогрев"])
    assert (warming["name"], warming["follow_up_days"], warming["instructions"]) == (
        "Прогрев клиента",
        3,
        "Отвечай на сомнения",
    )
    refused = await client.post(
        f"{base}/stages/{stages['Прогрев']}", data={"csrf_token": csrf, "name": "Прогрев", "kind": "lost"}
    )
    assert refused.status_code == 409 and "стадией отказа она станет" in refused.text
    bad = await client.post(f"{base}/stages/{stages['Прогрев']}", data={"csrf_token": csrf, "name": "", "kind": "open"})
    assert bad.status_code == 422

    # A stage holding a deal is removed only by naming where its deals go.
    kept = await client.post(f"{base}/stages/{stages['Прогрев']}/remove", data={"csrf_token": csrf, "move_to": ""})
    assert kept.status_code == 409 and 'role="alert"' in kept.text
    removed = await client.post(
        f"{base}/stages/{stages['Прогрев']}/remove", data={"csrf_token": csrf, "move_to": stages["Предложение"]}
    )
    assert removed.status_code == 303
    assert "Прогрев клиента" not in [s["name"] for s in (await pipeline(client, tenant_a))["stages"]]
    history = (await client.get(f"/api/v1/deals/{deal['id']}/history", headers=tenant_a.headers)).json()
    assert history[-1]["to_stage"]["name"] == "Предложение" and history[-1]["actor_id"] == str(tenant_a.owner_id)

    created = await client.post("/app/pipelines", data={"csrf_token": csrf, "name": "Партнёрские туры"})
    assert created.status_code == 303
    second = await pipeline(client, tenant_a, 1)
    assert second["name"] == "Партнёрские туры"
    assert [(s["name"], s["kind"]) for s in second["stages"]] == [
        ("Новая", "open"), ("Выиграна", "won"), ("Проиграна", "lost")
    ]  # fmt: skip
    assert (await client.post(f"/app/pipelines/{second['id']}/delete", data={"csrf_token": csrf})).status_code == 303
    assert len((await client.get("/api/v1/pipelines", headers=tenant_a.headers)).json()) == 1
    last = await client.post(f"{base}/delete", data={"csrf_token": csrf})
    assert last.status_code == 409


async def test_an_admin_adds_switches_and_deletes_rules(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    sales = await pipeline(client, tenant_a)
    offer = next(stage["id"] for stage in sales["stages"] if stage["name"] == "Предложение")
    await sign_in(client, tenant_a)
    csrf = await home_csrf(client)
    page = await client.get("/app/pipelines")
    assert "Сделка попадает в стадию" in page.text and "Поставить задачу" in page.text
    added = await client.post(
        "/app/pipelines/rules/new",
        data={
            "csrf_token": csrf, "name": "Предложение — задача", "event": "stage_entered",
            "condition_stage_id": offer, "action": "create_task", "user_id": str(tenant_a.owner_id),
            "text": "Позвонить и обсудить предложение", "due_in_hours": "4",
        },
    )  # fmt: skip
    assert added.status_code == 303, added.text
    rules = (await client.get("/api/v1/funnel-rules", headers=tenant_a.headers)).json()
    rule = next(each for each in rules if each["name"] == "Предложение — задача")
    assert rule["conditions"] == {"stage_id": offer}
    assert rule["params"] == {
        "user_id": str(tenant_a.owner_id),
        "text": "Позвонить и обсудить предложение",
        "due_in_hours": 4,
    }
    page = await client.get("/app/pipelines")
    assert "Продажи: Предложение" in page.text and "«Позвонить и обсудить предложение»" in page.text

    incomplete = await client.post(
        "/app/pipelines/rules/new",
        data={"csrf_token": csrf, "name": "Без стадии", "event": "handed_off", "action": "move_deal"},
    )
    assert incomplete.status_code == 422 and 'role="alert"' in incomplete.text

    off = await client.post(f"/app/pipelines/rules/{rule['id']}", data={"csrf_token": csrf, "enabled": "0"})
    assert off.status_code == 303
    rules = (await client.get("/api/v1/funnel-rules", headers=tenant_a.headers)).json()
    assert next(each for each in rules if each["id"] == rule["id"])["enabled"] is False
    deleted = await client.post(f"/app/pipelines/rules/{rule['id']}", data={"csrf_token": csrf, "delete": "1"})
    assert deleted.status_code == 303
    assert rule["id"] not in [
        each["id"] for each in (await client.get("/api/v1/funnel-rules", headers=tenant_a.headers)).json()
    ]


async def test_operators_are_refused_and_other_workspaces_not_found(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    theirs = await pipeline(client, tenant_b)
    their_stage = theirs["stages"][0]["id"]
    their_rule = (await client.get("/api/v1/funnel-rules", headers=tenant_b.headers)).json()[0]["id"]
    await sign_in(client, tenant_a)
    csrf = await home_csrf(client)
    assert (await client.get("/app/pipelines", params={"pipeline": theirs["id"]})).status_code == 404
    for path, data in (
        (f"/app/pipelines/{theirs['id']}", {"name": "Моя"}),
        (f"/app/pipelines/{theirs['id']}/stages", {"name": "Моя", "kind": "open"}),
        (f"/app/pipelines/{theirs['id']}/stages/{their_stage}", {"name": "Моя", "kind": "open"}),
        (f"/app/pipelines/{theirs['id']}/stages/{their_stage}/remove", {}),
        (f"/app/pipelines/{theirs['id']}/stages/{their_stage}/move", {"direction": "down"}),
        (f"/app/pipelines/{theirs['id']}/delete", {}),
        (f"/app/pipelines/rules/{their_rule}", {"delete": "1"}),
    ):
        assert (await client.post(path, data={"csrf_token": csrf, **data})).status_code == 404, path
    assert (await pipeline(client, tenant_b))["stages"][0]["name"] == theirs["stages"][0]["name"]
    assert len((await client.get("/api/v1/funnel-rules", headers=tenant_b.headers)).json()) == 1

    await client.post("/app/logout", data={"csrf_token": csrf})
    await sign_in_member(client, database, tenant_a, Role.operator)
    assert (await client.get("/app/pipelines")).status_code == 403
    home = await client.get("/app/")
    assert 'href="/app/pipelines"' not in home.text and 'href="/app/deals"' in home.text
    assert re.search(r'href="/app/analytics/funnel"', home.text)
