"""The website widget's visitor API over HTTP: sessions checked against allowed origins, signed visitor
tokens and site identities, sending (deduplicated), reading after a position, files, limits, the script,
and isolation between widgets and tenants."""

from __future__ import annotations

import base64
import gzip
import uuid
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.app import create_app
from easyflow.channels.widget import identity_signature
from easyflow.config import Settings
from easyflow.db.database import Database
from easyflow.db.session import enter_system_scope
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, run_queued_jobs
from tests.doubles.llm_server import LLMServer, reply
from tests.inbox.staff import send_as_staff, sign_in

SITE = "https://lotos.example"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def make_widget(client: httpx.AsyncClient, tenant: TenantFixture, **settings: Any) -> dict[str, Any]:
    body = {"type": "widget", "name": "Сайт", "allowed_origins": [SITE], **settings}
    created = await client.post("/api/v1/channels", json=body, headers=tenant.headers)
    assert created.status_code == 201, created.text
    return dict(created.json())


async def start(client: httpx.AsyncClient, key: str, origin: str | None = SITE, **body: Any) -> httpx.Response:
    headers = {"Origin": origin} if origin else {}
    return await client.post(f"/widget/v1/{key}/session", json=body, headers=headers)


async def visitor_token(client: httpx.AsyncClient, key: str, **body: Any) -> str:
    started = await start(client, key, **body)
    assert started.status_code == 200, started.text
    return str(started.json()["visitor_token"])


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Origin": SITE}


async def send(
    client: httpx.AsyncClient, key: str, token: str, text_: str, client_id: str | None = None
) -> httpx.Response:
    body = {"text": text_, "client_id": client_id or uuid.uuid4().hex}
    return await client.post(f"/widget/v1/{key}/messages", json=body, headers=auth(token))


async def read(client: httpx.AsyncClient, key: str, token: str, after: int = 0) -> list[dict[str, Any]]:
    response = await client.get(f"/widget/v1/{key}/messages", params={"after": after}, headers=auth(token))
    assert response.status_code == 200, response.text
    return list(response.json()["messages"])


async def count_messages(session: AsyncSession) -> int:
    await enter_system_scope(session)
    return int((await session.execute(text("SELECT count(*) FROM messages"))).scalar_one())


