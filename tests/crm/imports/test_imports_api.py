"""Importing chat history over HTTP: the import runs in the background, finds or creates each customer, keeps
the messages' original times and sides, adds only what is new when the same chats come again, and tenants
never see each other's imports."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.crm.imports.service import ChatImporter
from easyflow.db.database import Database
from easyflow.db.session import enter_system_scope
from easyflow.kit.jobs import JOBS
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, make_key, run_queued_jobs
from tests.crm.imports.imports_api import IMPORTS, count, imported, upload
from tests.crm.imports.zips import JPEG, zip_of

FIXTURES = Path(__file__).parent / "fixtures"
ANDROID_RU = "WhatsApp Chat with +996 555 123 456.txt"


def fixture(name: str) -> tuple[str, bytes]:
    return name, (FIXTURES / name).read_bytes()


async def identities(session: AsyncSession, tenant: TenantFixture) -> list[tuple[str, str, str, str | None]]:
    """(kind, external id, contact name, contact phone) of the tenant's contacts' identities."""
    await enter_system_scope(session)
    rows = await session.execute(
        text(
            "SELECT i.kind, i.external_id, c.name, c.phone FROM contact_identities i "
            "JOIN contacts c ON c.id = i.contact_id WHERE i.tenant_id = :tenant ORDER BY i.kind, i.external_id"
        ),
        {"tenant": tenant.id},
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


async def contact_id_of(session: AsyncSession, kind: str, external_id: str) -> str:
    await enter_system_scope(session)
    found = await session.scalar(
        text("SELECT contact_id FROM contact_identities WHERE kind = :kind AND external_id = :id"),
        {"kind": kind, "id": external_id},
    )
    assert found is not None
    return str(found)


async def conversation_of(
    client: httpx.AsyncClient, tenant: TenantFixture, contact_id: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    listed = (await client.get(f"/api/v1/conversations?contact_id={contact_id}", headers=tenant.headers)).json()
    [conversation] = listed["items"]
    messages = (await client.get(f"/api/v1/conversations/{conversation['id']}/messages", headers=tenant.headers)).json()
    return conversation, messages


async def test_a_whatsapp_chat_becomes_the_customers_resolved_conversation_at_its_original_times(
    client: httpx.AsyncClient, runtime: Runtime, tenant_a: TenantFixture, session: AsyncSession
) -> None:
    result = await imported(client, runtime, tenant_a, [fixture(ANDROID_RU)], business="Tour Bishkek")

    assert result["status"] == "done"
    assert result["report"] == {
        "chats": 1,
        "messages": 5,
        "contacts_created": 1,
        "contacts_matched": 0,
        "duplicates_skipped": 0,
        "unreadable": [],
    }
    assert (result["chats_total"], result["chats_done"]) == (1, 1)
    assert result["business"] == "Tour Bishkek"
    assert result["files"] == [{"name": ANDROID_RU, "size": len(fixture(ANDROID_RU)[1])}]
    assert await identities(session, tenant_a) == [("whatsapp", "996555123456", "+996555123456", "+996555123456")]
    conversation, messages = await conversation_of(
        client, tenant_a, await contact_id_of(session, "whatsapp", "996555123456")
    )
    assert conversation["status"] == "resolved"
    assert conversation["channel_type"] == "whatsapp"
    # The tenant's time zone is Moscow's (UTC+3): the phone's 09:58 was 06:58 UTC.
    assert [(m["role"], m["text"], m["created_at"]) for m in messages][:2] == [
        ("contact", "Здравствуйте! Сколько стоит тур на Иссык-Куль?", "2026-11-25T06:58:00Z"),
        ("operator", "Добрый день!\nТур на 3 дня — 15 000 сом.\nВыезд в пятницу.", "2026-11-25T07:02:00Z"),
    ]
    [photo] = messages[2]["attachments"]
    assert (photo["kind"], photo["name"], photo["stored_file_id"]) == ("image", "IMG-20261125-WA0001.jpg", None)
    assert photo["not_stored"] == "The file was not in the export."
    # Nothing was queued for the past: no reply, no routing.
    assert await run_queued_jobs(runtime) == []


async def test_reimporting_adds_nothing_and_a_later_export_adds_only_its_new_messages(
    client: httpx.AsyncClient, runtime: Runtime, tenant_a: TenantFixture, session: AsyncSession
) -> None:
    name, first = fixture(ANDROID_RU)
    await imported(client, runtime, tenant_a, [(name, first)], business="Tour Bishkek")

    again = await imported(client, runtime, tenant_a, [(name, first)], business="Tour Bishkek")
    later = first + "27.11.2026, 11:00 - Tour Bishkek: Ждём вас в пятницу!\n".encode()
    then = await imported(client, runtime, tenant_a, [(name, later)], business="Tour Bishkek")

    assert {k: again["report"][k] for k in ("messages", "duplicates_skipped", "contacts_created")} == {
        "messages": 0,
        "duplicates_skipped": 5,
        "contacts_created": 0,
    }
    assert again["report"]["contacts_matched"] == 1
    assert (then["report"]["messages"], then["report"]["duplicates_skipped"]) == (1, 5)
    _, messages = await conversation_of(client, tenant_a, await contact_id_of(session, "whatsapp", "996555123456"))
    assert [m["text"] for m in messages][-2:] == ["Беру! 13.12 подойдёт?", "Ждём вас в пятницу!"]
    assert await count(session, "messages") == 6


async def test_a_reimport_naming_the_business_differently_doubles_nothing(
    client: httpx.AsyncClient, runtime: Runtime, tenant_a: TenantFixture, session: AsyncSession
) -> None:
    await imported(client, runtime, tenant_a, [fixture(ANDROID_RU)], business="Tour Bishkek")

    again = await imported(client, runtime, tenant_a, [fixture(ANDROID_RU)])

    assert (again["report"]["messages"], again["report"]["duplicates_skipped"]) == (0, 5)
    assert await count(session, "messages") == 5


async def test_an_existing_contact_with_the_same_phone_is_matched_not_doubled(
    client: httpx.AsyncClient, runtime: Runtime, tenant_a: TenantFixture, session: AsyncSession
) -> None:
    posted = await client.post(
        "/api/v1/channels/api/messages",
        headers=tenant_a.headers,
        json={
            "contact": {"external_id": "crm-7", "name": "Айгуль", "phone": "+996555123456"},
            "text": "Здравствуйте",
            "external_message_id": "m1",
        },
    )
    assert posted.status_code == 202
    await run_queued_jobs(runtime)

    result = await imported(client, runtime, tenant_a, [fixture(ANDROID_RU)], business="Tour Bishkek")

    assert (result["report"]["contacts_created"], result["report"]["contacts_matched"]) == (0, 1)
    assert [(kind, external_id, name) for kind, external_id, name, _ in await identities(session, tenant_a)] == [
        ("api", "crm-7", "Айгуль"),
        ("whatsapp", "996555123456", "Айгуль"),
    ]


async def test_an_iphone_zip_keeps_its_photo_as_the_conversations_file(
    client: httpx.AsyncClient, runtime: Runtime, tenant_a: TenantFixture, session: AsyncSession
) -> None:
    export = zip_of(
        {"_chat.txt": fixture("_chat.txt")[1], "00000012-PHOTO-2026-11-25-14-06-02.jpg": JPEG, "notes.pdf": b"%PDF-"}
    )

    result = await imported(client, runtime, tenant_a, [("WhatsApp Chat - Анна.zip", export)], business="Салон Лотос")

    assert result["report"]["messages"] == 6
    assert await identities(session, tenant_a) == [("whatsapp-name", "анна", "Анна", None)]
    conversation, messages = await conversation_of(
        client, tenant_a, await contact_id_of(session, "whatsapp-name", "анна")
    )
    assert [m["role"] for m in messages] == ["contact", "operator", "contact", "contact", "contact", "contact"]
    photo = messages[2]["attachments"][0]
    assert (photo["kind"], photo["content_type"], photo["size"]) == ("image", "image/jpeg", len(JPEG))
    file = await client.get(
        f"/api/v1/conversations/{conversation['id']}/files/{photo['stored_file_id']}", headers=tenant_a.headers
    )
    assert file.content == JPEG


async def test_telegram_chats_match_customers_by_their_telegram_account(
    client: httpx.AsyncClient, runtime: Runtime, tenant_a: TenantFixture, session: AsyncSession
) -> None:
    export = {
        "personal_information": {"user_id": 777},
        "chats": {
            "list": [
                {
                    "name": "Борис",
                    "type": "personal_chat",
                    "id": 4242,
                    "messages": [
                        {
                            "id": 1,
                            "type": "message",
                            "date_unixtime": "1795600000",
                            "from_id": "user4242",
                            "text": "Привет",
                        },
                        {"id": 2, "type": "service", "date_unixtime": "1795600001", "action": "pin_message"},
                        {
                            "id": 3,
                            "type": "message",
                            "date_unixtime": "1795600060",
                            "from_id": "user777",
                            "text": "Здравствуйте!",
                        },
                    ],
                }
            ]
        },
    }
    data = json.dumps(export, ensure_ascii=False).encode()

    result = await imported(client, runtime, tenant_a, [("result.json", data)])
    again = await imported(client, runtime, tenant_a, [("result.json", data)])

    assert (result["report"]["messages"], again["report"]["duplicates_skipped"]) == (2, 2)
    assert await identities(session, tenant_a) == [("telegram", "4242", "Борис", None)]
    conversation, messages = await conversation_of(client, tenant_a, await contact_id_of(session, "telegram", "4242"))
    assert conversation["channel_type"] == "telegram"
    assert [(m["role"], m["created_at"]) for m in messages] == [
        ("contact", datetime.fromtimestamp(1795600000, UTC).isoformat().replace("+00:00", "Z")),
        ("operator", datetime.fromtimestamp(1795600060, UTC).isoformat().replace("+00:00", "Z")),
    ]


async def test_a_csv_of_contacts_creates_and_matches_contacts(
    client: httpx.AsyncClient, runtime: Runtime, tenant_a: TenantFixture, session: AsyncSession
) -> None:
    await imported(client, runtime, tenant_a, [fixture(ANDROID_RU)], business="Tour Bishkek")
    csv = "Имя;Телефон;Почта;Теги\nАйгуль;+996 555 123 456;;vip\nБорис;;boris@example.kz;новый\n".encode("cp1251")

    result = await imported(client, runtime, tenant_a, [("клиенты.csv", csv)])

    assert {k: result["report"][k] for k in ("chats", "contacts_created", "contacts_matched")} == {
        "chats": 0,
        "contacts_created": 1,
        "contacts_matched": 1,
    }
    await enter_system_scope(session)
    rows = (await session.execute(text("SELECT name, phone, email, labels FROM contacts ORDER BY name"))).all()
    assert [tuple(row) for row in rows] == [
        ("Айгуль", "+996555123456", None, ["vip"]),
        ("Борис", None, "boris@example.kz", ["новый"]),
    ]
    again = await imported(client, runtime, tenant_a, [("клиенты.csv", csv)])
    assert (again["report"]["contacts_created"], again["report"]["contacts_matched"]) == (0, 2)


async def test_one_bad_chat_in_a_zip_is_reported_and_the_others_imported(
    client: httpx.AsyncClient, runtime: Runtime, tenant_a: TenantFixture, session: AsyncSession
) -> None:
    bundle = zip_of(
        {
            "WhatsApp Chat with Aida.txt": fixture("WhatsApp Chat with Aida.txt")[1],
            "WhatsApp Chat with Broken.txt": bytes(range(256)) * 8,
            # Before year 1 in UTC: the chat cannot be stored, and is rolled back alone.
            "WhatsApp Chat with Ancient.txt": b"01.01.0001, 00:30 - Ancient: hi\n01.01.0001, 00:31 - Tour Bishkek: ok",
        }
    )

    result = await imported(client, runtime, tenant_a, [("all.zip", bundle)], business="Tour Bishkek")

    assert result["status"] == "done"
    assert (result["report"]["chats"], result["report"]["messages"], result["report"]["contacts_created"]) == (1, 4, 1)
    assert [(u["file"], u["line"]) for u in result["report"]["unreadable"]] == [
        ("all.zip/WhatsApp Chat with Broken.txt", None),
        ("all.zip/WhatsApp Chat with Ancient.txt", None),
    ]
    assert result["report"]["unreadable"][1]["text"].startswith("not imported: ")
    assert [name for _, _, name, _ in await identities(session, tenant_a)] == ["Aida"]


async def test_a_business_name_found_nowhere_is_pointed_out(
    client: httpx.AsyncClient, runtime: Runtime, tenant_a: TenantFixture
) -> None:
    result = await imported(client, runtime, tenant_a, [fixture(ANDROID_RU)], business="Someone Else")

    assert result["report"]["unreadable"] == [
        {
            "file": ANDROID_RU,
            "line": None,
            "text": "no message from «Someone Else» here: every message was taken as the customer's.",
        }
    ]


async def test_imports_are_listed_newest_first_and_read_by_viewers(
    client: httpx.AsyncClient, runtime: Runtime, database: Database, tenant_a: TenantFixture
) -> None:
    first = await imported(client, runtime, tenant_a, [fixture(ANDROID_RU)], business="Tour Bishkek")
    second = await imported(client, runtime, tenant_a, [fixture("WhatsApp Chat - Bob.txt")])
    viewer = {"Authorization": f"Bearer {await make_key(database, tenant_a, Role.viewer)}"}

    listed = (await client.get(IMPORTS, headers=viewer)).json()

    assert listed["total"] == 2
    assert [item["id"] for item in listed["items"]] == [second["id"], first["id"]]
    assert (await client.get(f"{IMPORTS}/{first['id']}", headers=viewer)).json()["status"] == "done"
    audited = (await client.get("/api/v1/audit?action=import.", headers=tenant_a.headers)).json()["items"]
    assert [(e["action"], e["target_id"], e["details"]) for e in audited] == [
        ("import.created", second["id"], {"files": ["WhatsApp Chat - Bob.txt"], "business": None}),
        ("import.created", first["id"], {"files": [ANDROID_RU], "business": "Tour Bishkek"}),
    ]


async def test_only_admins_import_and_nobody_unauthenticated_reads(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, session: AsyncSession
) -> None:
    for role in (Role.viewer, Role.operator):
        headers = {"Authorization": f"Bearer {await make_key(database, tenant_a, role)}"}
        assert (await upload(client, tenant_a, [fixture(ANDROID_RU)], headers=headers)).status_code == 403
    assert (await client.post(IMPORTS, files=[("file", fixture(ANDROID_RU))])).status_code == 401
    assert (await client.get(IMPORTS)).status_code == 401
    assert (await client.get(f"{IMPORTS}/{uuid.uuid4()}")).status_code == 401
    assert await count(session, "chat_imports") == 0


async def test_another_tenants_import_is_not_found(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    queued = await upload(client, tenant_a, [fixture(ANDROID_RU)])

    theirs = await client.get(f"{IMPORTS}/{queued.json()['id']}", headers=tenant_b.headers)

    assert theirs.status_code == 404
    assert theirs.headers["content-type"].startswith("application/problem+json")
    assert (await client.get(IMPORTS, headers=tenant_b.headers)).json() == {"items": [], "total": 0}
    assert (await client.get(f"{IMPORTS}/{uuid.uuid4()}", headers=tenant_a.headers)).status_code == 404


async def test_a_chat_naming_no_customer_is_reported_not_imported(
    client: httpx.AsyncClient, runtime: Runtime, tenant_a: TenantFixture, session: AsyncSession
) -> None:
    only_ours = "25.11.2026, 10:00 - Tour Bishkek: Рассылка: туры на декабрь!\n".encode()

    result = await imported(
        client, runtime, tenant_a, [("broadcast.txt", only_ours), fixture(ANDROID_RU)], business="Tour Bishkek"
    )

    assert result["status"] == "done"
    assert (result["report"]["chats"], result["chats_done"], result["chats_total"]) == (1, 2, 2)
    assert result["report"]["unreadable"] == [
        {
            "file": "broadcast.txt",
            "line": None,
            "text": "no customer in this chat: no message from anyone but the business, and no name.",
        }
    ]
    assert await count(session, "conversations") == 1


async def test_an_import_whose_job_gives_up_is_failed_with_the_reason_and_its_files_dropped(
    client: httpx.AsyncClient, runtime: Runtime, tenant_a: TenantFixture, session: AsyncSession
) -> None:
    queued = (await upload(client, tenant_a, [fixture(ANDROID_RU)])).json()
    spec = JOBS["crm.import_chats"]
    assert spec.on_give_up is not None

    await spec.on_give_up(
        runtime, ConnectionError("the database went away"), tenant_id=str(tenant_a.id), import_id=queued["id"]
    )

    read = (await client.get(f"{IMPORTS}/{queued['id']}", headers=tenant_a.headers)).json()
    assert (read["status"], read["error"]) == (
        "failed",
        "The import failed after retries: ConnectionError: the database went away",
    )
    assert await count(session, "chat_import_files") == 0


async def test_a_finished_import_run_again_changes_nothing(
    client: httpx.AsyncClient, runtime: Runtime, tenant_a: TenantFixture, session: AsyncSession
) -> None:
    result = await imported(client, runtime, tenant_a, [fixture(ANDROID_RU)], business="Tour Bishkek")

    await ChatImporter(runtime.database, runtime.settings).run(tenant_a.id, uuid.UUID(result["id"]))

    again = (await client.get(f"{IMPORTS}/{result['id']}", headers=tenant_a.headers)).json()
    assert again == result
    assert await count(session, "messages") == 5
