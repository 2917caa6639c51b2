"""Contacts through the API on the real database: finding them by name (Russian included), e-mail, a number
however it is written, and tag; reading one with its identities; editing it, with every bad input refused by
name; who may do what; other tenants' contacts never found."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.db.database import Database
from easyflow.models.tenancy import Role
from tests.conftest import TenantFixture, make_key
from tests.crm.contact_steps import contact, names, new_contact
from tests.support import PROBLEM


@pytest.fixture
async def anna(client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture) -> str:
    return await new_contact(client, database, tenant_a, "crm-anna", name="Анна Петрова", phone="8 (912) 345-67-89")


@pytest.fixture
async def boris(client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture) -> str:
    return await new_contact(client, database, tenant_a, "crm-boris", name="Борис", phone="+996 555 123 456")


async def test_a_contact_written_in_by_a_channel_has_its_number_in_e164(
    client: httpx.AsyncClient, tenant_a: TenantFixture, anna: str
) -> None:
    body = await contact(client, tenant_a, anna)
    assert body["phone"] == "8 (912) 345-67-89"  # the primary number as the channel wrote it
    assert body["phones"] == ["+79123456789"]
    assert body["tags"] == [] and body["custom_fields"] == {} and body["email"] is None
    assert body["identities"] == [
        {"kind": "api", "external_id": "crm-anna", "created_at": body["identities"][0]["created_at"]}
    ]


@pytest.mark.parametrize(
    "written", ["+79123456789", "8 (912) 345-67-89", "+7 912 345 67 89", "89123456789", "9123456789", "7-912-345-6789"]
)
async def test_search_by_phone_in_any_form(
    client: httpx.AsyncClient, tenant_a: TenantFixture, anna: str, boris: str, written: str
) -> None:
    found = await client.get("/api/v1/contacts", params={"phone": written}, headers=tenant_a.headers)
    assert names(found) == {"Анна Петрова"}, written


async def test_search_by_a_kyrgyz_number_and_by_a_number_that_is_not_one(
    client: httpx.AsyncClient, tenant_a: TenantFixture, anna: str, boris: str
) -> None:
    found = await client.get("/api/v1/contacts", params={"phone": "+996555123456"}, headers=tenant_a.headers)
    assert names(found) == {"Борис"}
    bad = await client.get("/api/v1/contacts", params={"phone": "позвоните мне"}, headers=tenant_a.headers)
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM and "phone" in bad.json()["detail"]
    nul = await client.get("/api/v1/contacts", params={"phone": "+7912\x00"}, headers=tenant_a.headers)
    assert nul.status_code == 422


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("анна", {"Анна Петрова"}),
        ("ПЕТРОВА", {"Анна Петрова"}),
        ("Бор", {"Борис"}),
        ("9123456789", {"Анна Петрова"}),  # the digits of a number
        ("555 123", {"Борис"}),
        ("crm-", {"Анна Петрова", "Борис"}),  # the id a channel knows them by
        ("anna@пример.рф", {"Анна Петрова"}),  # the e-mail, set below
        ("100%_", set()),
    ],
)
async def test_search_by_q(
    client: httpx.AsyncClient, tenant_a: TenantFixture, anna: str, boris: str, q: str, expected: set[str]
) -> None:
    patched = await client.patch(f"/api/v1/contacts/{anna}", json={"email": "anna@пример.рф"}, headers=tenant_a.headers)
    assert patched.status_code == 200, patched.text
    assert names(await client.get("/api/v1/contacts", params={"q": q}, headers=tenant_a.headers)) == expected


async def test_search_by_tag_and_paging(
    client: httpx.AsyncClient, tenant_a: TenantFixture, anna: str, boris: str
) -> None:
    await client.patch(f"/api/v1/contacts/{anna}", json={"tags": ["вип", "тур"]}, headers=tenant_a.headers)
    await client.patch(f"/api/v1/contacts/{boris}", json={"tags": ["тур"]}, headers=tenant_a.headers)
    assert names(await client.get("/api/v1/contacts", params={"tag": "вип"}, headers=tenant_a.headers)) == {
        "Анна Петрова"
    }
    first = await client.get("/api/v1/contacts", params={"tag": "тур", "limit": 1}, headers=tenant_a.headers)
    rest = await client.get(
        "/api/v1/contacts", params={"tag": "тур", "limit": 1, "offset": 1}, headers=tenant_a.headers
    )
    assert first.json()["total"] == rest.json()["total"] == 2
    assert names(first) | names(rest) == {"Анна Петрова", "Борис"}
    combined = await client.get("/api/v1/contacts", params={"tag": "тур", "q": "анна"}, headers=tenant_a.headers)
    assert names(combined) == {"Анна Петрова"}
    assert names(await client.get("/api/v1/contacts", params={"tag": "нет"}, headers=tenant_a.headers)) == set()


async def test_patch_changes_what_is_given_and_keeps_the_rest(
    client: httpx.AsyncClient, tenant_a: TenantFixture, anna: str
) -> None:
    response = await client.patch(
        f"/api/v1/contacts/{anna}",
        json={
            "name": "  Анна Сергеевна Петрова ",
            "phones": ["+7 912 345 67 89", "8 (700) 123-45-67", "+79123456789"],
            "email": "Anna@Example.com",
            "language": "ru",
            "source": "Instagram",
            "tags": ["вип", "вип", "повторный"],
        },
        headers=tenant_a.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "Анна Сергеевна Петрова"
    assert body["phones"] == ["+79123456789", "+77001234567"]  # each once, the primary first
    assert body["phone"] == "8 (912) 345-67-89"  # still the first: kept as it was written
    assert body["email"] == "Anna@example.com"
    assert (body["language"], body["source"], body["tags"]) == ("ru", "Instagram", ["вип", "повторный"])
    assert body["updated_at"] > body["created_at"]

    reordered = await client.patch(
        f"/api/v1/contacts/{anna}", json={"phones": ["87001234567"]}, headers=tenant_a.headers
    )
    assert reordered.json()["phones"] == ["+77001234567"] and reordered.json()["phone"] == "+77001234567"
    assert reordered.json()["email"] == "Anna@example.com"  # left out: unchanged
    cleared = await client.patch(
        f"/api/v1/contacts/{anna}", json={"phones": [], "email": None, "source": None}, headers=tenant_a.headers
    )
    assert cleared.status_code == 200
    assert (cleared.json()["phones"], cleared.json()["phone"], cleared.json()["email"]) == ([], None, None)
    found = await client.get("/api/v1/contacts", params={"phone": "+77001234567"}, headers=tenant_a.headers)
    assert found.json()["total"] == 0


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "anna@"}, "email"),
        ({"phones": ["позвоните"]}, "phones[0]"),
        ({"phones": ["+7912345678900000000"]}, "phones[0]"),
        ({"phones": ["1" * 41]}, "phones"),
        ({"phones": ["+79123456789"] * 11}, "phones"),
        ({"name": "Анна\x00"}, "name"),
        ({"name": "А" * 201}, "name"),
        ({"source": "x\x00"}, "source"),
        ({"tags": ["t" * 65]}, "tags"),
        ({"tags": [f"t{i}" for i in range(51)]}, "tags"),
        ({"language": "русский"}, "language"),
        ({"unreachable": True}, "unreachable"),
        ({"custom_fields": {"unknown_field": "x"}}, "custom_fields.unknown_field"),
        ({"custom_fields": {"budget": "много"}}, "custom_fields.budget"),
        ({"custom_fields": {"budget": True}}, "custom_fields.budget"),
        ({"custom_fields": {"budget": 1e300}}, "custom_fields.budget"),
        ({"custom_fields": {"birthday": "31.12.1990"}}, "custom_fields.birthday"),
        ({"custom_fields": {"birthday": "2026-02-30"}}, "custom_fields.birthday"),
        ({"custom_fields": {"tour": "Луна"}}, "custom_fields.tour"),
        ({"custom_fields": {"note": 5}}, "custom_fields.note"),
        ({"custom_fields": {"note": "x" * 2001}}, "custom_fields"),
        ({"custom_fields": {"note": "a\x00b"}}, "custom_fields"),
        ({"custom_fields": {"note": {"nested": 1}}}, "custom_fields"),
    ],
)
async def test_patch_refuses_bad_input_naming_it(
    client: httpx.AsyncClient,
    tenant_a: TenantFixture,
    anna: str,
    fields: None,
    body: dict[str, object],
    named: str,
) -> None:
    before = await contact(client, tenant_a, anna)
    response = await client.patch(f"/api/v1/contacts/{anna}", json=body, headers=tenant_a.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert named in response.text
    assert await contact(client, tenant_a, anna) == before


@pytest.fixture
async def fields(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    for field in (
        {"key": "budget", "label": "Бюджет", "kind": "number"},
        {"key": "birthday", "label": "Дата рождения", "kind": "date"},
        {"key": "tour", "label": "Тур", "kind": "choice", "choices": ["Иссык-Куль", "Ала-Арча"]},
        {"key": "note", "label": "Пожелания", "kind": "text"},
    ):
        response = await client.post("/api/v1/contact-fields", json=field, headers=tenant_a.headers)
        assert response.status_code == 201, response.text


async def test_custom_fields_are_checked_and_stored_by_key(
    client: httpx.AsyncClient, tenant_a: TenantFixture, anna: str, fields: None
) -> None:
    values = {"budget": 150000.5, "birthday": "1990-12-31", "tour": "Иссык-Куль", "note": " у окна "}
    response = await client.patch(f"/api/v1/contacts/{anna}", json={"custom_fields": values}, headers=tenant_a.headers)
    assert response.status_code == 200, response.text
    assert response.json()["custom_fields"] == {**values, "note": "у окна"}
    removed = await client.patch(
        f"/api/v1/contacts/{anna}", json={"custom_fields": {"note": None, "budget": 90000}}, headers=tenant_a.headers
    )
    assert removed.json()["custom_fields"] == {"budget": 90000, "birthday": "1990-12-31", "tour": "Иссык-Куль"}


async def test_contact_fields_are_defined_changed_and_deleted_with_their_values(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture, anna: str, fields: None
) -> None:
    listed = await client.get("/api/v1/contact-fields", headers=tenant_a.headers)
    assert [field["key"] for field in listed.json()] == ["budget", "birthday", "tour", "note"]
    tour = next(field for field in listed.json() if field["key"] == "tour")
    again = await client.post(
        "/api/v1/contact-fields", json={"key": "tour", "label": "Ещё", "kind": "text"}, headers=tenant_a.headers
    )
    assert again.status_code == 409
    for bad in (
        {"key": "Тур", "label": "x", "kind": "text"},
        {"key": "x", "label": "x", "kind": "choice"},
        {"key": "x", "label": "x", "kind": "text", "choices": ["a"]},
        {"key": "x", "label": "x", "kind": "colour"},
        {"key": "x", "label": " ", "kind": "text"},
        {"key": "x", "label": "a\x00", "kind": "text"},
    ):
        refused = await client.post("/api/v1/contact-fields", json=bad, headers=tenant_a.headers)
        assert refused.status_code == 422, bad
    changed = await client.patch(
        f"/api/v1/contact-fields/{tour['id']}",
        json={"label": "Направление", "choices": ["Иссык-Куль", "Ала-Арча", "Сон-Куль"], "position": 9},
        headers=tenant_a.headers,
    )
    assert changed.status_code == 200 and changed.json()["label"] == "Направление"
    await client.patch(
        f"/api/v1/contacts/{anna}", json={"custom_fields": {"tour": "Сон-Куль"}}, headers=tenant_a.headers
    )
    theirs = await client.patch(f"/api/v1/contact-fields/{tour['id']}", json={"label": "x"}, headers=tenant_b.headers)
    assert theirs.status_code == 404
    assert (await client.delete(f"/api/v1/contact-fields/{tour['id']}", headers=tenant_b.headers)).status_code == 404
    assert (await client.get("/api/v1/contact-fields", headers=tenant_b.headers)).json() == []

    deleted = await client.delete(f"/api/v1/contact-fields/{tour['id']}", headers=tenant_a.headers)
    assert deleted.status_code == 204
    assert "tour" not in (await contact(client, tenant_a, anna))["custom_fields"]
    unknown = await client.patch(
        f"/api/v1/contacts/{anna}", json={"custom_fields": {"tour": "x"}}, headers=tenant_a.headers
    )
    assert unknown.status_code == 422 and "custom_fields.tour" in unknown.json()["detail"]


async def test_roles(client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, anna: str) -> None:
    viewer = {"Authorization": f"Bearer {await make_key(database, tenant_a, Role.viewer)}"}
    operator = {"Authorization": f"Bearer {await make_key(database, tenant_a, Role.operator)}"}
    assert (await client.get("/api/v1/contacts")).status_code == 401
    assert (await client.get(f"/api/v1/contacts/{anna}")).status_code == 401
    assert (await client.get("/api/v1/contacts", headers=viewer)).status_code == 200
    assert (await client.get(f"/api/v1/contacts/{anna}/timeline", headers=viewer)).status_code == 200
    assert (await client.get("/api/v1/contact-fields", headers=viewer)).status_code == 200
    assert (await client.get("/api/v1/contacts/duplicates", headers=viewer)).status_code == 200
    assert (await client.patch(f"/api/v1/contacts/{anna}", json={"name": "x"}, headers=viewer)).status_code == 403
    assert (await client.post(f"/api/v1/contacts/{anna}/notes", json={"text": "x"}, headers=viewer)).status_code == 403
    assert (await client.patch(f"/api/v1/contacts/{anna}", json={"name": "Аня"}, headers=operator)).status_code == 200
    assert (
        await client.post(f"/api/v1/contacts/{anna}/notes", json={"text": "перезвонить"}, headers=operator)
    ).status_code == 201
    field = {"key": "budget", "label": "Бюджет", "kind": "number"}
    assert (await client.post("/api/v1/contact-fields", json=field, headers=operator)).status_code == 403
    created = await client.post("/api/v1/contact-fields", json=field, headers=tenant_a.headers)
    field_id = created.json()["id"]
    for headers in (viewer, operator):
        renamed = await client.patch(f"/api/v1/contact-fields/{field_id}", json={"label": "x"}, headers=headers)
        assert renamed.status_code == 403
        assert (await client.delete(f"/api/v1/contact-fields/{field_id}", headers=headers)).status_code == 403
    assert (await client.get(f"/api/v1/contacts/{anna}/notes", headers=viewer)).status_code == 200
    merge = {"into": anna, "from": anna, "preview": True}
    assert (await client.post("/api/v1/contacts/merge", json=merge, headers=operator)).status_code == 403


async def test_another_tenants_contact_is_not_found_anywhere(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, tenant_b: TenantFixture, anna: str
) -> None:
    theirs = await new_contact(client, database, tenant_b, "their-1", name="Чужой", phone="8 912 345 67 89")
    headers = tenant_a.headers
    for response in (
        await client.get(f"/api/v1/contacts/{theirs}", headers=headers),
        await client.patch(f"/api/v1/contacts/{theirs}", json={"name": "x"}, headers=headers),
        await client.get(f"/api/v1/contacts/{theirs}/notes", headers=headers),
        await client.post(f"/api/v1/contacts/{theirs}/notes", json={"text": "x"}, headers=headers),
        await client.get(f"/api/v1/contacts/{theirs}/timeline", headers=headers),
        await client.post("/api/v1/contacts/merge", json={"into": anna, "from": theirs}, headers=headers),
        await client.post(
            "/api/v1/contacts/merge", json={"into": theirs, "from": anna, "preview": True}, headers=headers
        ),
    ):
        assert response.status_code == 404, response.request.url
        assert response.headers["content-type"] == PROBLEM
    # The same number in both tenants: each finds only its own, and neither is offered as a duplicate.
    found = await client.get("/api/v1/contacts", params={"phone": "+79123456789"}, headers=headers)
    assert names(found) == {"Анна Петрова"}
    assert (await client.get("/api/v1/contacts/duplicates", headers=headers)).json() == []
    assert (await contact(client, tenant_b, theirs))["name"] == "Чужой"


async def test_the_trigger_keeps_the_primary_number_among_the_numbers(session: AsyncSession, anna: str) -> None:
    """Whoever writes `phone` (the accept function knows nothing of `phones`), its E.164 form is kept."""
    await session.execute(text("SELECT set_config('easyflow.scope', 'system', true)"))
    rows = await session.execute(
        text("UPDATE contacts SET phone = :phone WHERE id = :id RETURNING phones"),
        {"phone": "+7 (700) 000-11-22", "id": anna},
    )
    assert rows.scalar_one() == ["+77000001122", "+79123456789"]
    forms = await session.execute(
        text(
            "SELECT easyflow_phone_e164('8 912 345-67-89'), easyflow_phone_e164('79123456789'), "
            "easyflow_phone_e164('+996 555 123 456'), easyflow_phone_e164('9123456789'), easyflow_phone_e164('12')"
        )
    )
    assert tuple(forms.one()) == ("+79123456789", "+79123456789", "+996555123456", "+79123456789", None)
