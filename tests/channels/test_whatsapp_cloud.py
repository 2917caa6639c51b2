"""WhatsApp Business Cloud API over real HTTP against the Graph API double: connect, the webhook handshake,
signed notifications in (text, button and list replies, statuses), replies out (split, buttons, lists), the
24-hour window and WhatsApp's error codes; hostile deliveries."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.channels.whatsapp import FILES_NOT_SENT, WINDOW_CLOSED, SendLater, interactive
from easyflow.conversations.delivery import DeliveryService
from easyflow.db.database import Database
from easyflow.db.session import enter_system_scope
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, run_queued_jobs
from tests.doubles.llm_server import LLMServer, reply
from tests.doubles.whatsapp_cloud import (
    WhatsAppServer,
    button_reply,
    encode,
    list_reply,
    sign,
    status,
    text_message,
    webhook_body,
)
from tests.inbox.staff import send_as_staff, sign_in

NUMBER = "106540352242922"
TOKEN = "EAAJB" + "x" * 60
APP_SECRET = "0123456789abcdef0123456789abcdef"
CUSTOMER = "79161234567"
NAME = "Мария"


async def connect(client: httpx.AsyncClient, tenant: TenantFixture, **extra: object) -> httpx.Response:
    body = {"type": "whatsapp", "phone_number_id": NUMBER, "access_token": TOKEN, "app_secret": APP_SECRET}
    return await client.post("/api/v1/channels", json=body | extra, headers=tenant.headers)


@pytest.fixture
async def number(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, whatsapp: WhatsAppServer
) -> dict:
    runtime.settings = runtime.settings.model_copy(update={"whatsapp_api_url": whatsapp.base_url})
    whatsapp.double.add_number(NUMBER, TOKEN, name="Салон Лотос")
    response = await connect(client, tenant_a, verify_token="meta-verify-token-1")
    assert response.status_code == 201, response.text
    return dict(response.json())


async def post(client: httpx.AsyncClient, channel: dict, body: dict, secret: str = APP_SECRET) -> httpx.Response:
    raw = encode(body)
    headers = {"X-Hub-Signature-256": sign(raw, secret), "content-type": "application/json"}
    return await client.post(f"/webhooks/whatsapp/{channel['id']}", content=raw, headers=headers)


async def customer_says(client: httpx.AsyncClient, channel: dict, wamid: str, words: str, at: int = 1) -> None:
    body = webhook_body(NUMBER, messages=[text_message(CUSTOMER, wamid, words, at)], contact=(CUSTOMER, NAME))
    assert (await post(client, channel, body)).status_code == 200


async def stored(session: AsyncSession) -> list[tuple]:
    await enter_system_scope(session)
    rows = await session.execute(
        text("SELECT role, text, delivery_status, delivery_error, external_id FROM messages ORDER BY position")
    )
    return [tuple(row) for row in rows]


async def test_connecting_checks_the_credentials_and_keeps_the_secrets_encrypted(
    number: dict, whatsapp: WhatsAppServer, session: AsyncSession
) -> None:
    assert (number["type"], number["name"]) == ("whatsapp", "Салон Лотос")
    assert number["config"]["phone_number_id"] == NUMBER
    assert number["config"]["webhook_url"].endswith(f"/webhooks/whatsapp/{number['id']}")
    assert number["verify_token"] == "meta-verify-token-1"
    assert whatsapp.double.calls == [{"method": "GET", "path": f"/v21.0/{NUMBER}"}]
    await enter_system_scope(session)
    [secret] = (await session.execute(text("SELECT credentials_encrypted FROM channels"))).scalars()
    assert TOKEN not in secret and APP_SECRET not in secret and "meta-verify-token-1" not in secret


async def test_credentials_graph_refuses_are_422_and_a_verify_token_is_generated(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, whatsapp: WhatsAppServer
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"whatsapp_api_url": whatsapp.base_url})
    whatsapp.double.add_number(NUMBER, "EAAJB" + "y" * 60)
    refused = await connect(client, tenant_a)
    assert refused.status_code == 422 and "WhatsApp refused them" in refused.json()["detail"]
    whatsapp.double.add_number(NUMBER, TOKEN)
    connected = await connect(client, tenant_a)
    assert connected.status_code == 201 and len(connected.json()["verify_token"]) >= 24
    listed = (await client.get(f"/api/v1/channels/{connected.json()['id']}", headers=tenant_a.headers)).json()
    assert "verify_token" not in listed and "verify_token" not in listed["config"]


async def test_the_subscription_handshake(client: httpx.AsyncClient, number: dict, tenant_b: TenantFixture) -> None:
    url = f"/webhooks/whatsapp/{number['id']}"
    good = {"hub.mode": "subscribe", "hub.verify_token": "meta-verify-token-1", "hub.challenge": "1158201444"}
    answered = await client.get(url, params=good)
    assert (answered.status_code, answered.text) == (200, "1158201444")
    assert (await client.get(url, params=good | {"hub.verify_token": "meta-verify-token-2"})).status_code == 403
    assert (await client.get(url, params=good | {"hub.mode": "unsubscribe"})).status_code == 403
    assert (await client.get(url, params={"hub.challenge": "1"})).status_code == 403
    unknown = await client.get(f"/webhooks/whatsapp/{uuid.uuid4()}", params=good)
    assert unknown.status_code == 404
    # Another tenant does not see the channel.
    assert (await client.get(f"/api/v1/channels/{number['id']}", headers=tenant_b.headers)).status_code == 404


async def test_webhook_in_reply_out(
    client: httpx.AsyncClient, number: dict, runtime: Runtime, whatsapp: WhatsAppServer, session: AsyncSession
) -> None:
    await customer_says(client, number, "wamid.IN1", "Здравствуйте!")
    await run_queued_jobs(runtime)
    [sent] = whatsapp.double.sent_to(CUSTOMER)
    # The greeting offers the person button: an interactive message with one reply button.
    assert sent["type"] == "interactive" and sent["interactive"]["type"] == "button"
    assert sent["interactive"]["body"]["text"].startswith("Здравствуйте! Я виртуальный помощник")
    assert [b["reply"]["title"] for b in sent["interactive"]["action"]["buttons"]] == ["Позвать оператора"]
    rows = await stored(session)
    assert rows[0][:3] == ("contact", "Здравствуйте!", "received")
    assert (rows[1][0], rows[1][2], rows[1][4]) == ("assistant", "sent", sent["id"])
    contact = (await session.execute(text("SELECT name, phone FROM contacts"))).one()
    assert tuple(contact) == (NAME, "+" + CUSTOMER)


@pytest.mark.parametrize("signature", [None, "", "sha256=", "sha256=" + "0" * 64, "sha1=abc", "wrong-secret"])
async def test_a_missing_or_wrong_signature_is_401_and_stores_nothing(
    client: httpx.AsyncClient, number: dict, session: AsyncSession, signature: str | None
) -> None:
    raw = encode(webhook_body(NUMBER, messages=[text_message(CUSTOMER, "wamid.X", "hi", 1)]))
    headers = {"content-type": "application/json"}
    if signature == "wrong-secret":
        headers["X-Hub-Signature-256"] = sign(raw, "another-app-secret-000000")
    elif signature is not None:
        headers["X-Hub-Signature-256"] = signature
    response = await client.post(f"/webhooks/whatsapp/{number['id']}", content=raw, headers=headers)
    assert response.status_code == 401
    assert await stored(session) == []


async def test_the_signature_covers_the_raw_bytes(
    client: httpx.AsyncClient, number: dict, session: AsyncSession
) -> None:
    body = webhook_body(NUMBER, messages=[text_message(CUSTOMER, "wamid.R", "Привет", 1)], contact=(CUSTOMER, NAME))
    signed = encode(body)
    # The same JSON re-encoded (spaces, UTF-8 instead of escapes) is different bytes: not what was signed.
    reencoded = json.dumps(body, ensure_ascii=False, indent=1).encode()
    headers = {"X-Hub-Signature-256": sign(signed, APP_SECRET), "content-type": "application/json"}
    assert (
        await client.post(f"/webhooks/whatsapp/{number['id']}", content=reencoded, headers=headers)
    ).status_code == 401
    assert (await client.post(f"/webhooks/whatsapp/{number['id']}", content=signed, headers=headers)).status_code == 200
    assert [r[1] for r in await stored(session)] == ["Привет"]


async def test_malformed_oversized_and_misaddressed_deliveries(
    client: httpx.AsyncClient, number: dict, session: AsyncSession, tenant_a: TenantFixture
) -> None:
    url = f"/webhooks/whatsapp/{number['id']}"
    for raw in (b"{not json", b"[]", b'{"object": "page", "entry": []}'):
        headers = {"X-Hub-Signature-256": sign(raw, APP_SECRET), "content-type": "application/json"}
        assert (await client.post(url, content=raw, headers=headers)).status_code == 400
    huge = b'{"object":"whatsapp_business_account","pad":"' + b"x" * (2 * 1024 * 1024) + b'"}'
    headers = {"X-Hub-Signature-256": sign(huge, APP_SECRET), "content-type": "application/json"}
    assert (await client.post(url, content=huge, headers=headers)).status_code == 413
    # Another number's changes (one Meta app may serve several) are not this channel's.
    assert (
        await post(client, number, webhook_body("999", messages=[text_message(CUSTOMER, "w.O", "x", 1)]))
    ).status_code == 200
    unknown = {"id": str(uuid.uuid4())}
    assert (await post(client, unknown, webhook_body(NUMBER, messages=[]))).status_code == 404
    # A Telegram (or any other) channel's id is not a WhatsApp channel.
    widget = await client.post(
        "/api/v1/channels",
        json={"type": "widget", "name": "Site", "allowed_origins": ["https://shop.example"]},
        headers=tenant_a.headers,
    )
    assert (await post(client, widget.json(), webhook_body(NUMBER, messages=[]))).status_code == 404
    assert await stored(session) == []


async def test_nul_bytes_are_dropped(client: httpx.AsyncClient, number: dict, session: AsyncSession) -> None:
    await customer_says(client, number, "wamid.NUL", "При\u0000вет")
    assert [r[1] for r in await stored(session)] == ["Привет"]


async def test_duplicates_are_answered_once_and_order_is_kept(
    client: httpx.AsyncClient, number: dict, runtime: Runtime, whatsapp: WhatsAppServer, session: AsyncSession
) -> None:
    for _ in range(3):
        await customer_says(client, number, "wamid.DUP", "Привет")
    await run_queued_jobs(runtime)
    assert len(whatsapp.double.sent_to(CUSTOMER)) == 1
    # Two messages in one delivery, listed out of order: stored in the order they were written.
    later, earlier = text_message(CUSTOMER, "wamid.B", "второе", 20), text_message(CUSTOMER, "wamid.A", "первое", 10)
    assert (await post(client, number, webhook_body(NUMBER, messages=[later, earlier]))).status_code == 200
    assert [r[1] for r in await stored(session) if r[0] == "contact"] == ["Привет", "первое", "второе"]


async def test_button_and_list_replies_arrive_as_their_titles(
    client: httpx.AsyncClient, number: dict, session: AsyncSession
) -> None:
    pressed = button_reply(CUSTOMER, "wamid.BTN", "Позвать оператора", "Позвать оператора", 1)
    picked = list_reply(CUSTOMER, "wamid.LST", "4", "4", 2)
    image = {"from": CUSTOMER, "id": "wamid.IMG", "timestamp": "3", "type": "image", "image": {"id": "1"}}
    assert (await post(client, number, webhook_body(NUMBER, messages=[pressed, picked, image]))).status_code == 200
    assert [r[1] for r in await stored(session) if r[0] == "contact"] == ["Позвать оператора", "4", "[image]"]


async def test_statuses_update_delivery_and_a_failure_is_never_undone(
    client: httpx.AsyncClient, number: dict, runtime: Runtime, whatsapp: WhatsAppServer, session: AsyncSession
) -> None:
    await customer_says(client, number, "wamid.S1", "Здравствуйте!")
    await run_queued_jobs(runtime)
    wamid = whatsapp.double.sent_to(CUSTOMER)[0]["id"]
    for state in ("delivered", "read"):
        assert (
            await post(client, number, webhook_body(NUMBER, statuses=[status(wamid, CUSTOMER, state, 5)]))
        ).status_code == 200
    assert (await stored(session))[-1][2] == "sent"
    failed = status(wamid, CUSTOMER, "failed", 6, error_code=131026)
    assert (await post(client, number, webhook_body(NUMBER, statuses=[failed]))).status_code == 200
    late = status(wamid, CUSTOMER, "delivered", 4)  # out of order: older than the failure
    assert (await post(client, number, webhook_body(NUMBER, statuses=[late]))).status_code == 200
    [row] = [r for r in await stored(session) if r[4] == wamid]
    assert row[2] == "failed" and "131026" in row[3]
    assert (await session.execute(text("SELECT unreachable FROM contacts"))).scalar_one() is True
    # A status of a message that is not ours changes nothing.
    other = status("wamid.SOMEONE_ELSES", CUSTOMER, "failed", 7, error_code=131026)
    assert (await post(client, number, webhook_body(NUMBER, statuses=[other]))).status_code == 200


async def test_long_replies_are_split(
    client: httpx.AsyncClient,
    number: dict,
    runtime: Runtime,
    whatsapp: WhatsAppServer,
    tenant_a: TenantFixture,
    llm: LLMServer,
) -> None:
    assistant = (await client.get("/api/v1/assistants", headers=tenant_a.headers)).json()["items"][0]
    model = {"provider": "openai_compatible", "model_name": "gpt-4o", "base_url": llm.base_url}
    await client.patch(f"/api/v1/assistants/{assistant['id']}", json={"model": model}, headers=tenant_a.headers)
    long_text = " ".join(f"Пункт {i}: цена 1.500 — см. прайс!" for i in range(300))
    llm.double.script(reply(long_text))
    await customer_says(client, number, "wamid.L", "Расскажите всё")
    await run_queued_jobs(runtime)
    parts = whatsapp.double.sent_to(CUSTOMER)
    assert len(parts) >= 2 and all(p["type"] == "text" for p in parts)
    assert all(len(p["text"]["body"]) <= 4096 for p in parts)
    assert " ".join(p["text"]["body"] for p in parts) == long_text


def test_more_than_three_buttons_become_a_list_of_at_most_ten_rows() -> None:
    three = interactive("Когда удобно?", ["Сегодня", "Завтра", "Послезавтра"])
    assert three["type"] == "button" and len(three["action"]["buttons"]) == 3
    many = interactive("Оцените", [str(n) for n in range(1, 13)])
    assert many["type"] == "list"
    assert [row["title"] for row in many["action"]["sections"][0]["rows"]] == [str(n) for n in range(1, 11)]


async def _handed_to(
    client: httpx.AsyncClient, number: dict, runtime: Runtime, database: Database, tenant: TenantFixture
) -> tuple[dict, dict[str, str]]:
    await customer_says(client, number, "wamid.H", "Позовите оператора")
    await run_queued_jobs(runtime)
    [waiting] = (await client.get("/api/v1/conversations?status=pending", headers=tenant.headers)).json()["items"]
    return waiting, (await sign_in(client, database, tenant)).headers


async def test_outside_the_24_hour_window_a_reply_is_refused_with_a_clear_error(
    client: httpx.AsyncClient,
    number: dict,
    runtime: Runtime,
    whatsapp: WhatsAppServer,
    database: Database,
    tenant_a: TenantFixture,
    session: AsyncSession,
) -> None:
    waiting, headers = await _handed_to(client, number, runtime, database, tenant_a)
    sent_before = len(whatsapp.double.sent)
    await enter_system_scope(session)
    await session.execute(text("UPDATE messages SET created_at = now() - interval '25 hours' WHERE role = 'contact'"))
    await session.commit()
    assert (await send_as_staff(client, headers, waiting["id"], "Извините за задержку!")).status_code == 201
    await run_queued_jobs(runtime)
    assert len(whatsapp.double.sent) == sent_before
    last = (await stored(session))[-1]
    assert (last[1], last[2], last[3]) == ("Извините за задержку!", "failed", WINDOW_CLOSED)


async def test_an_unreachable_customer_and_rate_limits(
    client: httpx.AsyncClient,
    number: dict,
    runtime: Runtime,
    whatsapp: WhatsAppServer,
    database: Database,
    tenant_a: TenantFixture,
    session: AsyncSession,
) -> None:
    waiting, headers = await _handed_to(client, number, runtime, database, tenant_a)
    for code in (130429, 131056):
        whatsapp.double.fail_next(code)
        assert (await send_as_staff(client, headers, waiting["id"], f"Попытка {code}")).status_code == 201
        with pytest.raises(SendLater, match=str(code)):
            await run_queued_jobs(runtime)
        message_id = (await session.execute(text("SELECT id FROM messages ORDER BY position DESC LIMIT 1"))).scalar()
        assert (await stored(session))[-1][2] == "pending"
        # The job's retry (later, with backoff) sends it.
        await DeliveryService(runtime).deliver(tenant_a.id, message_id)
        assert (await stored(session))[-1][2] == "sent"
    whatsapp.double.fail_next(131026)
    assert (await send_as_staff(client, headers, waiting["id"], "Вы здесь?")).status_code == 201
    await run_queued_jobs(runtime)
    last = (await stored(session))[-1]
    assert last[2] == "failed" and last[3].startswith("131026")
    conversation = (await client.get(f"/api/v1/conversations/{waiting['id']}", headers=tenant_a.headers)).json()
    assert conversation["contact"]["unreachable"] is True


async def test_odd_shapes_in_a_signed_delivery_are_skipped_not_failed(
    client: httpx.AsyncClient, number: dict, session: AsyncSession
) -> None:
    body = webhook_body(
        NUMBER,
        messages=[
            {"from": CUSTOMER, "id": "wamid.T", "timestamp": "1", "type": "text", "text": "not an object"},
            {"from": "1" * 40, "id": "wamid.LONG", "timestamp": "2", "type": "text", "text": {"body": "x"}},
            {"from": CUSTOMER, "id": "wamid.I", "timestamp": "3", "type": "interactive", "interactive": []},
            "not a message",
            text_message(CUSTOMER, "wamid.10", "десять", 10),
            text_message(CUSTOMER, "wamid.9", "девять", 9),  # "9" > "10" as text: ordered as numbers
        ],
    )
    body["entry"][0]["changes"][0]["value"]["contacts"] = [{"wa_id": CUSTOMER, "profile": "x"}, 5]
    assert (await post(client, number, body)).status_code == 200
    assert [r[1] for r in await stored(session)] == ["девять", "десять"]


async def test_a_paused_channel_takes_deliveries_but_does_not_answer(
    client: httpx.AsyncClient,
    number: dict,
    runtime: Runtime,
    whatsapp: WhatsAppServer,
    tenant_a: TenantFixture,
    session: AsyncSession,
) -> None:
    paused = await client.patch(f"/api/v1/channels/{number['id']}", json={"status": "paused"}, headers=tenant_a.headers)
    assert paused.status_code == 200
    await customer_says(client, number, "wamid.P", "Есть кто?")
    await run_queued_jobs(runtime)
    assert whatsapp.double.sent == [] and await stored(session) == []


async def test_whatsapps_own_window_refusal_is_reported_as_the_window(
    client: httpx.AsyncClient,
    number: dict,
    runtime: Runtime,
    whatsapp: WhatsAppServer,
    database: Database,
    tenant_a: TenantFixture,
    session: AsyncSession,
) -> None:
    waiting, headers = await _handed_to(client, number, runtime, database, tenant_a)
    whatsapp.double.fail_next(131047)  # Meta's clock closed the window before ours did
    assert (await send_as_staff(client, headers, waiting["id"], "Добрый день!")).status_code == 201
    await run_queued_jobs(runtime)
    last = (await stored(session))[-1]
    assert (last[2], last[3]) == ("failed", WINDOW_CLOSED)


async def test_an_operators_file_alone_is_refused_with_a_clear_error(
    client: httpx.AsyncClient,
    number: dict,
    runtime: Runtime,
    whatsapp: WhatsAppServer,
    database: Database,
    tenant_a: TenantFixture,
    session: AsyncSession,
) -> None:
    waiting, headers = await _handed_to(client, number, runtime, database, tenant_a)
    sent_before = len(whatsapp.double.sent)
    url = f"/api/v1/conversations/{waiting['id']}/files"
    pdf = b"%PDF-1.4\n" + bytes(64)
    assert (await client.post(url, files={"file": ("прайс.pdf", pdf)}, headers=headers)).status_code == 201
    await run_queued_jobs(runtime)
    assert len(whatsapp.double.sent) == sent_before
    last = (await stored(session))[-1]
    assert (last[2], last[3]) == ("failed", FILES_NOT_SENT)
