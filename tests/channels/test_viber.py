"""Viber over real HTTP against the REST bot API double: connect, signed callbacks in, replies out; bad and
missing signatures, malformed and oversized bodies, NUL bytes, duplicates and order; the welcome message,
keyboards, long replies, receipts, unsubscribed customers and rate limits."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.channels.viber import keyboard
from easyflow.db.session import enter_system_scope
from easyflow.runtime import Runtime
from tests.channels.test_telegram import use_model
from tests.conftest import TenantFixture, run_queued_jobs
from tests.doubles.llm_server import LLMServer, reply
from tests.doubles.viber import (
    ViberServer,
    conversation_started,
    message,
    post_callback,
    receipt,
    subscribed,
    unsubscribed,
)

TOKEN = "4453b6ac12345678-e02c5f12174805f9-daec9cbb5448c51f"
USER = "01234567890A="


@pytest.fixture
async def bot(client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, viber: ViberServer) -> dict:
    runtime.settings = runtime.settings.model_copy(update={"viber_api_url": viber.base_url})
    viber.double.add_bot(TOKEN, name="Лотос")
    response = await client.post(
        "/api/v1/channels", json={"type": "viber", "token": TOKEN, "name": "Салон Лотос"}, headers=tenant_a.headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def hook(channel: dict) -> str:
    return f"/webhooks/viber/{channel['id']}"


async def stored_messages(session: AsyncSession) -> list[tuple]:
    await enter_system_scope(session)
    rows = await session.execute(
        text("SELECT role, text, delivery_status, delivery_error, external_id FROM messages ORDER BY position")
    )
    return [tuple(row) for row in rows]


async def test_connecting_checks_the_token_and_sets_the_webhook(
    bot: dict, viber: ViberServer, session: AsyncSession
) -> None:
    assert bot["type"] == "viber" and bot["name"] == "Салон Лотос"
    assert viber.double.webhook(TOKEN) == f"http://testserver/webhooks/viber/{bot['id']}"
    assert [call["method"] for call in viber.double.calls] == ["get_account_info", "set_webhook"]
    assert set(viber.double.calls[1]["body"]["event_types"]) >= {"message", "unsubscribed", "conversation_started"}
    assert viber.double.calls[0]["body"] == {}
    await enter_system_scope(session)
    stored = (await session.execute(text("SELECT credentials_encrypted FROM channels"))).scalar_one()
    assert TOKEN not in stored  # kept encrypted


async def test_a_token_viber_refuses_is_422_and_nothing_is_stored(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, viber: ViberServer
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"viber_api_url": viber.base_url})
    response = await client.post(
        "/api/v1/channels", json={"type": "viber", "token": "0" * 30}, headers=tenant_a.headers
    )
    assert response.status_code == 422
    assert "does not accept this bot token" in response.json()["detail"]
    assert (await client.get("/api/v1/channels", headers=tenant_a.headers)).json()["total"] == 0


async def test_message_in_reply_out(
    client: httpx.AsyncClient, bot: dict, runtime: Runtime, viber: ViberServer, session: AsyncSession
) -> None:
    response = await post_callback(client, hook(bot), TOKEN, message(USER, 1001, "Здравствуйте!"))
    assert response.status_code == 200
    await run_queued_jobs(runtime)
    [sent] = viber.double.sent_to(USER)
    assert sent["text"].startswith("Здравствуйте! Я виртуальный помощник")
    assert sent["sender"] == {"name": "Салон Лотос"}
    # Quick replies go as a keyboard of reply buttons.
    assert [b["ActionBody"] for b in sent["keyboard"]["Buttons"]] == ["Позвать оператора"]
    rows = await stored_messages(session)
    assert [(r[0], r[2]) for r in rows] == [("contact", "received"), ("assistant", "sent")]
    assert rows[1][4] == str(sent["message_token"])


@pytest.mark.parametrize("signature", ["", "0" * 64, "not-hex"])
async def test_a_wrong_or_missing_signature_is_401_and_stores_nothing(
    client: httpx.AsyncClient, bot: dict, session: AsyncSession, signature: str
) -> None:
    response = await post_callback(client, hook(bot), TOKEN, message(USER, 1, "hi"), signature=signature)
    assert response.status_code == 401
    assert await stored_messages(session) == []


async def test_a_body_signed_with_another_token_is_401(
    client: httpx.AsyncClient, bot: dict, session: AsyncSession
) -> None:
    response = await post_callback(client, hook(bot), "another-token-of-another-bot", message(USER, 1, "hi"))
    assert response.status_code == 401
    assert await stored_messages(session) == []


async def test_malformed_oversized_and_unknown(
    client: httpx.AsyncClient, bot: dict, session: AsyncSession, tenant_b: TenantFixture
) -> None:
    assert (await post_callback(client, hook(bot), TOKEN, b"{not json")).status_code == 400
    assert (await post_callback(client, hook(bot), TOKEN, b"[1, 2]")).status_code == 400
    no_sender = {"event": "message", "message_token": 5, "message": {"type": "text", "text": "x"}}
    assert (await post_callback(client, hook(bot), TOKEN, no_sender)).status_code == 400
    huge = message(USER, 6, "x" * (2 * 1024 * 1024))
    assert (await post_callback(client, hook(bot), TOKEN, huge)).status_code == 413
    unknown = f"/webhooks/viber/{uuid.uuid4()}"
    assert (await post_callback(client, unknown, TOKEN, message(USER, 7, "hi"))).status_code == 404
    assert await stored_messages(session) == []
    # Another tenant cannot see, change or remove the channel through the API.
    url = f"/api/v1/channels/{bot['id']}"
    assert (await client.get(url, headers=tenant_b.headers)).status_code == 404
    assert (await client.patch(url, json={"status": "paused"}, headers=tenant_b.headers)).status_code == 404
    assert (await client.delete(url, headers=tenant_b.headers)).status_code == 404


async def test_the_webhook_check_is_answered_even_before_the_channel_is_stored(
    client: httpx.AsyncClient, bot: dict, session: AsyncSession
) -> None:
    check = {"event": "webhook", "timestamp": 1, "chat_hostname": "SN", "message_token": 9}
    assert (await post_callback(client, hook(bot), TOKEN, check)).status_code == 200
    assert (await post_callback(client, f"/webhooks/viber/{uuid.uuid4()}", TOKEN, check)).status_code == 200
    assert await stored_messages(session) == []


async def test_a_redelivered_message_is_answered_once_and_order_is_kept(
    client: httpx.AsyncClient, bot: dict, runtime: Runtime, viber: ViberServer, session: AsyncSession
) -> None:
    first, second = message(USER, 2001, "Первое"), message(USER, 2002, "Второе")
    for body in (first, first, second, first, second):
        assert (await post_callback(client, hook(bot), TOKEN, body)).status_code == 200
    await run_queued_jobs(runtime)
    contact = [r[1] for r in await stored_messages(session) if r[0] == "contact"]
    assert contact == ["Первое", "Второе"]
    assert len(viber.double.sent_to(USER)) >= 1


async def test_a_nul_in_a_message_is_dropped(
    client: httpx.AsyncClient, bot: dict, runtime: Runtime, session: AsyncSession
) -> None:
    assert (await post_callback(client, hook(bot), TOKEN, message(USER, 3001, "При\x00вет"))).status_code == 200
    assert (await stored_messages(session))[0][1] == "Привет"


async def test_pictures_and_files_are_noted(
    client: httpx.AsyncClient, bot: dict, tenant_a: TenantFixture, session: AsyncSession
) -> None:
    picture = message(USER, 3101, "Вот фото", kind="picture", media="https://dl-media.viber.com/p.jpg", size=1000)
    document = message(USER, 3102, "", kind="file", media="https://dl-media.viber.com/f.pdf", file_name="прайс.pdf")
    for body in (picture, document):
        assert (await post_callback(client, hook(bot), TOKEN, body)).status_code == 200
    await enter_system_scope(session)
    rows = (await session.execute(text("SELECT text, attachments FROM messages ORDER BY position"))).all()
    assert rows[0][0] == "Вот фото" and rows[0][1][0]["kind"] == "photo"
    assert rows[1][0] == "[attachment]" and rows[1][1][0]["name"] == "прайс.pdf"


async def test_conversation_started_is_answered_with_the_greeting(
    client: httpx.AsyncClient, bot: dict, session: AsyncSession
) -> None:
    response = await post_callback(client, hook(bot), TOKEN, conversation_started(USER, 4001))
    assert response.status_code == 200
    welcome = response.json()
    assert welcome["type"] == "text" and welcome["sender"]["name"] == "Салон Лотос"
    assert welcome["text"].startswith("Здравствуйте! Я виртуальный помощник")
    assert await stored_messages(session) == []  # Viber shows it; nothing to answer yet


async def test_unsubscribed_marks_the_contact_unreachable_and_subscribed_again_reachable(
    client: httpx.AsyncClient, bot: dict, runtime: Runtime, tenant_a: TenantFixture
) -> None:
    await post_callback(client, hook(bot), TOKEN, message(USER, 5001, "Привет"))
    await run_queued_jobs(runtime)

    async def unreachable() -> bool:
        [conversation] = (await client.get("/api/v1/conversations", headers=tenant_a.headers)).json()["items"]
        return bool(conversation["contact"]["unreachable"])

    assert (await post_callback(client, hook(bot), TOKEN, unsubscribed(USER, 5002))).status_code == 200
    assert await unreachable()
    assert (await post_callback(client, hook(bot), TOKEN, subscribed(USER, 5003))).status_code == 200
    assert not await unreachable()


async def test_status_6_marks_the_contact_unreachable(
    client: httpx.AsyncClient,
    bot: dict,
    runtime: Runtime,
    viber: ViberServer,
    tenant_a: TenantFixture,
    session: AsyncSession,
) -> None:
    viber.double.unsubscribe(USER)
    await post_callback(client, hook(bot), TOKEN, message(USER, 6001, "Привет"))
    await run_queued_jobs(runtime)
    assert len([c for c in viber.double.calls if c["method"] == "send_message"]) == 1  # not retried forever
    [conversation] = (await client.get("/api/v1/conversations", headers=tenant_a.headers)).json()["items"]
    assert conversation["contact"]["unreachable"] is True
    assert (await stored_messages(session))[-1][2] == "failed"


async def test_receipts_update_the_sent_message(
    client: httpx.AsyncClient, bot: dict, runtime: Runtime, viber: ViberServer, session: AsyncSession
) -> None:
    await post_callback(client, hook(bot), TOKEN, message(USER, 7001, "Привет"))
    await run_queued_jobs(runtime)
    [sent] = viber.double.sent_to(USER)
    for event in ("delivered", "seen"):
        body = receipt(event, USER, sent["message_token"])
        assert (await post_callback(client, hook(bot), TOKEN, body)).status_code == 200
    assert (await stored_messages(session))[-1][2] == "sent"
    failed = receipt("failed", USER, sent["message_token"], desc="Receiver is inactive")
    assert (await post_callback(client, hook(bot), TOKEN, failed)).status_code == 200
    session.expire_all()
    assert (await stored_messages(session))[-1][2:4] == ("failed", "Viber: Receiver is inactive")


async def test_a_rate_limit_answer_is_waited_out_and_delivered(
    client: httpx.AsyncClient, bot: dict, runtime: Runtime, viber: ViberServer
) -> None:
    viber.double.fail_next(12)
    await post_callback(client, hook(bot), TOKEN, message(USER, 8001, "Привет"))
    await run_queued_jobs(runtime)
    assert len(viber.double.sent_to(USER)) == 1
    assert len([c for c in viber.double.calls if c["method"] == "send_message"]) == 2


async def test_long_replies_are_split_at_vibers_limit(
    client: httpx.AsyncClient,
    bot: dict,
    runtime: Runtime,
    viber: ViberServer,
    tenant_a: TenantFixture,
    llm: LLMServer,
) -> None:
    await use_model(client, tenant_a, llm)
    long_text = " ".join(f"Пункт {i}: цена 1.500 (скидка -10%)!" for i in range(500))
    llm.double.script(reply(long_text))
    await post_callback(client, hook(bot), TOKEN, message(USER, 9001, "Расскажите всё"))
    await run_queued_jobs(runtime)
    parts = viber.double.sent_to(USER)
    assert len(parts) >= 3
    assert all(len(p["text"]) <= 7000 for p in parts)
    assert " ".join(p["text"] for p in parts) == long_text


async def test_a_paused_channel_takes_callbacks_but_does_not_answer(
    client: httpx.AsyncClient, bot: dict, runtime: Runtime, viber: ViberServer, tenant_a: TenantFixture
) -> None:
    paused = await client.patch(f"/api/v1/channels/{bot['id']}", json={"status": "paused"}, headers=tenant_a.headers)
    assert paused.status_code == 200
    assert (await post_callback(client, hook(bot), TOKEN, message(USER, 9101, "Привет"))).status_code == 200
    await run_queued_jobs(runtime)
    assert viber.double.sent_to(USER) == []


async def test_removing_the_channel_removes_the_webhook(
    client: httpx.AsyncClient, bot: dict, viber: ViberServer, tenant_a: TenantFixture
) -> None:
    assert (await client.delete(f"/api/v1/channels/{bot['id']}", headers=tenant_a.headers)).status_code == 204
    assert viber.double.webhook(TOKEN) == ""


def test_short_labels_share_a_row_and_phrases_take_one_each() -> None:
    scale = keyboard([str(n) for n in range(1, 6)])
    assert scale is not None and {b["Columns"] for b in scale["Buttons"]} == {1}
    phrases = keyboard(["Позвать оператора", "Записаться"])
    assert phrases is not None and {b["Columns"] for b in phrases["Buttons"]} == {6}
    assert keyboard([]) is None
    many = keyboard([f"Вариант {n}" for n in range(40)])
    assert many is not None and len(many["Buttons"]) == 24


async def test_events_about_unknown_customers_and_messages_are_acknowledged_and_change_nothing(
    client: httpx.AsyncClient, bot: dict, session: AsyncSession
) -> None:
    # Out of order: receipts and unsubscriptions about what easyflow never stored (yet).
    for body in (
        unsubscribed("someone-else", 10_001),
        subscribed("someone-else", 10_002),
        receipt("failed", USER, 424_242, desc="Receiver is inactive"),
        receipt("seen", USER, 424_243),
        {"event": "client_status", "timestamp": 1, "message_token": 10_003},
    ):
        assert (await post_callback(client, hook(bot), TOKEN, body)).status_code == 200
    await enter_system_scope(session)
    assert await stored_messages(session) == []
    assert (await session.execute(text("SELECT count(*) FROM contacts"))).scalar_one() == 0
