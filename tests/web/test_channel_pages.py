"""The Channels pages over HTTP through the app, on the real database: the list, pausing and resuming,
routing to another assistant, removing after a confirmation, connecting a Telegram bot (checked against the
Bot API double, a wrong token or an unreachable Telegram explained), creating and styling a widget with its
snippet; every change stored and audited; viewers refused, other tenants' channels not found, hostile forms
answered 4xx."""

from __future__ import annotations

import html
import re
import uuid

import httpx
import pytest
from sqlalchemy import select

from easyflow.db.database import Database
from easyflow.models.audit import AuditEvent
from easyflow.models.channels import ChannelRecord, ChannelStatus
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, make_member
from tests.doubles.telegram_server import TelegramServer
from tests.support import free_port
from tests.web.dashboard import csrf_of, home_csrf, open_login, sign_in

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SITE = "https://shop.example"


async def signed_in(client: httpx.AsyncClient, tenant: TenantFixture) -> str:
    assert (await sign_in(client, tenant)).status_code == 303
    return await home_csrf(client)


async def new_widget(client: httpx.AsyncClient, tenant: TenantFixture, **extra: object) -> dict:
    body = {"type": "widget", "name": "Сайт", "allowed_origins": [SITE], **extra}
    response = await client.post("/api/v1/channels", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def stored(database: Database, tenant: TenantFixture, channel_id: str) -> ChannelRecord | None:
    async with database.tenant_transaction(tenant.id) as session:
        return await session.get(ChannelRecord, uuid.UUID(channel_id))


async def audited(database: Database, tenant: TenantFixture, action: str) -> list[AuditEvent]:
    async with database.tenant_transaction(tenant.id) as session:
        statement = select(AuditEvent).where(AuditEvent.tenant_id == tenant.id, AuditEvent.action == action)
        return list((await session.execute(statement)).scalars().all())


async def test_the_list_shows_each_channel_with_its_type_status_and_assistant(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    await signed_in(client, tenant_a)
    empty = await client.get("/app/channels")
    assert empty.status_code == 200 and "data-no-channels" in empty.text
    widget = await new_widget(client, tenant_a, name="Витрина")
    listed = await client.get("/app/channels")
    assert f'href="/app/channels/{widget["id"]}">Витрина<' in listed.text
    assert 'data-status="active"' in listed.text and "Виджет на сайте" in listed.text


async def test_pausing_resuming_and_routing_are_stored_and_audited(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture
) -> None:
    csrf = await signed_in(client, tenant_a)
    widget = await new_widget(client, tenant_a)
    path = f"/app/channels/{widget['id']}"

    paused = await client.post(f"{path}/status", data={"status": "paused", "csrf_token": csrf})
    assert paused.status_code == 303 and paused.headers["location"] == path
    record = await stored(database, tenant_a, widget["id"])
    assert record is not None and record.status == ChannelStatus.paused
    assert 'data-status="paused"' in (await client.get(path)).text
    await client.post(f"{path}/status", data={"status": "active", "csrf_token": csrf})
    record = await stored(database, tenant_a, widget["id"])
    assert record is not None and record.status == ChannelStatus.active

    assistant = await client.post("/api/v1/assistants", json={"name": "Запись"}, headers=tenant_a.headers)
    assistant_id = assistant.json()["id"]
    page = await client.get(path)
    assert f'<option value="{assistant_id}">Запись</option>' in page.text
    routed = await client.post(f"{path}/assistant", data={"assistant_id": assistant_id, "csrf_token": csrf})
    assert routed.status_code == 303
    record = await stored(database, tenant_a, widget["id"])
    assert record is not None and str(record.assistant_id) == assistant_id
    assert f'<option value="{assistant_id}" selected>' in (await client.get(path)).text
    await client.post(f"{path}/assistant", data={"assistant_id": "", "csrf_token": csrf})
    record = await stored(database, tenant_a, widget["id"])
    assert record is not None and record.assistant_id is None

    changes = await audited(database, tenant_a, "channel.changed")
    assert [event.details["changed"] for event in changes] == [
        ["status"],
        ["status"],
        ["assistant_id"],
        ["assistant_id"],
    ]
    assert {event.actor for event in changes} == {tenant_a.owner_email}
    assert {event.target_id for event in changes} == {widget["id"]}


async def test_routing_to_an_assistant_of_nobody_or_an_unknown_status_is_refused(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    csrf = await signed_in(client, tenant_a)
    widget = await new_widget(client, tenant_a)
    path = f"/app/channels/{widget['id']}"
    others = await client.post("/api/v1/assistants", json={"name": "Чужой"}, headers=tenant_b.headers)
    refused = await client.post(f"{path}/assistant", data={"assistant_id": others.json()["id"], "csrf_token": csrf})
    assert refused.status_code == 422 and "Такого ассистента" in refused.text
    bad = await client.post(f"{path}/assistant", data={"assistant_id": "not-a-uuid", "csrf_token": csrf})
    assert bad.status_code == 400
    odd = await client.post(f"{path}/status", data={"status": "deleted", "csrf_token": csrf})
    assert odd.status_code == 400
    record = await stored(database, tenant_a, widget["id"])
    assert record is not None and record.assistant_id is None and record.status == ChannelStatus.active
    assert await audited(database, tenant_a, "channel.changed") == []


async def test_removing_asks_first_then_deletes_and_audits(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture
) -> None:
    csrf = await signed_in(client, tenant_a)
    widget = await new_widget(client, tenant_a, name="Старый сайт")
    confirm = await client.get(f"/app/channels/{widget['id']}/remove")
    assert confirm.status_code == 200 and "Удалить «Старый сайт»?" in confirm.text
    assert await stored(database, tenant_a, widget["id"]) is not None  # asking changes nothing
    removed = await client.post(f"/app/channels/{widget['id']}/remove", data={"csrf_token": csrf})
    assert removed.status_code == 303 and removed.headers["location"] == "/app/channels"
    assert await stored(database, tenant_a, widget["id"]) is None
    [event] = await audited(database, tenant_a, "channel.removed")
    assert event.target_id == widget["id"] and event.actor == tenant_a.owner_email
    assert (await client.get(f"/app/channels/{widget['id']}")).status_code == 404


async def test_a_telegram_bot_is_connected_by_its_token_checked_with_telegram(
    client: httpx.AsyncClient, database: Database, runtime: Runtime, tenant_a: TenantFixture, telegram: TelegramServer
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"telegram_api_url": telegram.base_url})
    telegram.double.add_bot(TOKEN, username="lotos_salon_bot")
    csrf = await signed_in(client, tenant_a)
    connected = await client.post("/app/channels/telegram", data={"token": f" {TOKEN} ", "csrf_token": csrf})
    assert connected.status_code == 303, connected.text
    channel_id = connected.headers["location"].rsplit("/", 1)[1]
    record = await stored(database, tenant_a, channel_id)
    assert record is not None and record.type == "telegram" and record.config["username"] == "lotos_salon_bot"
    page = await client.get(connected.headers["location"])
    assert "@lotos_salon_bot" in page.text
    listed = await client.get("/app/channels")
    for shown in (page, listed):
        assert TOKEN not in shown.text and TOKEN.split(":")[1] not in shown.text  # never rendered back
    [event] = await audited(database, tenant_a, "channel.connected")
    assert event.details == {"type": "telegram", "name": "lotos_salon_bot"} and event.target_id == channel_id


async def test_a_token_telegram_does_not_know_is_explained(
    client: httpx.AsyncClient, database: Database, runtime: Runtime, tenant_a: TenantFixture, telegram: TelegramServer
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"telegram_api_url": telegram.base_url})
    csrf = await signed_in(client, tenant_a)
    refused = await client.post("/app/channels/telegram", data={"token": TOKEN, "csrf_token": csrf})
    assert refused.status_code == 422
    assert "Telegram не знает этот токен" in refused.text and 'role="alert"' in refused.text
    assert TOKEN not in refused.text
    malformed = await client.post("/app/channels/telegram", data={"token": "hello", "csrf_token": csrf})
    assert malformed.status_code == 422 and "не похоже на токен бота" in malformed.text
    assert await audited(database, tenant_a, "channel.connected") == []
    assert "data-no-channels" in (await client.get("/app/channels")).text


async def test_an_unreachable_telegram_is_explained(
    client: httpx.AsyncClient, runtime: Runtime, tenant_a: TenantFixture
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"telegram_api_url": f"http://127.0.0.1:{free_port()}"})
    csrf = await signed_in(client, tenant_a)
    refused = await client.post("/app/channels/telegram", data={"token": TOKEN, "csrf_token": csrf})
    assert refused.status_code == 503
    assert "Не удалось связаться с Telegram" in refused.text and TOKEN not in refused.text


