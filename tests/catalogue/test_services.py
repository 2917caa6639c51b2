"""Services through the API: validation with clear 422s, Russian search and category filter, prices as decimal
strings, archiving instead of deleting, roles, and tenants kept apart."""

from __future__ import annotations

import uuid

import httpx

from easyflow.db.database import Database
from easyflow.models.tenancy import Role
from tests.conftest import TenantFixture, make_key

SERVICES = "/api/v1/services"


async def add_service(client: httpx.AsyncClient, tenant: TenantFixture, **fields: object) -> dict:
    body = {"name": "Стрижка мужская", "category": "Парикмахерская", "duration_minutes": 45, "price": "1500", **fields}
    response = await client.post(SERVICES, json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _problem_names(response: httpx.Response, field: str) -> bool:
    return response.status_code == 422 and field in response.text


async def test_a_service_is_created_read_and_changed(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    service = await add_service(client, tenant_a, description="Машинка и ножницы", buffer_after_minutes=10)
    assert service["price"] == "1500.00"
    assert (service["price_from"], service["price_to"]) == (None, None)
    assert service["online_bookable"] is True
    assert service["archived"] is False
    one = f"{SERVICES}/{service['id']}"
    assert (await client.get(one, headers=tenant_a.headers)).json() == service

    ranged = await client.patch(one, json={"price_from": "1200.50", "price_to": "3000"}, headers=tenant_a.headers)
    assert ranged.status_code == 200, ranged.text
    assert (ranged.json()["price"], ranged.json()["price_from"], ranged.json()["price_to"]) == (
        None,
        "1200.50",
        "3000.00",
    )
    fixed = await client.patch(one, json={"price": "999.99", "online_bookable": False}, headers=tenant_a.headers)
    assert (fixed.json()["price"], fixed.json()["price_from"], fixed.json()["online_bookable"]) == (
        "999.99",
        None,
        False,
    )
    assert fixed.json()["name"] == "Стрижка мужская"


async def test_bad_services_are_refused_naming_the_field(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    base = {"name": "Маникюр", "duration_minutes": 60}
    cases = [
        ({**base, "duration_minutes": 4}, "duration_minutes"),
        ({**base, "duration_minutes": 1441}, "duration_minutes"),
        ({**base, "price": "-1"}, "price"),
        ({**base, "price": "1.001"}, "price"),
        ({**base, "price": "1e20"}, "price"),
        ({**base, "price": "NaN"}, "price"),
        ({**base, "price": "100", "price_from": "50"}, "either price or price_from"),
        ({**base, "price_from": "500", "price_to": "100"}, "price_from is above price_to"),
        ({**base, "buffer_after_minutes": -5}, "buffer_after_minutes"),
        ({**base, "name": "   "}, "name"),
        ({**base, "name": "Маникюр\u0000"}, "name"),
        ({**base, "colour": "red"}, "colour"),
        ({"name": "Маникюр"}, "duration_minutes"),
    ]
    for body, named in cases:
        response = await client.post(SERVICES, json=body, headers=tenant_a.headers)
        assert _problem_names(response, named), (body, response.status_code, response.text)
    service = await add_service(client, tenant_a, price=None, price_from="100", price_to="200")
    one = f"{SERVICES}/{service['id']}"
    refused = await client.patch(one, json={"price_to": "50"}, headers=tenant_a.headers)
    assert _problem_names(refused, "price_from is above price_to"), refused.text
    assert _problem_names(await client.patch(one, json={"name": None}, headers=tenant_a.headers), "name")
    assert (await client.get(one, headers=tenant_a.headers)).json()["price_to"] == "200.00"


async def test_services_are_searched_in_russian_and_filtered_by_category(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    await add_service(client, tenant_a, name="Стрижка мужская")
    await add_service(client, tenant_a, name="СТРИЖКА детская")
    await add_service(client, tenant_a, name="Окрашивание волос")
    await add_service(client, tenant_a, name="Маникюр 100%", category="Ногти")

    async def names(**params: str) -> list[str]:
        response = await client.get(SERVICES, params=params, headers=tenant_a.headers)
        assert response.status_code == 200, response.text
        return [item["name"] for item in response.json()["items"]]

    assert await names(q="стрижка") == ["СТРИЖКА детская", "Стрижка мужская"]
    assert await names(q="Волос") == ["Окрашивание волос"]
    assert await names(q="%") == ["Маникюр 100%"]
    assert await names(category="ногти") == ["Маникюр 100%"]
    assert len(await names(category="Парикмахерская")) == 3
    assert await names(q="педикюр") == []


async def test_a_deleted_service_is_archived_and_still_readable(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    service = await add_service(client, tenant_a)
    one = f"{SERVICES}/{service['id']}"
    assert (await client.delete(one, headers=tenant_a.headers)).status_code == 204
    assert (await client.delete(one, headers=tenant_a.headers)).status_code == 204
    assert (await client.get(SERVICES, headers=tenant_a.headers)).json()["total"] == 0
    archived = await client.get(SERVICES, params={"archived": "true"}, headers=tenant_a.headers)
    assert [item["id"] for item in archived.json()["items"]] == [service["id"]]
    assert (await client.get(one, headers=tenant_a.headers)).json()["archived"] is True
    assert (await client.delete(f"{SERVICES}/{uuid.uuid4()}", headers=tenant_a.headers)).status_code == 404


async def test_viewers_read_and_only_admins_change_services(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture
) -> None:
    service = await add_service(client, tenant_a)
    one = f"{SERVICES}/{service['id']}"
    viewer = {"Authorization": f"Bearer {await make_key(database, tenant_a, Role.viewer)}"}
    operator = {"Authorization": f"Bearer {await make_key(database, tenant_a, Role.operator)}"}
    assert (await client.get(SERVICES)).status_code == 401
    assert (await client.get(one)).status_code == 401
    assert (await client.get(SERVICES, headers=viewer)).json()["total"] == 1
    assert (await client.get(one, headers=viewer)).status_code == 200
    body = {"name": "Укладка", "duration_minutes": 30}
    assert (await client.post(SERVICES, json=body, headers=operator)).status_code == 403
    assert (await client.patch(one, json={"name": "Укладка"}, headers=operator)).status_code == 403
    assert (await client.delete(one, headers=viewer)).status_code == 403
    assert (await client.get(one, headers=tenant_a.headers)).json()["archived"] is False


async def test_another_tenants_service_is_not_found(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    service = await add_service(client, tenant_a)
    one = f"{SERVICES}/{service['id']}"
    assert (await client.get(one, headers=tenant_b.headers)).status_code == 404
    assert (await client.patch(one, json={"name": "Чужая"}, headers=tenant_b.headers)).status_code == 404
    assert (await client.delete(one, headers=tenant_b.headers)).status_code == 404
    assert (await client.get(SERVICES, headers=tenant_b.headers)).json()["total"] == 0
    assert (await client.get(one, headers=tenant_a.headers)).json()["name"] == "Стрижка мужская"
