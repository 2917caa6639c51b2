"""Replies pushed to the tenant's webhook (signed, retried, idempotent), and jobs that give up flag the
conversation instead of dropping it."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.app import create_app
from easyflow.config import Settings
from easyflow.conversations.delivery import DeliveryService
from easyflow.kit import destinations
from easyflow.kit.jobs import run_job
from easyflow.knowledge.retrieval import Passage
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, run_queued_jobs
from tests.doubles.webhook_receiver import WebhookReceiver

POST = "/api/v1/channels/api/messages"


def message(text: str) -> dict:
    return {"contact": {"external_id": "c-1"}, "text": text, "external_message_id": uuid.uuid4().hex}


async def set_webhook(client: httpx.AsyncClient, tenant: TenantFixture, url: str) -> str:
    response = await client.put("/api/v1/tenant/webhook", json={"url": url}, headers=tenant.headers)
    assert response.status_code == 200, response.text
    assert response.json()["url"] == url
    return str(response.json()["secret"])


async def test_replies_are_pushed_signed_to_the_tenant_webhook(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, webhook_receiver: WebhookReceiver
) -> None:
    secret = await set_webhook(client, tenant_a, webhook_receiver.url)
    accepted = (await client.post(POST, json=message("Привет"), headers=tenant_a.headers)).json()
    await run_queued_jobs(runtime)

    [delivery] = webhook_receiver.received
    signed = delivery.headers["x-easyflow-timestamp"].encode() + b"." + delivery.body
    expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(delivery.headers["x-easyflow-signature"], expected)
    payload = json.loads(delivery.body)
    assert payload["event"] == "message.created"
    assert payload["conversation_id"] == accepted["conversation_id"]
    assert payload["contact"]["external_id"] == "c-1"
    assert payload["message"]["text"].startswith("Здравствуйте")
    assert delivery.headers["idempotency-key"] == payload["message"]["id"]
    messages = (
        await client.get(f"/api/v1/conversations/{accepted['conversation_id']}/messages", headers=tenant_a.headers)
    ).json()
    assert messages[-1]["delivery_status"] == "sent"
    tenant = (await client.get("/api/v1/tenant", headers=tenant_a.headers)).json()
    assert tenant["webhook_url"] == webhook_receiver.url
    assert secret not in json.dumps(tenant)


async def test_a_failing_webhook_is_retried_with_the_same_idempotency_key(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, webhook_receiver: WebhookReceiver
) -> None:
    await set_webhook(client, tenant_a, webhook_receiver.url)
    webhook_receiver.statuses = [503]
    await client.post(POST, json=message("Привет"), headers=tenant_a.headers)
    with pytest.raises(Exception, match="503"):
        await run_queued_jobs(runtime)  # the deliver job fails; procrastinate would retry it with backoff
    first = webhook_receiver.received[0]
    message_id = json.loads(first.body)["message"]["id"]
    await DeliveryService(runtime).deliver(tenant_a.id, uuid.UUID(message_id))  # the retry
    assert [r.headers["idempotency-key"] for r in webhook_receiver.received] == [message_id, message_id]
    await DeliveryService(runtime).deliver(tenant_a.id, uuid.UUID(message_id))  # a redelivered job: no resend
    assert len(webhook_receiver.received) == 2


async def test_a_webhook_that_never_accepts_ends_failed_with_the_reason(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, webhook_receiver: WebhookReceiver
) -> None:
    await set_webhook(client, tenant_a, webhook_receiver.url)
    webhook_receiver.statuses = [500] * 3
    accepted = (await client.post(POST, json=message("Привет"), headers=tenant_a.headers)).json()
    with pytest.raises(Exception, match="500"):
        await run_queued_jobs(runtime, last_attempt=True)
    messages = (
        await client.get(f"/api/v1/conversations/{accepted['conversation_id']}/messages", headers=tenant_a.headers)
    ).json()
    assert messages[-1]["delivery_status"] == "failed"


async def test_removing_the_webhook_stops_pushes(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, webhook_receiver: WebhookReceiver
) -> None:
    await set_webhook(client, tenant_a, webhook_receiver.url)
    assert (await client.delete("/api/v1/tenant/webhook", headers=tenant_a.headers)).status_code == 204
    await client.post(POST, json=message("Привет"), headers=tenant_a.headers)
    await run_queued_jobs(runtime)
    assert webhook_receiver.received == []


@pytest.mark.parametrize("url", ["not a url", "ftp://example.com/x", ""])
async def test_bad_webhook_urls_are_refused(client: httpx.AsyncClient, tenant_a: TenantFixture, url: str) -> None:
    response = await client.put("/api/v1/tenant/webhook", json={"url": url}, headers=tenant_a.headers)
    assert response.status_code == 422


class BrokenKnowledge:
    async def search(self, session: AsyncSession, tenant_id: uuid.UUID, query: str, limit: int) -> list[Passage]:
        raise ConnectionError("knowledge index unavailable")


async def test_a_reply_job_that_keeps_failing_flags_the_conversation(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    runtime.retriever = BrokenKnowledge()
    accepted = (await client.post(POST, json=message("Сколько стоит стрижка?"), headers=tenant_a.headers)).json()
    with pytest.raises(ConnectionError):
        await run_queued_jobs(runtime)  # not the last attempt: it will be retried, nothing flagged yet
    conversation_url = f"/api/v1/conversations/{accepted['conversation_id']}"
    assert (await client.get(conversation_url, headers=tenant_a.headers)).json()["status"] == "bot"

    with pytest.raises(ConnectionError):
        await run_job(
            runtime,
            "conversations.reply",
            {"tenant_id": str(tenant_a.id), "conversation_id": accepted["conversation_id"]},
            attempt_is_last=True,
        )
    conversation = (await client.get(conversation_url, headers=tenant_a.headers)).json()
    assert conversation["status"] == "pending"
    assert "ConnectionError" in conversation["handoff_reason"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://localhost/hook",
    ],
)
async def test_webhooks_into_private_networks_are_refused(
    settings: Settings, runtime: Runtime, tenant_a: TenantFixture, url: str
) -> None:
    strict = create_app(settings.model_copy(update={"allow_private_webhooks": False}), runtime=runtime)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=strict), base_url="http://testserver") as client:
        refused = await client.put("/api/v1/tenant/webhook", json={"url": url}, headers=tenant_a.headers)
        assert refused.status_code == 422, refused.text
        assert "private or local address" in refused.json()["detail"]
        assert (await client.get("/api/v1/tenant", headers=tenant_a.headers)).json()["webhook_url"] is None
        public = await client.put(
            "/api/v1/tenant/webhook", json={"url": "https://93.184.216.34/hook"}, headers=tenant_a.headers
        )
        assert public.status_code == 200


async def test_a_webhook_that_now_points_inside_is_not_called(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, webhook_receiver: WebhookReceiver
) -> None:
    await set_webhook(client, tenant_a, webhook_receiver.url)  # allowed when it was set...
    runtime.settings = runtime.settings.model_copy(update={"allow_private_webhooks": False})  # ...not any more
    accepted = (await client.post(POST, json=message("Привет"), headers=tenant_a.headers)).json()
    with pytest.raises(Exception, match="private or local address"):
        await run_queued_jobs(runtime, last_attempt=True)
    assert webhook_receiver.received == []
    messages = (
        await client.get(f"/api/v1/conversations/{accepted['conversation_id']}/messages", headers=tenant_a.headers)
    ).json()
    assert messages[-1]["delivery_status"] == "failed"
    assert "private or local address" in messages[-1]["delivery_error"]


async def test_a_checked_webhook_is_called_at_the_address_that_was_checked(
    client: httpx.AsyncClient,
    tenant_a: TenantFixture,
    runtime: Runtime,
    webhook_receiver: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The name is resolved once, by the check; the request goes to the checked addresses in turn (the first
    refuses connections) with the name in Host. The receiver on 127.0.0.1 stands in for a public server."""
    resolved: list[str] = []

    async def resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        resolved.append(host)
        return [ipaddress.ip_address("::1"), ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(destinations, "_resolve", resolve)
    monkeypatch.setattr(destinations, "is_public", lambda ip: True)
    port = webhook_receiver.url.split(":")[2].split("/")[0]
    await set_webhook(client, tenant_a, f"http://hooks.example:{port}/hook")
    runtime.settings = runtime.settings.model_copy(update={"allow_private_webhooks": False})
    await client.post(POST, json=message("Привет"), headers=tenant_a.headers)
    await run_queued_jobs(runtime)
    [delivery] = webhook_receiver.received
    assert delivery.headers["host"] == f"hooks.example:{port}"
    assert resolved == ["hooks.example"]  # at sending time, by the check only: httpx never looked the name up
