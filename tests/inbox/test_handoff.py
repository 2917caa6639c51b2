"""Handing conversations to people: the triggers, the lifecycle's invariants, operators' replies and notes,
and the event log."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from easyflow.conversations.delivery import WITHHELD
from easyflow.conversations.repository import MessageRepository
from easyflow.db.database import Database
from easyflow.inbox.snoozes import wake_due
from easyflow.kit.jobs import run_job
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, run_queued_jobs
from tests.doubles.webhook_receiver import WebhookReceiver
from tests.inbox.staff import (
    conversation,
    customer_writes,
    events,
    handed_off,
    messages,
    patch,
    send_as_staff,
    sign_in,
)


async def set_rules(client: httpx.AsyncClient, tenant: TenantFixture, **rules: object) -> None:
    assistant = (await client.get("/api/v1/assistants", headers=tenant.headers)).json()["items"][0]
    response = await client.patch(
        f"/api/v1/assistants/{assistant['id']}", json={"handoff_rules": rules}, headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    assert {key: response.json()["handoff_rules"][key] for key in rules} == rules


@pytest.mark.parametrize(
    ("asked", "notice_starts"),
    [
        ("Хочу поговорить с человеком", "Передаю диалог сотруднику"),
        ("Позвать оператора", "Передаю диалог сотруднику"),
        ("Can I talk to a real person please?", "I am passing the conversation"),
    ],
)
async def test_a_customer_asking_for_a_person_is_handed_over_not_answered(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, asked: str, notice_starts: str
) -> None:
    conversation_id = await handed_off(client, tenant_a, runtime, asked)
    notice = (await messages(client, tenant_a, conversation_id))[-1]
    assert notice["role"] == "assistant" and notice["notice"] == "handoff"
    assert notice["text"].startswith(notice_starts)
    # Nobody is online: the notice says the answer comes when someone is.
    assert "никого нет" in notice["text"] or "Nobody is available" in notice["text"]
    [event] = await events(client, tenant_a, conversation_id)
    assert (event["kind"], event["actor_kind"], event["from_status"], event["to_status"]) == (
        "handed_off",
        "customer",
        "bot",
        "pending",
    )
    assert event["reason"] == "the customer asked for a person"
    # The workspace's audit log has it too, with the reason and who handed over.
    log = (
        await client.get("/api/v1/audit", params={"action": "conversation.handed_off"}, headers=tenant_a.headers)
    ).json()
    [audited] = log["items"] if isinstance(log, dict) else log
    assert (audited["target_kind"], audited["target_id"]) == ("conversation", conversation_id)
    assert audited["actor"] == "customer" and audited["details"] == {"reason": "the customer asked for a person"}


async def test_ordinary_questions_are_not_taken_for_a_request_for_a_person(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    await set_rules(client, tenant_a, on_no_answer=False, after_unanswered_turns=0)
    for asked in ("Сколько стоит кружка?", "а у вас есть пледы синего цвета?", "Как доехать до вашего офиса?"):
        accepted = await customer_writes(client, tenant_a, asked, contact=asked)
        await run_queued_jobs(runtime)
        assert (await conversation(client, tenant_a, accepted["conversation_id"]))["status"] == "bot"


async def test_an_owners_keyword_hands_over_and_each_trigger_can_be_switched_off(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    await set_rules(client, tenant_a, keywords=["жалоба", "возврат денег"], on_request=False)
    conversation_id = await handed_off(client, tenant_a, runtime, "У меня ЖАЛОБА на мастера")
    [event] = await events(client, tenant_a, conversation_id)
    assert (event["actor_kind"], event["reason"]) == ("rule", "the customer wrote «жалоба»")
    # With the request trigger off, asking for a person is answered like any other question.
    accepted = await customer_writes(client, tenant_a, "Позовите оператора", contact="someone-else")
    await run_queued_jobs(runtime)
    found = await conversation(client, tenant_a, accepted["conversation_id"])
    assert found["status"] == "pending" and found["handoff_reason"] == "no confident answer in the knowledge base"


async def test_unanswered_turns_in_a_row_hand_over_when_no_answer_alone_does_not(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    await set_rules(client, tenant_a, on_no_answer=False, after_unanswered_turns=2)
    first = await customer_writes(client, tenant_a, "Сколько стоит окрашивание?")
    await run_queued_jobs(runtime)
    [_, answer] = await messages(client, tenant_a, first["conversation_id"])
    assert answer["text"].startswith("К сожалению") and "Позвать оператора" in answer["text"]
    assert answer["buttons"] == ["Позвать оператора"]
    assert (await conversation(client, tenant_a, first["conversation_id"]))["status"] == "bot"
    await customer_writes(client, tenant_a, "А мелирование?")
    await run_queued_jobs(runtime)
    found = await conversation(client, tenant_a, first["conversation_id"])
    assert (found["status"], found["handoff_reason"]) == ("pending", "2 replies in a row without an answer")


async def test_the_assistant_is_silent_while_a_person_has_the_conversation(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    conversation_id = await handed_off(client, tenant_a, runtime, "Позовите оператора")
    before = len(await messages(client, tenant_a, conversation_id))
    await customer_writes(client, tenant_a, "Алло, есть кто?")
    await run_queued_jobs(runtime)
    after = await messages(client, tenant_a, conversation_id)
    assert len(after) == before + 1 and after[-1]["role"] == "contact"


async def test_an_assistant_may_keep_answering_while_pending_and_says_so(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    await set_rules(client, tenant_a, answers_while_pending=True)
    conversation_id = await handed_off(client, tenant_a, runtime, "Позовите оператора")
    await customer_writes(client, tenant_a, "Привет")
    await run_queued_jobs(runtime)
    answer = (await messages(client, tenant_a, conversation_id))[-1]
    assert answer["role"] == "assistant" and answer["text"].startswith("Пока сотрудник не подключился, отвечу я.")
    assert (await conversation(client, tenant_a, conversation_id))["status"] == "pending"


async def test_an_operator_reply_takes_the_conversation_and_reaches_the_webhook(
    client: httpx.AsyncClient,
    database: Database,
    tenant_a: TenantFixture,
    runtime: Runtime,
    webhook: WebhookReceiver,
) -> None:
    anna = await sign_in(client, database, tenant_a)
    conversation_id = await handed_off(client, tenant_a, runtime, "Позовите оператора")
    webhook.received.clear()

    sent = await send_as_staff(client, anna.headers, conversation_id, "Здравствуйте, это Анна. Чем помочь?")
    assert sent.status_code == 201, sent.text
    assert (sent.json()["role"], sent.json()["author_id"]) == ("operator", str(anna.user_id))
    held = await conversation(client, tenant_a, conversation_id)
    assert (held["status"], held["assignee_id"]) == ("open", str(anna.user_id))
    await run_queued_jobs(runtime)
    [delivery] = webhook.received
    payload = json.loads(delivery.body)["message"]
    assert payload["role"] == "operator" and payload["text"] == "Здравствуйте, это Анна. Чем помочь?"
    assert payload["author"]["id"] == str(anna.user_id)
    assert (await messages(client, tenant_a, conversation_id))[-1]["delivery_status"] == "sent"
    assert [e["kind"] for e in await events(client, tenant_a, conversation_id)] == ["handed_off", "taken"]


async def test_an_operator_writing_into_a_bot_conversation_takes_it_over(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    anna = await sign_in(client, database, tenant_a)
    accepted = await customer_writes(client, tenant_a, "Привет")
    await run_queued_jobs(runtime)
    assert (await send_as_staff(client, anna.headers, accepted["conversation_id"], "Я подключилась")).status_code == 201
    held = await conversation(client, tenant_a, accepted["conversation_id"])
    assert (held["status"], held["assignee_id"]) == ("open", str(anna.user_id))
    [event] = await events(client, tenant_a, accepted["conversation_id"])
    assert (event["kind"], event["actor_kind"], event["actor_id"]) == ("taken", "operator", str(anna.user_id))


async def test_a_private_note_is_never_sent_shown_to_the_customer_or_to_the_assistant(
    client: httpx.AsyncClient,
    database: Database,
    tenant_a: TenantFixture,
    runtime: Runtime,
    webhook: WebhookReceiver,
) -> None:
    anna = await sign_in(client, database, tenant_a)
    conversation_id = await handed_off(client, tenant_a, runtime, "Позовите оператора")
    webhook.received.clear()
    note = await send_as_staff(client, anna.headers, conversation_id, "Клиент VIP, скидка 10%", private=True)
    assert note.status_code == 201 and note.json()["private"] is True
    assert note.json()["delivery_status"] == "stored"
    assert await run_queued_jobs(runtime) == []  # nothing to deliver
    assert webhook.received == []
    # A note does not take the conversation either.
    assert (await conversation(client, tenant_a, conversation_id))["status"] == "pending"
    async with database.tenant_transaction(tenant_a.id) as scoped:
        shown = await MessageRepository(scoped).visible_after(uuid.UUID(conversation_id), 0, 100)
        history = await MessageRepository(scoped).recent(uuid.UUID(conversation_id), before_position=2**62, limit=100)
    assert "Клиент VIP, скидка 10%" not in [m.text for m, _ in shown]
    assert "Клиент VIP, скидка 10%" not in [m.text for m in history]


async def test_open_needs_a_person_and_the_database_refuses_it_too(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, database: Database
) -> None:
    accepted = await customer_writes(client, tenant_a, "Привет")
    await run_queued_jobs(runtime)
    refused = await patch(client, tenant_a.headers, accepted["conversation_id"], status="open")
    assert refused.status_code == 422
    assert "assignee" in refused.json()["detail"]
    with pytest.raises(IntegrityError):
        async with database.tenant_transaction(tenant_a.id) as scoped:
            await scoped.execute(
                text("UPDATE conversations SET status = 'open' WHERE id = :id"), {"id": accepted["conversation_id"]}
            )


async def test_assigning_someone_who_cannot_hold_conversations_is_refused(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, tenant_b: TenantFixture, runtime: Runtime
) -> None:
    viewer = await sign_in(client, database, tenant_a, Role.viewer)
    outsider = await sign_in(client, database, tenant_b)
    accepted = await customer_writes(client, tenant_a, "Привет")
    await run_queued_jobs(runtime)
    for who in (viewer.user_id, outsider.user_id):
        response = await patch(client, tenant_a.headers, accepted["conversation_id"], assignee_id=str(who))
        assert response.status_code == 422
    assert (await conversation(client, tenant_a, accepted["conversation_id"]))["assignee_id"] is None


async def test_give_back_to_the_assistant_and_it_answers_only_what_comes_next(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    anna = await sign_in(client, database, tenant_a)
    conversation_id = await handed_off(client, tenant_a, runtime, "Позовите оператора")
    await send_as_staff(client, anna.headers, conversation_id, "Слушаю вас")
    await customer_writes(client, tenant_a, "Спасибо, это всё")
    await run_queued_jobs(runtime)
    back = await patch(client, anna.headers, conversation_id, status="bot", reason="вопрос решён")
    assert back.status_code == 200 and back.json()["status"] == "bot" and back.json()["assignee_id"] is None
    assert await run_queued_jobs(runtime) == []  # what was written to Anna is not answered by the assistant now
    await customer_writes(client, tenant_a, "Привет!")
    await run_queued_jobs(runtime)
    last = (await messages(client, tenant_a, conversation_id))[-1]
    assert last["role"] == "assistant"
    assert [e["kind"] for e in await events(client, tenant_a, conversation_id)][-1] == "given_back"


async def test_a_customer_writing_soon_after_a_person_resolved_goes_back_to_the_queue(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    anna = await sign_in(client, database, tenant_a)
    conversation_id = await handed_off(client, tenant_a, runtime, "Позовите оператора")
    await send_as_staff(client, anna.headers, conversation_id, "Готово")
    assert (await patch(client, anna.headers, conversation_id, status="resolved")).json()["status"] == "resolved"
    again = await customer_writes(client, tenant_a, "Ой, ещё один вопрос")
    assert again["conversation_id"] == conversation_id
    reopened = await conversation(client, tenant_a, conversation_id)
    assert (reopened["status"], reopened["last_assignee_id"]) == ("pending", str(anna.user_id))
    assert [e["kind"] for e in await events(client, tenant_a, conversation_id)][-1] == "reopened"
    # Long after it was resolved, the customer starts a new conversation with the assistant instead.
    await patch(client, anna.headers, conversation_id, status="resolved")
    async with database.tenant_transaction(tenant_a.id) as scoped:
        await scoped.execute(
            text("UPDATE conversations SET resolved_at = now() - interval '31 minutes' WHERE id = :id"),
            {"id": conversation_id},
        )
    later = await customer_writes(client, tenant_a, "Здравствуйте, новый вопрос")
    assert later["conversation_id"] != conversation_id
    assert (await conversation(client, tenant_a, later["conversation_id"]))["status"] == "bot"


async def test_snoozed_until_the_customer_writes_or_the_time_comes(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    anna = await sign_in(client, database, tenant_a)
    conversation_id = await handed_off(client, tenant_a, runtime, "Позовите оператора")
    await send_as_staff(client, anna.headers, conversation_id, "Уточню и вернусь")
    snoozed = await patch(client, anna.headers, conversation_id, status="snoozed")
    assert snoozed.json()["status"] == "snoozed"
    await customer_writes(client, tenant_a, "Ну что там?")
    assert (await conversation(client, tenant_a, conversation_id))["status"] == "pending"
    assert [e["kind"] for e in await events(client, tenant_a, conversation_id)][-1] == "woke"

    until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert (
        await patch(client, anna.headers, conversation_id, status="snoozed", snoozed_until=until)
    ).status_code == 200
    assert await wake_due(runtime) == 0
    async with database.tenant_transaction(tenant_a.id) as scoped:
        await scoped.execute(
            text("UPDATE conversations SET snoozed_until = now() - interval '1 second' WHERE id = :id"),
            {"id": conversation_id},
        )
    assert await wake_due(runtime) == 1
    woke = await conversation(client, tenant_a, conversation_id)
    assert (woke["status"], woke["snoozed_until"]) == ("pending", None)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    refused = await patch(client, anna.headers, conversation_id, status="snoozed", snoozed_until=past)
    assert refused.status_code == 422
    naive = await patch(client, anna.headers, conversation_id, status="snoozed", snoozed_until="2030-01-01T10:00:00")
    assert naive.status_code == 422


async def test_an_assistant_reply_written_before_a_takeover_is_withheld(
    client: httpx.AsyncClient,
    database: Database,
    tenant_a: TenantFixture,
    runtime: Runtime,
    webhook: WebhookReceiver,
) -> None:
    anna = await sign_in(client, database, tenant_a)
    accepted = await customer_writes(client, tenant_a, "Привет")
    # The reply is written (its delivery queued), then Anna takes the conversation before it is sent.
    async with database.session() as scoped, scoped.begin():
        job = (
            await scoped.execute(
                text(
                    "SELECT id, args FROM procrastinate_jobs WHERE status = 'todo' "
                    "AND task_name = 'conversations.reply' ORDER BY id"
                )
            )
        ).first()
        assert job is not None
        await scoped.execute(text("DELETE FROM procrastinate_jobs WHERE id = :id"), {"id": job.id})
    await run_job(runtime, "conversations.reply", job.args, attempt_is_last=False)
    taken = await patch(client, anna.headers, accepted["conversation_id"], status="open")
    assert taken.json()["assignee_id"] == str(anna.user_id)
    ran = await run_queued_jobs(runtime)
    assert "conversations.deliver" in ran
    assert webhook.received == []
    withheld = (await messages(client, tenant_a, accepted["conversation_id"]))[-1]
    assert (withheld["role"], withheld["delivery_status"], withheld["delivery_error"]) == (
        "assistant",
        "failed",
        WITHHELD,
    )


async def test_routes_of_another_tenants_conversation_are_404(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, tenant_b: TenantFixture, runtime: Runtime
) -> None:
    theirs = await customer_writes(client, tenant_b, "чужое")
    await run_queued_jobs(runtime)
    anna = await sign_in(client, database, tenant_a)
    conversation_id = theirs["conversation_id"]
    before = await conversation(client, tenant_b, conversation_id)
    assert (await patch(client, anna.headers, conversation_id, status="resolved")).status_code == 404
    assert (await send_as_staff(client, anna.headers, conversation_id, "Привет")).status_code == 404
    assert (await send_as_staff(client, anna.headers, conversation_id, "note", private=True)).status_code == 404
    url = f"/api/v1/conversations/{conversation_id}/events"
    assert (await client.get(url, headers=anna.headers)).status_code == 404
    typing = f"/api/v1/conversations/{conversation_id}/typing"
    assert (await client.post(typing, headers=anna.headers)).status_code == 404
    assert await conversation(client, tenant_b, conversation_id) == before
    assert len(await messages(client, tenant_b, conversation_id)) == 2


async def test_who_may_handle_conversations(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    viewer = await sign_in(client, database, tenant_a, Role.viewer)
    accepted = await customer_writes(client, tenant_a, "Привет")
    await run_queued_jobs(runtime)
    assert (await send_as_staff(client, viewer.headers, accepted["conversation_id"], "Привет")).status_code == 403
    assert (await patch(client, viewer.headers, accepted["conversation_id"], status="resolved")).status_code == 403
    typing = f"/api/v1/conversations/{accepted['conversation_id']}/typing"
    assert (await client.post(typing, headers=viewer.headers)).status_code == 403
    bad = await client.post(typing, json={"private": "maybe"}, headers=tenant_a.headers)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert (
        await client.get(f"/api/v1/conversations/{accepted['conversation_id']}/events", headers=viewer.headers)
    ).status_code == 200
    # An API key is nobody: it cannot take a conversation nobody holds by writing into it.
    refused = await send_as_staff(client, tenant_a.headers, accepted["conversation_id"], "Привет")
    assert refused.status_code == 422 and "assign" in refused.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"text": ""},
        {"text": "   "},
        {"text": "a\x00b"},
        {"text": "x" * 8001},
        {"text": "ok", "private": "maybe"},
        {"text": "ok", "extra": 1},
    ],
)
async def test_bad_operator_messages_are_422_and_nothing_is_stored(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime, body: dict
) -> None:
    anna = await sign_in(client, database, tenant_a)
    accepted = await customer_writes(client, tenant_a, "Привет")
    await run_queued_jobs(runtime)
    before = await messages(client, tenant_a, accepted["conversation_id"])
    response = await client.post(
        f"/api/v1/conversations/{accepted['conversation_id']}/messages", json=body, headers=anna.headers
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await messages(client, tenant_a, accepted["conversation_id"]) == before
    assert (await conversation(client, tenant_a, accepted["conversation_id"]))["status"] == "bot"


async def test_a_colleague_mentioned_in_a_note_gets_a_mention_event(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, tenant_b: TenantFixture, runtime: Runtime
) -> None:
    anna = await sign_in(client, database, tenant_a)
    boris = await sign_in(client, database, tenant_a)
    stranger = await sign_in(client, database, tenant_b)
    conversation_id = await handed_off(client, tenant_a, runtime, "Позовите оператора")
    boris_handle = boris.email.split("@")[0]
    text_of_note = f"@{boris_handle}, посмотри оплату. @{anna.email.split('@')[0]} @{stranger.email}, и ещё a@b.c."
    note = await send_as_staff(client, anna.headers, conversation_id, text_of_note, private=True)
    assert note.status_code == 201
    async with database.tenant_transaction(tenant_a.id) as scoped:
        rows = await scoped.execute(text("SELECT payload FROM staff_events WHERE kind = 'mention'"))
        mentions = [row[0] for row in rows]
    assert [(m["user_id"], m["conversation_id"], m["author_id"]) for m in mentions] == [
        (str(boris.user_id), conversation_id, str(anna.user_id))
    ]