async def test_a_telegram_server_error_is_explained(
    client: httpx.AsyncClient, runtime: Runtime, tenant_a: TenantFixture, telegram: TelegramServer
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"telegram_api_url": telegram.base_url})
    telegram.double.add_bot(TOKEN)
    telegram.double.fail_next("getMe", 500)
    csrf = await signed_in(client, tenant_a)
    refused = await client.post("/app/channels/telegram", data={"token": TOKEN, "csrf_token": csrf})
    assert refused.status_code == 503 and "Не удалось связаться с Telegram" in refused.text


async def test_removing_a_telegram_bot_takes_its_webhook_off_telegram(
    client: httpx.AsyncClient, database: Database, runtime: Runtime, tenant_a: TenantFixture, telegram: TelegramServer
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"telegram_api_url": telegram.base_url})
    telegram.double.add_bot(TOKEN)
    connected = await client.post(
        "/api/v1/channels", json={"type": "telegram", "token": TOKEN, "mode": "webhook"}, headers=tenant_a.headers
    )
    assert connected.status_code == 201, connected.text
    assert telegram.double.webhook(TOKEN) is not None
    csrf = await signed_in(client, tenant_a)
    removed = await client.post(f"/app/channels/{connected.json()['id']}/remove", data={"csrf_token": csrf})
    assert removed.status_code == 303
    assert telegram.double.webhook(TOKEN) is None
    assert await stored(database, tenant_a, connected.json()["id"]) is None


