"""The home page's "today at a glance", over real HTTP on the real database: conversations active since the
tenant's midnight, answers by the assistant and by people (private notes are not answers), who waits now, the
median first response, and documents still indexing, each a link to where it is handled."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import update

from easyflow.db.database import Database
from easyflow.inbox.today import start_of_day
from easyflow.models.conversations import Conversation, Message
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, run_queued_jobs
from tests.inbox.staff import conversation, customer_writes, messages, send_as_staff
from tests.inbox.staff import sign_in as operator_signs_in
from tests.web.dashboard import sign_in


async def handed_off(client: httpx.AsyncClient, runtime: Runtime, tenant: TenantFixture, contact: str) -> str:
    accepted = await customer_writes(client, tenant, "Позовите оператора, пожалуйста", contact=contact)
    await run_queued_jobs(runtime)
    assert (await conversation(client, tenant, accepted["conversation_id"]))["status"] == "pending"
    return str(accepted["conversation_id"])


def figure(home: httpx.Response, name: str) -> str:
    found = re.search(rf'data-figure="{name}">\s*([^<]*?)\s*<', home.text)
    assert found is not None, home.text
    return found.group(1)


def test_the_day_starts_at_midnight_where_the_business_is() -> None:
    evening_in_utc = datetime(2026, 12, 5, 20, 0, tzinfo=UTC)  # 02:00 on the 6th in Bishkek (UTC+6)
    assert start_of_day(evening_in_utc, "Asia/Bishkek") == datetime(2026, 12, 5, 18, 0, tzinfo=UTC)
    assert start_of_day(evening_in_utc, "Europe/Moscow") == datetime(2026, 12, 4, 21, 0, tzinfo=UTC)
    assert start_of_day(evening_in_utc, "Nowhere/Atlantis") == datetime(2026, 12, 5, 0, 0, tzinfo=UTC)


async def test_today_counts_answers_by_the_assistant_and_by_people_but_not_private_notes(
    client: httpx.AsyncClient, runtime: Runtime, database: Database, tenant_a: TenantFixture
) -> None:
    anna = await operator_signs_in(client, database, tenant_a)
    answered = await customer_writes(client, tenant_a, "Сколько стоит стрижка?", contact="asks-price")
    await run_queued_jobs(runtime)
    waiting = await handed_off(client, runtime, tenant_a, "waits")
    taken = await handed_off(client, runtime, tenant_a, "is-answered")
    assert (await send_as_staff(client, anna.headers, taken, "Здравствуйте, я Анна.")).status_code == 201
    assert (await send_as_staff(client, anna.headers, taken, "VIP", private=True)).status_code == 201
    everything = [
        message
        for conversation_id in (answered["conversation_id"], waiting, taken)
        for message in await messages(client, tenant_a, conversation_id)
    ]
    await sign_in(client, tenant_a)
    home = await client.get("/app/")
    assert home.status_code == 200
    by_assistant = sum(message["role"] == "assistant" and not message["private"] for message in everything)
    assert by_assistant >= 3, everything  # the answer and the two handoff notices
    assert figure(home, "conversations") == "3"
    assert figure(home, "by-assistant") == str(by_assistant)
    assert figure(home, "by-people") == "1"
    statuses = [
        (await conversation(client, tenant_a, conversation_id))["status"]
        for conversation_id in (answered["conversation_id"], waiting, taken)
    ]
    assert statuses[1:] == ["pending", "open"]
    assert figure(home, "waiting") == str(statuses.count("pending"))
    assert figure(home, "open") == "1"
    waiting_now = "1 диалог ждёт человека" if statuses.count("pending") == 1 else "2 диалога ждут человека"
    assert f'<a href="/app/inbox?tab=unassigned">{waiting_now}</a>' in home.text


async def test_the_median_first_response_is_the_wait_for_the_first_reply_to_the_days_first_question(
    client: httpx.AsyncClient, runtime: Runtime, database: Database, tenant_a: TenantFixture
) -> None:
    conversation_ids = [await handed_off(client, runtime, tenant_a, f"asks-{n}") for n in (1, 2)]
    asked_at = datetime.now(UTC) - timedelta(minutes=30)
    async with database.tenant_transaction(tenant_a.id) as session:
        for conversation_id, wait in zip(conversation_ids, (20, 40), strict=True):
            of_conversation = Message.conversation_id == uuid.UUID(conversation_id)
            await session.execute(
                update(Message).where(of_conversation, Message.role == "contact").values(created_at=asked_at)
            )
            await session.execute(
                update(Message)
                .where(of_conversation, Message.role != "contact")
                .values(created_at=asked_at + timedelta(seconds=wait))
            )
    await sign_in(client, tenant_a)
    assert figure(await client.get("/app/"), "first-response") == "30 с"


async def test_yesterdays_conversations_are_not_todays(
    client: httpx.AsyncClient, runtime: Runtime, database: Database, tenant_a: TenantFixture
) -> None:
    await customer_writes(client, tenant_a, "Вы работаете в воскресенье?")
    from_yesterday = datetime.now(UTC) - timedelta(days=2)
    async with database.tenant_transaction(tenant_a.id) as session:
        await session.execute(update(Conversation).values(last_activity_at=from_yesterday))
        await session.execute(update(Message).values(created_at=from_yesterday))
    await sign_in(client, tenant_a)
    home = await client.get("/app/")
    assert [figure(home, name) for name in ("conversations", "by-assistant", "first-response")] == ["0", "0", "—"]
    assert "Ничего не требует вашего внимания." in home.text


async def test_documents_still_indexing_are_a_link_to_the_knowledge_base(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    for name in ("price.txt", "hours.txt"):
        uploaded = await client.post(
            "/api/v1/knowledge/documents",
            files={"file": (name, "Стрижка — 1500 рублей.".encode(), "text/plain")},
            headers=tenant_a.headers,
        )
        assert uploaded.status_code == 202, uploaded.text
    await sign_in(client, tenant_a)
    home = await client.get("/app/")
    assert '<a href="/app/knowledge">2 документа ещё индексируются</a>' in home.text
