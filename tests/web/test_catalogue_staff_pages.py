"""The Staff pages over HTTP through the app: an admin adds a member, gives them services with their own length
and price, a week of hours with breaks, days off and one-off changes, and removes them; each mistake is named
by its day or field, in Russian, with what was typed kept; hours made through the API in several pieces show
as one day with breaks and save back to the same free times; viewers read, other workspaces get 404."""

from __future__ import annotations

import re

import httpx

from easyflow.config import Settings
from easyflow.db.database import Database
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, make_member
from tests.web.catalogue_pages import api_create, api_get, sign_in_as
from tests.web.dashboard import browser, csrf_of, sign_in

PAGE = "/app/staff"
NO_HOURS = {f"{part}-{weekday}": "" for part in ("start", "end", "breaks") for weekday in range(7)}


def week(**days: tuple[str, str, str]) -> dict[str, str]:
    """The hours form: `mon=("10:00", "19:00", "13:00–14:00")`, other days off."""
    names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    form = dict(NO_HOURS)
    for name, (start, end, breaks) in days.items():
        weekday = names.index(name)
        form |= {f"start-{weekday}": start, f"end-{weekday}": end, f"breaks-{weekday}": breaks}
    return form


async def new_member(client: httpx.AsyncClient, token: str, name: str = "Анна") -> str:
    added = await client.post(PAGE, data={"csrf_token": token, "name": name})
    assert added.status_code == 303, added.text
    return str(added.headers["location"].rsplit("/", 1)[1])


