"""The Resources page over HTTP through the app: an admin adds a room the services need, changes and removes it;
a bad name or a service no longer offered is refused with the form kept; viewers read, other workspaces get 404."""

from __future__ import annotations

import re

import httpx

from easyflow.config import Settings
from easyflow.db.database import Database
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture
from tests.web.catalogue_pages import api_create, api_get, sign_in_as
from tests.web.dashboard import browser, csrf_of, sign_in

PAGE = "/app/resources"


def listed(page: httpx.Response) -> list[str]:
    return re.findall(r'<li data-resource="([^"]+)"', page.text)


async def test_an_admin_adds_changes_and_removes_a_resource(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    massage = await api_create(client, tenant_a, "services", {"name": "Массаж", "duration_minutes": 60})
    wrap = await api_create(client, tenant_a, "services", {"name": "Обёртывание", "duration_minutes": 45})
    await sign_in(client, tenant_a)
    empty = await client.get(PAGE)
    assert empty.status_code == 200 and "Ресурсов пока нет." in empty.text
    token = csrf_of(empty)
    added = await client.post(
        PAGE, data={"csrf_token": token, "name": "Кабинет 1", "services": [massage["id"], wrap["id"]]}
    )
    assert added.status_code == 303
    (room,) = (await api_get(client, tenant_a, "resources"))["items"]
    assert (room["name"], sorted(room["services"])) == ("Кабинет 1", sorted([massage["id"], wrap["id"]]))
    page = await client.get(PAGE)
    assert listed(page) == ["Кабинет 1"] and "1 ресурс" in page.text

    changed = await client.post(f"{PAGE}/{room['id']}", data={"csrf_token": token, "name": "Кабинет массажа"})
    assert changed.status_code == 303
    room = await api_get(client, tenant_a, f"resources/{room['id']}")
    assert (room["name"], room["services"]) == ("Кабинет массажа", [])  # no box ticked: no service needs it
    assert (await client.post(f"{PAGE}/{room['id']}/delete", data={"csrf_token": token})).status_code == 303
    assert (await api_get(client, tenant_a, "resources"))["items"] == []


async def test_bad_fields_are_refused_with_the_form_kept(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    gone = await api_create(client, tenant_a, "services", {"name": "Старое", "duration_minutes": 30})
    await client.delete(f"/api/v1/services/{gone['id']}", headers=tenant_a.headers)
    massage = await api_create(client, tenant_a, "services", {"name": "Массаж", "duration_minutes": 60})
    await sign_in(client, tenant_a)
    token = csrf_of(await client.get(PAGE))
    for fields, message in (
        ({"name": "", "services": [massage["id"]]}, "Укажите имя от 1 до 200 символов."),
        ({"name": "К" * 201}, "Укажите имя от 1 до 200 символов."),
        ({"name": "Кабинет", "services": [gone["id"]]}, "Выберите услуги из списка: одной из них больше нет."),
        ({"name": "Кабинет", "services": ["не-id"]}, "Выберите услуги из списка: одной из них больше нет."),
    ):
        refused = await client.post(PAGE, data={"csrf_token": token, **fields})
        assert refused.status_code == 422 and message in refused.text, fields
    kept = await client.post(
        PAGE, data={"csrf_token": token, "name": "Кабинет", "services": [massage["id"], gone["id"]]}
    )
    assert 'id="new-resource-name" name="name" type="text" required maxlength="200" value="Кабинет"' in kept.text
    assert f'name="services" value="{massage["id"]}" checked' in kept.text
    room = await api_create(client, tenant_a, "resources", {"name": "Кабинет 2"})
    refused = await client.post(f"{PAGE}/{room['id']}", data={"csrf_token": token, "name": " "})
    assert refused.status_code == 422 and f"{PAGE}/{room['id']}" in refused.text
    renamed_too = {"csrf_token": token, "name": "Кабинет 3", "services": [gone["id"]]}
    refused = await client.post(f"{PAGE}/{room['id']}", data=renamed_too)
    assert refused.status_code == 422 and 'value="Кабинет 3"' in refused.text
    assert [item["name"] for item in (await api_get(client, tenant_a, "resources"))["items"]] == ["Кабинет 2"]


async def test_viewers_read_and_other_workspaces_get_404(
    client: httpx.AsyncClient,
    database: Database,
    tenant_a: TenantFixture,
    tenant_b: TenantFixture,
    settings: Settings,
    runtime: Runtime,
) -> None:
    room = await api_create(client, tenant_a, "resources", {"name": "Кресло"})
    token = await sign_in_as(client, database, tenant_a, Role.viewer)
    page = await client.get(PAGE)
    assert page.status_code == 200 and listed(page) == ["Кресло"] and "data-new-resource" not in page.text
    for path in (PAGE, f"{PAGE}/{room['id']}", f"{PAGE}/{room['id']}/delete"):
        assert (await client.post(path, data={"csrf_token": token, "name": "Моё"})).status_code == 403, path

    async with browser(settings, runtime) as other:
        await sign_in(other, tenant_b)
        token = csrf_of(await other.get(PAGE))
        assert listed(await other.get(PAGE)) == []
        for path in (f"{PAGE}/{room['id']}", f"{PAGE}/{room['id']}/delete"):
            stranger = await other.post(path, data={"csrf_token": token, "name": "Чужое"})
            assert stranger.status_code == 404 and "Такого ресурса в вашем пространстве нет." in stranger.text
    assert (await api_get(client, tenant_a, f"resources/{room['id']}"))["name"] == "Кресло"
