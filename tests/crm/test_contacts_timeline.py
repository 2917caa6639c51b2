"""Notes and the timeline through the API: notes written by members, listed newest first with their author;
the timeline of conversations and notes, newest first, read a page at a time."""

from __future__ import annotations

import httpx
import pytest

from easyflow.conversations.accept import ChannelRef
from easyflow.db.database import Database
from tests.conftest import TenantFixture
from tests.crm.contact_steps import customer_writes, new_contact


@pytest.fixture
async def vera(client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture) -> str:
    return await new_contact(client, database, tenant_a, "crm-vera", name="Вера", phone="+79001112233")


async def test_notes_are_listed_newest_first_with_their_author(
    client: httpx.AsyncClient, tenant_a: TenantFixture, vera: str
) -> None:
    for text in ("Первый звонок: интересуется турами", "  Перезвонить в пятницу  "):
        added = await client.post(f"/api/v1/contacts/{vera}/notes", json={"text": text}, headers=tenant_a.headers)
        assert added.status_code == 201, added.text
        assert added.json()["author_id"] is None and added.json()["contact_id"] == vera  # an API key wrote it
    notes = (await client.get(f"/api/v1/contacts/{vera}/notes", headers=tenant_a.headers)).json()
    assert [note["text"] for note in notes] == ["Перезвонить в пятницу", "Первый звонок: интересуется турами"]
    page = await client.get(
        f"/api/v1/contacts/{vera}/notes", params={"limit": 1, "offset": 1}, headers=tenant_a.headers
    )
    assert [note["text"] for note in page.json()] == ["Первый звонок: интересуется турами"]
    for bad in (
        {"text": ""},
        {"text": "   "},
        {"text": "a\x00"},
        {"text": "я" * 10_001},
        {"text": "x", "author_id": vera},
    ):
        refused = await client.post(f"/api/v1/contacts/{vera}/notes", json=bad, headers=tenant_a.headers)
        assert refused.status_code == 422, bad


async def test_a_members_note_names_them(client: httpx.AsyncClient, tenant_a: TenantFixture, vera: str) -> None:
    """A signed-in member's note carries who wrote it (through an access token, as the dashboard's session)."""
    login = await client.post(
        "/api/v1/auth/login", json={"email": tenant_a.owner_email, "password": tenant_a.owner_password}
    )
    token = {"Authorization": f"Bearer {login.json()['access_token']}"}
    added = await client.post(f"/api/v1/contacts/{vera}/notes", json={"text": "Любит горы"}, headers=token)
    assert added.status_code == 201
    assert added.json()["author_id"] == str(tenant_a.owner_id) and added.json()["author"] == tenant_a.owner_email


async def test_the_timeline_has_conversations_and_notes_newest_first(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, vera: str
) -> None:
    await client.post(f"/api/v1/contacts/{vera}/notes", json={"text": "Заметка 1"}, headers=tenant_a.headers)
    await customer_writes(  # another customer's conversation: not on Вера's timeline
        database, tenant_a, "700", "Привет", channel=ChannelRef(type="telegram", key="bot-1"), kind="telegram"
    )
    await client.post(f"/api/v1/contacts/{vera}/notes", json={"text": "Заметка 2"}, headers=tenant_a.headers)
    timeline = (await client.get(f"/api/v1/contacts/{vera}/timeline", headers=tenant_a.headers)).json()
    kinds = [(entry["kind"], entry.get("note", {}).get("text")) for entry in timeline["items"]]
    assert kinds == [("note", "Заметка 2"), ("note", "Заметка 1"), ("conversation", None)]
    assert timeline["next_before"] is None
    [conversation] = [entry["conversation"] for entry in timeline["items"] if entry["kind"] == "conversation"]
    assert conversation["channel_type"] == "api" and conversation["status"] == "bot"
    times = [entry["at"] for entry in timeline["items"]]
    assert times == sorted(times, reverse=True)

    first = (
        await client.get(f"/api/v1/contacts/{vera}/timeline", params={"limit": 2}, headers=tenant_a.headers)
    ).json()
    assert [entry["kind"] for entry in first["items"]] == ["note", "note"] and first["next_before"] is not None
    rest = await client.get(
        f"/api/v1/contacts/{vera}/timeline",
        params={"limit": 2, "before": first["next_before"]},
        headers=tenant_a.headers,
    )
    assert [entry["kind"] for entry in rest.json()["items"]] == ["conversation"] and rest.json()["next_before"] is None
    naive = await client.get(
        f"/api/v1/contacts/{vera}/timeline", params={"before": "2026-01-01T00:00:00"}, headers=tenant_a.headers
    )
    assert naive.status_code == 422


async def test_a_contacts_deals_and_their_moves_are_on_the_timeline(
    client: httpx.AsyncClient, tenant_a: TenantFixture, vera: str
) -> None:
    (pipeline,) = (await client.get("/api/v1/pipelines", headers=tenant_a.headers)).json()
    offer = next(stage for stage in pipeline["stages"] if stage["name"] == "Предложение")
    deal = await client.post(
        "/api/v1/deals", json={"title": "Тур в Каракол", "contact_id": vera}, headers=tenant_a.headers
    )
    assert deal.status_code == 201
    moved = await client.patch(
        f"/api/v1/deals/{deal.json()['id']}",
        json={"stage_id": offer["id"], "reason": "выбрала даты"},
        headers=tenant_a.headers,
    )
    assert moved.status_code == 200
    timeline = (await client.get(f"/api/v1/contacts/{vera}/timeline", headers=tenant_a.headers)).json()
    moves = [entry for entry in timeline["items"] if entry["kind"] == "deal_move"]
    assert [(m["deal_title"], m["from_stage"], m["to_stage"], m["reason"]) for m in moves] == [
        ("Тур в Каракол", "Новый лид", "Предложение", "выбрала даты"),
        ("Тур в Каракол", None, "Новый лид", ""),
    ]