async def test_an_admin_sets_up_a_member_of_staff(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    haircut = await api_create(client, tenant_a, "services", {"name": "Стрижка", "duration_minutes": 60, "price": 1500})
    colour = await api_create(client, tenant_a, "services", {"name": "Окрашивание", "duration_minutes": 120})
    await sign_in(client, tenant_a)
    empty = await client.get(PAGE)
    assert empty.status_code == 200 and "Сотрудников пока нет." in empty.text
    assert '<a href="/app/services" aria-current="page">Каталог</a>' in empty.text
    token = csrf_of(empty)
    member_id = await new_member(client, token)
    page = await client.get(f"{PAGE}/{member_id}")
    assert page.status_code == 200 and "<h1>Анна</h1>" in page.text and "Услуг пока нет." in page.text

    own = {
        "csrf_token": token,
        "service_id": haircut["id"],
        "duration_minutes": "45",
        "price": "1 200",
        "action": "save",
    }
    assert (await client.post(f"{PAGE}/{member_id}/services", data=own)).status_code == 303
    plain = {"csrf_token": token, "service_id": colour["id"], "duration_minutes": "", "price": "", "action": "save"}
    assert (await client.post(f"{PAGE}/{member_id}/services", data=plain)).status_code == 303
    member = await api_get(client, tenant_a, f"staff/{member_id}")
    assert member["services"] == sorted([haircut["id"], colour["id"]])
    assert member["service_overrides"] == [{"service_id": haircut["id"], "duration_minutes": 45, "price": "1200.00"}]
    page = await client.get(f"{PAGE}/{member_id}")
    assert f'id="own-duration-{haircut["id"]}"' in page.text and 'value="1200.00"' in page.text
    assert "Выполняет все услуги." in page.text

    hours = week(mon=("10:00", "19:00", "13:00–14:00, 16:00 - 16:15"), sat=("11:00", "16:00", ""))
    assert (await client.post(f"{PAGE}/{member_id}/hours", data={"csrf_token": token, **hours})).status_code == 303
    member = await api_get(client, tenant_a, f"staff/{member_id}")
    assert member["working_hours"] == [
        {
            "weekday": 0,
            "start": "10:00",
            "end": "19:00",
            "breaks": [{"start": "13:00", "end": "14:00"}, {"start": "16:00", "end": "16:15"}],
        },
        {"weekday": 5, "start": "11:00", "end": "16:00", "breaks": []},
    ]
    page = await client.get(f"{PAGE}/{member_id}")
    assert 'name="breaks-0" type="text" maxlength="400" placeholder="13:00–14:00" value="13:00–14:00, 16:00–16:15"' in (
        page.text
    )
    listing = await client.get(PAGE)
    row = listing.text.split('data-member="Анна"')[1].split("</tr>")[0]
    assert "Понедельник: 10:00–19:00" in row and "Стрижка" in row and "Окрашивание" in row

    day_off = {"csrf_token": token, "date": "2026-12-31", "action": "add"}
    assert (await client.post(f"{PAGE}/{member_id}/days-off", data=day_off)).status_code == 303
    twice = await client.post(f"{PAGE}/{member_id}/days-off", data=day_off)
    assert twice.status_code == 422 and "Этот день уже выходной." in twice.text
    change = {"csrf_token": token, "date": "2027-01-02", "start": "12:00", "end": "15:00", "action": "add"}
    assert (await client.post(f"{PAGE}/{member_id}/exceptions", data=change)).status_code == 303
    off = {"csrf_token": token, "date": "2027-01-05", "off": "on", "start": "", "end": "", "action": "add"}
    assert (await client.post(f"{PAGE}/{member_id}/exceptions", data=off)).status_code == 303
    member = await api_get(client, tenant_a, f"staff/{member_id}")
    assert member["days_off"] == ["2026-12-31"]
    assert member["exceptions"] == [
        {"date": "2027-01-02", "start": "12:00", "end": "15:00", "off": False},
        {"date": "2027-01-05", "start": None, "end": None, "off": True},
    ]
    page = await client.get(f"{PAGE}/{member_id}")
    assert 'data-day-off="2026-12-31"' in page.text and "12:00–15:00" in page.text and "выходной" in page.text

    remove = {"action": "remove", "csrf_token": token}
    assert (await client.post(f"{PAGE}/{member_id}/days-off", data={**remove, "date": "2026-12-31"})).status_code == 303
    assert (
        await client.post(f"{PAGE}/{member_id}/exceptions", data={**remove, "date": "2027-01-02"})
    ).status_code == 303
    dropped = {**remove, "service_id": haircut["id"]}
    assert (await client.post(f"{PAGE}/{member_id}/services", data=dropped)).status_code == 303
    member = await api_get(client, tenant_a, f"staff/{member_id}")
    assert (member["days_off"], [change["date"] for change in member["exceptions"]]) == ([], ["2027-01-05"])
    assert (member["services"], member["service_overrides"]) == ([colour["id"]], [])

    renamed = await client.post(f"{PAGE}/{member_id}", data={"csrf_token": token, "name": "Анна Петрова"})
    assert renamed.status_code == 303
    assert (await api_get(client, tenant_a, f"staff/{member_id}"))["name"] == "Анна Петрова"
    assert (await client.post(f"{PAGE}/{member_id}/delete", data={"csrf_token": token})).status_code == 303
    assert (await api_get(client, tenant_a, "staff"))["items"] == []


async def test_each_mistake_is_named_and_nothing_typed_is_lost(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    archived = await api_create(client, tenant_a, "services", {"name": "Старое", "duration_minutes": 30})
    await client.delete(f"/api/v1/services/{archived['id']}", headers=tenant_a.headers)
    service = await api_create(client, tenant_a, "services", {"name": "Стрижка", "duration_minutes": 60})
    await sign_in(client, tenant_a)
    token = csrf_of(await client.get(PAGE))
    refused = await client.post(PAGE, data={"csrf_token": token, "name": " "})
    assert refused.status_code == 422 and "Укажите имя от 1 до 200 символов." in refused.text
    member_id = await new_member(client, token)
    good = week(tue=("09:00", "18:00", "13:00–14:00"))
    for day, message in (
        (("10:00", "", ""), "Понедельник: укажите и начало, и конец"),
        (("", "", "13:00–14:00"), "Понедельник: перерывы бывают только внутри рабочих часов"),
        (("10:00", "25:00", ""), "Понедельник: запишите время в часах и минутах"),
        (("10:00", "19:00", "обед"), "Понедельник: запишите перерывы так"),
        (("10:00", "19:00", "09:00–10:30"), "Понедельник: конец должен быть позже начала"),
        (("10:00", "19:00", "13:00–14:00, 13:30–14:30"), "Понедельник: конец должен быть позже начала"),
        (("19:00", "10:00", ""), "Понедельник: конец должен быть позже начала"),
    ):
        typed = {**good, "start-0": day[0], "end-0": day[1], "breaks-0": day[2]}
        answer = await client.post(f"{PAGE}/{member_id}/hours", data={"csrf_token": token, **typed})
        assert answer.status_code == 422 and message in answer.text, day
        assert (
            'id="breaks-1" name="breaks-1" type="text" maxlength="400" placeholder="13:00–14:00" value="13:00–14:00"'
            in (answer.text)
        )
        assert f'value="{day[2]}"' in answer.text
    assert (await api_get(client, tenant_a, f"staff/{member_id}"))["working_hours"] == []

    for typed, message in (
        ({"service_id": archived["id"]}, "Выберите одну из услуг списка."),
        ({"service_id": "не-id"}, "Выберите одну из услуг списка."),
        ({"service_id": service["id"], "duration_minutes": "2"}, "Своя длительность — целое число минут"),
        ({"service_id": service["id"], "price": "дорого"}, "Своя длительность — целое число минут"),
    ):
        answer = await client.post(
            f"{PAGE}/{member_id}/services", data={"csrf_token": token, "form": "add-service", "action": "save", **typed}
        )
        assert answer.status_code == 422 and message in answer.text, typed
    kept = await client.post(
        f"{PAGE}/{member_id}/services",
        data={"csrf_token": token, "form": "add-service", "service_id": service["id"], "price": "много"},
    )
    assert 'id="add-price" name="price" type="text" inputmode="decimal" maxlength="20" value="много"' in kept.text
    for path, typed, message in (
        ("days-off", {"date": ""}, "Выберите дату."),
        ("days-off", {"date": "2026-02-30"}, "Выберите дату."),
        ("exceptions", {"date": "2027-01-02", "start": "15:00", "end": "12:00"}, "Для разового изменения"),
        ("exceptions", {"date": "2027-01-02", "start": "12:00"}, "Для разового изменения"),
    ):
        answer = await client.post(
            f"{PAGE}/{member_id}/{path}", data={"csrf_token": token, "form": path, "action": "add", **typed}
        )
        assert answer.status_code == 422 and message in answer.text, typed
    assert 'id="change-start" name="start" type="time" value="12:00"' in answer.text
    member = await api_get(client, tenant_a, f"staff/{member_id}")
    assert (member["services"], member["days_off"], member["exceptions"]) == ([], [], [])


async def test_hours_in_several_pieces_show_as_one_day_with_breaks(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    member = await api_create(
        client,
        tenant_a,
        "staff",
        {
            "name": "Борис",
            "working_hours": [
                {"weekday": 2, "start": "14:00", "end": "19:00", "breaks": [{"start": "16:00", "end": "16:30"}]},
                {"weekday": 2, "start": "09:00", "end": "12:00"},
            ],
        },
    )
    await sign_in(client, tenant_a)
    page = await client.get(f"{PAGE}/{member['id']}")
    assert (
        'name="start-2" type="time" value="09:00"' in page.text
        and 'name="end-2" type="time" value="19:00"' in page.text
    )
    assert 'value="12:00–14:00, 16:00–16:30"' in page.text
    shown = {
        name: value for name, value in re.findall(r'name="((?:start|end|breaks)-\d)"[^>]*value="([^"]*)"', page.text)
    }
    saved = await client.post(f"{PAGE}/{member['id']}/hours", data={"csrf_token": csrf_of(page), **shown})
    assert saved.status_code == 303
    assert (await api_get(client, tenant_a, f"staff/{member['id']}"))["working_hours"] == [
        {
            "weekday": 2,
            "start": "09:00",
            "end": "19:00",
            "breaks": [{"start": "12:00", "end": "14:00"}, {"start": "16:00", "end": "16:30"}],
        }
    ]


async def test_viewers_read_and_other_workspaces_get_404(
    client: httpx.AsyncClient,
    database: Database,
    tenant_a: TenantFixture,
    tenant_b: TenantFixture,
    settings: Settings,
    runtime: Runtime,
) -> None:
    service = await api_create(client, tenant_a, "services", {"name": "Стрижка", "duration_minutes": 60})
    member = await api_create(
        client,
        tenant_a,
        "staff",
        {
            "name": "Анна",
            "services": [service["id"]],
            "working_hours": [{"weekday": 0, "start": "10:00", "end": "19:00"}],
        },
    )
    posts = {
        PAGE: {"name": "Новая"},
        f"{PAGE}/{member['id']}": {"name": "Чужая"},
        f"{PAGE}/{member['id']}/services": {"service_id": service["id"], "action": "remove"},
        f"{PAGE}/{member['id']}/hours": NO_HOURS,
        f"{PAGE}/{member['id']}/days-off": {"date": "2026-12-31", "action": "add"},
        f"{PAGE}/{member['id']}/exceptions": {"date": "2026-12-31", "off": "on", "action": "add"},
        f"{PAGE}/{member['id']}/account": {"user_id": ""},
        f"{PAGE}/{member['id']}/delete": {},
    }
    token = await sign_in_as(client, database, tenant_a, Role.viewer)
    page = await client.get(f"{PAGE}/{member['id']}")
    assert page.status_code == 200 and 'value="10:00"' in page.text and "data-add-day-off" not in page.text
    assert "<fieldset disabled>" in page.text and "data-new-member" not in (await client.get(PAGE)).text
    for path, fields in posts.items():
        refused = await client.post(path, data={"csrf_token": token, **fields})
        assert refused.status_code == 403, path

    async with browser(settings, runtime) as other:
        await sign_in(other, tenant_b)
        token = csrf_of(await other.get(PAGE))
        assert "data-member=" not in (await other.get(PAGE)).text
        assert (await other.get(f"{PAGE}/{member['id']}")).status_code == 404
        for path, fields in posts.items():
            if path == PAGE:
                continue
            stranger = await other.post(path, data={"csrf_token": token, **fields})
            assert stranger.status_code == 404 and "Такого сотрудника в вашем пространстве нет." in stranger.text, path
        # Another workspace's service cannot be given to one's own member either.
        own = await new_member(other, token, "Свой")
        taken = {"csrf_token": token, "service_id": service["id"], "action": "save"}
        assert (await other.post(f"{PAGE}/{own}/services", data=taken)).status_code == 422
    found = await api_get(client, tenant_a, f"staff/{member['id']}")
    assert (found["name"], found["services"], found["days_off"], len(found["working_hours"])) == (
        "Анна",
        [service["id"]],
        [],
        1,
    )


async def test_a_service_archived_since_does_not_block_changing_their_services(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    old = await api_create(client, tenant_a, "services", {"name": "Химзавивка", "duration_minutes": 90})
    new = await api_create(client, tenant_a, "services", {"name": "Стрижка", "duration_minutes": 60})
    member = await api_create(client, tenant_a, "staff", {"name": "Анна", "services": [old["id"]]})
    await client.delete(f"/api/v1/services/{old['id']}", headers=tenant_a.headers)
    await sign_in(client, tenant_a)
    page = await client.get(f"{PAGE}/{member['id']}")
    assert "data-archived-services" in page.text and "Химзавивка" in page.text
    added = await client.post(
        f"{PAGE}/{member['id']}/services",
        data={"csrf_token": csrf_of(page), "form": "add-service", "service_id": new["id"], "action": "save"},
    )
    assert added.status_code == 303
    assert (await api_get(client, tenant_a, f"staff/{member['id']}"))["services"] == [new["id"]]


async def test_a_day_is_named_in_english_when_the_member_chose_it(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    await sign_in(client, tenant_a)
    token = csrf_of(await client.get(PAGE))
    await client.post("/app/account/language", data={"csrf_token": token, "language": "en", "next": PAGE})
    member_id = await new_member(client, token)
    refused = await client.post(f"{PAGE}/{member_id}/hours", data={"csrf_token": token, **week(fri=("10:00", "", ""))})
    assert refused.status_code == 422
    assert "Friday: give both the start and the end, or neither for a day off." in refused.text
    assert '<h2 id="hours-title">Weekly hours</h2>' in refused.text


async def test_an_admin_links_a_member_of_staff_to_their_dashboard_account(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    operator_email = await make_member(database, tenant_a, Role.operator)
    member = await api_create(client, tenant_a, "staff", {"name": "Ольга"})
    await sign_in(client, tenant_a)
    page = await client.get(f"{PAGE}/{member['id']}")
    assert '<h2 id="account-title">Уведомления о записях</h2>' in page.text
    assert f">{operator_email}</option>" in page.text
    token = csrf_of(page)
    operator_id = next(
        person["user_id"]
        for person in (await client.get("/api/v1/users", headers=tenant_a.headers)).json()["items"]
        if person["email"] == operator_email
    )
    linked = await client.post(f"{PAGE}/{member['id']}/account", data={"csrf_token": token, "user_id": operator_id})
    assert linked.status_code == 303 and linked.headers["location"].endswith("#account")
    assert (await api_get(client, tenant_a, f"staff/{member['id']}"))["user_id"] == operator_id
    shown = await client.get(f"{PAGE}/{member['id']}")
    assert f'<option value="{operator_id}" selected>{operator_email}</option>' in shown.text

    for wrong in (str(tenant_b.owner_id), "not-an-id"):
        refused = await client.post(f"{PAGE}/{member['id']}/account", data={"csrf_token": token, "user_id": wrong})
        assert refused.status_code == 422 and "Выберите одного из участников пространства или никого." in refused.text
    assert (await api_get(client, tenant_a, f"staff/{member['id']}"))["user_id"] == operator_id
    unlinked = await client.post(f"{PAGE}/{member['id']}/account", data={"csrf_token": token, "user_id": ""})
    assert unlinked.status_code == 303
    assert (await api_get(client, tenant_a, f"staff/{member['id']}"))["user_id"] is None
