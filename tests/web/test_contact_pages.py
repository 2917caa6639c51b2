"""The Contacts pages over HTTP through the app, on the real database: searching by name, phone (however it
is written) and a channel's id for the customer; a contact's profile with all their conversations across
channels, each linking to its page; other tenants' contacts not found; hostile searches answered 4xx."""

from __future__ import annotations

import uuid

import httpx
import pytest

from easyflow.conversations.accept import ChannelRef, Inbound, InboundService
from easyflow.db.database import Database
from easyflow.models.tenancy import Role
from tests.conftest import TenantFixture, make_member
from tests.web.dashboard import home_csrf, open_login, sign_in


async def customer_writes(
    database: Database,
    tenant: TenantFixture,
    external_id: str,
    text: str,
    *,
    name: str | None = None,
    phone: str | None = None,
    channel: ChannelRef | None = None,
) -> uuid.UUID:
    """A customer's message through the API channel (or `channel`), known by their API id; the conversation."""
    accepted = await InboundService(database, tenant.id).accept(
        channel or ChannelRef(type="api", key="api"),
        Inbound(
            identity_kind="api",
            contact_external_id=external_id,
            contact_name=name,
            contact_phone=phone,
            text=text,
            external_message_id=uuid.uuid4().hex,
        ),
    )
    return accepted.conversation_id


async def contact_id_of(client: httpx.AsyncClient, tenant: TenantFixture, conversation_id: uuid.UUID) -> str:
    response = await client.get(f"/api/v1/conversations/{conversation_id}", headers=tenant.headers)
    return str(response.json()["contact"]["id"])


@pytest.fixture
async def customers(client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture) -> dict[str, str]:
    anna = await customer_writes(
        database, tenant_a, "crm-anna-17", "Здравствуйте", name="Анна Петрова", phone="+7 (912) 345-67-89"
    )
    boris = await customer_writes(database, tenant_a, "crm-boris-42", "Добрый день", name="Борис", phone="+79001112233")
    return {
        "anna": await contact_id_of(client, tenant_a, anna),
        "boris": await contact_id_of(client, tenant_a, boris),
    }


async def test_the_list_and_search_by_name_phone_and_channel_id(
    client: httpx.AsyncClient, tenant_a: TenantFixture, customers: dict[str, str]
) -> None:
    await sign_in(client, tenant_a)
    everyone = await client.get("/app/contacts")
    assert everyone.status_code == 200
    assert "Анна Петрова" in everyone.text and "Борис" in everyone.text and "2 контакта" in everyone.text
    assert f'href="/app/contacts/{customers["anna"]}"' in everyone.text
    for q, found, not_found in (
        ("анна", "Анна Петрова", "Борис"),
        ("ПЕТРОВ", "Анна Петрова", "Борис"),
        ("+7 912", "Анна Петрова", "Борис"),
        ("9123456789", "Анна Петрова", "Борис"),  # the digits, however the phone was written
        ("900 111", "Борис", "Анна Петрова"),
        ("boris-42", "Борис", "Анна Петрова"),  # the id the channel knows the customer by
    ):
        result = await client.get("/app/contacts", params={"q": q})
        assert result.status_code == 200, q
        assert found in result.text and not_found not in result.text, q
        assert f'value="{q}"' in result.text
    nobody = await client.get("/app/contacts", params={"q": "100%_"})
    assert nobody.status_code == 200 and "data-no-contacts" in nobody.text and "0 контактов" in nobody.text


