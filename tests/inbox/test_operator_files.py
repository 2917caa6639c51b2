"""Operators send files: stored with the conversation, delivered through its channel (the API channel's
webhook with a link here; Telegram and the widget in their own tests), kept in notes; refused by size, by
what the bytes are, and for other tenants."""

from __future__ import annotations

import json

import httpx
import pytest

from easyflow.db.database import Database
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, run_queued_jobs
from tests.doubles.webhook_receiver import WebhookReceiver
from tests.inbox.staff import conversation, customer_writes, handed_off, messages, sign_in

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
PRICE_LIST = "Прайс-лист салона «Лотос»\nСтрижка — 1500 ₽\n".encode()


async def send_file(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    conversation_id: str,
    name: str,
    content: bytes,
    **form: str,
) -> httpx.Response:
    return await client.post(
        f"/api/v1/conversations/{conversation_id}/files", files={"file": (name, content)}, data=form, headers=headers
    )


async def test_a_file_reaches_the_webhook_with_a_link_and_takes_the_conversation(
    client: httpx.AsyncClient,
    database: Database,
    tenant_a: TenantFixture,
    runtime: Runtime,
    webhook: WebhookReceiver,
) -> None:
    anna = await sign_in(client, database, tenant_a)
    conversation_id = await handed_off(client, tenant_a, runtime, "Позовите оператора")
    webhook.received.clear()
    sent = await send_file(client, anna.headers, conversation_id, "../../схема проезда.png", PNG, text="Вот схема")
    assert sent.status_code == 201, sent.text
    message = sent.json()
    [attachment] = message["attachments"]
    assert (message["role"], message["text"]) == ("operator", "Вот схема")
    assert (attachment["name"], attachment["content_type"], attachment["size"]) == (
        "схема проезда.png",
        "image/png",
        len(PNG),
    )
    assert (await conversation(client, tenant_a, conversation_id))["status"] == "open"

    await run_queued_jobs(runtime)
    [delivery] = webhook.received
    delivered = json.loads(delivery.body)["message"]
    [linked] = delivered["attachments"]
    assert linked["url"].endswith(f"/api/v1/conversations/{conversation_id}/files/{attachment['stored_file_id']}")
    assert (linked["name"], linked["size"]) == ("схема проезда.png", len(PNG))
    download = await client.get(linked["url"].split("127.0.0.1:8000", 1)[-1], headers=tenant_a.headers)
    assert download.status_code == 200 and download.content == PNG
    assert download.headers["content-disposition"].startswith("attachment;")
    assert (await messages(client, tenant_a, conversation_id))[-1]["delivery_status"] == "sent"


async def test_a_file_in_a_note_stays_among_staff(
    client: httpx.AsyncClient,
    database: Database,
    tenant_a: TenantFixture,
    runtime: Runtime,
    webhook: WebhookReceiver,
) -> None:
    anna = await sign_in(client, database, tenant_a)
    conversation_id = await handed_off(client, tenant_a, runtime, "Позовите оператора")
    webhook.received.clear()
    sent = await send_file(client, anna.headers, conversation_id, "prices.txt", PRICE_LIST, private="true")
    assert sent.status_code == 201, sent.text
    assert sent.json()["private"] is True and sent.json()["attachments"][0]["content_type"] == "text/plain"
    await run_queued_jobs(runtime)
    assert webhook.received == []
    assert (await conversation(client, tenant_a, conversation_id))["status"] == "pending"


@pytest.mark.parametrize(
    ("name", "content", "form", "status", "complaint"),
    [
        ("setup.exe", b"MZ\x90\x00" + bytes(200), {}, 415, "Only pictures"),
        ("empty.png", b"", {}, 415, "empty"),
        ("big.png", PNG + bytes(10 * 1024 * 1024), {}, 413, "larger"),
        ("ok.png", PNG, {"text": "a\x00b"}, 422, "text"),
        ("ok.png", PNG, {"private": "maybe"}, 422, "private"),
    ],
)
async def test_bad_files_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient,
    database: Database,
    tenant_a: TenantFixture,
    runtime: Runtime,
    name: str,
    content: bytes,
    form: dict[str, str],
    status: int,
    complaint: str,
) -> None:
    anna = await sign_in(client, database, tenant_a)
    conversation_id = await handed_off(client, tenant_a, runtime, "Позовите оператора")
    before = await messages(client, tenant_a, conversation_id)
    refused = await send_file(client, anna.headers, conversation_id, name, content, **form)
    assert refused.status_code == status, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert complaint in refused.text
    assert await messages(client, tenant_a, conversation_id) == before


async def test_a_request_without_a_file_is_422(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    anna = await sign_in(client, database, tenant_a)
    conversation_id = await handed_off(client, tenant_a, runtime, "Позовите оператора")
    response = await client.post(
        f"/api/v1/conversations/{conversation_id}/files", data={"text": "без файла"}, headers=anna.headers
    )
    assert response.status_code == 422 and "file" in response.text


async def test_viewers_and_other_tenants_cannot_send_files(
    client: httpx.AsyncClient,
    database: Database,
    tenant_a: TenantFixture,
    tenant_b: TenantFixture,
    runtime: Runtime,
) -> None:
    theirs = await customer_writes(client, tenant_b, "чужой разговор")
    await run_queued_jobs(runtime)
    anna = await sign_in(client, database, tenant_a)
    stranger = await send_file(client, anna.headers, theirs["conversation_id"], "a.png", PNG)
    assert stranger.status_code == 404
    assert len(await messages(client, tenant_b, theirs["conversation_id"])) == 2
    own = await handed_off(client, tenant_a, runtime, "Позовите оператора")
    viewer = await sign_in(client, database, tenant_a, Role.viewer)
    assert (await send_file(client, viewer.headers, own, "a.png", PNG)).status_code == 403
