"""The generic API channel: accept, deduplicate, answer (offline answerer), read back, isolate tenants."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.db.database import Database
from easyflow.db.session import enter_system_scope
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, make_key, run_queued_jobs

POST = "/api/v1/channels/api/messages"


def message(text: str, external_id: str | None = None, contact: str = "customer-1", **extra: object) -> dict:
    return {
        "contact": {"external_id": contact, "name": "Айгерим"},
        "text": text,
        "external_message_id": external_id or uuid.uuid4().hex,
        **extra,
    }


async def post(client: httpx.AsyncClient, tenant: TenantFixture, body: object) -> httpx.Response:
    return await client.post(POST, json=body, headers=tenant.headers)


async def messages_of(client: httpx.AsyncClient, tenant: TenantFixture, conversation_id: str) -> list[dict]:
    response = await client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def count(session: AsyncSession, table: str) -> int:
    await enter_system_scope(session)
    return int((await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def test_a_message_is_stored_with_its_job_before_202(
    client: httpx.AsyncClient, tenant_a: TenantFixture, session: AsyncSession
) -> None:
    response = await post(client, tenant_a, message("Здравствуйте!"))
    assert response.status_code == 202
    accepted = response.json()
    assert accepted["duplicate"] is False
    jobs = (
        await session.execute(
            text(
                "SELECT task_name, lock, args FROM procrastinate_jobs WHERE args->>'conversation_id' = :c"
                " AND task_name NOT LIKE 'crm.%'"
            ),
            {"c": accepted["conversation_id"]},
        )
    ).all()
    assert [(j.task_name, j.lock) for j in jobs] == [
        ("conversations.reply", f"conversation:{accepted['conversation_id']}")
    ]
    stored = await messages_of(client, tenant_a, accepted["conversation_id"])
    assert [(m["id"], m["role"], m["text"]) for m in stored] == [(accepted["message_id"], "contact", "Здравствуйте!")]


async def test_the_offline_assistant_greets_and_replies_are_read_back_oldest_first(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    accepted = (await post(client, tenant_a, message("Привет"))).json()
    # Nothing to push for the API channel without a webhook: no delivery job, the reply is stored.
    # (besides the funnel's job for the new conversation: tests/crm)
    assert [job for job in await run_queued_jobs(runtime) if not job.startswith("crm.")] == ["conversations.reply"]
    stored = await messages_of(client, tenant_a, accepted["conversation_id"])
    assert [m["role"] for m in stored] == ["contact", "assistant"]
    assert stored[1]["text"].startswith("Здравствуйте!")
    assert stored[1]["delivery_status"] == "stored"  # no webhook: the API client reads it back


async def test_a_duplicate_is_acknowledged_and_answered_once(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, session: AsyncSession
) -> None:
    first = (await post(client, tenant_a, message("Привет", "ext-1"))).json()
    again = await post(client, tenant_a, message("Привет", "ext-1"))
    assert again.status_code == 202
    assert again.json() == {**first, "duplicate": True}
    await run_queued_jobs(runtime)
    replayed = (await post(client, tenant_a, message("Привет", "ext-1"))).json()
    assert replayed["duplicate"] is True
    await run_queued_jobs(runtime)
    roles = [m["role"] for m in await messages_of(client, tenant_a, first["conversation_id"])]
    assert roles == ["contact", "assistant"]


async def test_messages_that_arrive_while_busy_are_answered_together(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    ids = []
    for text_ in ("Добрый день", "Хочу записаться", "На завтра"):
        ids.append((await post(client, tenant_a, message(text_))).json())
    conversation = ids[0]["conversation_id"]
    assert {i["conversation_id"] for i in ids} == {conversation}
    await run_queued_jobs(runtime)
    stored = await messages_of(client, tenant_a, conversation)
    assert [m["role"] for m in stored] == ["contact", "contact", "contact", "assistant"]


async def test_order_is_kept_within_a_conversation(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    first = (await post(client, tenant_a, message("Привет"))).json()
    await run_queued_jobs(runtime)
    await post(client, tenant_a, message("Где вы находитесь?"))
    await run_queued_jobs(runtime)
    stored = await messages_of(client, tenant_a, first["conversation_id"])
    assert [m["role"] for m in stored] == ["contact", "assistant", "contact", "assistant"]
    assert stored[0]["text"] == "Привет" and stored[2]["text"] == "Где вы находитесь?"


async def test_an_unanswerable_question_is_honest_offers_a_human_and_flags(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    accepted = (await post(client, tenant_a, message("Сколько стоит окрашивание?"))).json()
    await run_queued_jobs(runtime)
    reply = (await messages_of(client, tenant_a, accepted["conversation_id"]))[-1]
    assert "не нашёл" in reply["text"] and "сотрудник" in reply["text"]
    conversation = (
        await client.get(f"/api/v1/conversations/{accepted['conversation_id']}", headers=tenant_a.headers)
    ).json()
    assert conversation["status"] == "pending"
    assert conversation["handoff_reason"] == "no confident answer in the knowledge base"
    flagged = (await client.get("/api/v1/conversations?status=pending", headers=tenant_a.headers)).json()
    assert [c["id"] for c in flagged["items"]] == [accepted["conversation_id"]]


async def test_the_reply_follows_the_customers_language(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    accepted = (await post(client, tenant_a, message("How much is a haircut?", contact="tourist"))).json()
    await run_queued_jobs(runtime)
    reply = (await messages_of(client, tenant_a, accepted["conversation_id"]))[-1]
    assert reply["text"].startswith("Sorry, I could not find")
    conversation = (
        await client.get(f"/api/v1/conversations/{accepted['conversation_id']}", headers=tenant_a.headers)
    ).json()
    assert conversation["language"] == "en"


async def test_contacts_and_conversations_are_reused_per_customer(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    one = (await post(client, tenant_a, message("a", contact="alice"))).json()
    two = (await post(client, tenant_a, message("b", contact="alice"))).json()
    other = (await post(client, tenant_a, message("c", contact="bob"))).json()
    assert one["conversation_id"] == two["conversation_id"] != other["conversation_id"]
    listed = (await client.get("/api/v1/conversations", headers=tenant_a.headers)).json()
    assert listed["total"] == 2
    assert {c["contact"]["name"] for c in listed["items"]} == {"Айгерим"}


async def test_after_cursor_pages_messages(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    first = (await post(client, tenant_a, message("one"))).json()
    await post(client, tenant_a, message("two"))
    url = f"/api/v1/conversations/{first['conversation_id']}/messages?after={first['message_id']}"
    assert [m["text"] for m in (await client.get(url, headers=tenant_a.headers)).json()] == ["two"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (message(""), 422, "text"),
        (message("   \n "), 422, "text"),
        (message("x" * 100_000), 422, "text"),
        (message("bad \x00 byte"), 422, "text"),
        (message("bell \x07"), 422, "text"),
        ({"contact": {"name": "no id"}, "text": "hi", "external_message_id": "1"}, 422, "contact.external_id"),
        ({"contact": {"external_id": "c"}, "text": "hi"}, 422, "external_message_id"),
        (message("hi", unexpected="field"), 422, "unexpected"),
        (message("hi", assistant_id=str(uuid.uuid4())), 422, None),
        ({**message("hi"), "contact": {"external_id": "c", "phone": "call me maybe"}}, 422, "contact.phone"),
        (message("hi", contact="x" * 201), 422, "contact.external_id"),
    ],
    ids=[
        "empty",
        "blank",
        "100kb",
        "nul",
        "control",
        "missing-contact-id",
        "missing-message-id",
        "unknown-field",
        "unknown-assistant",
        "bad-phone",
        "long-contact-id",
    ],
)
async def test_bad_messages_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient,
    tenant_a: TenantFixture,
    session: AsyncSession,
    body: dict,
    status: int,
    field: str | None,
) -> None:
    before = [await count(session, t) for t in ("messages", "contacts", "conversations", "procrastinate_jobs")]
    response = await post(client, tenant_a, body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if field:
        assert field in response.json()["detail"]
    after = [await count(session, t) for t in ("messages", "contacts", "conversations", "procrastinate_jobs")]
    assert after == before


async def test_invalid_utf8_is_a_400(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    raw = b'{"contact": {"external_id": "c"}, "text": "\xd0", "external_message_id": "1"}'
    response = await client.post(POST, content=raw, headers={**tenant_a.headers, "content-type": "application/json"})
    assert response.status_code == 400


async def test_who_may_post_and_read(client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture) -> None:
    assert (await client.post(POST, json=message("hi"))).status_code == 401
    viewer = {"Authorization": f"Bearer {await make_key(database, tenant_a, Role.viewer)}"}
    assert (await client.post(POST, json=message("hi"), headers=viewer)).status_code == 403
    operator = {"Authorization": f"Bearer {await make_key(database, tenant_a, Role.operator)}"}
    accepted = await client.post(POST, json=message("hi"), headers=operator)
    assert accepted.status_code == 202
    assert (await client.get("/api/v1/conversations", headers=viewer)).json()["total"] == 1


async def test_other_tenants_conversations_are_404_and_invisible(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture, runtime: Runtime
) -> None:
    theirs = (await post(client, tenant_b, message("секрет", "same-id", contact="same-contact"))).json()
    await run_queued_jobs(runtime)
    for url in (
        f"/api/v1/conversations/{theirs['conversation_id']}",
        f"/api/v1/conversations/{theirs['conversation_id']}/messages",
    ):
        response = await client.get(url, headers=tenant_a.headers)
        assert response.status_code == 404
    assert (await client.get("/api/v1/conversations", headers=tenant_a.headers)).json()["total"] == 0
    # The same external ids in another tenant are a different contact, conversation and message.
    mine = (await post(client, tenant_a, message("моё", "same-id", contact="same-contact"))).json()
    assert mine["duplicate"] is False
    assert mine["conversation_id"] != theirs["conversation_id"]
    # Another tenant's assistant cannot be named either.
    b_assistant = (await client.get("/api/v1/assistants", headers=tenant_b.headers)).json()["items"][0]["id"]
    refused = await post(client, tenant_a, message("hi", contact="new", assistant_id=b_assistant))
    assert refused.status_code == 422


async def test_resolving_and_the_next_message_starting_a_new_conversation(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, tenant_b: TenantFixture, runtime: Runtime
) -> None:
    first = (await post(client, tenant_a, message("Сколько стоит?"))).json()
    await run_queued_jobs(runtime)
    url = f"/api/v1/conversations/{first['conversation_id']}"
    viewer = {"Authorization": f"Bearer {await make_key(database, tenant_a, Role.viewer)}"}
    assert (await client.patch(url, json={"status": "resolved"}, headers=viewer)).status_code == 403
    assert (await client.patch(url, json={"status": "resolved"}, headers=tenant_b.headers)).status_code == 404
    resolved = (await client.patch(url, json={"status": "resolved"}, headers=tenant_a.headers)).json()
    assert resolved["status"] == "resolved" and resolved["resolved_at"] is not None
    assert (await client.patch(url, json={"status": "closed"}, headers=tenant_a.headers)).status_code == 422
    # Nobody (no person) had held it, so the customer's next message starts over with the assistant.
    again = (await post(client, tenant_a, message("Ещё вопрос"))).json()
    assert again["conversation_id"] != first["conversation_id"]
    new = (await client.get(f"/api/v1/conversations/{again['conversation_id']}", headers=tenant_a.headers)).json()
    assert new["status"] == "bot"


async def test_many_new_conversations_on_one_connection(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    # psycopg prepares a statement after five runs and PostgreSQL then plans it generically: the
    # open-conversation upsert must still find its partial unique index (it once failed from the 11th).
    for index in range(15):
        response = await post(client, tenant_a, message("hi", contact=f"new-{index}"))
        assert response.status_code == 202, response.text
