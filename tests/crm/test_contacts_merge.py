"""Duplicates and merges through the API: contacts sharing a number (written differently) are offered as a
merge; the preview changes nothing; the merge keeps every conversation, note and identity, merges the fields,
deletes the merged contact and is audited; two open conversations in one channel do not make it fail."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from easyflow import models
from easyflow.conversations.accept import ChannelRef
from easyflow.crm.repository import CONTACT_OWNED
from easyflow.db.base import Base
from easyflow.db.database import Database
from tests.conftest import TenantFixture
from tests.crm.contact_steps import contact, customer_writes, new_contact
from tests.support import PROBLEM


@pytest.fixture
async def pair(client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture) -> tuple[str, str]:
    """The same customer twice: from the API channel with a national number, from Telegram with +7."""
    into = await new_contact(client, database, tenant_a, "crm-aigerim", name="Айгерим", phone="8 (912) 345-67-89")
    telegram = await customer_writes(
        database,
        tenant_a,
        "700100200",
        "Салам",
        name="",
        phone="+7 912 345 67 89",
        channel=ChannelRef(type="telegram", key="bot-1"),
        kind="telegram",
    )
    response = await client.get(f"/api/v1/conversations/{telegram}", headers=tenant_a.headers)
    return into, str(response.json()["contact"]["id"])


async def _prepare(client: httpx.AsyncClient, tenant: TenantFixture, into: str, merged: str) -> None:
    """Fields on both sides, so which side wins shows; a note on each; a deal with its task on the merged one."""
    for contact_id, body in (
        (into, {"tags": ["вип"], "custom_fields": {"budget": 1000}}),
        (
            merged,
            {
                "email": "aigerim@example.kg",
                "source": "Instagram",
                "tags": ["тур", "вип"],
                "phones": ["+79123456789", "+996 700 111 222"],
                "custom_fields": {"budget": 5, "city": "Бишкек"},
            },
        ),
    ):
        response = await client.patch(f"/api/v1/contacts/{contact_id}", json=body, headers=tenant.headers)
        assert response.status_code == 200, response.text
    for contact_id, text in ((into, "Хочет на Иссык-Куль"), (merged, "Просила перезвонить вечером")):
        added = await client.post(f"/api/v1/contacts/{contact_id}/notes", json={"text": text}, headers=tenant.headers)
        assert added.status_code == 201, added.text
    deal = await client.post("/api/v1/deals", json={"title": "Тур", "contact_id": merged}, headers=tenant.headers)
    assert deal.status_code == 201, deal.text
    task = {"title": "Перезвонить", "deal_id": deal.json()["id"]}
    assert (await client.post("/api/v1/tasks", json=task, headers=tenant.headers)).status_code == 201


@pytest.fixture
async def fields(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    for field in (
        {"key": "budget", "label": "Бюджет", "kind": "number"},
        {"key": "city", "label": "Город", "kind": "text"},
    ):
        assert (await client.post("/api/v1/contact-fields", json=field, headers=tenant_a.headers)).status_code == 201


async def _conversations(client: httpx.AsyncClient, tenant: TenantFixture, contact_id: str) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/conversations", params={"contact_id": contact_id}, headers=tenant.headers)
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_contacts_sharing_a_number_are_offered_as_a_merge(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, pair: tuple[str, str]
) -> None:
    await new_contact(client, database, tenant_a, "crm-other", name="Другой", phone="+79990001122")
    groups = (await client.get("/api/v1/contacts/duplicates", headers=tenant_a.headers)).json()
    assert [(group["phone"], {c["id"] for c in group["contacts"]}) for group in groups] == [("+79123456789", set(pair))]


async def test_the_preview_says_what_the_merge_would_do_and_changes_nothing(
    client: httpx.AsyncClient, tenant_a: TenantFixture, pair: tuple[str, str], fields: None
) -> None:
    into, merged = pair
    await _prepare(client, tenant_a, into, merged)
    before = (await contact(client, tenant_a, into), await contact(client, tenant_a, merged))
    response = await client.post(
        "/api/v1/contacts/merge", json={"into": into, "from": merged, "preview": True}, headers=tenant_a.headers
    )
    assert response.status_code == 200, response.text
    preview = response.json()
    assert preview["preview"] is True
    assert preview["moved"] == {
        "identities": 1,
        "conversations": 1,
        "notes": 1,
        "deals": 1,
        "tasks": 1,
        "appointments": 0,
    }
    assert preview["taken_from_merged"] == ["email", "source", "phones", "tags", "custom_fields.city"]
    result = preview["contact"]
    assert result["id"] == into and result["name"] == "Айгерим"
    assert result["phones"] == ["+79123456789", "+996700111222"]
    assert result["tags"] == ["вип", "тур"]
    assert result["custom_fields"] == {"budget": 1000, "city": "Бишкек"}
    assert {identity["kind"] for identity in result["identities"]} == {"api", "telegram"}
    assert (await contact(client, tenant_a, into), await contact(client, tenant_a, merged)) == before
    assert len(await _conversations(client, tenant_a, merged)) == 1


async def test_the_merge_keeps_every_conversation_note_and_identity(
    client: httpx.AsyncClient, tenant_a: TenantFixture, pair: tuple[str, str], fields: None
) -> None:
    into, merged = pair
    await _prepare(client, tenant_a, into, merged)
    conversations = {c["id"] for c in await _conversations(client, tenant_a, into)} | {
        c["id"] for c in await _conversations(client, tenant_a, merged)
    }
    response = await client.post(
        "/api/v1/contacts/merge", json={"into": into, "from": merged}, headers=tenant_a.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["preview"] is False and response.json()["resolved_conversations"] == []

    kept = await contact(client, tenant_a, into)
    assert kept["email"] == "aigerim@example.kg" and kept["source"] == "Instagram"
    assert kept["phones"] == ["+79123456789", "+996700111222"] and kept["tags"] == ["вип", "тур"]
    assert kept["custom_fields"] == {"budget": 1000, "city": "Бишкек"}
    assert sorted((i["kind"], i["external_id"]) for i in kept["identities"]) == [
        ("api", "crm-aigerim"),
        ("telegram", "700100200"),
    ]
    assert {c["id"] for c in await _conversations(client, tenant_a, into)} == conversations
    notes = (await client.get(f"/api/v1/contacts/{into}/notes", headers=tenant_a.headers)).json()
    assert {note["text"] for note in notes} == {"Хочет на Иссык-Куль", "Просила перезвонить вечером"}
    (deal,) = (await client.get("/api/v1/deals", params={"contact_id": into}, headers=tenant_a.headers)).json()["items"]
    tasks = (await client.get("/api/v1/tasks", params={"contact_id": into}, headers=tenant_a.headers)).json()
    assert deal["title"] == "Тур" and [task["deal_id"] for task in tasks["items"]] == [deal["id"]]
    gone = await client.get(f"/api/v1/contacts/{merged}", headers=tenant_a.headers)
    assert gone.status_code == 404
    assert (await client.get("/api/v1/contacts/duplicates", headers=tenant_a.headers)).json() == []
    audit = (await client.get("/api/v1/audit", params={"action": "contact.merged"}, headers=tenant_a.headers)).json()
    [entry] = audit["items"] if isinstance(audit, dict) else audit
    assert entry["target_id"] == into and entry["details"]["from"] == merged
    assert entry["details"]["moved"] == {
        "identities": 1,
        "conversations": 1,
        "notes": 1,
        "deals": 1,
        "tasks": 1,
        "appointments": 0,
    }


async def test_a_merged_customer_writing_again_reaches_the_kept_contact(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, pair: tuple[str, str]
) -> None:
    into, merged = pair
    await client.post("/api/v1/contacts/merge", json={"into": into, "from": merged}, headers=tenant_a.headers)
    again = await customer_writes(
        database,
        tenant_a,
        "700100200",
        "Я снова тут",
        channel=ChannelRef(type="telegram", key="bot-1"),
        kind="telegram",
    )
    response = await client.get(f"/api/v1/conversations/{again}", headers=tenant_a.headers)
    assert response.json()["contact"]["id"] == into


async def test_two_unresolved_conversations_in_one_channel_do_not_fail_the_merge(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture
) -> None:
    """Both contacts write through the API channel: each has an unresolved conversation there, and a contact
    may have only one. The one with the older activity is resolved, with the reason in its event log."""
    older = await customer_writes(database, tenant_a, "crm-first", name="Первый")
    newer = await customer_writes(database, tenant_a, "crm-second", name="Второй")
    await customer_writes(database, tenant_a, "crm-second", "ещё вопрос")  # newer activity, in a later statement
    into = (await client.get(f"/api/v1/conversations/{older}", headers=tenant_a.headers)).json()["contact"]["id"]
    merged = (await client.get(f"/api/v1/conversations/{newer}", headers=tenant_a.headers)).json()["contact"]["id"]
    activity = {
        c["id"]: c["last_activity_at"]
        for c in (await client.get("/api/v1/conversations", headers=tenant_a.headers)).json()["items"]
    }
    first_to_resolve = str(older) if activity[str(older)] < activity[str(newer)] else str(newer)

    preview = await client.post(
        "/api/v1/contacts/merge", json={"into": into, "from": merged, "preview": True}, headers=tenant_a.headers
    )
    assert preview.json()["resolved_conversations"] == [first_to_resolve]
    response = await client.post(
        "/api/v1/contacts/merge", json={"into": into, "from": merged}, headers=tenant_a.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["resolved_conversations"] == [first_to_resolve]

    statuses = {c["id"]: c["status"] for c in await _conversations(client, tenant_a, into)}
    assert len(statuses) == 2 and statuses[first_to_resolve] == "resolved"
    assert [status for status in statuses.values() if status != "resolved"] == ["bot"]
    events = (await client.get(f"/api/v1/conversations/{first_to_resolve}/events", headers=tenant_a.headers)).json()
    resolved = [event for event in events if event["kind"] == "resolved"]
    assert len(resolved) == 1 and "merged" in resolved[0]["reason"]


async def test_merging_a_contact_into_itself_or_one_of_another_tenant(
    client: httpx.AsyncClient,
    database: Database,
    tenant_a: TenantFixture,
    tenant_b: TenantFixture,
    pair: tuple[str, str],
) -> None:
    into, merged = pair
    itself = await client.post("/api/v1/contacts/merge", json={"into": into, "from": into}, headers=tenant_a.headers)
    assert (
        itself.status_code == 422 and itself.headers["content-type"] == PROBLEM and "itself" in itself.json()["detail"]
    )
    theirs = await new_contact(client, database, tenant_b, "their-1", name="Чужой", phone="+79123456789")
    for body in ({"into": into, "from": theirs}, {"into": theirs, "from": merged}):
        refused = await client.post("/api/v1/contacts/merge", json=body, headers=tenant_a.headers)
        assert refused.status_code == 404
    unknown = await client.post("/api/v1/contacts/merge", json={"into": into, "to": merged}, headers=tenant_a.headers)
    assert unknown.status_code == 422
    assert (await contact(client, tenant_b, theirs))["name"] == "Чужой"
    assert len(await _conversations(client, tenant_a, merged)) == 1


def test_a_merge_moves_the_rows_of_every_table_that_belongs_to_a_contact() -> None:
    """A table with a `contact_id` left out of CONTACT_OWNED would lose its rows when a merge deletes `from`."""
    assert models.__all__
    with_contact = {table.name for table in Base.metadata.tables.values() if "contact_id" in table.columns}
    assert with_contact == {model.__tablename__ for model in CONTACT_OWNED.values()}
