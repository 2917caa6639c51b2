"""Importing price lists through the API: CSV (UTF-8 with and without BOM, Windows-1251, `;` and `,`) and
XLSX, Russian and English headers, Russian number formats, dry runs, bad rows reported by number while the
others are imported, hostile files refused, and tenants kept apart."""

from __future__ import annotations

import io
import zipfile

import httpx
import pytest
from openpyxl import Workbook

from easyflow.app import create_app
from easyflow.config import Settings
from easyflow.db.database import Database
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, make_key

SERVICES = "/api/v1/services"
PRODUCTS = "/api/v1/products"


async def upload(
    client: httpx.AsyncClient,
    tenant: TenantFixture | dict[str, str],
    kind: str,
    data: bytes,
    filename: str = "прайс.csv",
    **params: str,
) -> httpx.Response:
    headers = tenant.headers if isinstance(tenant, TenantFixture) else tenant
    return await client.post(f"/api/v1/{kind}/import", files={"file": (filename, data)}, params=params, headers=headers)


def xlsx(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def listed(client: httpx.AsyncClient, tenant: TenantFixture, path: str) -> dict[str, dict]:
    items = (await client.get(path, params={"limit": 200}, headers=tenant.headers)).json()["items"]
    return {item["name"]: item for item in items}


async def test_services_from_a_russian_cp1251_csv_with_semicolons_and_russian_numbers(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    text = (
        "Категория;Название;Длительность (мин);Цена, руб.;Онлайн-запись\r\n"
        "Стрижки;Стрижка мужская;45;1 500,50;да\r\n"
        "Окрашивание;Окрашивание в один тон;1 ч 30 мин;от 2 800;нет\r\n"
        "Окрашивание;Мелирование;2:00;3 000 – 5 000 руб.;\r\n"
    )
    response = await upload(client, tenant_a, "services", text.encode("cp1251"))
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["created"], report["updated"], report["errors"], report["dry_run"]) == (3, 0, [], False)
    assert [row["row"] for row in report["rows"]] == [2, 3, 4]
    services = await listed(client, tenant_a, SERVICES)
    haircut = services["Стрижка мужская"]
    assert (haircut["category"], haircut["duration_minutes"], haircut["price"], haircut["online_bookable"]) == (
        "Стрижки",
        45,
        "1500.50",
        True,
    )
    colouring = services["Окрашивание в один тон"]
    assert (colouring["duration_minutes"], colouring["price"], colouring["price_from"]) == (90, None, "2800.00")
    assert colouring["online_bookable"] is False
    highlights = services["Мелирование"]
    assert (highlights["duration_minutes"], highlights["price_from"], highlights["price_to"]) == (
        120,
        "3000.00",
        "5000.00",
    )


async def test_a_second_import_updates_by_name_in_any_case_and_keeps_what_it_leaves_empty(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    first = "name,category,duration,price,description\nManicure,Nails,60,1200,Classic\n"
    assert (await upload(client, tenant_a, "services", first.encode())).json()["created"] == 1
    before = (await listed(client, tenant_a, SERVICES))["Manicure"]
    again = "\ufeffNAME,Price,description\nmanicure,1300,\nPedicure,1500,\n"
    report = (await upload(client, tenant_a, "services", again.encode())).json()
    # Pedicure has no duration column at all: refused by its row number; Manicure is updated regardless.
    assert (report["created"], report["updated"]) == (0, 1)
    assert report["rows"] == [{"row": 2, "name": "manicure", "action": "update", "id": before["id"]}]
    assert report["errors"][0]["row"] == 3 and "duration_minutes" in report["errors"][0]["problems"][0]
    after = (await listed(client, tenant_a, SERVICES))["Manicure"]
    assert (after["price"], after["description"], after["category"], after["duration_minutes"]) == (
        "1300.00",
        "Classic",
        "Nails",
        60,
    )
    assert len(await listed(client, tenant_a, SERVICES)) == 1


async def test_products_from_xlsx_with_english_headers_and_attributes(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    data = xlsx(
        [
            ["Name", "Price", "Currency", "Stock", "Colour", "Description"],
            ["Mug", 450.5, "сом", 12, "white", "Ceramic, 300 ml"],
            ["Кружка большая", "1 200", "₽", "3 шт", None, None],
        ]
    )
    report = (await upload(client, tenant_a, "products", data, "price.xlsx")).json()
    assert (report["created"], report["errors"]) == (2, []), report
    products = await listed(client, tenant_a, PRODUCTS)
    mug = products["Mug"]
    assert (mug["price"], mug["currency"], mug["stock"], mug["attributes"]) == (
        "450.50",
        "KGS",
        12,
        {"Colour": "white"},
    )
    assert mug["description"] == "Ceramic, 300 ml"
    big = products["Кружка большая"]
    assert (big["price"], big["currency"], big["stock"], big["attributes"]) == ("1200.00", "RUB", 3, {})
    update = xlsx([["Название", "Остаток", "Материал"], ["MUG", 0, "керамика"]])
    report = (await upload(client, tenant_a, "products", update, "остатки.xlsx")).json()
    assert (report["created"], report["updated"]) == (0, 1)
    mug = (await listed(client, tenant_a, PRODUCTS))["Mug"]
    assert (mug["stock"], mug["price"], mug["attributes"]) == (0, "450.50", {"Colour": "white", "Материал": "керамика"})


async def test_a_dry_run_reports_what_would_happen_and_writes_nothing(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    await upload(client, tenant_a, "products", "Название;Цена\nКружка;500\n".encode())
    data = "Название;Цена\nкружка;650\nФутболка;1 990\nЧашка;дорого\n".encode()
    report = (await upload(client, tenant_a, "products", data, dry_run="true")).json()
    assert report["dry_run"] is True
    assert [(row["name"], row["action"]) for row in report["rows"]] == [("кружка", "update"), ("Футболка", "create")]
    assert report["rows"][1]["id"] is None
    assert report["errors"] == [{"row": 4, "name": "Чашка", "problems": ["price: «дорого» is not a price"]}]
    products = await listed(client, tenant_a, PRODUCTS)
    assert list(products) == ["Кружка"] and products["Кружка"]["price"] == "500.00"


async def test_bad_rows_are_reported_by_number_and_the_others_imported(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    await upload(client, tenant_a, "services", b"name,duration,price\nStored,30,100\n")
    text = (
        "name,duration,price,category\n"
        "Good,30,500,A\n"
        ",30,500,A\n"  # no name
        "Too long,2000,500,A\n"  # more than a day
        "Negative,30,-5,A\n"
        "Good,45,600,A\n"  # the same name again
        "stored,30,10 – 5,A\n"  # a range upside down: the stored service stays as it was
        '=HYPERLINK("http://evil"),30,100,@SUM(A1)\n'
    )
    report = (await upload(client, tenant_a, "services", text.encode())).json()
    errors = {error["row"]: error["problems"] for error in report["errors"]}
    assert set(errors) == {3, 4, 5, 6, 7}, report
    assert "name" in errors[3][0] and "duration_minutes" in errors[4][0] and "price" in errors[5][0]
    assert "row 2" in errors[6][0] and "price_from" in errors[7][0]
    services = await listed(client, tenant_a, SERVICES)
    assert services["Stored"]["price"] == "100.00" and services["Stored"]["price_from"] is None
    formula = services['\'=HYPERLINK("http://evil")']
    assert formula["category"] == "'@SUM(A1)"
    assert set(services) == {"Stored", "Good", '\'=HYPERLINK("http://evil")'}


@pytest.mark.parametrize(
    ("data", "filename", "status", "says"),
    [
        (b"%PDF-1.7\n...", "price.pdf", 415, "PDF"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "price.xls", 415, ".xlsx"),
        (b"name,price\nMug,1\x00\n", "price.csv", 422, "NUL"),
        (b"", "empty.csv", 422, "empty"),
        (b"price,stock\n1,2\n", "noname.csv", 422, "name column"),
        (b"PK\x03\x04 not really a zip", "broken.xlsx", 422, "XLSX"),
    ],
)
async def test_files_that_are_not_price_lists_are_refused(
    client: httpx.AsyncClient, tenant_a: TenantFixture, data: bytes, filename: str, status: int, says: str
) -> None:
    response = await upload(client, tenant_a, "products", data, filename)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert says in response.json()["detail"]


def _zip(parts: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return buffer.getvalue()


async def test_zip_bombs_and_plain_zips_are_refused_before_unpacking(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    bomb = _zip({"xl/workbook.xml": b"<x/>", "xl/worksheets/sheet1.xml": b" " * (60 * 1024 * 1024)})
    response = await upload(client, tenant_a, "products", bomb, "bomb.xlsx")
    assert response.status_code == 422 and "unpacks" in response.json()["detail"]
    plain = _zip({"readme.txt": b"hello"})
    assert (await upload(client, tenant_a, "products", plain, "archive.xlsx")).status_code == 415


async def test_too_many_rows_and_too_big_files_are_refused(
    settings: Settings, runtime: Runtime, client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    rows = "name;price\n" + "".join(f"Товар {n};{n}\n" for n in range(5001))
    response = await upload(client, tenant_a, "products", rows.encode())
    assert response.status_code == 422 and "5,000 rows" in response.json()["detail"]
    small = create_app(settings.model_copy(update={"catalogue_import_max_bytes": 1000}), runtime=runtime)
    transport = httpx.ASGITransport(app=small, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as limited:
        refused = await upload(limited, tenant_a, "products", b"name;price\n" + b"x;1\n" * 400)
        assert refused.status_code == 413
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert (await client.get(PRODUCTS, headers=tenant_a.headers)).json()["total"] == 0


async def test_only_admins_import_and_each_tenant_updates_only_its_own(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await upload(client, tenant_a, "products", b"name,price\nMug,100\n")
    operator = {"Authorization": f"Bearer {await make_key(database, tenant_a, Role.operator)}"}
    assert (await upload(client, operator, "products", b"name,price\nMug,1\n")).status_code == 403
    assert (await client.post("/api/v1/products/import", files={"file": ("a.csv", b"x")})).status_code == 401
    report = (await upload(client, tenant_b, "products", b"name,price\nmug,999\n")).json()
    assert (report["created"], report["updated"]) == (1, 0)
    mine = (await listed(client, tenant_a, PRODUCTS))["Mug"]
    assert mine["price"] == "100.00"
    theirs = (await listed(client, tenant_b, PRODUCTS))["mug"]
    assert (await client.get(f"{PRODUCTS}/{theirs['id']}", headers=tenant_a.headers)).status_code == 404


async def test_names_shared_by_stored_items_and_xlsx_formulas_are_not_guessed_at(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    for price in ("100", "200"):
        created = await client.post(PRODUCTS, json={"name": "Дубль", "price": price}, headers=tenant_a.headers)
        assert created.status_code == 201
    data = xlsx(
        [
            ["Название", "Цена", "Описание"],
            ["дубль", 300, None],
            ['=HYPERLINK("http://evil","Жми")', 10, None],  # a formula never computed: no name at all
            ["Открытка", "=2*50", "-cmd|' /C calc'!A0"],
        ]
    )
    report = (await upload(client, tenant_a, "products", data, "формулы.xlsx")).json()
    errors = {error["row"]: error["problems"] for error in report["errors"]}
    assert set(errors) == {2, 3, 4}, report
    assert "several stored products" in errors[2][0]
    assert errors[3] == ["name: the row has no name"]
    assert errors[4] == ["price: Field required"]  # a formula is never run here: unsaved, its result is empty
    prices = sorted(item["price"] for item in (await listed_all(client, tenant_a)))
    assert prices == ["100.00", "200.00"]
    text_only = xlsx([["name", "price", "description"], ["Открытка", 50, "-cmd|' /C calc'!A0"]])
    report = (await upload(client, tenant_a, "products", text_only, "описание.xlsx")).json()
    assert report["created"] == 1, report
    assert (await listed(client, tenant_a, PRODUCTS))["Открытка"]["description"] == "'-cmd|' /C calc'!A0"


async def listed_all(client: httpx.AsyncClient, tenant: TenantFixture) -> list[dict]:
    return list((await client.get(PRODUCTS, params={"limit": 200}, headers=tenant.headers)).json()["items"])