async def test_the_list_is_filtered_by_channel(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, customers: dict[str, str]
) -> None:
    accepted = await InboundService(database, tenant_a.id).accept(
        ChannelRef(type="telegram", key="bot-1"),
        Inbound(
            identity_kind="telegram",
            contact_external_id="700100200",
            contact_name="Вера",
            text="Привет",
            external_message_id="tg-1",
        ),
    )
    assert accepted.conversation_id is not None
    await sign_in(client, tenant_a)
    everyone = await client.get("/app/contacts")
    assert (
        '<option value="telegram">Telegram</option>' in everyone.text
        and '<option value="api">API</option>' in everyone.text
    )
    telegram = await client.get("/app/contacts", params={"channel": "telegram"})
    assert "Вера" in telegram.text and "Борис" not in telegram.text and "1 контакт" in telegram.text
    assert '<option value="telegram" selected>' in telegram.text
    api = await client.get("/app/contacts", params={"channel": "api", "q": "борис"})
    assert "Борис" in api.text and "Вера" not in api.text and "Анна" not in api.text
    forged = await client.get("/app/contacts", params={"channel": "x" * 300})
    assert forged.status_code == 200 and "3 контакта" in forged.text


async def test_a_contacts_page_shows_the_profile_and_all_conversations_across_channels(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, customers: dict[str, str]
) -> None:
    first = await client.get(
        "/api/v1/conversations", params={"contact_id": customers["anna"]}, headers=tenant_a.headers
    )
    [api_conversation] = first.json()["items"]
    # The same customer (known by the same id) writing through another channel: a second conversation.
    other = await customer_writes(
        database, tenant_a, "crm-anna-17", "А через бота можно?", channel=ChannelRef(type="telegram", key="bot-1")
    )
    await sign_in(client, tenant_a)
    page = await client.get(f"/app/contacts/{customers['anna']}")
    assert page.status_code == 200
    assert 'data-field="name">Анна Петрова<' in page.text and "+7 (912) 345-67-89" in page.text
    assert "<code>crm-anna-17</code>" in page.text
    assert f'href="/app/conversations/{api_conversation["id"]}"' in page.text
    assert f'href="/app/conversations/{other}"' in page.text
    assert "А через бота можно?" in page.text and "Здравствуйте" in page.text
    assert "Добрый день" not in page.text  # Boris's conversation is not Anna's


async def test_any_member_may_read_contacts(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, customers: dict[str, str]
) -> None:
    email = await make_member(database, tenant_a, Role.viewer)
    token = await open_login(client)
    await client.post("/app/login", data={"email": email, "password": "member-pass-1", "csrf_token": token})
    await home_csrf(client)
    assert (await client.get("/app/contacts")).status_code == 200
    assert (await client.get(f"/app/contacts/{customers['boris']}")).status_code == 200


