"""The Products pages over HTTP through the app: an admin adds a product, then gives it variants, attributes,
pictures and a tour's dates (a line an item) and removes it; the list finds Russian word forms; each unreadable
line is named by its number, in Russian, with what was typed kept; viewers read, other workspaces get 404."""

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

PAGE = "/app/products"
MUG = {"name": "Кружка", "price": "450", "currency": "RUB", "stock": "12", "description": "Керамическая, 300 мл"}
FULL = {
    **MUG,
    "variants": "Большая | 590 | 3\nМаленькая\n",
    "attributes": "Цвет: синий\nОбъём: 300\nПодарочная: true",
    "pictures": "https://shop.example.com/mug.jpg\n\nhttp://shop.example.com/mug-2.png",
    "dates": "",
}


def listed(page: httpx.Response) -> list[str]:
    return re.findall(r'<tr data-product="([^"]+)"', page.text)


async def test_an_admin_keeps_a_product_and_a_tour(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    await sign_in(client, tenant_a)
    empty = await client.get(PAGE)
    assert empty.status_code == 200 and "Товаров пока нет." in empty.text
    token = csrf_of(empty)
    added = await client.post(PAGE, data={"csrf_token": token, **MUG})
    assert added.status_code == 303
    product_id = added.headers["location"].rsplit("/", 1)[1]
    saved = await client.post(f"{PAGE}/{product_id}", data={"csrf_token": token, **FULL})
    assert saved.status_code == 303
    product = await api_get(client, tenant_a, f"products/{product_id}")
    assert (product["price"], product["stock"], product["description"]) == ("450.00", 12, "Керамическая, 300 мл")
    assert product["variants"] == [
        {"name": "Большая", "price": "590.00", "stock": 3, "attributes": {}},
        {"name": "Маленькая", "price": None, "stock": None, "attributes": {}},
    ]
    assert product["attributes"] == {"Цвет": "синий", "Объём": 300, "Подарочная": True}
    assert product["pictures"] == ["https://shop.example.com/mug.jpg", "http://shop.example.com/mug-2.png"]

    # The page shows it back as typed, so saving it unchanged changes nothing.
    page = await client.get(f"{PAGE}/{product_id}")
    assert ">Большая | 590.00 | 3\nМаленькая</textarea>" in page.text
    assert ">Цвет: синий\nОбъём: 300\nПодарочная: true</textarea>" in page.text
    assert 'href="https://shop.example.com/mug.jpg"' in page.text
    fields = {"csrf_token": token, **MUG, "price": "450.00"}
    for name in ("variants", "attributes", "pictures", "dates"):
        found = re.search(rf'name="{name}"[^>]*>([^<]*)</textarea>', page.text)
        assert found is not None
        fields[name] = found.group(1)
    assert (await client.post(f"{PAGE}/{product_id}", data=fields)).status_code == 303
    assert await api_get(client, tenant_a, f"products/{product_id}") | {"updated_at": None} == product | {
        "updated_at": None
    }

    tour = await api_create(
        client, tenant_a, "products", {"name": "Тур на Иссык-Куль", "price": "35000", "description": "Конные туры"}
    )
    dates = "2027-06-01 | 2027-06-07 | 12\n2027-07-01|2027-07-07|0"
    tour_form = {
        "csrf_token": token,
        **MUG,
        "name": "Тур на Иссык-Куль",
        "price": "35 000",
        "stock": "",
        "dates": dates,
    }
    assert (await client.post(f"{PAGE}/{tour['id']}", data=tour_form)).status_code == 303
    assert (await api_get(client, tenant_a, f"products/{tour['id']}"))["dates"] == [
        {"start": "2027-06-01", "end": "2027-06-07", "seats": 12},
        {"start": "2027-07-01", "end": "2027-07-07", "seats": 0},
    ]
    assert listed(await client.get(PAGE, params={"q": "туры"})) == ["Тур на Иссык-Куль"]
    assert listed(await client.get(PAGE)) == ["Кружка", "Тур на Иссык-Куль"]
    nothing = await client.get(PAGE, params={"q": "велосипед" * 40})
    assert nothing.status_code == 200 and "Ничего не найдено." in nothing.text
    wildcard = await client.get(PAGE, params={"q": "%_"})  # taken literally, not as "anything"
    assert wildcard.status_code == 200 and listed(wildcard) == []
    assert listed(await client.get(PAGE, params={"q": "тур\x00"})) == ["Тур на Иссык-Куль"]

    assert (await client.post(f"{PAGE}/{product_id}/delete", data={"csrf_token": token})).status_code == 303
    assert listed(await client.get(PAGE)) == ["Тур на Иссык-Куль"]


async def test_each_unreadable_line_is_named_and_the_form_kept(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    await sign_in(client, tenant_a)
    token = csrf_of(await client.get(PAGE))
    for fields, message in (
        ({"name": ""}, "Назовите товар — от 1 до 200 символов."),
        ({"price": "бесплатно"}, "Цена — сумма, например 1500 или 1500,50."),
        ({"price": ""}, "Цена — сумма, например 1500 или 1500,50."),
        ({"currency": "BTC"}, "Выберите валюту из списка."),
        ({"stock": "-1"}, "Остаток — целое число от 0"),
    ):
        refused = await client.post(PAGE, data={"csrf_token": token, **MUG, **fields})
        assert refused.status_code == 422 and message in refused.text, fields
        assert ">Керамическая, 300 мл</textarea>" in refused.text
    assert (await api_get(client, tenant_a, "products"))["items"] == []

    product = await api_create(client, tenant_a, "products", {"name": "Кружка", "price": "450"})
    for fields, message in (
        ({"attributes": "Цвет синий"}, "Характеристики, строка 1: запишите так: название: значение."),
        ({"variants": "Большая | 590 | 3\n | 10"}, "Варианты, строка 2"),
        ({"variants": "a | 1 | 2 | 3"}, "Варианты, строка 1"),
        ({"variants": "Большая | дорого"}, "Не больше 100 вариантов"),
        ({"dates": "2027-06-01 | 2027-06-07"}, "Даты, строка 1"),
        ({"dates": "2027-06-07 | 2027-06-01 | 5"}, "каждая заканчивается не раньше, чем начинается"),
        ({"pictures": "javascript:alert(1)"}, "Не больше 20 изображений"),
        ({"pictures": "file:///etc/passwd"}, "Не больше 20 изображений"),
    ):
        refused = await client.post(f"{PAGE}/{product['id']}", data={"csrf_token": token, **FULL, **fields})
        assert refused.status_code == 422 and message in refused.text, fields
        (name, typed) = next(iter(fields.items()))
        assert f'name="{name}"' in refused.text and typed.replace(">", "&gt;") in refused.text.replace("&#39;", "'")
    found = await api_get(client, tenant_a, f"products/{product['id']}")
    assert (found["variants"], found["attributes"], found["pictures"], found["dates"]) == ([], {}, [], [])


async def test_viewers_read_and_other_workspaces_get_404(
    client: httpx.AsyncClient,
    database: Database,
    tenant_a: TenantFixture,
    tenant_b: TenantFixture,
    settings: Settings,
    runtime: Runtime,
) -> None:
    product = await api_create(client, tenant_a, "products", {"name": "Кружка", "price": "450"})
    token = await sign_in_as(client, database, tenant_a, Role.viewer)
    page = await client.get(PAGE)
    assert page.status_code == 200 and listed(page) == ["Кружка"] and "data-new-product" not in page.text
    one = await client.get(f"{PAGE}/{product['id']}")
    assert one.status_code == 200 and "<fieldset disabled>" in one.text and "/delete" not in one.text
    for path in (PAGE, f"{PAGE}/{product['id']}", f"{PAGE}/{product['id']}/delete"):
        assert (await client.post(path, data={"csrf_token": token, **MUG})).status_code == 403, path

    async with browser(settings, runtime) as other:
        await sign_in(other, tenant_b)
        token = csrf_of(await other.get(PAGE))
        assert listed(await other.get(PAGE)) == []
        assert (await other.get(f"{PAGE}/{product['id']}")).status_code == 404
        for path in (f"{PAGE}/{product['id']}", f"{PAGE}/{product['id']}/delete"):
            stranger = await other.post(path, data={"csrf_token": token, **MUG})
            assert stranger.status_code == 404 and "Такого товара в вашем пространстве нет." in stranger.text
        assert (await other.get(PAGE, params={"offset": "-1"})).status_code == 422
    assert (await api_get(client, tenant_a, f"products/{product['id']}"))["name"] == "Кружка"
