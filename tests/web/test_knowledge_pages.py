"""The knowledge page over HTTP through the app, on the real database: several files uploaded at once and
indexed by the jobs, the live list polled only while something is pending, the reason a document failed,
hostile uploads refused with a page saying why, question-answer pairs and their CSV import, the search
tester, members who may only look, and tenants kept apart."""

from __future__ import annotations

import re

import httpx
import pytest

from easyflow.config import Settings
from easyflow.db.database import Database
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, make_member, run_queued_jobs
from tests.knowledge import files
from tests.knowledge.knowledge_api import DOCS, indexed
from tests.web.dashboard import home_csrf, sign_in

PAGE = "/app/knowledge"
EN = {"Accept-Language": "en"}


async def signed_in(client: httpx.AsyncClient, tenant: TenantFixture) -> str:
    await sign_in(client, tenant)
    return await home_csrf(client)


async def upload(client: httpx.AsyncClient, csrf: str, *named: tuple[str, bytes]) -> httpx.Response:
    return await client.post(
        f"{PAGE}/documents",
        data={"csrf_token": csrf},
        files=[("files", (name, data)) for name, data in named],
        headers=EN,
    )


async def test_several_files_are_uploaded_at_once_and_become_ready(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    csrf = await signed_in(client, tenant_a)
    sent = await upload(client, csrf, ("прайс.md", files.MARKDOWN.encode()), ("faq.html", files.HTML.encode()))
    assert sent.status_code == 303 and sent.headers["location"] == PAGE
    listed = (await client.get(DOCS, headers=tenant_a.headers)).json()
    assert sorted(d["filename"] for d in listed["items"]) == ["faq.html", "прайс.md"]
    assert {d["status"] for d in listed["items"]} == {"queued"}

    queued = await client.get(PAGE, headers=EN)
    assert queued.status_code == 200
    assert 'hx-trigger="every 2s"' in queued.text and "Queued" in queued.text

    await run_queued_jobs(runtime)
    fragment = await client.get(f"{PAGE}/documents", headers=EN)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert fragment.text.count('data-status="ready"') == 2
    assert "every 2s" not in fragment.text  # nothing pending: the list stops polling
    page = await client.get(PAGE)
    assert "Готов" in page.text and "прайс.md" in page.text


async def test_a_failed_document_shows_its_reason(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    csrf = await signed_in(client, tenant_a)
    assert (await upload(client, csrf, ("broken.pdf", files.broken_pdf()))).status_code == 303
    await run_queued_jobs(runtime)
    page = await client.get(PAGE, headers=EN)
    assert 'data-status="failed"' in page.text
    reason = re.search(r"<p class=\"document-error\" data-reason>Reason: ([^<]+)</p>", page.text)
    assert reason is not None and "PDF" in reason.group(1)


async def test_files_that_are_not_documents_or_empty_are_refused_by_name_and_the_rest_stored(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    csrf = await signed_in(client, tenant_a)
    refused = await upload(
        client, csrf, ("tool.exe", files.elf_bytes()), ("empty.txt", b""), ("прайс.md", files.MARKDOWN.encode())
    )
    assert refused.status_code == 400
    assert "tool.exe is not a document that can be read" in refused.text
    assert "empty.txt is empty." in refused.text
    listed = (await client.get(DOCS, headers=tenant_a.headers)).json()
    assert [d["filename"] for d in listed["items"]] == ["прайс.md"]


async def test_an_upload_without_files_is_400(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    csrf = await signed_in(client, tenant_a)
    refused = await client.post(f"{PAGE}/documents", data={"csrf_token": csrf}, files={"other": ("x", b"")}, headers=EN)
    assert refused.status_code == 400 and "Choose one or more files to upload." in refused.text


async def test_more_than_twenty_files_at_once_are_refused(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    csrf = await signed_in(client, tenant_a)
    refused = await upload(client, csrf, *[(f"{n}.md", b"# A\n\ntext") for n in range(21)])
    assert refused.status_code == 400 and "Upload at most 20 files at a time." in refused.text
    assert (await client.get(DOCS, headers=tenant_a.headers)).json()["total"] == 0


async def test_oversized_uploads_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, settings: Settings
) -> None:
    csrf = await signed_in(client, tenant_a)
    # Far over the limit: refused by the body limit before the file is read.
    huge = await upload(client, csrf, ("huge.txt", b"a" * (settings.max_upload_bytes + 200_000)))
    assert huge.status_code == 413
    # Over the service's limit within the body's: refused by name.
    runtime.settings = runtime.settings.model_copy(update={"max_upload_bytes": 2000})
    big = await upload(client, csrf, ("big.md", ("# Заголовок\n\n" + "текст " * 1000).encode()))
    assert big.status_code == 400 and "big.md is larger than the upload limit." in big.text
    assert (await client.get(DOCS, headers=tenant_a.headers)).json()["total"] == 0


async def test_a_large_file_within_the_upload_limit_is_accepted(
    client: httpx.AsyncClient, tenant_a: TenantFixture, settings: Settings
) -> None:
    csrf = await signed_in(client, tenant_a)
    text = ("Большой прайс салона. " * 40 + "\n\n") * (settings.max_body_bytes // 800 + 10)
    assert settings.max_body_bytes < len(text.encode()) < settings.max_upload_bytes
    assert (await upload(client, csrf, ("большой.txt", text.encode()))).status_code == 303


async def test_a_malformed_multipart_body_is_4xx(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    csrf = await signed_in(client, tenant_a)
    refused = await client.post(
        f"{PAGE}/documents",
        content=b"--x\r\nContent-Disposition: form-data; name=files; filename=a.txt\r\n\r\nabc",
        headers={"Content-Type": "multipart/form-data; boundary=x", "X-CSRF-Token": csrf},
    )
    assert 400 <= refused.status_code < 500


async def test_a_document_is_deleted(client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime) -> None:
    document = await indexed(client, tenant_a, runtime, "прайс.md", files.MARKDOWN.encode())
    csrf = await signed_in(client, tenant_a)
    deleted = await client.post(f"{PAGE}/documents/{document['id']}/delete", data={"csrf_token": csrf})
    assert deleted.status_code == 303
    assert (await client.get(DOCS, headers=tenant_a.headers)).json()["total"] == 0


async def test_question_answer_pairs_are_added_imported_and_deleted(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    csrf = await signed_in(client, tenant_a)
    added = await client.post(
        f"{PAGE}/qa", data={"csrf_token": csrf, "question": "Есть парковка?", "answer": "Да, у входа."}
    )
    assert added.status_code == 303
    csv = "question,answer\nМожно с собакой?,Да\nРаботаете в воскресенье?,С 10 до 18\n".encode()
    imported = await client.post(
        f"{PAGE}/qa/import", data={"csrf_token": csrf}, files={"file": ("faq.csv", csv, "text/csv")}
    )
    assert imported.status_code == 303
    page = await client.get(PAGE)
    for text in ("Есть парковка?", "Да, у входа.", "Можно с собакой?", "С 10 до 18"):
        assert text in page.text
    pairs = (await client.get("/api/v1/knowledge/qa", headers=tenant_a.headers)).json()["items"]
    assert len(pairs) == 3
    gone = next(p for p in pairs if p["question"] == "Есть парковка?")
    assert (await client.post(f"{PAGE}/qa/{gone['id']}/delete", data={"csrf_token": csrf})).status_code == 303
    assert "Есть парковка?" not in (await client.get(PAGE)).text


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        (b"\xff\xfe bad", "UTF-8"),
        ("question,answer\nТолько вопрос\n".encode(), "Row 1 needs a question and an answer."),
    ],
)
async def test_a_bad_csv_is_refused_with_the_reason(
    client: httpx.AsyncClient, tenant_a: TenantFixture, csv: bytes, message: str
) -> None:
    csrf = await signed_in(client, tenant_a)
    refused = await client.post(
        f"{PAGE}/qa/import", data={"csrf_token": csrf}, files={"file": ("faq.csv", csv)}, headers=EN
    )
    assert refused.status_code == 400 and message in refused.text
    assert (await client.get("/api/v1/knowledge/qa", headers=tenant_a.headers)).json()["total"] == 0


async def test_an_empty_pair_is_refused(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    csrf = await signed_in(client, tenant_a)
    refused = await client.post(f"{PAGE}/qa", data={"csrf_token": csrf, "question": " ", "answer": "x"}, headers=EN)
    assert refused.status_code == 400 and "Enter a question" in refused.text


async def test_the_search_tester_shows_the_passages_with_their_scores(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    await indexed(client, tenant_a, runtime, "прайс.md", files.MARKDOWN.encode())
    await signed_in(client, tenant_a)
    fragment = await client.get(
        f"{PAGE}/search", params={"q": "можно ли отменить запись"}, headers={"HX-Request": "true"}
    )
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "за 3 часа" in fragment.text and "Салон «Лотос» › Отмена записи" in fragment.text
    assert re.search(r"data-score>[^<]*\d\.\d\d<", fragment.text)
    whole = await client.get(f"{PAGE}/search", params={"q": "можно ли отменить запись"})
    assert "<html" in whole.text and "за 3 часа" in whole.text
    assert (await client.get(f"{PAGE}/search", params={"q": "  "})).status_code == 400
    assert (await client.get(f"{PAGE}/search", params={"q": "x" * 2001})).status_code == 400


async def test_a_viewer_sees_the_knowledge_but_may_not_change_it(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    document = await indexed(client, tenant_a, runtime, "прайс.md", files.MARKDOWN.encode())
    email = await make_member(database, tenant_a, Role.viewer)
    await sign_in(client, TenantFixture(**{**tenant_a.__dict__, "owner_email": email}), "member-pass-1")
    page = await client.get(PAGE)
    assert page.status_code == 200 and "прайс.md" in page.text
    assert 'name="files"' not in page.text and "/delete" not in page.text
    csrf = await home_csrf(client)
    assert (await upload(client, csrf, ("a.md", b"# A\n\ntext"))).status_code == 403
    refused = await client.post(f"{PAGE}/documents/{document['id']}/delete", data={"csrf_token": csrf})
    assert refused.status_code == 403
    assert (await client.get(DOCS, headers=tenant_a.headers)).json()["total"] == 1


async def test_another_tenants_documents_and_pairs_are_not_found(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture, runtime: Runtime
) -> None:
    theirs = await indexed(client, tenant_b, runtime, "прайс.md", files.MARKDOWN.encode())
    pair = (
        await client.post("/api/v1/knowledge/qa", json={"question": "Q?", "answer": "A"}, headers=tenant_b.headers)
    ).json()
    csrf = await signed_in(client, tenant_a)
    assert "прайс.md" not in (await client.get(PAGE)).text
    assert (await client.post(f"{PAGE}/documents/{theirs['id']}/delete", data={"csrf_token": csrf})).status_code == 404
    assert (await client.post(f"{PAGE}/qa/{pair['id']}/delete", data={"csrf_token": csrf})).status_code == 404
    found = await client.get(f"{PAGE}/search", params={"q": "отменить запись"}, headers={"HX-Request": "true"})
    assert "за 3 часа" not in found.text
    assert (await client.get(f"{DOCS}/{theirs['id']}", headers=tenant_b.headers)).json()["status"] == "ready"
