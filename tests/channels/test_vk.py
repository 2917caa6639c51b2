"""VK over real HTTP against the VK API double: connect, the Callback API's confirmation, events in (secret,
duplicates, order, hostile bodies), replies out (random_id, splitting, keyboards, 901, too many requests, the
community's rate limit); another tenant's channel."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.channels.vk import VkChannel, keyboard, random_id
from easyflow.conversations.delivery import DeliveryService
from easyflow.db.session import enter_system_scope
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, run_queued_jobs
from tests.doubles.llm_server import LLMServer, reply
from tests.doubles.vk import VkServer, confirmation, event, message_new, post_event
from tests.web.dashboard import sign_in

TOKEN = "vk1.a." + "T" * 80
GROUP = 218_000_111
USER = 51_000_777
SECRET = "salonLotosSecret1"


@pytest.fixture
async def community(client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, vk: VkServer) -> dict:
    runtime.settings = runtime.settings.model_copy(update={"vk_api_url": vk.api_url})
    vk.double.add_community(TOKEN, GROUP, code="5e0f1a2b")
    body = {"type": "vk", "group_id": GROUP, "access_token": TOKEN, "secret": SECRET}
    response = await client.post("/api/v1/channels", json=body, headers=tenant_a.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def send(client: httpx.AsyncClient, channel: dict, event: dict) -> httpx.Response:
    return await post_event(client, f"/webhooks/vk/{channel['id']}", event)


async def stored_messages(session: AsyncSession) -> list[tuple]:
    await enter_system_scope(session)
    rows = await session.execute(text("SELECT role, text, delivery_status FROM messages ORDER BY position"))
    return [tuple(row) for row in rows]


async def use_model(client: httpx.AsyncClient, tenant: TenantFixture, llm: LLMServer) -> None:
    assistant = (await client.get("/api/v1/assistants", headers=tenant.headers)).json()["items"][0]
    config = {"provider": "openai_compatible", "model_name": "gpt-4o", "base_url": llm.base_url}
    changed = await client.patch(
        f"/api/v1/assistants/{assistant['id']}", json={"model": config}, headers=tenant.headers
    )
    assert changed.status_code == 200, changed.text


async def test_connecting_checks_the_token_and_keeps_it_encrypted(
    community: dict, vk: VkServer, session: AsyncSession
) -> None:
    assert community["type"] == "vk" and community["name"] == "Салон Лотос"
    assert community["config"]["group_id"] == GROUP
    assert community["config"]["confirmation_code"] == "5e0f1a2b"
    assert community["config"]["webhook_url"].endswith(f"/webhooks/vk/{community['id']}")
    assert community["secret"] is None  # the tenant gave one: nothing to show
    assert [c["method"] for c in vk.double.calls] == ["groups.getById", "groups.getCallbackConfirmationCode"]
    assert all(c["params"]["v"] == "5.199" for c in vk.double.calls)
    await enter_system_scope(session)
    stored = (await session.execute(text("SELECT credentials_encrypted::text FROM channels"))).scalar_one()
    assert TOKEN not in stored and SECRET not in stored


async def test_a_secret_is_made_and_shown_once_and_a_given_code_is_used(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, vk: VkServer
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"vk_api_url": vk.api_url})
    vk.double.add_community(TOKEN, GROUP, may_manage=False)
    body = {"type": "vk", "group_id": GROUP, "access_token": TOKEN, "confirmation_code": "given42"}
    created = (await client.post("/api/v1/channels", json=body, headers=tenant_a.headers)).json()
    assert created["config"]["confirmation_code"] == "given42"
    assert len(created["secret"]) >= 16
    shown = (await client.get(f"/api/v1/channels/{created['id']}", headers=tenant_a.headers)).json()
    assert "secret" not in shown and created["secret"] not in str(shown)
    ok = await send(client, created, message_new(GROUP, created["secret"], 1, USER, "Привет"))
    assert ok.status_code == 200 and ok.text == "ok"


@pytest.mark.parametrize(
    ("token", "group", "needle"),
    [("vk1.a." + "X" * 80, GROUP, "does not accept this community token"), (TOKEN, GROUP + 1, "another community")],
)
async def test_a_token_vk_refuses_or_of_another_community_is_422(
    client: httpx.AsyncClient,
    tenant_a: TenantFixture,
    runtime: Runtime,
    vk: VkServer,
    token: str,
    group: int,
    needle: str,
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"vk_api_url": vk.api_url})
    vk.double.add_community(TOKEN, GROUP)
    body = {"type": "vk", "group_id": group, "access_token": token}
    response = await client.post("/api/v1/channels", json=body, headers=tenant_a.headers)
    assert response.status_code == 422
    assert needle in response.json()["detail"]


async def test_the_confirmation_request_is_answered_with_the_code(
    client: httpx.AsyncClient, community: dict, session: AsyncSession
) -> None:
    response = await send(client, community, confirmation(GROUP))
    assert response.status_code == 200
    assert response.text == "5e0f1a2b"
    assert response.headers["content-type"].startswith("text/plain")
    assert (await send(client, community, confirmation(GROUP + 1))).status_code == 401
    assert await stored_messages(session) == []


async def test_event_in_reply_out(
    client: httpx.AsyncClient, community: dict, runtime: Runtime, vk: VkServer, session: AsyncSession
) -> None:
    response = await send(client, community, message_new(GROUP, SECRET, 1001, USER, "Здравствуйте!"))
    assert response.status_code == 200 and response.text == "ok"
    await run_queued_jobs(runtime)
    [sent] = vk.double.sent_to(USER)
    assert sent["text"].startswith("Здравствуйте! Я виртуальный помощник")
    [call] = vk.double.calls_to("messages.send")
    assert call["params"]["access_token"] == TOKEN and int(call["params"]["random_id"]) != 0
    assert [(r[0], r[2]) for r in await stored_messages(session)] == [("contact", "received"), ("assistant", "sent")]


@pytest.mark.parametrize("secret", [None, "wrong-secret", ""])
async def test_a_wrong_or_missing_secret_is_401_and_stores_nothing(
    client: httpx.AsyncClient, community: dict, session: AsyncSession, secret: str | None
) -> None:
    response = await send(client, community, message_new(GROUP, secret, 1, USER, "hi"))
    assert response.status_code == 401
    assert await stored_messages(session) == []


async def test_hostile_bodies_and_unknown_channels(
    client: httpx.AsyncClient, community: dict, session: AsyncSession, tenant_b: TenantFixture
) -> None:
    url = f"/webhooks/vk/{community['id']}"
    raw = await client.post(url, content=b"{not json", headers={"content-type": "application/json"})
    assert raw.status_code == 400
    huge = await client.post(
        url,
        content=b'{"type":"message_new","x":"' + b"a" * 2_000_000 + b'"}',
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 413
    no_message = {"type": "message_new", "group_id": GROUP, "secret": SECRET, "object": {}}
    assert (await send(client, community, no_message)).status_code == 400
    unknown = await post_event(client, f"/webhooks/vk/{uuid.uuid4()}", message_new(GROUP, SECRET, 2, USER, "x"))
    assert unknown.status_code == 404
    assert await stored_messages(session) == []


async def test_another_tenants_channel_is_404(
    client: httpx.AsyncClient, community: dict, tenant_b: TenantFixture
) -> None:
    assert (await client.get(f"/api/v1/channels/{community['id']}", headers=tenant_b.headers)).status_code == 404
    assert (await client.delete(f"/api/v1/channels/{community['id']}", headers=tenant_b.headers)).status_code == 404


async def test_a_nul_is_dropped_and_the_message_kept(
    client: httpx.AsyncClient, community: dict, session: AsyncSession
) -> None:
    response = await send(client, community, message_new(GROUP, SECRET, 3001, USER, "Сколько\x00 стоит?"))
    assert response.status_code == 200
    assert [r[1] for r in await stored_messages(session)] == ["Сколько стоит?"]


async def test_a_redelivered_event_is_answered_once_and_order_is_kept(
    client: httpx.AsyncClient, community: dict, runtime: Runtime, vk: VkServer, session: AsyncSession
) -> None:
    first = message_new(GROUP, SECRET, 2001, USER, "Привет")
    second = message_new(GROUP, SECRET, 2002, USER, "Запишите на завтра")
    for body in (first, first, second, first, second):
        assert (await send(client, community, body)).status_code == 200
    stored = [r[1] for r in await stored_messages(session) if r[0] == "contact"]
    assert stored == ["Привет", "Запишите на завтра"]
    await run_queued_jobs(runtime)
    assert len(vk.double.calls_to("messages.send")) >= 1


async def test_out_of_order_events_are_each_stored_once_in_arrival_order(
    client: httpx.AsyncClient, community: dict, session: AsyncSession
) -> None:
    # VK re-sends what it got no `ok` for, so an older message can come after a newer one.
    late = message_new(GROUP, SECRET, 2101, USER, "Первое")
    newer = message_new(GROUP, SECRET, 2102, USER, "Второе")
    for body in (newer, late, newer, late):
        assert (await send(client, community, body)).status_code == 200
    assert [r[1] for r in await stored_messages(session)] == ["Второе", "Первое"]


async def test_an_event_for_another_community_is_401(
    client: httpx.AsyncClient, community: dict, session: AsyncSession
) -> None:
    response = await send(client, community, message_new(GROUP + 1, SECRET, 2201, USER, "Привет"))
    assert response.status_code == 401
    assert await stored_messages(session) == []


async def test_a_paused_channel_acknowledges_but_does_not_answer(
    client: httpx.AsyncClient, community: dict, runtime: Runtime, vk: VkServer, tenant_a: TenantFixture
) -> None:
    paused = await client.patch(
        f"/api/v1/channels/{community['id']}", json={"status": "paused"}, headers=tenant_a.headers
    )
    assert paused.status_code == 200
    assert (await send(client, community, message_new(GROUP, SECRET, 2301, USER, "hi"))).text == "ok"
    await run_queued_jobs(runtime)
    assert vk.double.sent == []


async def test_a_retried_delivery_is_not_doubled(
    client: httpx.AsyncClient, community: dict, runtime: Runtime, vk: VkServer, session: AsyncSession
) -> None:
    await send(client, community, message_new(GROUP, SECRET, 4001, USER, "Привет"))
    await run_queued_jobs(runtime)
    assert len(vk.double.calls_to("messages.send")) == 1
    # The job ran again after VK had sent (say the answer was lost): the same random_id, so VK sends nothing new.
    await enter_system_scope(session)
    await session.execute(text("UPDATE messages SET delivery_status = 'pending' WHERE role = 'assistant'"))
    await session.commit()
    message_id = (await session.execute(text("SELECT id, tenant_id FROM messages WHERE role = 'assistant'"))).one()
    await DeliveryService(runtime).deliver(message_id.tenant_id, message_id.id)
    calls = vk.double.calls_to("messages.send")
    assert len(calls) == 2 and calls[0]["params"]["random_id"] == calls[1]["params"]["random_id"]
    assert len(vk.double.sent_to(USER)) == 1


async def test_a_customer_who_denied_messages_is_marked_unreachable(
    client: httpx.AsyncClient,
    community: dict,
    runtime: Runtime,
    vk: VkServer,
    tenant_a: TenantFixture,
    session: AsyncSession,
) -> None:
    vk.double.block(USER)
    await send(client, community, message_new(GROUP, SECRET, 5001, USER, "Привет"))
    await run_queued_jobs(runtime)
    assert len(vk.double.calls_to("messages.send")) == 1  # tried once, not retried
    [conversation] = (await client.get("/api/v1/conversations", headers=tenant_a.headers)).json()["items"]
    assert conversation["contact"]["unreachable"] is True
    assert (await stored_messages(session))[-1][2] == "failed"


async def test_denying_and_allowing_messages_marks_the_customer(
    client: httpx.AsyncClient, community: dict, tenant_a: TenantFixture, session: AsyncSession
) -> None:
    async def unreachable() -> bool:
        [conversation] = (await client.get("/api/v1/conversations", headers=tenant_a.headers)).json()["items"]
        return bool(conversation["contact"]["unreachable"])

    # Someone we never heard from: nothing to mark, and nothing created.
    assert (await send(client, community, event("message_deny", GROUP, SECRET, {"user_id": 1}))).text == "ok"
    await send(client, community, message_new(GROUP, SECRET, 5101, USER, "Привет"))
    assert not await unreachable()
    assert (await send(client, community, event("message_deny", GROUP, SECRET, {"user_id": USER}))).text == "ok"
    assert await unreachable()
    allow = event("message_allow", GROUP, SECRET, {"user_id": USER, "key": "promo"})
    assert (await send(client, community, allow)).text == "ok"
    assert not await unreachable()
    # Without the secret it changes nothing.
    assert (await send(client, community, event("message_deny", GROUP, None, {"user_id": USER}))).status_code == 401
    assert not await unreachable()
    malformed = event("message_deny", GROUP, SECRET, {"user_id": "x"})
    assert (await send(client, community, malformed)).status_code == 400


async def test_too_many_requests_is_waited_out(
    client: httpx.AsyncClient, community: dict, runtime: Runtime, vk: VkServer
) -> None:
    vk.double.fail_next("messages.send", 6)
    await send(client, community, message_new(GROUP, SECRET, 6001, USER, "Привет"))
    await run_queued_jobs(runtime)
    assert len(vk.double.calls_to("messages.send")) == 2
    assert len(vk.double.sent_to(USER)) == 1


async def test_long_replies_are_split_and_buttons_become_a_keyboard(
    client: httpx.AsyncClient,
    community: dict,
    runtime: Runtime,
    vk: VkServer,
    tenant_a: TenantFixture,
    llm: LLMServer,
) -> None:
    await use_model(client, tenant_a, llm)
    long_text = " ".join(f"Пункт {i}: стрижка 1.500 руб., окрашивание — от 3.000!" for i in range(200))
    llm.double.script(reply(long_text))
    await send(client, community, message_new(GROUP, SECRET, 7001, USER, "Расскажите всё"))
    await run_queued_jobs(runtime)
    parts = vk.double.sent_to(USER)
    assert len(parts) >= 3 and all(len(p["text"]) <= 4096 for p in parts)
    assert " ".join(p["text"] for p in parts) == long_text
    ids = {c["params"]["random_id"] for c in vk.double.calls_to("messages.send")}
    assert len(ids) == len(parts)  # each part its own random_id, or VK would drop all but the first


async def test_a_pressed_button_arrives_as_its_label(
    client: httpx.AsyncClient, community: dict, session: AsyncSession
) -> None:
    pressed = message_new(GROUP, SECRET, 8001, USER, "Завтра", payload='{"b":1}')
    assert (await send(client, community, pressed)).status_code == 200
    assert [r[1] for r in await stored_messages(session)] == ["Завтра"]


async def test_the_community_rate_limit_is_kept(runtime: Runtime, community: dict, vk: VkServer) -> None:
    # 45 sends at once, right after connecting's two calls. The double refuses a 21st call within any second
    # (error 6); the limiter paces them so that at most a slot freed a moment before its predecessor's request
    # arrived can be refused (clock jitter, as with VK itself), and that one is waited out and sent.
    channel = VkChannel()
    started = time.monotonic()
    for index in range(45):
        await channel._send(
            runtime, TOKEN, str(GROUP), {"peer_id": USER, "random_id": index + 1, "message": f"{index}"}
        )
    assert time.monotonic() - started >= 2.0
    assert len(vk.double.sent_to(USER)) == 45
    assert len(vk.double.calls_to("messages.send")) <= 47  # without the limiter about 25 would be refused


async def test_the_dashboard_shows_what_to_enter_in_vk(
    client: httpx.AsyncClient, community: dict, tenant_a: TenantFixture
) -> None:
    assert (await sign_in(client, tenant_a)).status_code == 303
    page = await client.get(f"/app/channels/{community['id']}", headers={"Accept-Language": "ru"})
    assert page.status_code == 200
    assert "Сообщество ВКонтакте" in page.text and "Настройки Callback API" in page.text
    assert community["config"]["webhook_url"] in page.text and "5e0f1a2b" in page.text
    assert SECRET not in page.text and TOKEN not in page.text


def test_random_id_is_stable_per_message_and_part() -> None:
    message_id = uuid.uuid4()
    assert random_id(message_id, 0) == random_id(message_id, 0)
    assert random_id(message_id, 0) != random_id(message_id, 1)
    assert all(0 < random_id(uuid.uuid4(), 0) < 2**31 for _ in range(100))


def test_keyboard_is_inline_and_within_vks_limits() -> None:
    assert keyboard([]) is None
    board = json.loads(keyboard(["Да", "x" * 60, *[str(i) for i in range(20)]]) or "")
    assert board["inline"] is True
    labels = [row[0]["action"]["label"] for row in board["buttons"]]
    assert len(labels) == 10 and labels[0] == "Да" and len(labels[1]) == 40