async def test_a_widget_is_created_with_its_snippet_and_styled(
    client: httpx.AsyncClient, database: Database, runtime: Runtime, tenant_a: TenantFixture
) -> None:
    csrf = await signed_in(client, tenant_a)
    created = await client.post(
        "/app/channels/widget",
        data={
            "name": "Магазин",
            "origins": f"{SITE}\r\n\r\nhttp://localhost:8080\r\n",
            "title": "Поддержка",
            "greeting": "Здравствуйте!",
            "color": "#0f766e",
            "position": "left",
            "prechat": ["phone", "name"],
            "csrf_token": csrf,
        },
    )
    assert created.status_code == 200, created.text
    assert "data-identity-secret" in created.text  # shown once, on creation
    [record] = await all_channels(database, tenant_a)
    assert record.type == "widget" and record.name == "Магазин"
    assert record.config["allowed_origins"] == [SITE, "http://localhost:8080"]
    looks = {
        "title": "Поддержка",
        "greeting": "Здравствуйте!",
        "color": "#0f766e",
        "position": "left",
        "prechat_fields": ["name", "phone"],
    }
    assert {name: record.config.get(name) for name in looks} == looks
    base = runtime.settings.public_url.rstrip("/")
    snippet = f'<script src="{base}/widget.js" data-channel="{record.public_key}" async></script>'
    assert snippet_of(created) == snippet
    assert "--widget-accent: #0f766e" in created.text
    page = await client.get(f"/app/channels/{record.id}")
    assert "data-identity-secret" not in page.text and snippet_of(page) == snippet

    styled = await client.post(
        f"/app/channels/{record.id}/widget",
        data={
            "origins": "https://new.example",
            "title": "Чат",
            "color": "#1d4ed8",
            "position": "right",
            "greeting": "",
            "csrf_token": csrf,
        },
    )
    assert styled.status_code == 303
    record2 = await stored(database, tenant_a, str(record.id))
    assert record2 is not None and record2.config["allowed_origins"] == ["https://new.example"]
    assert record2.config["title"] == "Чат" and record2.config["color"] == "#1d4ed8"
    assert record2.config["prechat_fields"] == []  # both boxes left unticked
    assert record2.config["greeting"] == ""  # cleared: the widget greets in the visitor's language
    [connected] = await audited(database, tenant_a, "channel.connected")
    assert connected.details == {"type": "widget", "name": "Магазин"}
    [changed] = await audited(database, tenant_a, "channel.changed")
    assert changed.details == {"changed": ["widget"]}


def snippet_of(page: httpx.Response) -> str:
    found = re.search(r"data-snippet>([^<]*)</textarea>", page.text)
    assert found is not None, page.text
    return html.unescape(found.group(1))


async def all_channels(database: Database, tenant: TenantFixture) -> list[ChannelRecord]:
    async with database.tenant_transaction(tenant.id) as session:
        return list((await session.execute(select(ChannelRecord))).scalars().all())


@pytest.mark.parametrize(
    "origins",
    ["shop.example", "https://shop.example/catalog", "javascript:alert(1)", "https://shop.example?x=1", "ftp://x"],
)
async def test_an_invalid_site_address_is_refused_with_the_line_named(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, origins: str
) -> None:
    csrf = await signed_in(client, tenant_a)
    refused = await client.post(
        "/app/channels/widget",
        data={"name": "Сайт", "origins": f"{SITE}\n{origins}", "color": "#2563eb", "csrf_token": csrf},
    )
    assert refused.status_code == 422
    assert "data-bad-origins" in refused.text and f"<code>{html.escape(origins)}</code>" in refused.text
    assert "Сайт" in refused.text  # the form keeps what was typed
    assert await all_channels(database, tenant_a) == []


