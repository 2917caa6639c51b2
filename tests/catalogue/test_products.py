"""Products through the API: validation with clear 422s, tours with dates, search in Russian by word forms,
roles, and tenants kept apart."""

from __future__ import annotations

import uuid

import httpx

from easyflow.db.database import Database
from easyflow.models.tenancy import Role
from tests.conftest import TenantFixture, make_key

PRODUCTS = "/api/v1/products"


async def add_product(client: httpx.AsyncClient, tenant: TenantFixture, **fields: object) -> dict:
    body = {"name": "Шампунь для окрашенных волос", "price": "890", **fields}
    response = await client.post(PRODUCTS, json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_a_product_with_variants_and_a_tour_with_dates(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    product = await add_product(
        client,
        tenant_a,
        currency="KGS",
        stock=12,
        attributes={"объём": "250 мл", "веган": True},
        pictures=["https://example.com/shampoo.jpg"],
        variants=[{"name": "1 литр", "price": "2400", "attributes": {"объём": "1 л"}}],
    )
    assert (product["price"], product["currency"], product["stock"]) == ("890.00", "KGS", 12)
    assert product["pictures"] == ["https://example.com/shampoo.jpg"]
    assert product["variants"] == [
        {"name": "1 литр", "price": "2400.00", "stock": None, "attributes": {"объём": "1 л"}}
    ]
    tour = await add_product(
        client,
        tenant_a,
        name="Тур на Сон-Куль",
        price="54000",
        dates=[{"start": "2027-07-12", "end": "2027-07-15", "seats": 8}],
    )
    assert tour["dates"] == [{"start": "2027-07-12", "end": "2027-07-15", "seats": 8}]
    assert tour["stock"] is None
    one = f"{PRODUCTS}/{product['id']}"
    changed = await client.patch(one, json={"stock": None, "price": "990.5"}, headers=tenant_a.headers)
    assert (changed.json()["stock"], changed.json()["price"], changed.json()["currency"]) == (None, "990.50", "KGS")
    assert (await client.get(one, headers=tenant_a.headers)).json() == changed.json()
    assert (await client.delete(one, headers=tenant_a.headers)).status_code == 204
    assert (await client.get(one, headers=tenant_a.headers)).status_code == 404


async def test_bad_products_are_refused_naming_the_field(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    base = {"name": "Крем", "price": "100"}
    cases = [
        ({"name": "Крем"}, "price"),
        ({**base, "price": "-1"}, "price"),
        ({**base, "currency": "GBP"}, "currency"),
        ({**base, "stock": -1}, "stock"),
        ({**base, "stock": 2**40}, "stock"),
        ({**base, "pictures": ["javascript:alert(1)"]}, "pictures"),
        ({**base, "pictures": ["ftp://example.com/a.jpg"]}, "pictures"),
        ({**base, "attributes": {"цвет": {"nested": "no"}}}, "attributes"),
        ({**base, "variants": [{"name": ""}]}, "variants"),
        ({**base, "dates": [{"start": "2027-07-15", "end": "2027-07-12", "seats": 8}]}, "starts after it ends"),
        ({**base, "dates": [{"start": "2027-07-12", "end": "2027-07-15", "seats": -1}]}, "seats"),
        ({**base, "description": "a\u0000b"}, "description"),
    ]
    for body, named in cases:
        response = await client.post(PRODUCTS, json=body, headers=tenant_a.headers)
        assert response.status_code == 422 and named in response.text, (body, response.text)
    product = await add_product(client, tenant_a)
    refused = await client.patch(f"{PRODUCTS}/{product['id']}", json={"price": None}, headers=tenant_a.headers)
    assert refused.status_code == 422 and "price" in refused.text
    assert (await client.get(PRODUCTS, headers=tenant_a.headers)).json()["total"] == 1


async def test_products_are_found_by_russian_word_forms(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    await add_product(client, tenant_a, name="Шампунь для окрашенных волос")
    await add_product(client, tenant_a, name="Тур на Сон-Куль", description="Конные прогулки и ночёвка в юртах")
    await add_product(client, tenant_a, name="Маска для волос 100%")

    async def names(query: str) -> list[str]:
        response = await client.get(PRODUCTS, params={"q": query}, headers=tenant_a.headers)
        assert response.status_code == 200, response.text
        return sorted(item["name"] for item in response.json()["items"])

    assert await names("волосы") == ["Маска для волос 100%", "Шампунь для окрашенных волос"]
    assert await names("туры") == ["Тур на Сон-Куль"]
    assert await names("юрта") == ["Тур на Сон-Куль"]
    assert await names("шамп") == ["Шампунь для окрашенных волос"]
    assert await names("100%") == ["Маска для волос 100%"]
    assert await names("гитара") == []


async def test_viewers_read_and_only_admins_change_products(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture
) -> None:
    product = await add_product(client, tenant_a)
    one = f"{PRODUCTS}/{product['id']}"
    viewer = {"Authorization": f"Bearer {await make_key(database, tenant_a, Role.viewer)}"}
    operator = {"Authorization": f"Bearer {await make_key(database, tenant_a, Role.operator)}"}
    assert (await client.get(PRODUCTS)).status_code == 401
    assert (await client.get(one)).status_code == 401
    assert (await client.get(PRODUCTS, headers=viewer)).json()["total"] == 1
    assert (await client.get(one, headers=viewer)).status_code == 200
    assert (await client.post(PRODUCTS, json={"name": "X", "price": "1"}, headers=operator)).status_code == 403
    assert (await client.patch(one, json={"name": "X"}, headers=operator)).status_code == 403
    assert (await client.delete(one, headers=viewer)).status_code == 403
    assert (await client.get(one, headers=tenant_a.headers)).json()["name"] == product["name"]


async def test_another_tenants_product_is_not_found(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    product = await add_product(client, tenant_a)
    one = f"{PRODUCTS}/{product['id']}"
    assert (await client.get(one, headers=tenant_b.headers)).status_code == 404
    assert (await client.patch(one, json={"name": "Чужой"}, headers=tenant_b.headers)).status_code == 404
    assert (await client.delete(one, headers=tenant_b.headers)).status_code == 404
    assert (await client.get(PRODUCTS, headers=tenant_b.headers)).json()["total"] == 0
    assert (await client.get(PRODUCTS, params={"q": "шампунь"}, headers=tenant_b.headers)).json()["total"] == 0
    assert (await client.get(f"{PRODUCTS}/{uuid.uuid4()}", headers=tenant_a.headers)).status_code == 404
