"""Curated question-answer pairs: CRUD, CSV import, matched on the question, answered with the answer."""

from __future__ import annotations

import httpx
import pytest

from easyflow.db.database import Database
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, make_key, run_queued_jobs

QA = "/api/v1/knowledge/qa"


async def test_crud(client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture) -> None:
    created = await client.post(
        QA, json={"question": "Есть ли парковка?", "answer": "Да, бесплатная, во дворе."}, headers=tenant_a.headers
    )
    assert created.status_code == 201
    pair = created.json()
    url = f"{QA}/{pair['id']}"
    updated = await client.patch(url, json={"answer": "Да, 10 мест во дворе."}, headers=tenant_a.headers)
    assert updated.json()["answer"] == "Да, 10 мест во дворе."
    assert (await client.get(QA, headers=tenant_a.headers)).json()["total"] == 1
    for method in ("GET", "PATCH", "DELETE"):
        body = {"answer": "взлом"} if method == "PATCH" else None
        assert (await client.request(method, url, json=body, headers=tenant_b.headers)).status_code == 404
    assert (await client.delete(url, headers=tenant_a.headers)).status_code == 204
    assert (await client.get(url, headers=tenant_a.headers)).status_code == 404


async def test_csv_import_and_answers_from_pairs(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    csv_text = (
        'вопрос;ответ\nЕсть ли парковка?;Да, бесплатная парковка во дворе.\n"Можно с собакой?";Только с маленькой.\n'
    )
    imported = await client.post(
        f"{QA}/import", files={"file": ("faq.csv", csv_text.encode("utf-8-sig"))}, headers=tenant_a.headers
    )
    assert imported.status_code == 201, imported.text
    assert imported.json() == {"imported": 2}
    found = (
        await client.post(
            "/api/v1/knowledge/search", json={"query": "где оставить машину, парковка есть?"}, headers=tenant_a.headers
        )
    ).json()["items"][0]
    assert found["document"] == "Вопросы и ответы"
    assert found["section"] == "Есть ли парковка?"
    assert found["text"] == "Да, бесплатная парковка во дворе."

    accepted = await client.post(
        "/api/v1/channels/api/messages",
        json={"contact": {"external_id": "c"}, "text": "А парковка у вас есть?", "external_message_id": "1"},
        headers=tenant_a.headers,
    )
    await run_queued_jobs(runtime)
    conversation = accepted.json()["conversation_id"]
    reply = (await client.get(f"/api/v1/conversations/{conversation}/messages", headers=tenant_a.headers)).json()[-1]
    assert reply["text"].startswith("Да, бесплатная парковка во дворе.")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "no rows"),
        (b"question,answer\nonly a question\n", "Row 1"),
        ("вопрос;\n".encode(), "Row 1"),
        (b"\xff\xfe\x00b\x00a\x00d", "UTF-8"),
    ],
    ids=["empty", "one-column", "empty-answer", "not-utf8"],
)
async def test_bad_csv_is_refused_and_nothing_imported(
    client: httpx.AsyncClient, tenant_a: TenantFixture, content: bytes, reason: str
) -> None:
    response = await client.post(f"{QA}/import", files={"file": ("faq.csv", content)}, headers=tenant_a.headers)
    assert response.status_code == 400, response.text
    assert reason in response.json()["detail"]
    assert (await client.get(QA, headers=tenant_a.headers)).json()["total"] == 0


async def test_roles(client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture) -> None:
    viewer = {"Authorization": f"Bearer {await make_key(database, tenant_a, Role.viewer)}"}
    operator = {"Authorization": f"Bearer {await make_key(database, tenant_a, Role.operator)}"}
    body = {"question": "q?", "answer": "a"}
    assert (await client.post(QA, json=body, headers=viewer)).status_code == 403
    assert (await client.post(QA, json=body, headers=operator)).status_code == 403
    assert (await client.get(QA, headers=viewer)).status_code == 200
    upload = await client.post(
        "/api/v1/knowledge/documents", files={"file": ("a.md", b"# A\n\ntext")}, headers=operator
    )
    assert upload.status_code == 403
    assert (await client.post("/api/v1/knowledge/search", json={"query": "a"}, headers=viewer)).status_code == 200
