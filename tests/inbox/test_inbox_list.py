"""The inbox list (filters, unread counts, last message, cursor pages), labels and canned responses."""

from __future__ import annotations

import httpx
import pytest

from easyflow.db.database import Database
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, run_queued_jobs
from tests.inbox.staff import customer_writes, patch, send_as_staff, sign_in
from tests.support import assert_problem

LIST = "/api/v1/conversations"


async def test_each_item_has_its_unread_count_and_last_message_and_notes_are_not_previewed(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    anna = await sign_in(client, database, tenant_a)
    accepted = await customer_writes(client, tenant_a, "Позовите оператора")
    await run_queued_jobs(runtime)
    await customer_writes(client, tenant_a, "Алло?")
    await customer_writes(client, tenant_a, "Есть кто-нибудь?")
    await run_queued_jobs(runtime)
    [item] = (await client.get(LIST, headers=anna.headers)).json()["items"]
    assert item["unread"] == 2
    assert (item["last_message"]["role"], item["last_message"]["text"]) == ("contact", "Есть кто-нибудь?")
    await send_as_staff(client, anna.headers, accepted["conversation_id"], "Да, слушаю вас")
    await send_as_staff(client, anna.headers, accepted["conversation_id"], "внутренняя заметка", private=True)
    [item] = (await client.get(LIST, headers=anna.headers)).json()["items"]
    assert item["unread"] == 0
    assert (item["last_message"]["role"], item["last_message"]["text"]) == ("operator", "Да, слушаю вас")


async def test_filters_by_status_assignee_label_and_contact_search(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    anna = await sign_in(client, database, tenant_a)
    ids = {}
    for contact in ("Айгерим", "Boris", "Ольга_100%"):
        body = {"contact": {"external_id": contact, "name": contact}, "text": "Привет", "external_message_id": contact}
        ids[contact] = (await client.post("/api/v1/channels/api/messages", json=body, headers=tenant_a.headers)).json()[
            "conversation_id"
        ]
    await run_queued_jobs(runtime)
    await patch(client, anna.headers, ids["Boris"], status="open")
    labelled = await patch(client, anna.headers, ids["Айгерим"], labels=["vip", "жалоба", "vip"])
    assert labelled.json()["labels"] == ["vip", "жалоба"]

    async def listed(query: str) -> set[str]:
        response = await client.get(f"{LIST}?{query}", headers=anna.headers)
        assert response.status_code == 200, response.text
        return {item["contact"]["name"] for item in response.json()["items"]}

    assert await listed("status=open") == {"Boris"}
    assert await listed("assignee=me") == {"Boris"}
    assert await listed(f"assignee={anna.user_id}") == {"Boris"}
    assert await listed("assignee=none") == {"Айгерим", "Ольга_100%"}
    assert await listed("label=жалоба") == {"Айгерим"}
    assert await listed("q=айгер") == {"Айгерим"}
    assert await listed("q=_100%25") == {"Ольга_100%"}  # LIKE's wildcards are searched as themselves
    assert await listed("q=%25") == {"Ольга_100%"}
    for bad in ("assignee=someone", "q=%00", "label=%00", "cursor=not-a-cursor", "status=closed"):
        assert_problem(await client.get(f"{LIST}?{bad}", headers=anna.headers), 422)
    assert_problem(await client.get(f"{LIST}?assignee=me", headers=tenant_a.headers), 422)  # a key is nobody


async def test_cursor_pages_neither_repeat_nor_skip_when_new_conversations_arrive_meanwhile(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    for n in range(7):
        await customer_writes(client, tenant_a, f"Вопрос {n}", contact=f"c{n}")
    seen: list[str] = []
    page = (await client.get(f"{LIST}?limit=3", headers=tenant_a.headers)).json()
    assert page["total"] == 7
    seen += [item["id"] for item in page["items"]]
    # A new conversation arrives at the top meanwhile: with offsets the next page would repeat an item.
    newcomer = await customer_writes(client, tenant_a, "Новое сообщение", contact="c7")
    while page["next_cursor"]:
        page = (await client.get(f"{LIST}?limit=3&cursor={page['next_cursor']}", headers=tenant_a.headers)).json()
        seen += [item["id"] for item in page["items"]]
    assert len(seen) == len(set(seen)) == 7
    assert newcomer["conversation_id"] not in seen


async def test_canned_responses_by_prefix_unique_codes_and_tenant_walls(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    anna = await sign_in(client, database, tenant_a)
    url = "/api/v1/canned-responses"
    created = await client.post(url, json={"short_code": "price", "text": "Стрижка — 1500 ₽."}, headers=anna.headers)
    assert created.status_code == 201, created.text
    await client.post(url, json={"short_code": "prices_kids", "text": "Детская — 900 ₽."}, headers=anna.headers)
    await client.post(url, json={"short_code": "hours", "text": "10–21 без выходных."}, headers=anna.headers)
    found = (await client.get(f"{url}?prefix=PRI", headers=anna.headers)).json()
    assert [r["short_code"] for r in found] == ["price", "prices_kids"]
    assert_problem(await client.post(url, json={"short_code": "PRICE", "text": "x"}, headers=anna.headers), 409)
    for bad in ({"short_code": "has space", "text": "x"}, {"short_code": "ok", "text": " "}, {"short_code": "ok"}):
        assert_problem(await client.post(url, json=bad, headers=anna.headers), 422)
    response_id = created.json()["id"]
    changed = await client.patch(f"{url}/{response_id}", json={"text": "Стрижка — 1600 ₽."}, headers=anna.headers)
    assert changed.json()["text"] == "Стрижка — 1600 ₽."
    # Another tenant neither sees nor touches it.
    assert (await client.get(f"{url}?prefix=pri", headers=tenant_b.headers)).json() == []
    assert (await client.patch(f"{url}/{response_id}", json={"text": "x"}, headers=tenant_b.headers)).status_code == 404
    assert (await client.delete(f"{url}/{response_id}", headers=tenant_b.headers)).status_code == 404
    assert (
        await client.post(url, json={"short_code": "price", "text": "их"}, headers=tenant_b.headers)
    ).status_code == 201
    assert (await client.delete(f"{url}/{response_id}", headers=anna.headers)).status_code == 204
    assert [r["short_code"] for r in (await client.get(f"{url}?prefix=pri", headers=anna.headers)).json()] == [
        "prices_kids"
    ]


@pytest.mark.parametrize("labels", [["x" * 65], ["ok"] * 21, ["a\x00b"], "vip"])
async def test_bad_labels_are_422_and_keep_what_was_there(
    client: httpx.AsyncClient, tenant_a: TenantFixture, labels: object
) -> None:
    accepted = await customer_writes(client, tenant_a, "Привет")
    await patch(client, tenant_a.headers, accepted["conversation_id"], labels=["vip"])
    assert_problem(await patch(client, tenant_a.headers, accepted["conversation_id"], labels=labels), 422)
    kept = (await client.get(f"{LIST}/{accepted['conversation_id']}", headers=tenant_a.headers)).json()
    assert kept["labels"] == ["vip"]


async def test_a_search_counts_its_matches_on_every_page(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    for number, name in enumerate(["Пётр Петров", "Анна Петрова", "ПЕТРОВ И.", "Петровская Ольга", "Иван Сидоров"]):
        body = {
            "contact": {"external_id": f"p{number}", "name": name},
            "text": "Добрый день",
            "external_message_id": f"p{number}",
        }
        assert (
            await client.post("/api/v1/channels/api/messages", json=body, headers=tenant_a.headers)
        ).status_code == 202

    async def page(query: str) -> dict:
        response = await client.get(f"{LIST}?{query}", headers=tenant_a.headers)
        assert response.status_code == 200, response.text
        return dict(response.json())

    first = await page("q=петров&limit=3")
    assert (len(first["items"]), first["total"]) == (3, 4)
    second = await page(f"q=петров&limit=3&cursor={first['next_cursor']}")
    assert (len(second["items"]), second["total"]) == (1, 4)
    names = {item["contact"]["name"] for item in first["items"] + second["items"]}
    assert names == {"Пётр Петров", "Анна Петрова", "ПЕТРОВ И.", "Петровская Ольга"}
    assert (await page("q=петров&offset=10"))["items"] == [] and (await page("q=петров&offset=10"))["total"] == 4
    assert await page("q=кузнецов") == {"items": [], "total": 0, "next_cursor": None}
