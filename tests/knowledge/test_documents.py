"""The knowledge base over HTTP: upload each kind of file, index it in the background, search it, and
refuse or fail hostile files cleanly, never leaving partial chunks; tenants never see each other's."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.db.session import enter_system_scope
from easyflow.knowledge.embeddings import OpenAICompatibleEmbedder
from easyflow.knowledge.maintenance import queue_reembedding
from easyflow.knowledge.search import KnowledgeSearch
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, run_queued_jobs
from tests.doubles.llm_server import LLMServer
from tests.knowledge import files
from tests.knowledge.knowledge_api import DOCS, SEARCH, indexed, search, upload


async def chunk_count(session: AsyncSession) -> int:
    await enter_system_scope(session)
    return int((await session.execute(text("SELECT count(*) FROM chunks"))).scalar_one())


@pytest.mark.parametrize(
    ("name", "make", "kind", "query", "document", "section", "expected"),
    [
        (
            "прайс.md",
            lambda: files.MARKDOWN.encode(),
            "markdown",
            "сколько стоит окрашивание в один тон",
            "прайс.md",
            "Салон «Лотос» › Окрашивание",
            "2800 сом",
        ),
        (
            "туры.docx",
            files.docx_bytes,
            "docx",
            "нужна ли виза в грузию",
            "туры.docx",
            "Турагентство «Горизонт» › Виза в Грузию",
            "365 дней",
        ),
        ("клиника.pdf", files.pdf_bytes, "pdf", "гарантия на пломбу", "клиника.pdf", "клиника › стр. 1", "2 года"),
        (
            "faq.html",
            lambda: files.HTML.encode(),
            "html",
            "можно вернуть товар?",
            "faq.html",
            "Магазин «ТехноДом» › Возврат товара",
            "14 дней",
        ),
        (
            "clinic.txt",
            lambda: files.TEXT.encode(),
            "text",
            "в рассрочку можно оплатить?",
            "clinic.txt",
            "2. ОПЛАТА",
            "рассрочку",
        ),
    ],
    ids=["markdown", "docx", "pdf", "html", "text"],
)
async def test_each_kind_is_indexed_and_found_with_its_section(
    client: httpx.AsyncClient,
    tenant_a: TenantFixture,
    runtime: Runtime,
    name: str,
    make,
    kind: str,
    query: str,
    document: str,
    section: str,
    expected: str,
) -> None:
    indexed_document = await indexed(client, tenant_a, runtime, name, make())
    assert indexed_document["status"] == "ready", indexed_document
    assert indexed_document["kind"] == kind
    assert indexed_document["chunk_count"] > 0
    result = await search(client, tenant_a, query)
    assert result["mode"] == "full-text"
    assert "full text only" in result["notice"]
    best = result["items"][0]
    assert (best["document"], best["section"]) == (document, section)
    assert expected in best["text"]
    assert 0 < best["score"] <= 1


async def test_html_scripts_styles_and_navigation_are_dropped(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    await indexed(client, tenant_a, runtime, "faq.html", files.HTML.encode())
    assert (await search(client, tenant_a, "tracking script secret"))["items"] == []
    assert (await search(client, tenant_a, "Главная Каталог Корзина"))["items"] == []


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("price-list.pdf", files.elf_bytes(), "executable"),
        ("notes.txt", b"MZ\x90\x00\x03" + b"\x00" * 60, "Windows executable"),
        ("photo.md", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "image"),
        ("archive.docx", b"PK\x03\x04" + b"\x00" * 60, "ZIP"),
        ("binary.txt", bytes(range(256)) * 4, "neither a document nor UTF-8 text"),
    ],
    ids=["renamed-elf", "renamed-exe", "renamed-png", "broken-zip", "binary"],
)
async def test_files_that_are_not_documents_are_refused_by_their_bytes(
    client: httpx.AsyncClient, tenant_a: TenantFixture, session: AsyncSession, name: str, data: bytes, reason: str
) -> None:
    response = await upload(client, tenant_a, name, data)
    assert response.status_code == 415, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert reason in response.json()["detail"]
    assert (await client.get(DOCS, headers=tenant_a.headers)).json()["total"] == 0
    assert await chunk_count(session) == 0


async def test_oversized_files_are_413_and_nothing_is_stored(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"max_upload_bytes": 2000})
    response = await upload(client, tenant_a, "big.md", ("# Заголовок\n\n" + "текст " * 1000).encode())
    assert response.status_code == 413
    assert "2,000" in response.json()["detail"]
    assert (await client.get(DOCS, headers=tenant_a.headers)).json()["total"] == 0


async def test_a_request_far_over_the_upload_limit_is_refused_before_reading(
    client: httpx.AsyncClient, tenant_a: TenantFixture, settings
) -> None:
    huge = b"a" * (settings.max_upload_bytes + 200_000)
    response = await upload(client, tenant_a, "huge.txt", huge)
    assert response.status_code == 413


async def test_empty_and_missing_files_are_4xx(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    assert (await upload(client, tenant_a, "empty.txt", b"")).status_code == 400
    assert (await client.post(DOCS, headers=tenant_a.headers)).status_code == 422


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        ("bomb.docx", files.zip_bomb_docx, "decompression bomb"),
        ("broken.pdf", files.broken_pdf, "PDF"),
        ("scan.pdf", lambda: b"%PDF-1.4\n%%EOF", "PDF"),
        ("blank.md", lambda: b"#   \n\n   \n", "No text"),
    ],
    ids=["zip-bomb", "malformed-pdf", "truncated-pdf", "no-text"],
)
async def test_unreadable_documents_fail_with_a_reason_and_leave_no_chunks(
    client: httpx.AsyncClient,
    tenant_a: TenantFixture,
    runtime: Runtime,
    session: AsyncSession,
    name: str,
    make,
    reason: str,
) -> None:
    document = await indexed(client, tenant_a, runtime, name, make())
    assert document["status"] == "failed"
    assert reason in document["error"]
    assert document["chunk_count"] == 0
    assert await chunk_count(session) == 0


async def test_delete_removes_the_chunks_and_reindex_rebuilds_them(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, session: AsyncSession
) -> None:
    document = await indexed(client, tenant_a, runtime, "прайс.md", files.MARKDOWN.encode())
    before = await chunk_count(session)
    assert before == document["chunk_count"] > 0
    reindex = await client.post(f"{DOCS}/{document['id']}/reindex", headers=tenant_a.headers)
    assert reindex.status_code == 202 and reindex.json()["status"] == "queued"
    await run_queued_jobs(runtime)
    assert await chunk_count(session) == before
    assert (await client.delete(f"{DOCS}/{document['id']}", headers=tenant_a.headers)).status_code == 204
    assert await chunk_count(session) == 0
    assert (await search(client, tenant_a, "окрашивание"))["items"] == []


async def test_tenants_never_see_each_others_documents(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture, runtime: Runtime
) -> None:
    theirs = await indexed(client, tenant_b, runtime, "секрет.md", files.MARKDOWN.encode())
    assert (await search(client, tenant_a, "окрашивание в один тон"))["items"] == []
    assert (await search(client, tenant_b, "окрашивание в один тон"))["items"]
    assert (await client.get(DOCS, headers=tenant_a.headers)).json()["total"] == 0
    for method, url in (
        ("GET", f"{DOCS}/{theirs['id']}"),
        ("DELETE", f"{DOCS}/{theirs['id']}"),
        ("POST", f"{DOCS}/{theirs['id']}/reindex"),
    ):
        assert (await client.request(method, url, headers=tenant_a.headers)).status_code == 404
    assert (await client.get(f"{DOCS}/{theirs['id']}", headers=tenant_b.headers)).json()["status"] == "ready"


async def test_the_offline_assistant_answers_from_the_document_with_its_source(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    await indexed(client, tenant_a, runtime, "прайс.md", files.MARKDOWN.encode())
    accepted = await client.post(
        "/api/v1/channels/api/messages",
        json={"contact": {"external_id": "c"}, "text": "Можно ли отменить запись?", "external_message_id": "1"},
        headers=tenant_a.headers,
    )
    await run_queued_jobs(runtime)
    conversation = accepted.json()["conversation_id"]
    reply = (await client.get(f"/api/v1/conversations/{conversation}/messages", headers=tenant_a.headers)).json()[-1]
    assert "за 3 часа" in reply["text"]
    assert "Источник: прайс.md, Салон «Лотос» › Отмена записи" in reply["text"]
    assert reply["citations"][0]["document"] == "прайс.md"
    flagged = (await client.get(f"/api/v1/conversations/{conversation}", headers=tenant_a.headers)).json()
    assert flagged["status"] == "bot"


async def test_hybrid_search_with_an_embeddings_endpoint(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, llm: LLMServer, database
) -> None:
    if not database.capabilities.vector_columns:
        pytest.skip("the test database has no pgvector")
    embedder = OpenAICompatibleEmbedder(runtime.http, llm.base_url, "test-embeddings", "sk-emb", 64)
    runtime.embedder = embedder
    runtime.retriever = KnowledgeSearch(embedder, vectors_available=True)
    document = await indexed(client, tenant_a, runtime, "прайс.md", files.MARKDOWN.encode())
    assert document["status"] == "ready"
    assert document["embedding_model"] == "openai:test-embeddings:64"
    assert document["progress"] == 100
    embedding_calls = [r for r in llm.double.requests if r["path"].endswith("/embeddings")]
    assert embedding_calls and embedding_calls[0]["headers"]["authorization"] == "Bearer sk-emb"
    result = await search(client, tenant_a, "окрашивание в один тон")
    assert result["mode"] == "hybrid" and result["notice"] is None
    assert result["items"][0]["section"] == "Салон «Лотос» › Окрашивание"
    status = (await client.get("/api/v1/knowledge/status", headers=tenant_a.headers)).json()
    assert status == {
        "mode": "hybrid",
        "embedding_model": "openai:test-embeddings:64",
        "notice": None,
        "documents": {"ready": 1},
        "qa_pairs": 0,
    }


async def test_an_embeddings_outage_fails_the_document_after_retries_without_chunks(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, llm: LLMServer, session: AsyncSession
) -> None:
    runtime.embedder = OpenAICompatibleEmbedder(runtime.http, "http://127.0.0.1:9/v1", "down", None, 64)
    response = await upload(client, tenant_a, "прайс.md", files.MARKDOWN.encode())
    with pytest.raises(httpx.HTTPError):
        await run_queued_jobs(runtime, last_attempt=True)
    document = (await client.get(f"{DOCS}/{response.json()['id']}", headers=tenant_a.headers)).json()
    assert document["status"] == "failed"
    assert "indexing failed after retries" in document["error"]
    assert await chunk_count(session) == 0


async def test_search_input_is_validated(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    assert (await client.post(SEARCH, json={"query": ""}, headers=tenant_a.headers)).status_code == 422
    assert (await client.post(SEARCH, json={"query": "x", "limit": 500}, headers=tenant_a.headers)).status_code == 422
    assert (await client.post(SEARCH, json={"query": "и в на"}, headers=tenant_a.headers)).json()["items"] == []
    assert (await client.post(SEARCH, json={"query": "a'b:*!|&"}, headers=tenant_a.headers)).status_code == 200
    assert (await client.post(SEARCH, json={"query": "x"})).status_code == 401


async def test_unknown_document_ids(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    assert (await client.get(f"{DOCS}/{uuid.uuid4()}", headers=tenant_a.headers)).status_code == 404


async def test_changing_the_embedding_model_re_embeds_in_the_background(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, llm: LLMServer, database, settings
) -> None:
    if not database.capabilities.vector_columns:
        pytest.skip("the test database has no pgvector")
    old = OpenAICompatibleEmbedder(runtime.http, llm.base_url, "old-model", "k", 64)
    runtime.embedder, runtime.retriever = old, KnowledgeSearch(old, vectors_available=True)
    document = await indexed(client, tenant_a, runtime, "прайс.md", files.MARKDOWN.encode())
    assert document["embedding_model"] == "openai:old-model:64"

    new_settings = settings.model_copy(
        update={
            "embedding_provider": "openai",
            "embedding_url": llm.base_url,
            "embedding_model": "new-model",
            "embedding_dimensions": 32,
        }
    )
    new = OpenAICompatibleEmbedder(runtime.http, llm.base_url, "new-model", "k", 32)
    runtime.embedder, runtime.retriever = new, KnowledgeSearch(new, vectors_available=True)
    # Until the new vectors exist, search still answers (full text carries it).
    assert (await search(client, tenant_a, "окрашивание в один тон"))["items"][0]["section"].endswith("Окрашивание")
    assert await queue_reembedding(database, new_settings) == 1
    assert await run_queued_jobs(runtime) == ["knowledge.reembed"]
    document = (await client.get(f"{DOCS}/{document['id']}", headers=tenant_a.headers)).json()
    assert document["embedding_model"] == "openai:new-model:32"
    assert (await search(client, tenant_a, "окрашивание в один тон"))["items"][0]["section"].endswith("Окрашивание")
    assert await queue_reembedding(database, new_settings) == 0