async def test_widget_form_mistakes_are_explained_and_nothing_is_stored(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture
) -> None:
    csrf = await signed_in(client, tenant_a)
    cases = [
        ({"name": "", "origins": SITE}, "Назовите виджет"),
        ({"name": "Сайт", "origins": ""}, "Укажите хотя бы один сайт"),
        ({"name": "Сайт", "origins": SITE, "color": "red"}, "#2563eb"),
        ({"name": "Сайт", "origins": SITE, "title": "т" * 81}, "80"),
        ({"name": "Сайт", "origins": "\n".join(f"https://s{i}.example" for i in range(21))}, "не больше 20"),
    ]
    for fields, explained in cases:
        refused = await client.post("/app/channels/widget", data={**fields, "csrf_token": csrf})
        assert refused.status_code == 422, fields
        assert explained in refused.text and 'role="alert"' in refused.text, fields
    widget = await new_widget(client, tenant_a)
    bad_style = await client.post(
        f"/app/channels/{widget['id']}/widget", data={"origins": "not a site", "csrf_token": csrf}
    )
    assert bad_style.status_code == 422 and "<code>not a site</code>" in bad_style.text
    assert len(await all_channels(database, tenant_a)) == 1


async def test_nul_and_oversized_fields_are_refused_with_a_page(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture
) -> None:
    csrf = await signed_in(client, tenant_a)
    widget = await new_widget(client, tenant_a)
    for path, data in (
        ("/app/channels/telegram", {"token": "1234\x00"}),
        ("/app/channels/telegram", {"token": "1" * 5000}),
        ("/app/channels/widget", {"name": "Сайт\x00", "origins": SITE}),
        ("/app/channels/widget", {"name": "Сайт", "origins": SITE * 1000}),
        (f"/app/channels/{widget['id']}/widget", {"origins": SITE, "greeting": "\x00"}),
        (f"/app/channels/{widget['id']}/widget", {"origins": SITE, "prechat": "email"}),
        (f"/app/channels/{widget['id']}/status", {"status": "paused\x00"}),
        (f"/app/channels/{widget['id']}/assistant", {"assistant_id": "x" * 5000}),
    ):
        refused = await client.post(path, data={**data, "csrf_token": csrf})
        assert 400 <= refused.status_code < 500, (path, refused.status_code)
        assert "<html" in refused.text, path
    record = await stored(database, tenant_a, widget["id"])
    assert record is not None and record.status == ChannelStatus.active and record.config.get("greeting") is None
    assert len(await all_channels(database, tenant_a)) == 1


async def test_a_viewer_is_refused_the_channels_pages(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture
) -> None:
    widget = await new_widget(client, tenant_a)
    email = await make_member(database, tenant_a, Role.viewer)
    token = await open_login(client)
    signed = await client.post("/app/login", data={"email": email, "password": "member-pass-1", "csrf_token": token})
    assert signed.status_code == 303
    csrf = await home_csrf(client)
    assert 'href="/app/channels"' not in (await client.get("/app/")).text
    for path in ("/app/channels", f"/app/channels/{widget['id']}", f"/app/channels/{widget['id']}/remove"):
        assert (await client.get(path)).status_code == 403, path
    paused = await client.post(f"/app/channels/{widget['id']}/status", data={"status": "paused", "csrf_token": csrf})
    removed = await client.post(f"/app/channels/{widget['id']}/remove", data={"csrf_token": csrf})
    assert paused.status_code == 403 and removed.status_code == 403
    record = await stored(database, tenant_a, widget["id"])
    assert record is not None and record.status == ChannelStatus.active


async def test_another_tenants_channel_is_not_found(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    theirs = await new_widget(client, tenant_b, name="Чужой сайт")
    csrf = await signed_in(client, tenant_a)
    path = f"/app/channels/{theirs['id']}"
    for get in (path, f"{path}/remove"):
        page = await client.get(get)
        assert page.status_code == 404 and "Чужой сайт" not in page.text
    for post, data in (
        (f"{path}/status", {"status": "paused"}),
        (f"{path}/assistant", {"assistant_id": ""}),
        (f"{path}/widget", {"origins": SITE}),
        (f"{path}/remove", {}),
    ):
        assert (await client.post(post, data={**data, "csrf_token": csrf})).status_code == 404, post
    record = await stored(database, tenant_b, theirs["id"])
    assert record is not None and record.status == ChannelStatus.active and record.name == "Чужой сайт"
    assert "Чужой сайт" not in (await client.get("/app/channels")).text
    assert (await client.get(f"/app/channels/{uuid.uuid4()}")).status_code == 404
    assert (await client.get("/app/channels/not-a-uuid")).status_code in (404, 422)


async def test_changes_need_the_forms_csrf_token(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture
) -> None:
    await signed_in(client, tenant_a)
    widget = await new_widget(client, tenant_a)
    forged = await client.post(f"/app/channels/{widget['id']}/remove", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    assert await stored(database, tenant_a, widget["id"]) is not None
    page = await client.get(f"/app/channels/{widget['id']}")
    assert re.search(r'name="csrf_token" value="[^"]+"', page.text) and csrf_of(page)
