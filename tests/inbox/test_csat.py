"""Customer satisfaction (CSAT): a person resolving a conversation they answered asks the customer for a 1-5
rating; the answer (and a comment right after it) is stored without reopening the conversation, thanked for,
logged and counted per operator; anything else the customer writes reopens it as before."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.conversations.csat import comment_window_for, rating_in
from easyflow.db.database import Database
from easyflow.db.session import enter_system_scope
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, make_key, run_queued_jobs
from tests.doubles.webhook_receiver import WebhookReceiver
from tests.inbox.staff import Staff, conversation, customer_writes, events, messages, patch, send_as_staff, sign_in

REQUEST = "Пожалуйста, оцените, как мы вам помогли"


async def resolved_by(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    runtime: Runtime,
    operator: Staff,
    contact: str = "customer-1",
    *,
    reply: bool = True,
) -> str:
    """A conversation the customer handed to a person, who answered (unless not `reply`) and resolved it."""
    accepted = await customer_writes(client, tenant, "Позовите оператора", contact=contact)
    await run_queued_jobs(runtime)
    conversation_id = str(accepted["conversation_id"])
    if reply:
        answered = await send_as_staff(client, operator.headers, conversation_id, "Здравствуйте! Записала вас.")
        assert answered.status_code == 201, answered.text
    else:
        taken = await patch(client, operator.headers, conversation_id, status="open")
        assert taken.status_code == 200, taken.text
    resolved = await patch(client, operator.headers, conversation_id, status="resolved")
    assert resolved.status_code == 200, resolved.text
    await run_queued_jobs(runtime)
    return conversation_id


async def ratings(client: httpx.AsyncClient, tenant: TenantFixture, conversation_id: str) -> list[dict]:
    response = await client.get(f"/api/v1/conversations/{conversation_id}/ratings", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return list(response.json())


async def staff_event_payloads(session: AsyncSession, kind: str) -> list[dict]:
    await enter_system_scope(session)
    rows = await session.execute(
        text("SELECT payload FROM staff_events WHERE kind = :kind ORDER BY seq"), {"kind": kind}
    )
    return [row[0] for row in rows]


@pytest.mark.parametrize(
    ("written", "rating"),
    [
        ("5", 5),
        ("⭐⭐⭐⭐", 4),
        ("5️⃣", 5),
        ("4/5", 4),
        ("3 из 5", 3),
        ("5 — отлично", 5),
        ("2 звезды", 2),
        ("4, but the delivery was late", 4),
        ("6", None),
        ("0", None),
        ("10", None),
        ("4.5", None),
        ("2 билета на завтра", None),
        ("5 минут назад писал", None),
        ("Когда вы открываетесь?", None),
        ("⭐⭐⭐⭐⭐⭐", None),
        ("5!", 5),
        ("5 - всё понравилось", 5),
        ("5-го числа можно?", None),
        ("1-го января работаете?", None),
        ("3-х человек можно?", None),
        ("3, а можно на завтра?", None),
        ("2) а ещё вопрос", None),
        ("5, позовите оператора", None),
    ],
)
def test_what_reads_as_a_rating(written: str, rating: int | None) -> None:
    assert rating_in(written) == rating


@pytest.mark.parametrize(
    ("written", "a_comment"),
    [("Мастер молодец, но ждала 20 минут", True), ("А в субботу вы работаете?", False), ("Позовите оператора", False)],
)
def test_a_question_or_a_request_for_a_person_is_never_taken_for_a_comment(written: str, a_comment: bool) -> None:
    assert (comment_window_for(written) > timedelta(0)) == a_comment


async def test_resolving_asks_the_api_channel_customer_to_rate_through_the_webhook(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime, webhook: WebhookReceiver
) -> None:
    anna = await sign_in(client, database, tenant_a)
    conversation_id = await resolved_by(client, tenant_a, runtime, anna)
    request = json.loads(webhook.received[-1].body)["message"]
    assert request["text"].startswith(REQUEST)
    assert (request["buttons"], request["notice"], request["role"]) == (
        ["1", "2", "3", "4", "5"],
        "csat_request",
        "assistant",
    )
    stored = (await messages(client, tenant_a, conversation_id))[-1]
    assert (stored["notice"], stored["delivery_status"]) == ("csat_request", "sent")
    [asked] = await ratings(client, tenant_a, conversation_id)
    assert (asked["rating"], asked["operator_id"], asked["comment"]) == (None, str(anna.user_id), None)
    assert (await conversation(client, tenant_a, conversation_id))["latest_rating"] is None


async def test_a_rating_and_its_comment_are_stored_thanked_for_and_do_not_reopen(
    client: httpx.AsyncClient,
    database: Database,
    tenant_a: TenantFixture,
    runtime: Runtime,
    webhook: WebhookReceiver,
    session: AsyncSession,
) -> None:
    anna = await sign_in(client, database, tenant_a)
    conversation_id = await resolved_by(client, tenant_a, runtime, anna)

    rated = await customer_writes(client, tenant_a, "5 — отлично")
    assert rated["conversation_id"] == conversation_id
    ran = await run_queued_jobs(runtime)
    assert "conversations.reply" not in ran  # not a question for the assistant
    found = await conversation(client, tenant_a, conversation_id)
    assert found["status"] == "resolved"
    assert (found["latest_rating"]["rating"], found["latest_rating"]["operator_id"]) == (5, str(anna.user_id))
    thanks = json.loads(webhook.received[-1].body)["message"]
    assert (thanks["notice"], thanks["text"]) == (
        "csat_thanks",
        "Спасибо за оценку! Если хотите, напишите одним сообщением, что понравилось или что нам стоит улучшить.",
    )

    commented = await customer_writes(client, tenant_a, "Анна всё быстро объяснила, спасибо")
    assert commented["conversation_id"] == conversation_id
    await run_queued_jobs(runtime)
    assert (await conversation(client, tenant_a, conversation_id))["status"] == "resolved"
    [rating] = await ratings(client, tenant_a, conversation_id)
    assert (rating["rating"], rating["comment"]) == (5, "Анна всё быстро объяснила, спасибо")
    assert json.loads(webhook.received[-1].body)["message"]["text"] == "Спасибо за отзыв!"
    assert [m["role"] for m in (await messages(client, tenant_a, conversation_id))[-5:]] == [
        "assistant",  # the request
        "contact",
        "assistant",  # thanks
        "contact",
        "assistant",  # thanks
    ]
    logged = [(e["kind"], e["actor_kind"], e["to_status"]) for e in await events(client, tenant_a, conversation_id)]
    assert logged[-3:] == [
        ("resolved", "operator", "resolved"),
        ("rated", "customer", "resolved"),
        ("commented", "customer", "resolved"),
    ]
    announced = await staff_event_payloads(session, "conversation.rated")
    assert [(e["rating"], e["comment"], e["operator_id"]) for e in announced] == [
        (5, None, str(anna.user_id)),
        (5, "Анна всё быстро объяснила, спасибо", str(anna.user_id)),
    ]

    # After the comment, the customer writing again is talking to Anna again, as before CSAT.
    await customer_writes(client, tenant_a, "И ещё вопрос: можно перенести запись?")
    await run_queued_jobs(runtime)
    assert (await conversation(client, tenant_a, conversation_id))["status"] == "pending"


@pytest.mark.parametrize("written", ["6", "0", "Когда вы открываетесь?"])
async def test_anything_but_a_rating_reopens_as_before(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime, written: str
) -> None:
    anna = await sign_in(client, database, tenant_a)
    conversation_id = await resolved_by(client, tenant_a, runtime, anna)
    accepted = await customer_writes(client, tenant_a, written)
    await run_queued_jobs(runtime)
    assert accepted["conversation_id"] == conversation_id
    found = await conversation(client, tenant_a, conversation_id)
    assert (found["status"], found["latest_rating"]) == ("pending", None)
    assert (await events(client, tenant_a, conversation_id))[-1]["kind"] == "reopened"
    assert [r["rating"] for r in await ratings(client, tenant_a, conversation_id)] == [None]


async def test_a_question_right_after_the_rating_is_answered_not_kept_as_its_comment(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    anna = await sign_in(client, database, tenant_a)
    conversation_id = await resolved_by(client, tenant_a, runtime, anna)
    await customer_writes(client, tenant_a, "5")
    await customer_writes(client, tenant_a, "А в субботу вы работаете?")
    await run_queued_jobs(runtime)
    [rated] = await ratings(client, tenant_a, conversation_id)
    assert (rated["rating"], rated["comment"]) == (5, None)
    assert (await conversation(client, tenant_a, conversation_id))["status"] == "pending"
    assert (await events(client, tenant_a, conversation_id))[-1]["kind"] == "reopened"


async def test_a_rating_after_the_window_is_an_ordinary_message(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime, session: AsyncSession
) -> None:
    anna = await sign_in(client, database, tenant_a)
    conversation_id = await resolved_by(client, tenant_a, runtime, anna)
    await enter_system_scope(session)
    await session.execute(text("UPDATE conversation_ratings SET requested_at = now() - interval '25 hours'"))
    await customer_writes(client, tenant_a, "5")
    await run_queued_jobs(runtime)
    assert (await conversation(client, tenant_a, conversation_id))["status"] == "pending"
    assert [r["rating"] for r in await ratings(client, tenant_a, conversation_id)] == [None]


async def test_nobody_is_asked_when_no_person_answered_or_the_tenant_switched_it_off(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    anna = await sign_in(client, database, tenant_a)
    silent = await resolved_by(client, tenant_a, runtime, anna, contact="silent", reply=False)
    assert await ratings(client, tenant_a, silent) == []
    assert all(m["notice"] != "csat_request" for m in await messages(client, tenant_a, silent))

    switched = await client.patch("/api/v1/tenant", json={"csat_enabled": False}, headers=tenant_a.headers)
    assert switched.status_code == 200 and switched.json()["csat_enabled"] is False
    off = await resolved_by(client, tenant_a, runtime, anna, contact="off")
    assert await ratings(client, tenant_a, off) == []
    assert all(m["notice"] != "csat_request" for m in await messages(client, tenant_a, off))
    await customer_writes(client, tenant_a, "5", contact="off")  # an ordinary message now: it reopens
    await run_queued_jobs(runtime)
    assert (await conversation(client, tenant_a, off))["status"] == "pending"


async def test_the_report_gives_each_operator_their_figures(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    anna = await sign_in(client, database, tenant_a)
    boris = await sign_in(client, database, tenant_a)
    for operator, contact, answer in (
        (anna, "c1", "5"),
        (anna, "c2", "⭐⭐⭐⭐"),
        (boris, "c3", "3"),
        (boris, "c4", None),
    ):
        await resolved_by(client, tenant_a, runtime, operator, contact=contact)
        if answer is not None:
            await customer_writes(client, tenant_a, answer, contact=contact)
            await run_queued_jobs(runtime)
    viewer = await sign_in(client, database, tenant_a, Role.viewer)
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    response = await client.get("/api/v1/reports/csat", params={"from": since}, headers=viewer.headers)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["requested"] == 4
    assert report["overall"] == {
        "count": 3,
        "average": "4.00",
        "distribution": {"1": 0, "2": 0, "3": 1, "4": 1, "5": 1},
    }
    by_operator = {row["user_id"]: row for row in report["operators"]}
    assert set(by_operator) == {str(anna.user_id), str(boris.user_id)}
    assert (by_operator[str(anna.user_id)]["count"], by_operator[str(anna.user_id)]["average"]) == (2, "4.50")
    assert by_operator[str(anna.user_id)]["distribution"] == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1}
    assert by_operator[str(anna.user_id)]["name"] == anna.email.split("@")[0]
    assert (by_operator[str(boris.user_id)]["count"], by_operator[str(boris.user_id)]["average"]) == (1, "3.00")

    earlier = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    before = await client.get("/api/v1/reports/csat", params={"from": earlier, "to": since}, headers=tenant_a.headers)
    assert before.json()["overall"] == {"count": 0, "average": None, "distribution": dict.fromkeys("12345", 0)}


async def test_the_report_and_the_ratings_refuse_strangers_and_bad_periods(
    client: httpx.AsyncClient,
    database: Database,
    tenant_a: TenantFixture,
    tenant_b: TenantFixture,
    runtime: Runtime,
) -> None:
    anna = await sign_in(client, database, tenant_a)
    conversation_id = await resolved_by(client, tenant_a, runtime, anna)
    await customer_writes(client, tenant_a, "4")
    await run_queued_jobs(runtime)

    assert (await client.get("/api/v1/reports/csat")).status_code == 401
    for path in (f"/api/v1/conversations/{conversation_id}/ratings", f"/api/v1/conversations/{conversation_id}"):
        stranger = await client.get(path, headers=tenant_b.headers)
        assert stranger.status_code == 404
        assert stranger.headers["content-type"].startswith("application/problem+json")
    theirs = (await client.get("/api/v1/reports/csat", headers=tenant_b.headers)).json()
    assert (theirs["overall"]["count"], theirs["requested"], theirs["operators"]) == (0, 0, [])
    ours = (await client.get("/api/v1/reports/csat", headers=tenant_a.headers)).json()
    assert ours["overall"]["count"] == 1

    for params in ({"from": "2026-12-02T00:00:00Z", "to": "2026-12-01T00:00:00Z"}, {"from": "not a date"}):
        refused = await client.get("/api/v1/reports/csat", params=params, headers=tenant_a.headers)
        assert refused.status_code == 422
        assert refused.headers["content-type"].startswith("application/problem+json")
    viewer_key = await make_key(database, tenant_a, Role.viewer)
    switch = await client.patch(
        "/api/v1/tenant", json={"csat_enabled": False}, headers={"Authorization": f"Bearer {viewer_key}"}
    )
    assert switch.status_code == 403
    for bad in (None, "yes please", "\u0000"):
        refused = await client.patch("/api/v1/tenant", json={"csat_enabled": bad}, headers=tenant_a.headers)
        assert refused.status_code in (400, 422), refused.text
