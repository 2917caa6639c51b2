"""The Services pages over HTTP through the app: an admin adds a service with a price range, sees it under its
category, changes it to a fixed price and archives it; bad fields come back named, in Russian, with the form
as it was typed; viewers read without forms, other workspaces get 404; English when the member chose it."""

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

PAGE = "/app/services"
FILLED = {
    "name": "Стрижка",
    "category": "Волосы",
    "description": "Мытьё и укладка",
    "duration_minutes": "60",
    "price": "",
    "price_from": "1 500",
    "price_to": "3 000,50",
    "buffer_after_minutes": "15",
    "online_bookable": "on",
}


def listed(page: httpx.Response) -> list[str]:
    return re.findall(r'data-service="([^"]+)"', page.text)


async def test_an_admin_adds_changes_and_archives_a_service(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    await sign_in(client, tenant_a)
    empty = await client.get(PAGE)
    assert empty.status_code == 200
    assert "<h1>Услуги</h1>" in empty.text and "Услуг пока нет." in empty.text
    assert '<a href="/app/services" aria-current="page">Каталог</a>' in empty.text
    token = csrf_of(empty)

    added = await client.post(PAGE, data={"csrf_token": token, **FILLED})
    assert added.status_code == 303
    (service,) = (await api_get(client, tenant_a, "services"))["items"]
    assert added.headers["location"] == f"{PAGE}#service-{service['id']}"
    assert (service["category"], service["price"], service["price_from"], service["price_to"]) == (
        "Волосы",
        None,
        "1500.00",
        "3000.50",
    )
    assert (service["duration_minutes"], service["buffer_after_minutes"], service["online_bookable"]) == (60, 15, True)
    page = await client.get(PAGE)
    assert listed(page) == ["Стрижка"] and ">Волосы</h2>" in page.text
    assert "1500.00–3000.50" in page.text and "60 минут" in page.text and "затем 15 минут свободно" in page.text

    edit = await client.get(f"{PAGE}/{service['id']}")
    assert edit.status_code == 200 and 'value="Стрижка"' in edit.text and "<fieldset disabled>" not in edit.text
    changed = await client.post(
        f"{PAGE}/{service['id']}",
        data={**FILLED, "csrf_token": token, "price": "2000", "price_from": "", "price_to": "", "online_bookable": ""}
        | {"category": "Стрижки"},
    )
    assert changed.status_code == 303
    service = await api_get(client, tenant_a, f"services/{service['id']}")
    assert (service["price"], service["price_from"], service["category"]) == ("2000.00", None, "Стрижки")
    # An unticked box is not sent at all: the service is no longer bookable online.
    unticked = {name: value for name, value in FILLED.items() if name != "online_bookable"}
    assert (await client.post(f"{PAGE}/{service['id']}", data={**unticked, "csrf_token": token})).status_code == 303
    assert (await api_get(client, tenant_a, f"services/{service['id']}"))["online_bookable"] is False

    archived = await client.post(f"{PAGE}/{service['id']}/archive", data={"csrf_token": token})
    assert archived.status_code == 303
    page = await client.get(PAGE)
    assert listed(page) == [] and "1 услуга в архиве" in page.text
    assert "Услуга в архиве" in (await client.get(f"{PAGE}/{service['id']}")).text


async def test_bad_fields_are_named_and_the_form_comes_back_filled(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    await sign_in(client, tenant_a)
    token = csrf_of(await client.get(PAGE))
    for changes, message in (
        ({"name": "  "}, "Назовите услугу — от 1 до 200 символов."),
        ({"name": "С" * 201}, "Назовите услугу — от 1 до 200 символов."),
        ({"name": "Стрижка\x00"}, "Назовите услугу — от 1 до 200 символов."),
        ({"duration_minutes": "3"}, "Длительность — целое число минут от 5 до 1440."),
        ({"duration_minutes": "час"}, "Длительность — целое число минут от 5 до 1440."),
        ({"price": "1000"}, "Укажите либо точную цену, либо диапазон"),
        ({"price_from": "5000"}, "Укажите либо точную цену, либо диапазон"),
        ({"price_from": "дорого"}, "Нижняя граница цены — сумма, например 1500."),
        ({"buffer_after_minutes": "-5"}, "Свободное время после услуги — целое число минут от 0 до 1440."),
    ):
        refused = await client.post(PAGE, data={"csrf_token": token, **FILLED, **changes})
        assert refused.status_code == 422, changes
        assert "Ничего не сохранено" in refused.text and message in refused.text, changes
        # What was typed is in the form again.
        assert 'value="Мытьё и укладка"' not in refused.text  # a textarea, not an input
        assert ">Мытьё и укладка</textarea>" in refused.text and 'value="3 000,50"' in refused.text
    assert (await client.post(PAGE, data=FILLED)).status_code == 403  # no CSRF token
    # More fields than any form has is refused before anything runs; a field sent twice counts once.
    flood = [("csrf_token", token), *FILLED.items(), *((f"extra-{n}", "x") for n in range(60))]
    assert (await client.post(PAGE, data=dict(flood))).status_code == 400
    twice = await client.post(
        PAGE,
        content=f"csrf_token={token}&name=A&name=&duration_minutes=30".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert twice.status_code == 422 and "Назовите услугу" in twice.text
    assert (await api_get(client, tenant_a, "services"))["items"] == []

    service = await api_create(client, tenant_a, "services", {"name": "Маникюр", "duration_minutes": 45})
    refused = await client.post(
        f"{PAGE}/{service['id']}", data={"csrf_token": token, **FILLED, "name": "Маникюр+", "duration_minutes": "0"}
    )
    assert refused.status_code == 422 and 'value="Маникюр+"' in refused.text
    no_duration = {"csrf_token": token, **FILLED, "name": "Маникюр+", "duration_minutes": ""}
    refused = await client.post(f"{PAGE}/{service['id']}", data=no_duration)
    assert refused.status_code == 422 and "Длительность — целое число минут от 5 до 1440." in refused.text
    assert (await api_get(client, tenant_a, f"services/{service['id']}"))["name"] == "Маникюр"


async def test_viewers_read_and_other_workspaces_get_404(
    client: httpx.AsyncClient,
    database: Database,
    tenant_a: TenantFixture,
    tenant_b: TenantFixture,
    settings: Settings,
    runtime: Runtime,
) -> None:
    service = await api_create(client, tenant_a, "services", {"name": "Маникюр", "duration_minutes": 45, "price": 900})
    token = await sign_in_as(client, database, tenant_a, Role.viewer)
    page = await client.get(PAGE)
    assert page.status_code == 200 and listed(page) == ["Маникюр"] and "data-new-service" not in page.text
    assert '<a href="/app/services"' in page.text
    edit = await client.get(f"{PAGE}/{service['id']}")
    assert edit.status_code == 200 and "<fieldset disabled>" in edit.text and "/archive" not in edit.text
    for path in (PAGE, f"{PAGE}/{service['id']}", f"{PAGE}/{service['id']}/archive"):
        refused = await client.post(path, data={"csrf_token": token, **FILLED})
        assert refused.status_code == 403 and "только администраторы и владельцы" in refused.text, path

    async with browser(settings, runtime) as other:
        await sign_in(other, tenant_b)
        token = csrf_of(await other.get(PAGE))
        assert listed(await other.get(PAGE)) == []
        assert (await other.get(f"{PAGE}/{service['id']}")).status_code == 404
        for path in (f"{PAGE}/{service['id']}", f"{PAGE}/{service['id']}/archive"):
            stranger = await other.post(path, data={"csrf_token": token, **FILLED})
            assert stranger.status_code == 404 and "Такой услуги в вашем пространстве нет." in stranger.text
        assert (await other.get(f"{PAGE}/not-an-id")).status_code == 422
    found = await api_get(client, tenant_a, f"services/{service['id']}")
    assert (found["name"], found["archived"]) == ("Маникюр", False)


async def test_the_pages_speak_english_when_the_member_chose_it(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    await sign_in(client, tenant_a)
    token = csrf_of(await client.get(PAGE))
    await client.post("/app/account/language", data={"csrf_token": token, "language": "en", "next": PAGE})
    page = await client.get(PAGE)
    assert "<h1>Services</h1>" in page.text and "No services yet." in page.text and "Add a service" in page.text
    refused = await client.post(PAGE, data={"csrf_token": token, **FILLED, "duration_minutes": "2"})
    assert "The duration is a whole number of minutes from 5 to 1440." in refused.text
