"""Staff and resources through the API: hours validated (end after start, breaks inside, no overlaps), services
checked against the tenant's own (unknown, archived or another tenant's named in the 422), per-member overrides,
roles, and tenants kept apart."""

from __future__ import annotations

import uuid

import httpx

from easyflow.db.database import Database
from easyflow.models.tenancy import Role
from tests.catalogue.test_services import SERVICES, add_service
from tests.conftest import TenantFixture, make_key

STAFF = "/api/v1/staff"
RESOURCES = "/api/v1/resources"
MONDAY = {"weekday": 0, "start": "10:00", "end": "19:00", "breaks": [{"start": "14:00", "end": "15:00"}]}


async def add_staff(client: httpx.AsyncClient, tenant: TenantFixture, **fields: object) -> dict:
    response = await client.post(STAFF, json={"name": "Айгерим", **fields}, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_a_member_keeps_services_overrides_and_hours(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    haircut = await add_service(client, tenant_a)
    colouring = await add_service(client, tenant_a, name="Окрашивание", duration_minutes=120)
    member = await add_staff(
        client,
        tenant_a,
        services=[haircut["id"], colouring["id"]],
        service_overrides=[{"service_id": colouring["id"], "duration_minutes": 150, "price": "4500"}],
        working_hours=[
            MONDAY,
            {"weekday": 5, "start": "10:00", "end": "13:00"},
            {"weekday": 5, "start": "14:00", "end": "16:30"},
        ],
        days_off=["2026-12-31"],
        exceptions=[{"date": "2027-01-02", "start": "12:00", "end": "16:00"}, {"date": "2027-01-05", "off": True}],
    )
    assert sorted(member["services"]) == sorted([haircut["id"], colouring["id"]])
    assert member["service_overrides"] == [{"service_id": colouring["id"], "duration_minutes": 150, "price": "4500.00"}]
    assert member["working_hours"][0] == MONDAY
    assert member["days_off"] == ["2026-12-31"]
    assert member["exceptions"][1] == {"date": "2027-01-05", "start": None, "end": None, "off": True}
    one = f"{STAFF}/{member['id']}"
    assert (await client.get(one, headers=tenant_a.headers)).json() == member

    changed = await client.patch(
        one, json={"services": [haircut["id"]], "name": "Айгерим Б."}, headers=tenant_a.headers
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["services"], changed.json()["service_overrides"]) == ([haircut["id"]], [])
    assert changed.json()["working_hours"][0] == MONDAY
    listed = await client.get(STAFF, params={"q": "айгерим"}, headers=tenant_a.headers)
    assert [item["name"] for item in listed.json()["items"]] == ["Айгерим Б."]
    assert (await client.delete(one, headers=tenant_a.headers)).status_code == 204
    assert (await client.get(one, headers=tenant_a.headers)).status_code == 404


async def test_bad_hours_are_refused_naming_what_is_wrong(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    cases = [
        ({"working_hours": [{"weekday": 0, "start": "19:00", "end": "10:00"}]}, "is not after start"),
        ({"working_hours": [{"weekday": 7, "start": "10:00", "end": "19:00"}]}, "weekday"),
        ({"working_hours": [{"weekday": 0, "start": "25:00", "end": "26:00"}]}, "start"),
        ({"working_hours": [{**MONDAY, "breaks": [{"start": "09:00", "end": "10:30"}]}]}, "outside the working hours"),
        ({"working_hours": [{**MONDAY, "breaks": [{"start": "15:00", "end": "14:00"}]}]}, "is not after its start"),
        (
            {
                "working_hours": [
                    {**MONDAY, "breaks": [{"start": "12:00", "end": "13:00"}, {"start": "12:30", "end": "13:30"}]}
                ]
            },
            "breaks overlap",
        ),
        (
            {"working_hours": [MONDAY, {"weekday": 0, "start": "18:00", "end": "21:00"}]},
            "working hours of weekday 0 overlap",
        ),
        ({"days_off": ["2026-12-31", "2026-12-31"]}, "days_off repeats"),
        ({"days_off": ["2026-02-30"]}, "days_off"),
        ({"exceptions": [{"date": "2027-01-02"}]}, "give start and end, or off"),
        ({"exceptions": [{"date": "2027-01-02", "off": True, "start": "10:00", "end": "12:00"}]}, "not both"),
        ({"service_overrides": [{"service_id": str(uuid.uuid4()), "price": "1"}]}, "not in services"),
    ]
    for fields, named in cases:
        response = await client.post(STAFF, json={"name": "Мастер", **fields}, headers=tenant_a.headers)
        assert response.status_code == 422 and named in response.text, (fields, response.text)
    assert (await client.get(STAFF, headers=tenant_a.headers)).json()["total"] == 0


async def test_services_must_be_the_tenants_current_ones(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    mine = await add_service(client, tenant_a)
    archived = await add_service(client, tenant_a, name="Старая услуга")
    assert (await client.delete(f"{SERVICES}/{archived['id']}", headers=tenant_a.headers)).status_code == 204
    theirs = await add_service(client, tenant_b)
    unknown = str(uuid.uuid4())
    for foreign in (theirs["id"], unknown, archived["id"]):
        for path in (STAFF, RESOURCES):
            body = {"name": "Мастер", "services": [mine["id"], foreign]}
            response = await client.post(path, json=body, headers=tenant_a.headers)
            assert response.status_code == 422 and foreign in response.text, response.text
            assert mine["id"] not in response.json()["detail"]
    member = await add_staff(client, tenant_a, services=[mine["id"]])
    refused = await client.patch(f"{STAFF}/{member['id']}", json={"services": [theirs["id"]]}, headers=tenant_a.headers)
    assert refused.status_code == 422
    assert (await client.get(f"{STAFF}/{member['id']}", headers=tenant_a.headers)).json()["services"] == [mine["id"]]
    assert (await client.get(STAFF, headers=tenant_a.headers)).json()["total"] == 1
    assert (await client.get(RESOURCES, headers=tenant_a.headers)).json()["total"] == 0


async def test_a_resource_lists_the_services_that_need_it(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    haircut = await add_service(client, tenant_a)
    colouring = await add_service(client, tenant_a, name="Окрашивание")
    created = await client.post(
        RESOURCES, json={"name": "Кресло 1", "services": [haircut["id"]]}, headers=tenant_a.headers
    )
    assert created.status_code == 201, created.text
    one = f"{RESOURCES}/{created.json()['id']}"
    changed = await client.patch(one, json={"services": [colouring["id"]]}, headers=tenant_a.headers)
    assert (changed.json()["name"], changed.json()["services"]) == ("Кресло 1", [colouring["id"]])
    assert (await client.get(RESOURCES, headers=tenant_a.headers)).json()["items"] == [changed.json()]
    assert (await client.post(RESOURCES, json={"name": " "}, headers=tenant_a.headers)).status_code == 422
    assert (await client.delete(one, headers=tenant_a.headers)).status_code == 204
    assert (await client.get(one, headers=tenant_a.headers)).status_code == 404


async def test_viewers_read_and_only_admins_change_staff_and_resources(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture
) -> None:
    member = await add_staff(client, tenant_a)
    resource = await client.post(RESOURCES, json={"name": "Кабинет"}, headers=tenant_a.headers)
    viewer = {"Authorization": f"Bearer {await make_key(database, tenant_a, Role.viewer)}"}
    operator = {"Authorization": f"Bearer {await make_key(database, tenant_a, Role.operator)}"}
    for path, one in ((STAFF, f"{STAFF}/{member['id']}"), (RESOURCES, f"{RESOURCES}/{resource.json()['id']}")):
        assert (await client.get(path)).status_code == 401
        assert (await client.get(one)).status_code == 401
        assert (await client.get(path, headers=viewer)).json()["total"] == 1
        assert (await client.get(one, headers=viewer)).status_code == 200
        assert (await client.post(path, json={"name": "X"}, headers=operator)).status_code == 403
        assert (await client.patch(one, json={"name": "X"}, headers=operator)).status_code == 403
        assert (await client.delete(one, headers=viewer)).status_code == 403
        assert (await client.get(one, headers=tenant_a.headers)).json()["name"] != "X"


async def test_another_tenants_staff_and_resources_are_not_found(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    member = await add_staff(client, tenant_a)
    resource = await client.post(RESOURCES, json={"name": "Кабинет"}, headers=tenant_a.headers)
    for path, one in ((STAFF, f"{STAFF}/{member['id']}"), (RESOURCES, f"{RESOURCES}/{resource.json()['id']}")):
        assert (await client.get(one, headers=tenant_b.headers)).status_code == 404
        assert (await client.patch(one, json={"name": "Чужой"}, headers=tenant_b.headers)).status_code == 404
        assert (await client.delete(one, headers=tenant_b.headers)).status_code == 404
        assert (await client.get(path, headers=tenant_b.headers)).json()["total"] == 0
        assert (await client.get(one, headers=tenant_a.headers)).status_code == 200