async def test_another_tenants_contact_is_not_found_nor_listed(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    theirs = await customer_writes(database, tenant_b, "their-1", "Привет", name="Чужой клиент", phone="+70000000001")
    their_contact = await contact_id_of(client, tenant_b, theirs)
    await sign_in(client, tenant_a)
    page = await client.get(f"/app/contacts/{their_contact}")
    assert page.status_code == 404 and "Чужой клиент" not in page.text
    for q in ("", "Чужой", "their-1", "70000000001"):
        listed = await client.get("/app/contacts", params={"q": q})
        assert "Чужой клиент" not in listed.text, q
    assert (await client.get(f"/app/contacts/{uuid.uuid4()}")).status_code == 404


async def test_hostile_searches_are_refused_with_a_page(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    await sign_in(client, tenant_a)
    for params in ({"q": "анна\x00"}, {"q": "a" * 5000}, {"q": "\x1b[31m"}):
        refused = await client.get("/app/contacts", params=params)
        assert refused.status_code == 400 and "<html" in refused.text
    for params in ({"p": "0"}, {"p": "abc"}, {"p": "99999999999"}):
        assert 400 <= (await client.get("/app/contacts", params=params)).status_code < 500
    assert (await client.get("/app/contacts/not-a-uuid")).status_code in (404, 422)


async def test_signed_out_visitors_are_sent_to_sign_in(client: httpx.AsyncClient, customers: dict[str, str]) -> None:
    for path in ("/app/contacts", f"/app/contacts/{customers['anna']}"):
        response = await client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/app/login"


async def test_an_operator_edits_a_contact_and_adds_a_note(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, customers: dict[str, str]
) -> None:
    for field in (
        {"key": "budget", "label": "Бюджет", "kind": "number"},
        {"key": "tour", "label": "Тур", "kind": "choice", "choices": ["Иссык-Куль", "Ала-Арча"]},
    ):
        assert (await client.post("/api/v1/contact-fields", json=field, headers=tenant_a.headers)).status_code == 201
    email = await make_member(database, tenant_a, Role.operator)
    token = await open_login(client)
    await client.post("/app/login", data={"email": email, "password": "member-pass-1", "csrf_token": token})
    csrf = await home_csrf(client)
    anna = customers["anna"]
    page = await client.get(f"/app/contacts/{anna}")
    assert "data-contact-form" in page.text and 'name="field_budget"' in page.text and "data-note-form" in page.text
    form = {
        "csrf_token": csrf,
        "name": "Анна Петрова",
        "phones": "8 912 345-67-89\n+996 700 111 222",
        "email": "anna@пример.рф",
        "language": "ru",
        "source": "Instagram",
        "tags": "вип, тур",
        "field_budget": "150 000,50",
        "field_tour": "Ала-Арча",
    }
    saved = await client.post(f"/app/contacts/{anna}", data=form)
    assert saved.status_code == 303 and saved.headers["location"] == f"/app/contacts/{anna}?saved=profile"
    shown = await client.get(saved.headers["location"])
    assert "data-saved" in shown.text and "+79123456789, +996700111222" in shown.text
    assert '<dd data-custom-field="budget">150 000.5</dd>' in shown.text and "Ала-Арча" in shown.text
    api = (await client.get(f"/api/v1/contacts/{anna}", headers=tenant_a.headers)).json()
    assert api["tags"] == ["вип", "тур"] and api["custom_fields"] == {"budget": 150000.5, "tour": "Ала-Арча"}
    assert api["email"] == "anna@пример.рф"

    listed = await client.get("/app/contacts", params={"tag": "вип"})
    assert "Анна Петрова" in listed.text and "Борис" not in listed.text
    assert '<option value="вип" selected>' in listed.text

    for bad, message in (
        ({"email": "anna@"}, "anna@example.com"),
        ({"phones": "позвоните мне"}, "+7 912 345-67-89"),
        ({"field_budget": "много"}, "«Бюджет»"),
        ({"language": "русский"}, "ru, en"),
    ):
        refused = await client.post(f"/app/contacts/{anna}", data={**form, **bad})
        assert refused.status_code == 422 and message in refused.text, bad
        assert 'aria-invalid="true"' in refused.text
    assert (await client.get(f"/api/v1/contacts/{anna}", headers=tenant_a.headers)).json() == api

    noted = await client.post(f"/app/contacts/{anna}/notes", data={"csrf_token": csrf, "text": "Перезвонить в пятницу"})
    assert noted.status_code == 303
    timeline = await client.get(f"/app/contacts/{anna}")
    assert 'data-entry="note"' in timeline.text and "Перезвонить в пятницу" in timeline.text and email in timeline.text
    assert 'data-entry="conversation"' in timeline.text
    empty = await client.post(f"/app/contacts/{anna}/notes", data={"csrf_token": csrf, "text": "   "})
    assert empty.status_code == 422
    # An operator neither merges nor defines fields.
    assert (await client.get(f"/app/contacts/{anna}/merge", params={"from": customers["boris"]})).status_code == 403
    assert (await client.get("/app/contacts/fields")).status_code == 403


async def test_a_viewer_reads_but_does_not_edit(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, customers: dict[str, str]
) -> None:
    email = await make_member(database, tenant_a, Role.viewer)
    token = await open_login(client)
    await client.post("/app/login", data={"email": email, "password": "member-pass-1", "csrf_token": token})
    csrf = await home_csrf(client)
    page = await client.get(f"/app/contacts/{customers['anna']}")
    assert page.status_code == 200 and "data-contact-form" not in page.text and "data-note-form" not in page.text
    refused = await client.post(f"/app/contacts/{customers['anna']}", data={"csrf_token": csrf, "name": "X"})
    assert refused.status_code == 403
    refused = await client.post(f"/app/contacts/{customers['anna']}/notes", data={"csrf_token": csrf, "text": "X"})
    assert refused.status_code == 403


async def test_an_admin_merges_a_duplicate_after_a_preview(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, customers: dict[str, str]
) -> None:
    again = await customer_writes(
        database,
        tenant_a,
        "700100200",
        "Это снова Анна",
        name="Аня",
        phone="89123456789",
        channel=ChannelRef("telegram", "bot-1"),
    )
    duplicate = await contact_id_of(client, tenant_a, again)
    anna = customers["anna"]
    await sign_in(client, tenant_a)
    csrf = await home_csrf(client)
    page = await client.get(f"/app/contacts/{anna}")
    assert f'data-duplicate="{duplicate}"' in page.text
    assert f'href="/app/contacts/{anna}/merge?from={duplicate}"' in page.text
    assert f'data-duplicate="{customers["boris"]}"' not in page.text

    preview = await client.get(f"/app/contacts/{anna}/merge", params={"from": duplicate})
    assert preview.status_code == 200 and "data-merge-confirm" in preview.text
    assert "1 разговор" in preview.text and "«Аня» в «Анна Петрова»" in preview.text
    assert (await client.get(f"/api/v1/contacts/{duplicate}", headers=tenant_a.headers)).status_code == 200

    merged = await client.post(f"/app/contacts/{anna}/merge", data={"csrf_token": csrf, "from": str(duplicate)})
    assert merged.status_code == 303 and merged.headers["location"] == f"/app/contacts/{anna}?saved=merged"
    after = await client.get(merged.headers["location"])
    assert (
        "Это снова Анна" in after.text
        and "<code>700100200</code>" in after.text
        and "data-duplicates" not in after.text
    )
    assert (await client.get(f"/app/contacts/{duplicate}")).status_code == 404
    assert (await client.get(f"/app/contacts/{anna}/merge", params={"from": anna})).status_code == 422
    assert (await client.get(f"/app/contacts/{anna}/merge", params={"from": str(uuid.uuid4())})).status_code == 404
    forged = await client.post(f"/app/contacts/{anna}/merge", data={"csrf_token": csrf, "from": "x" * 5000})
    assert forged.status_code == 404


async def test_an_admin_defines_contact_fields(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    await sign_in(client, tenant_a)
    csrf = await home_csrf(client)
    assert 'href="/app/contacts/fields"' in (await client.get("/app/contacts")).text
    created = await client.post(
        "/app/contacts/fields",
        data={"csrf_token": csrf, "label": "Тур", "key": "tour", "kind": "choice", "choices": "Иссык-Куль\nАла-Арча\n"},
    )
    assert created.status_code == 303
    page = await client.get("/app/contacts/fields")
    assert 'data-field-key="tour"' in page.text and "Иссык-Куль, Ала-Арча" in page.text
    taken = await client.post(
        "/app/contacts/fields", data={"csrf_token": csrf, "label": "Ещё", "key": "tour", "kind": "text"}
    )
    assert taken.status_code == 409
    for bad in (
        {"label": "x", "key": "Тур", "kind": "text"},
        {"label": "x", "key": "x", "kind": "choice"},
        {"label": "x", "key": "x", "kind": "цвет"},
    ):
        refused = await client.post("/app/contacts/fields", data={"csrf_token": csrf, **bad})
        assert refused.status_code == 422, bad
    [field] = (await client.get("/api/v1/contact-fields", headers=tenant_a.headers)).json()
    deleted = await client.post(f"/app/contacts/fields/{field['id']}/delete", data={"csrf_token": csrf})
    assert deleted.status_code == 303
    assert (await client.get("/api/v1/contact-fields", headers=tenant_a.headers)).json() == []
    gone = await client.post(f"/app/contacts/fields/{field['id']}/delete", data={"csrf_token": csrf})
    assert gone.status_code == 404
