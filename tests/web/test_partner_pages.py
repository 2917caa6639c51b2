"""The Partners page over HTTP through the app: an admin adds, changes and removes partners in Russian (the
webhook's secret shown once), bad fields refused with a clear page, operators read without forms, viewers and
other workspaces refused; in English when the member chose it."""

from __future__ import annotations

import re

import httpx

from easyflow.config import Settings
from easyflow.db.database import Database
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, make_member
from tests.doubles.webhook_receiver import WebhookReceiver
from tests.web.dashboard import browser, csrf_of, open_login, sign_in

PAGE = "/app/partners"


async def sign_in_as(client: httpx.AsyncClient, email: str) -> None:
    token = await open_login(client)
    signed_in = await client.post("/app/login", data={"email": email, "password": "member-pass-1", "csrf_token": token})
    assert signed_in.status_code == 303, signed_in.text


async def partners_on_page(client: httpx.AsyncClient) -> list[str]:
    page = await client.get(PAGE)
    assert page.status_code == 200, page.text
    return re.findall(r'<tr data-partner="([^"]+)"', page.text)


async def api_partners(client: httpx.AsyncClient, tenant: TenantFixture) -> list[dict]:
    return list((await client.get("/api/v1/partners", headers=tenant.headers)).json()["items"])


async def test_an_admin_adds_changes_and_removes_partners_in_russian(
    client: httpx.AsyncClient, tenant_a: TenantFixture, webhook_receiver: WebhookReceiver
) -> None:
    await sign_in(client, tenant_a)
    empty = await client.get(PAGE)
    assert empty.status_code == 200
    assert "<h1>Партнёры</h1>" in empty.text and "Партнёров пока нет." in empty.text
    assert '<a href="/app/partners" aria-current="page">Партнёры</a>' in empty.text
    token = csrf_of(empty)

    added = await client.post(
        PAGE,
        data={
            "csrf_token": token,
            "name": "Гид Азамат",
            "kind": "guide",
            "phone": "8 (912) 345-67-89",
            "email": "",
            "notes": "Конные туры",
            "reach_by": "",
            "telegram_chat_id": "",
            "webhook_url": "",
        },
    )
    assert added.status_code == 303 and added.headers["location"] == PAGE
    page = await client.get(PAGE)
    assert await partners_on_page(client) == ["Гид Азамат"]
    assert (
        "+79123456789" in page.text and "Гид</td>" in page.text and "Не отправлять: только в справочнике" in page.text
    )

    hooked = await client.post(
        PAGE,
        data={
            "csrf_token": token,
            "name": "Отель «Ала-Тоо»",
            "kind": "hotel",
            "own_kind": "юрточный лагерь",
            "reach_by": "webhook",
            "webhook_url": webhook_receiver.url,
        },
    )
    assert hooked.status_code == 200 and "data-webhook-secret" in hooked.text
    secret = re.search(r'value="([^"]+)" class="secret" data-secret', hooked.text)
    assert secret is not None and len(secret.group(1)) >= 32
    assert secret.group(1) not in (await client.get(PAGE)).text
    assert {partner["name"]: partner["kind"] for partner in await api_partners(client, tenant_a)} == {
        "Гид Азамат": "guide",
        "Отель «Ала-Тоо»": "юрточный лагерь",
    }

    (guide,) = [partner for partner in await api_partners(client, tenant_a) if partner["name"] == "Гид Азамат"]
    changed = await client.post(
        f"{PAGE}/{guide['id']}",
        data={
            "csrf_token": token,
            "name": "Гид Азамат",
            "kind": "guide",
            "phone": "",
            "email": "azamat@example.com",
            "notes": "",
            "reach_by": "email",
            "telegram_chat_id": "",
            "webhook_url": "",
        },
    )
    assert changed.status_code == 303
    (guide,) = [partner for partner in await api_partners(client, tenant_a) if partner["name"] == "Гид Азамат"]
    assert (guide["reach_by"], guide["email"], guide["phone"], guide["notes"]) == (
        "email",
        "azamat@example.com",
        None,
        "",
    )

    removed = await client.post(f"{PAGE}/{guide['id']}/delete", data={"csrf_token": token})
    assert removed.status_code == 303
    assert await partners_on_page(client) == ["Отель «Ала-Тоо»"]


async def test_bad_fields_are_refused_with_a_clear_page(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    await sign_in(client, tenant_a)
    token = csrf_of(await client.get(PAGE))
    for fields in (
        {"name": "Гид", "email": "не-адрес"},
        {"name": "Гид\x00"},
        {"name": "Гид", "telegram_chat_id": "abc"},
    ):
        refused = await client.post(PAGE, data={"csrf_token": token, **fields})
        assert refused.status_code == 422
        assert "Проверьте поля" in refused.text
    incomplete = await client.post(PAGE, data={"csrf_token": token, "name": "Гид", "reach_by": "telegram"})
    assert incomplete.status_code == 422 and "Для выбранного способа связи заполните его поле" in incomplete.text
    # What was entered stays in the form.
    assert 'value="Гид"' in incomplete.text
    forged = await client.post(PAGE, data={"name": "Гид"})
    assert forged.status_code == 403
    assert await api_partners(client, tenant_a) == []


async def test_operators_read_viewers_and_other_workspaces_are_refused(
    client: httpx.AsyncClient,
    database: Database,
    tenant_a: TenantFixture,
    tenant_b: TenantFixture,
    settings: Settings,
    runtime: Runtime,
) -> None:
    created = await client.post("/api/v1/partners", json={"name": "Гид Азамат"}, headers=tenant_a.headers)
    partner_id = created.json()["id"]

    await sign_in_as(client, await make_member(database, tenant_a, Role.operator))
    page = await client.get(PAGE)
    assert page.status_code == 200 and await partners_on_page(client) == ["Гид Азамат"]
    assert "data-new-partner" not in page.text and f'action="{PAGE}/{partner_id}"' not in page.text
    token = csrf_of(page)
    assert (await client.post(PAGE, data={"csrf_token": token, "name": "Отель"})).status_code == 403
    assert (await client.post(f"{PAGE}/{partner_id}/delete", data={"csrf_token": token})).status_code == 403

    async with browser(settings, runtime) as viewer:
        await sign_in_as(viewer, await make_member(database, tenant_a, Role.viewer))
        refused = await viewer.get(PAGE)
        assert refused.status_code == 403 and "Партнёров видят только операторы" in refused.text
        assert 'href="/app/partners"' not in refused.text

    async with browser(settings, runtime) as other:
        await sign_in(other, tenant_b)
        token = csrf_of(await other.get(PAGE))
        assert await partners_on_page(other) == []
        stranger = await other.post(f"{PAGE}/{partner_id}", data={"csrf_token": token, "name": "Чужой"})
        assert stranger.status_code == 404
        assert (await other.post(f"{PAGE}/{partner_id}/delete", data={"csrf_token": token})).status_code == 404
    assert [partner["name"] for partner in await api_partners(client, tenant_a)] == ["Гид Азамат"]


async def test_the_page_speaks_english_when_the_member_chose_it(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    await sign_in(client, tenant_a)
    token = csrf_of(await client.get(PAGE))
    switched = await client.post("/app/account/language", data={"csrf_token": token, "language": "en", "next": PAGE})
    assert switched.status_code == 303
    page = await client.get(PAGE)
    assert "<h1>Partners</h1>" in page.text and "No partners yet." in page.text and "Add a partner" in page.text