async def test_a_visitor_chats_and_reads_the_reply_after_a_position(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    widget = await make_widget(client, tenant_a, title="Лотос", color="#aa3366", position="left", greeting="Привет!")
    started = await start(client, widget["public_key"])
    assert started.status_code == 200
    assert started.headers["access-control-allow-origin"] == SITE
    session_body = started.json()
    assert session_body["identified"] is False
    assert session_body["settings"] == {
        "title": "Лотос",
        "greeting": "Привет!",
        "color": "#aa3366",
        "position": "left",
        "prechat_fields": [],
    }
    token = session_body["visitor_token"]

    sent = await send(client, widget["public_key"], token, "Здравствуйте", client_id="first-message-1")
    assert sent.status_code == 202 and sent.json()["duplicate"] is False
    await run_queued_jobs(runtime)

    history = await read(client, widget["public_key"], token)
    assert [(m["role"], m["client_id"]) for m in history] == [("visitor", "first-message-1"), ("assistant", None)]
    assert history[0]["text"] == "Здравствуйте" and history[1]["text"]
    assert await read(client, widget["public_key"], token, after=history[0]["position"]) == history[1:]
    assert await read(client, widget["public_key"], token, after=history[1]["position"]) == []

    conversations = (await client.get("/api/v1/conversations", headers=tenant_a.headers)).json()["items"]
    assert [c["channel_type"] for c in conversations] == ["widget"]


async def test_the_same_client_id_is_stored_once(
    client: httpx.AsyncClient, tenant_a: TenantFixture, session: AsyncSession
) -> None:
    widget = await make_widget(client, tenant_a)
    token = await visitor_token(client, widget["public_key"])
    first = await send(client, widget["public_key"], token, "Запишите меня", client_id="resent-after-reconnect")
    again = await send(client, widget["public_key"], token, "Запишите меня", client_id="resent-after-reconnect")
    assert again.status_code == 202 and again.json()["duplicate"] is True
    assert again.json()["message_id"] == first.json()["message_id"]
    assert len(await read(client, widget["public_key"], token)) == 1
    assert await count_messages(session) == 1


async def test_a_returning_visitor_keeps_their_conversation(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    widget = await make_widget(client, tenant_a)
    token = await visitor_token(client, widget["public_key"])
    await send(client, widget["public_key"], token, "Первое")
    again = await visitor_token(client, widget["public_key"], visitor_token=token)
    assert [m["text"] for m in await read(client, widget["public_key"], again)] == ["Первое"]
    stranger = await visitor_token(client, widget["public_key"])
    assert await read(client, widget["public_key"], stranger) == []


async def test_a_signed_in_customer_is_recognised_by_the_site_signature(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    widget = await make_widget(client, tenant_a)
    signature = identity_signature(widget["identity_secret"], "customer-42")
    token = await visitor_token(client, widget["public_key"], user_id="customer-42", user_signature=signature)
    await send(client, widget["public_key"], token, "Где мой заказ?")
    # Another browser of the same customer sees the same conversation.
    elsewhere = await start(client, widget["public_key"], user_id="customer-42", user_signature=signature.upper())
    assert elsewhere.json()["identified"] is True
    assert [m["text"] for m in await read(client, widget["public_key"], elsewhere.json()["visitor_token"])] == [
        "Где мой заказ?"
    ]
    contacts = (await client.get("/api/v1/conversations", headers=tenant_a.headers)).json()["items"]
    assert len(contacts) == 1


@pytest.mark.parametrize("signature", ["", "0" * 64, "not-hex"])
async def test_a_wrong_identity_signature_is_refused(
    client: httpx.AsyncClient, tenant_a: TenantFixture, signature: str
) -> None:
    widget = await make_widget(client, tenant_a)
    refused = await start(client, widget["public_key"], user_id="customer-42", user_signature=signature)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert "user_signature" in refused.json()["detail"]


async def test_origins_are_checked(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    widget = await make_widget(client, tenant_a)
    key = widget["public_key"]
    foreign = await start(client, key, origin="https://evil.example")
    assert foreign.status_code == 403 and "not enabled for https://evil.example" in foreign.json()["detail"]
    no_origin = await start(client, key, origin=None)
    assert no_origin.status_code == 403 and "Origin" in no_origin.json()["detail"]
    token = await visitor_token(client, key)
    stolen = await client.post(
        f"/widget/v1/{key}/messages",
        json={"text": "hi", "client_id": "from-evil-site"},
        headers={"Authorization": f"Bearer {token}", "Origin": "https://evil.example"},
    )
    assert stolen.status_code == 403
    # Changing the allowed origins takes effect at once.
    changed = await client.patch(
        f"/api/v1/channels/{widget['id']}",
        json={"widget": {"allowed_origins": ["https://evil.example"]}},
        headers=tenant_a.headers,
    )
    assert changed.status_code == 200 and changed.json()["config"]["allowed_origins"] == ["https://evil.example"]
    assert (await start(client, key, origin="https://evil.example")).status_code == 200
    assert (await start(client, key)).status_code == 403


async def test_the_browser_preflight_is_answered(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    widget = await make_widget(client, tenant_a)
    preflight = await client.options(
        f"/widget/v1/{widget['public_key']}/messages",
        headers={
            "Origin": SITE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == SITE
    assert "authorization" in preflight.headers["access-control-allow-headers"]


@pytest.mark.parametrize(
    "token",
    [
        "not-a-token",
        jwt.encode(
            {"aud": "easyflow:widget-visitor", "sub": "x", "ch": "y", "kind": "widget", "exp": 4102444800}, "k" * 40
        ),
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    ],
    ids=["garbage", "signed-with-another-key", "alg-none"],
)
async def test_forged_visitor_tokens_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, tenant_a: TenantFixture, session: AsyncSession, token: str
) -> None:
    widget = await make_widget(client, tenant_a)
    refused = await send(client, widget["public_key"], token, "Привет")
    assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"
    missing = await client.post(
        f"/widget/v1/{widget['public_key']}/messages",
        json={"text": "x", "client_id": "abcdefgh"},
        headers={"Origin": SITE},
    )
    assert missing.status_code == 401
    assert await count_messages(session) == 0


async def test_a_token_of_one_widget_does_not_open_another_tenants_widget(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    widget_a = await make_widget(client, tenant_a)
    widget_b = await make_widget(client, tenant_b)
    token_a = await visitor_token(client, widget_a["public_key"])
    await send(client, widget_a["public_key"], token_a, "Секрет салона А")
    across = await client.get(f"/widget/v1/{widget_b['public_key']}/messages", headers=auth(token_a))
    assert across.status_code == 401
    assert (await send(client, widget_b["public_key"], token_a, "x")).status_code == 401
    conversation = (await client.get("/api/v1/conversations", headers=tenant_a.headers)).json()["items"][0]
    assert (
        await client.get(f"/api/v1/conversations/{conversation['id']}", headers=tenant_b.headers)
    ).status_code == 404
    assert (await client.get("/api/v1/conversations", headers=tenant_b.headers)).json()["items"] == []


async def test_unknown_and_paused_widgets(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    unknown = await start(client, "wk_doesnotexist")
    assert unknown.status_code == 404
    widget = await make_widget(client, tenant_a)
    token = await visitor_token(client, widget["public_key"])
    paused = await client.patch(f"/api/v1/channels/{widget['id']}", json={"status": "paused"}, headers=tenant_a.headers)
    assert paused.status_code == 200
    assert (await start(client, widget["public_key"])).status_code == 409
    assert (await send(client, widget["public_key"], token, "Есть кто?")).status_code == 409


@pytest.mark.parametrize(
    "body",
    [
        {"text": "", "client_id": "abcdefgh"},
        {"text": "x" * 4001, "client_id": "abcdefgh"},
        {"text": "hi", "client_id": "short"},
        {"text": "hi", "client_id": "has spaces in it"},
        {"text": "hi"},
        {"text": "hi", "client_id": "abcdefgh", "role": "assistant"},
        {"text": "hi", "client_id": "abcdefgh", "phone": "<script>"},
    ],
    ids=["empty", "too-long", "short-id", "bad-id", "no-id", "unknown-field", "bad-phone"],
)
async def test_malformed_messages_are_refused(
    client: httpx.AsyncClient, tenant_a: TenantFixture, session: AsyncSession, body: dict[str, Any]
) -> None:
    widget = await make_widget(client, tenant_a)
    token = await visitor_token(client, widget["public_key"])
    refused = await client.post(f"/widget/v1/{widget['public_key']}/messages", json=body, headers=auth(token))
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
    assert await count_messages(session) == 0


async def test_a_visitor_sends_a_picture_and_an_operator_downloads_it(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    widget = await make_widget(client, tenant_a)
    token = await visitor_token(client, widget["public_key"])
    sent = await client.post(
        f"/widget/v1/{widget['public_key']}/files",
        files={"file": ("фото.png", PNG, "application/octet-stream")},
        data={"client_id": "upload-0001"},
        headers=auth(token),
    )
    assert sent.status_code == 202, sent.text
    [message] = await read(client, widget["public_key"], token)
    [attachment] = message["attachments"]
    file_id = attachment.pop("id")
    assert attachment == {"name": "фото.png", "size": len(PNG), "content_type": "image/png"}

    conversation = (await client.get("/api/v1/conversations", headers=tenant_a.headers)).json()["items"][0]
    stored = (await client.get(f"/api/v1/conversations/{conversation['id']}/messages", headers=tenant_a.headers)).json()
    assert stored[0]["attachments"][0]["stored_file_id"] == file_id
    # The visitor downloads it again from the widget, and nobody else can.
    path = f"/widget/v1/{widget['public_key']}/files/{file_id}"
    own = await client.get(path, headers={**auth(token), "Origin": SITE})
    assert own.status_code == 200 and own.content == PNG
    other = await visitor_token(client, widget["public_key"])
    assert (await client.get(path, headers={**auth(other), "Origin": SITE})).status_code == 404
    assert (await client.get(path, headers={"Origin": SITE})).status_code == 401
    assert (await client.get(path, headers={**auth(token), "Origin": "https://evil.example"})).status_code == 403
    download = await client.get(f"/api/v1/conversations/{conversation['id']}/files/{file_id}", headers=tenant_a.headers)
    assert download.status_code == 200 and download.content == PNG
    assert download.headers["content-type"] == "image/png"
    assert "attachment" in download.headers["content-disposition"]


async def test_a_renamed_executable_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, tenant_a: TenantFixture, session: AsyncSession
) -> None:
    widget = await make_widget(client, tenant_a)
    token = await visitor_token(client, widget["public_key"])
    refused = await client.post(
        f"/widget/v1/{widget['public_key']}/files",
        files={"file": ("photo.jpg", b"MZ\x90\x00" + b"\x00" * 200, "image/jpeg")},
        data={"client_id": "upload-0002"},
        headers=auth(token),
    )
    assert refused.status_code == 415 and "PNG, JPEG" in refused.json()["detail"]
    assert await count_messages(session) == 0


async def test_oversized_files_and_message_floods_are_limited(
    settings: Settings, runtime: Runtime, tenant_a: TenantFixture, session: AsyncSession
) -> None:
    strict = settings.model_copy(update={"widget_max_file_bytes": 1000, "widget_messages_per_visitor": "2/minute"})
    transport = httpx.ASGITransport(app=create_app(strict, runtime=runtime), client=("203.0.113.9", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        widget = await make_widget(client, tenant_a)
        token = await visitor_token(client, widget["public_key"])
        too_big = await client.post(
            f"/widget/v1/{widget['public_key']}/files",
            files={"file": ("big.png", PNG + b"\x00" * 2000, "image/png")},
            data={"client_id": "upload-0003"},
            headers=auth(token),
        )
        assert too_big.status_code == 413
        far_too_big = await client.post(  # refused by its Content-Length, before the form is read
            f"/widget/v1/{widget['public_key']}/files",
            files={"file": ("huge.png", PNG + b"\x00" * 200_000, "image/png")},
            data={"client_id": "upload-0004"},
            headers=auth(token),
        )
        assert far_too_big.status_code == 413 and far_too_big.headers["content-type"] == "application/problem+json"
        assert (await send(client, widget["public_key"], token, "раз")).status_code == 202
        flooded = await send(client, widget["public_key"], token, "два")
        assert flooded.status_code == 429 and int(flooded.headers["retry-after"]) >= 1
        assert "retry-after" in flooded.headers["access-control-expose-headers"].lower()
    assert await count_messages(session) == 1


async def test_the_script_is_small_and_served_compressed(client: httpx.AsyncClient) -> None:
    plain = await client.get("/widget.js", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and plain.headers["content-type"].startswith("text/javascript")
    assert b"data-channel" in plain.content
    assert len(gzip.compress(plain.content, compresslevel=9)) < 20 * 1024
    compressed = await client.get("/widget.js", headers={"Accept-Encoding": "gzip"})
    assert compressed.headers["content-encoding"] == "gzip" and compressed.content == plain.content


async def test_the_demo_shop_page_exists_only_in_the_demo(settings: Settings, runtime: Runtime) -> None:
    for key, expected in ((None, 404), ("wk_demo123", 200)):
        app = create_app(settings.model_copy(update={"demo_widget_key": key}), runtime=runtime)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            page = await client.get("/demo/shop")
            assert page.status_code == expected
            if expected == 200:
                assert '<script src="/widget.js" data-channel="wk_demo123" async></script>' in page.text


async def test_another_visitor_reusing_a_client_id_sends_their_own_message(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    widget = await make_widget(client, tenant_a)
    alice = await visitor_token(client, widget["public_key"])
    bob = await visitor_token(client, widget["public_key"])
    await send(client, widget["public_key"], alice, "Мой заказ 4711", client_id="predictable-1")
    bobs = await send(client, widget["public_key"], bob, "Привет", client_id="predictable-1")
    assert bobs.status_code == 202 and bobs.json()["duplicate"] is False
    assert [m["text"] for m in await read(client, widget["public_key"], bob)] == ["Привет"]
    assert [m["text"] for m in await read(client, widget["public_key"], alice)] == ["Мой заказ 4711"]


async def test_a_signed_in_customers_token_does_not_outlive_their_sign_out(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    widget = await make_widget(client, tenant_a)
    signature = identity_signature(widget["identity_secret"], "customer-7")
    token = await visitor_token(client, widget["public_key"], user_id="customer-7", user_signature=signature)
    await send(client, widget["public_key"], token, "Мой адрес: ул. Ленина, 5")
    # Signed out: the page no longer vouches for the customer, but the browser still holds their token.
    next_person = await start(client, widget["public_key"], visitor_token=token)
    assert next_person.json()["identified"] is False
    assert await read(client, widget["public_key"], next_person.json()["visitor_token"]) == []


async def test_a_long_conversation_is_read_whole(settings: Settings, runtime: Runtime, tenant_a: TenantFixture) -> None:
    roomy = settings.model_copy(update={"widget_messages_per_visitor": "1000/minute"})
    transport = httpx.ASGITransport(app=create_app(roomy, runtime=runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        widget = await make_widget(client, tenant_a)
        token = await visitor_token(client, widget["public_key"])
        for number in range(230):  # more than one page of the history
            assert (await send(client, widget["public_key"], token, f"сообщение {number}")).status_code == 202
        history = await read(client, widget["public_key"], token)
    assert [m["text"] for m in history] == [f"сообщение {number}" for number in range(230)]


async def test_the_same_site_user_id_at_another_tenant_has_its_own_limit(
    settings: Settings, runtime: Runtime, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    strict = settings.model_copy(update={"widget_messages_per_visitor": "1/minute"})
    transport = httpx.ASGITransport(app=create_app(strict, runtime=runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        tokens = []
        for tenant in (tenant_a, tenant_b):
            widget = await make_widget(client, tenant)
            signature = identity_signature(widget["identity_secret"], "42")
            token = await visitor_token(client, widget["public_key"], user_id="42", user_signature=signature)
            tokens.append((widget["public_key"], token))
        assert (await send(client, *tokens[0], "раз")).status_code == 202
        assert (await send(client, *tokens[0], "два")).status_code == 429
        assert (await send(client, *tokens[1], "раз")).status_code == 202  # tenant B's "42" is not throttled


async def test_a_picture_from_the_widget_is_shown_to_a_model_that_sees(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, llm: LLMServer
) -> None:
    assistant = (await client.get("/api/v1/assistants", headers=tenant_a.headers)).json()["items"][0]
    model = {"provider": "openai", "model_name": "gpt-4o", "base_url": llm.base_url, "sees_pictures": True}
    await client.patch(f"/api/v1/assistants/{assistant['id']}", json={"model": model}, headers=tenant_a.headers)
    llm.double.script(reply("Вижу скриншот ошибки оплаты."))
    widget = await make_widget(client, tenant_a)
    token = await visitor_token(client, widget["public_key"])
    await client.post(
        f"/widget/v1/{widget['public_key']}/files",
        files={"file": ("ошибка.png", PNG, "image/png")},
        data={"client_id": "screenshot-01", "text": "Не проходит оплата"},
        headers=auth(token),
    )
    await run_queued_jobs(runtime)
    question = [m for m in llm.double.requests[-1]["json"]["messages"] if m["role"] == "user"][-1]["content"]
    assert {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()}} in [
        {k: v for k, v in part.items() if k in ("type", "image_url")} for part in question
    ]
    assert any("Не проходит оплата" in part.get("text", "") for part in question)
    assert (await read(client, widget["public_key"], token))[-1]["text"] == "Вижу скриншот ошибки оплаты."


@pytest.mark.parametrize("after", ["-1", str(2**63), "not-a-number"])
async def test_a_position_out_of_range_is_refused(
    client: httpx.AsyncClient, tenant_a: TenantFixture, after: str
) -> None:
    widget = await make_widget(client, tenant_a)
    token = await visitor_token(client, widget["public_key"])
    await send(client, widget["public_key"], token, "Привет")  # a conversation exists, so a read would run
    refused = await client.get(
        f"/widget/v1/{widget['public_key']}/messages", params={"after": after}, headers=auth(token)
    )
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"


async def test_another_tenant_cannot_download_a_customers_file(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    widget = await make_widget(client, tenant_a)
    token = await visitor_token(client, widget["public_key"])
    await client.post(
        f"/widget/v1/{widget['public_key']}/files",
        files={"file": ("паспорт.png", PNG, "image/png")},
        data={"client_id": "private-file-1"},
        headers=auth(token),
    )
    conversation = (await client.get("/api/v1/conversations", headers=tenant_a.headers)).json()["items"][0]
    url = f"/api/v1/conversations/{conversation['id']}"
    file_id = (await client.get(f"{url}/messages", headers=tenant_a.headers)).json()[0]["attachments"][0][
        "stored_file_id"
    ]
    assert (await client.get(f"{url}/files/{file_id}", headers=tenant_a.headers)).status_code == 200
    stolen = await client.get(f"{url}/files/{file_id}", headers=tenant_b.headers)
    assert stolen.status_code == 404 and stolen.content != PNG


async def test_a_visitor_rates_a_resolved_conversation_with_its_buttons(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, database: Database
) -> None:
    widget = await make_widget(client, tenant_a)
    token = await visitor_token(client, widget["public_key"])
    assert (await send(client, widget["public_key"], token, "Позовите оператора")).status_code == 202
    await run_queued_jobs(runtime)
    [waiting] = (await client.get("/api/v1/conversations?status=pending", headers=tenant_a.headers)).json()["items"]
    anna = await sign_in(client, database, tenant_a)
    assert (await send_as_staff(client, anna.headers, waiting["id"], "Готово!")).status_code == 201
    resolved = await client.patch(
        f"/api/v1/conversations/{waiting['id']}", json={"status": "resolved"}, headers=anna.headers
    )
    assert resolved.status_code == 200
    await run_queued_jobs(runtime)
    request = (await read(client, widget["public_key"], token))[-1]
    assert request["text"].startswith("Пожалуйста, оцените") and request["buttons"] == ["1", "2", "3", "4", "5"]

    assert (await send(client, widget["public_key"], token, "5")).status_code == 202  # the widget sends a label
    await run_queued_jobs(runtime)
    thanks = (await read(client, widget["public_key"], token, after=request["position"]))[-1]
    assert (thanks["role"], thanks["text"].startswith("Спасибо за оценку!")) == ("assistant", True)
    found = (await client.get(f"/api/v1/conversations/{waiting['id']}", headers=tenant_a.headers)).json()
    assert (found["status"], found["latest_rating"]["rating"]) == ("resolved", 5)
