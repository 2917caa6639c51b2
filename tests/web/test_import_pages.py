"""The import page over HTTP through the app, on the real database: a WhatsApp export uploaded through the
page, imported by the job and reported, its progress polled only until it is done, the lines that could not
be read shown escaped and cut short, refused uploads explained on the page with nothing stored, only admins
let in, and tenants kept apart."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from easyflow.db.database import Database
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, make_member, run_queued_jobs
from tests.crm.imports.imports_api import IMPORTS
from tests.web.dashboard import csrf_of, home_csrf, sign_in

PAGE = "/app/imports"
EN = {"Accept-Language": "en"}
FIXTURES = Path(__file__).parents[1] / "crm" / "imports" / "fixtures"
ANDROID_RU = "WhatsApp Chat with +996 555 123 456.txt"
POLLING = 'hx-trigger="every 2s"'


def export(name: str = ANDROID_RU) -> tuple[str, bytes]:
    return name, (FIXTURES / name).read_bytes()


async def signed_in(client: httpx.AsyncClient, tenant: TenantFixture) -> str:
    await sign_in(client, tenant)
    return await home_csrf(client)


async def upload(
    client: httpx.AsyncClient, csrf: str, *named: tuple[str, bytes], business: str = "Tour Bishkek"
) -> httpx.Response:
    return await client.post(
        PAGE,
        data={"csrf_token": csrf, "business": business},
        files=[("file", (name, data)) for name, data in named],
        headers=EN,
    )


async def imports_of(client: httpx.AsyncClient, tenant: TenantFixture) -> list[dict[str, object]]:
    items: list[dict[str, object]] = (await client.get(IMPORTS, headers=tenant.headers)).json()["items"]
    return items


def figure(page: str, name: str) -> str:
    found = re.search(rf"<dd data-{name}>(?:<a href=\"/app/contacts\">)?(\d+)", page)
    assert found is not None, page
    return found.group(1)


async def test_a_whatsapp_export_uploaded_on_the_page_is_imported_and_its_report_shown(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    csrf = await signed_in(client, tenant_a)
    sent = await upload(client, csrf, export())
    assert sent.status_code == 303 and sent.headers["location"] == PAGE
    [queued] = await imports_of(client, tenant_a)
    assert queued["status"] == "queued" and queued["business"] == "Tour Bishkek"

    page = await client.get(PAGE, headers=EN)
    assert page.status_code == 200
    assert ANDROID_RU in page.text and 'data-status="queued"' in page.text and POLLING in page.text
    assert tenant_a.owner_email in page.text  # who started it (the owner has no name)
    fragment = await client.get(f"{PAGE}/{queued['id']}", headers=EN)
    assert fragment.status_code == 200 and "<html" not in fragment.text and POLLING in fragment.text

    assert await run_queued_jobs(runtime) == ["crm.import_chats"]
    fragment = await client.get(f"{PAGE}/{queued['id']}", headers=EN)
    assert 'data-status="done"' in fragment.text
    assert POLLING not in fragment.text  # done: the fragment stops polling
    assert figure(fragment.text, "chats") == "1" and figure(fragment.text, "messages") == "5"
    assert figure(fragment.text, "contacts-created") == "1" and figure(fragment.text, "contacts-matched") == "0"
    assert figure(fragment.text, "duplicates") == "0"
    assert 'href="/app/contacts"' in fragment.text
    assert "+996555123456" in (await client.get("/app/contacts")).text  # the chat's customer

    again = await upload(client, csrf, export())
    assert again.status_code == 303
    await run_queued_jobs(runtime)
    page = await client.get(PAGE)  # the owner's language: Russian
    assert POLLING not in page.text and page.text.count('data-status="done"') == 2
    assert "Уже были, пропущено" in page.text and "Готово" in page.text
    newest = page.text.index("data-duplicates>5")
    assert newest < page.text.index("data-duplicates>0")  # newest first


async def test_unreadable_lines_are_listed_escaped_and_cut_short(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    csrf = await signed_in(client, tenant_a)
    hostile = '<script>alert("импорт")</script>'
    long_line = "Ш" * 500
    name, data = export()
    assert (await upload(client, csrf, (name, f"{hostile}\n{long_line}\n".encode() + data))).status_code == 303
    await run_queued_jobs(runtime)
    page = await client.get(PAGE, headers=EN)
    assert "2 lines or files were not imported" in page.text
    block = page.text[page.text.index("<details") : page.text.index("</details>")]
    assert hostile not in page.text and "&lt;script&gt;alert(" in block
    assert "Ш" * 119 + "…" in block and "Ш" * 120 not in block
    assert f"<td>{ANDROID_RU}</td><td>1</td>" in block


async def test_a_failed_import_shows_its_error(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    csrf = await signed_in(client, tenant_a)
    # Text, so it passes the upload's check, but no chat in it: the import itself fails.
    assert (await upload(client, csrf, ("notes.txt", "Просто заметки, не чат.\n".encode()))).status_code == 303
    await run_queued_jobs(runtime)
    page = await client.get(PAGE, headers=EN)
    assert 'data-status="failed"' in page.text and POLLING not in page.text
    error = re.search(r"<p class=\"error\" data-error>Reason: ([^<]+)</p>", page.text)
    assert error is not None and "Nothing to import" in error.group(1)


async def test_garbage_and_missing_files_are_refused_on_the_page_and_nothing_is_stored(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    csrf = await signed_in(client, tenant_a)
    garbage = await upload(client, csrf, ("photo.txt", b"\x89PNG\r\n\x1a\n" + bytes(range(256))))
    assert garbage.status_code == 422 and "<html" in garbage.text
    problem = re.search(r"<p class=\"error\" role=\"alert\" data-problem>([^<]+)</p>", garbage.text)
    assert problem is not None
    assert problem.group(1).startswith("Nothing was imported: photo.txt: not a text file (binary data).")
    assert 'value="Tour Bishkek"' in garbage.text  # the form keeps what was typed

    empty = await client.post(PAGE, data={"csrf_token": csrf}, files={"other": ("x", b"")}, headers=EN)
    assert empty.status_code == 400 and "Choose one or more chat exports or contact lists to import." in empty.text
    assert await imports_of(client, tenant_a) == []


async def test_uploads_over_the_import_limit_are_refused_on_the_page(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    csrf = await signed_in(client, tenant_a)
    runtime.settings = runtime.settings.model_copy(update={"import_max_upload_bytes": 1000})
    name, data = export()
    assert len(data) > 1000
    refused = await upload(client, csrf, (name, data))
    assert refused.status_code == 413 and "<html" in refused.text
    assert "The files are too large: together they may be at most 1000 bytes." in refused.text
    split = await upload(client, csrf, ("a.txt", data[:600]), ("b.txt", data[600:1200]))
    assert split.status_code == 413
    assert await imports_of(client, tenant_a) == []


async def test_the_upload_needs_the_forms_token(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    await signed_in(client, tenant_a)
    forged = await client.post(PAGE, files=[("file", export())], headers=EN)
    assert forged.status_code == 403 and "security token" in forged.text
    assert await imports_of(client, tenant_a) == []


async def test_operators_and_viewers_are_refused_and_see_no_menu_entry(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture
) -> None:
    owner_csrf = await signed_in(client, tenant_a)
    assert 'href="/app/imports"' in (await client.get("/app/")).text
    assert (await upload(client, owner_csrf, export())).status_code == 303
    [theirs] = await imports_of(client, tenant_a)
    for role in (Role.operator, Role.viewer):
        client.cookies.clear()
        email = await make_member(database, tenant_a, role)
        await sign_in(client, TenantFixture(**{**tenant_a.__dict__, "owner_email": email}), "member-pass-1")
        home = await client.get("/app/", headers=EN)
        assert 'href="/app/imports"' not in home.text
        refused = await client.get(PAGE, headers=EN)
        assert refused.status_code == 403 and "admins and owners can open this page" in refused.text
        assert (await client.get(f"{PAGE}/{theirs['id']}")).status_code == 403
        assert (await upload(client, csrf_of(home), export())).status_code == 403
    assert len(await imports_of(client, tenant_a)) == 1


async def test_another_tenants_imports_are_not_shown_nor_found(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    csrf = await signed_in(client, tenant_b)
    assert (await upload(client, csrf, export())).status_code == 303
    [theirs] = await imports_of(client, tenant_b)
    client.cookies.clear()
    await signed_in(client, tenant_a)
    page = await client.get(PAGE, headers=EN)
    assert ANDROID_RU not in page.text and "No imports yet." in page.text
    missing = await client.get(f"{PAGE}/{theirs['id']}", headers=EN)
    assert missing.status_code == 404 and "There is no such import in this workspace." in missing.text


async def test_the_audit_log_names_the_import(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    csrf = await signed_in(client, tenant_a)
    assert (await upload(client, csrf, export())).status_code == 303
    log = await client.get("/app/audit", params={"action": "import."}, headers=EN)
    assert 'data-action="import.created"' in log.text and "Chat history imported" in log.text
    assert '<option value="import."' in log.text
    assert "Импорт истории чатов" in (await client.get("/app/audit", params={"action": "import."})).text
