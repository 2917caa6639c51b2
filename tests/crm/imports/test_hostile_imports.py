"""Hostile uploads: each is refused clearly or handled, and nothing already stored changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.app import create_app
from easyflow.config import Settings
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture
from tests.crm.imports.imports_api import IMPORTS, count, imported, upload
from tests.crm.imports.zips import zip_of

FIXTURES = Path(__file__).parent / "fixtures"
CHAT = "WhatsApp Chat with Aida.txt"
STORED_TABLES = ("contacts", "contact_identities", "conversations", "messages", "conversation_files")


def chat() -> tuple[str, bytes]:
    return CHAT, (FIXTURES / CHAT).read_bytes()


async def stored(session: AsyncSession) -> dict[str, int]:
    return {table: await count(session, table) for table in STORED_TABLES}


@pytest.fixture
async def small_client(settings: Settings, runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """The app with imports limited to 2,000 bytes (no test allocates the default half gigabyte)."""
    app = create_app(settings.model_copy(update={"import_max_upload_bytes": 2000}), runtime=runtime)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def test_uploads_over_the_limit_are_413_problems_and_nothing_is_stored(
    small_client: httpx.AsyncClient, tenant_a: TenantFixture, session: AsyncSession
) -> None:
    # Under the limit with the multipart envelope, over it once read: refused by the route.
    read_then_refused = await upload(small_client, tenant_a, [("big.txt", b"1" * 1500), ("more.txt", b"2" * 1500)])
    # Far over it: refused by its Content-Length before a byte is read.
    refused_at_once = await upload(small_client, tenant_a, [("huge.zip", b"PK\x03\x04" + b"0" * 100_000)])

    for response in (read_then_refused, refused_at_once):
        assert response.status_code == 413
        assert response.headers["content-type"].startswith("application/problem+json")
    assert "limit of 2,000 bytes" in read_then_refused.json()["detail"]
    assert await count(session, "chat_imports") == 0
    assert await count(session, "chat_import_files") == 0


@pytest.mark.parametrize(
    ("name", "data", "detail"),
    [
        ("photo.txt", b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "photo.txt: not a text file (binary data)."),
        ("chat.txt", b"", "chat.txt: the file is empty."),
        ("bad16.txt", b"\xff\xfe\x00\xd8", "bad16.txt: not valid UTF-16-LE text."),
    ],
)
async def test_binary_garbage_is_422_naming_the_file_and_nothing_is_stored(
    client: httpx.AsyncClient, tenant_a: TenantFixture, session: AsyncSession, name: str, data: bytes, detail: str
) -> None:
    response = await upload(client, tenant_a, [chat(), (name, data)])

    assert response.status_code == 422
    assert response.json()["detail"].startswith(detail)
    assert await count(session, "chat_imports") == 0


async def test_no_files_is_a_clear_4xx(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    response = await client.post(IMPORTS, headers=tenant_a.headers, data={"business": "x"})

    assert response.status_code == 422
    assert "file" in response.text


async def test_a_zip_bomb_fails_the_import_and_changes_nothing(
    client: httpx.AsyncClient, runtime: Runtime, tenant_a: TenantFixture, session: AsyncSession
) -> None:
    await imported(client, runtime, tenant_a, [chat()], business="Tour Bishkek")
    before = await stored(session)
    bomb = zip_of({"_chat.txt": b"25.11.2026, 14:03 - A: " + b"0" * (8 * 1024 * 1024)})

    result = await imported(client, runtime, tenant_a, [("WhatsApp Chat - A.zip", bomb), chat()])

    assert result["status"] == "failed"
    assert "zip bomb" in result["error"]
    assert result["finished_at"] is not None
    assert await stored(session) == before
    assert await count(session, "chat_import_files") == 0  # the bytes are not kept after the import


async def test_archives_that_unpack_past_the_setting_are_refused(
    client: httpx.AsyncClient, runtime: Runtime, tenant_a: TenantFixture, session: AsyncSession
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"import_max_unpacked_bytes": 1000})
    export = zip_of({"_chat.txt": (FIXTURES / CHAT).read_bytes() * 3})

    result = await imported(client, runtime, tenant_a, [("WhatsApp Chat - Aida.zip", export)])

    assert result["status"] == "failed"
    assert "more than the 1,000 allowed" in result["error"]
    assert await stored(session) == dict.fromkeys(STORED_TABLES, 0)


async def test_entries_pointing_outside_the_zip_are_ignored_and_reported(
    client: httpx.AsyncClient, runtime: Runtime, tenant_a: TenantFixture
) -> None:
    export = zip_of(
        {
            "../../etc/cron.d/evil": b"* * * * * root rm -rf /",
            "/home/eve/WhatsApp Chat with Eve.txt": b"25.11.2026, 14:03 - Eve: pwned\n",
            CHAT: (FIXTURES / CHAT).read_bytes(),
        }
    )

    result = await imported(client, runtime, tenant_a, [("chats.zip", export)], business="Tour Bishkek")

    assert result["status"] == "done"
    assert result["report"]["chats"] == 1
    assert [u["text"] for u in result["report"]["unreadable"]] == [
        "../../etc/cron.d/evil: a path outside the archive, ignored.",
        "/home/eve/WhatsApp Chat with Eve.txt: a path outside the archive, ignored.",
    ]


async def test_a_file_that_is_text_but_no_export_fails_the_import_clearly(
    client: httpx.AsyncClient, runtime: Runtime, tenant_a: TenantFixture, session: AsyncSession
) -> None:
    result = await imported(client, runtime, tenant_a, [("notes.txt", "Купить молоко\nПозвонить Анне\n".encode())])

    assert result["status"] == "failed"
    assert result["error"] == (
        "Nothing to import: no chat messages or contacts were found in the files. "
        "notes.txt: no WhatsApp messages found (not a chat export)."
    )
    assert result["report"]["unreadable"] == [
        {"file": "notes.txt", "line": None, "text": "notes.txt: no WhatsApp messages found (not a chat export)."}
    ]
    assert await stored(session) == dict.fromkeys(STORED_TABLES, 0)


async def test_utf16_exports_from_iphones_import_like_any_other(
    client: httpx.AsyncClient, runtime: Runtime, tenant_a: TenantFixture
) -> None:
    text = "[25.11.2026, 14:03:11] Анна: Здравствуйте\n[25.11.2026, 14:04:00] Салон: Добрый день!\n"
    export = zip_of({"_chat.txt": b"\xff\xfe" + text.encode("utf-16-le")})

    result = await imported(client, runtime, tenant_a, [("WhatsApp Chat - Анна.zip", export)], business="Салон")

    assert (result["status"], result["report"]["messages"], result["report"]["unreadable"]) == ("done", 2, [])
