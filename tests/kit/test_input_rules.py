"""The rules every input obeys (kit/schemas): no U+0000 in any text, bounded JSON depth, finite and bounded
numbers, page offsets within PostgreSQL's bigint. Each is a 422 problem naming the field, on every route that
takes such input, and nothing is stored."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.db.session import enter_system_scope
from tests.conftest import TenantFixture
from tests.support import assert_problem

SITE = "https://lotos.example"
NUL_TEXT = "Здравствуйте\x00, hello"


async def created(client: httpx.AsyncClient, path: str, tenant: TenantFixture, **kwargs: Any) -> dict[str, Any]:
    response = await client.post(path, headers=tenant.headers, **kwargs)
    assert response.status_code in (200, 201, 202), response.text
    return dict(response.json())


async def objects_of(client: httpx.AsyncClient, tenant: TenantFixture) -> dict[str, str]:
    """An object of each kind the routes below name in their paths, and a widget visitor's token."""
    assistant = (await client.get("/api/v1/assistants", headers=tenant.headers)).json()["items"][0]
    widget = await created(
        client, "/api/v1/channels", tenant, json={"type": "widget", "name": "Сайт", "allowed_origins": [SITE]}
    )
    pair = await created(client, "/api/v1/knowledge/qa", tenant, json={"question": "Часы?", "answer": "9-21"})
    session = await client.post(f"/widget/v1/{widget['public_key']}/session", json={}, headers={"Origin": SITE})
    return {
        "assistant": assistant["id"],
        "channel": widget["id"],
        "key": widget["public_key"],
        "pair": pair["id"],
        "user": str(tenant.owner_id),
        "visitor": session.json()["visitor_token"],
    }


# (method, path, body, the field named in the answer): every kind of text a request carries.
NUL_CASES: list[tuple[str, str, dict[str, Any], str]] = [
    ("POST", "/widget/v1/{key}/session", {"visitor_token": NUL_TEXT}, "visitor_token"),
    ("POST", "/widget/v1/{key}/session", {"user_id": NUL_TEXT, "user_signature": "00"}, "user_id"),
    ("POST", "/widget/v1/{key}/messages", {"text": NUL_TEXT, "client_id": "abcdefgh1"}, "text"),
    ("POST", "/api/v1/assistants", {"name": NUL_TEXT}, "name"),
    ("PATCH", "/api/v1/assistants/{assistant}", {"instructions": NUL_TEXT}, "instructions"),
    ("PATCH", "/api/v1/assistants/{assistant}", {"greeting": NUL_TEXT}, "greeting"),
    ("PATCH", "/api/v1/assistants/{assistant}", {"model": {"model_name": NUL_TEXT}}, "model.model_name"),
    ("PATCH", "/api/v1/assistants/{assistant}", {"knowledge_scope": {"tags": [NUL_TEXT]}}, "knowledge_scope"),
    ("PATCH", "/api/v1/assistants/{assistant}", {"knowledge_scope": {NUL_TEXT: 1}}, "knowledge_scope"),
    ("PATCH", "/api/v1/tenant", {"facts": NUL_TEXT}, "facts"),
    ("PATCH", "/api/v1/tenant", {"name": NUL_TEXT}, "name"),
    ("POST", "/api/v1/knowledge/qa", {"question": NUL_TEXT, "answer": "ok"}, "question"),
    ("PATCH", "/api/v1/knowledge/qa/{pair}", {"answer": NUL_TEXT}, "answer"),
    ("POST", "/api/v1/knowledge/search", {"query": NUL_TEXT}, "query"),
    ("POST", "/api/v1/users", {"email": "new@example.com", "name": NUL_TEXT}, "name"),
    ("PATCH", "/api/v1/users/{user}", {"name": NUL_TEXT}, "name"),
    ("POST", "/api/v1/api-keys", {"name": NUL_TEXT}, "name"),
    ("POST", "/api/v1/channels", {"type": "widget", "name": NUL_TEXT, "allowed_origins": [SITE]}, "widget.name"),
    ("PATCH", "/api/v1/channels/{channel}", {"name": NUL_TEXT}, "name"),
    ("PATCH", "/api/v1/channels/{channel}", {"widget": {"greeting": NUL_TEXT}}, "widget.greeting"),
    ("POST", "/api/v1/auth/login", {"email": "owner@example.com", "password": NUL_TEXT}, "password"),
    ("POST", "/api/v1/auth/refresh", {"refresh_token": NUL_TEXT}, "refresh_token"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), NUL_CASES, ids=[f"{c[1]}:{c[3]}" for c in NUL_CASES])
async def test_nul_in_any_text_is_422_naming_the_field(
    client: httpx.AsyncClient, tenant_a: TenantFixture, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    objects = await objects_of(client, tenant_a)
    headers = {**tenant_a.headers, "Origin": SITE}
    if path.startswith("/widget/") and "messages" in path:
        headers["Authorization"] = f"Bearer {objects['visitor']}"
    response = await client.request(method, path.format(**objects), json=body, headers=headers)
    problem = assert_problem(response, 422)
    [error] = problem["errors"]  # type: ignore[misc]
    assert error["field"] == field and "U+0000" in error["message"]
    assert NUL_TEXT not in response.text  # the answer does not echo the input


async def test_nothing_with_a_nul_is_stored_and_stored_text_still_reads(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    objects = await objects_of(client, tenant_a)
    path = f"/api/v1/assistants/{objects['assistant']}"
    kept = {"instructions": "Отвечай кратко.\tTabs and\nnew lines stay.", "knowledge_scope": {"теги": ["цены"]}}
    assert (await client.patch(path, json=kept, headers=tenant_a.headers)).status_code == 200
    refused = await client.patch(path, json={"instructions": NUL_TEXT}, headers=tenant_a.headers)
    assert refused.status_code == 422
    stored = (await client.get(path, headers=tenant_a.headers)).json()
    assert (stored["instructions"], stored["knowledge_scope"]) == (kept["instructions"], kept["knowledge_scope"])


async def test_a_widget_key_with_a_nul_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/widget/v1/wk_abc%00def/session", json={}, headers={"Origin": SITE})
    assert_problem(response, 404)


def multipart(filename: str, content: bytes, **fields: str) -> tuple[bytes, str]:
    """A form with one file, built by hand: clients percent-encode a NUL in a file name, a hostile one need not."""
    boundary = "easyflow-boundary"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()]
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n\r\n'
    body = "".join(parts).encode() + head.encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


async def test_file_names_lose_their_nul(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    body, content_type = multipart("прайс\x00.txt", "Стрижка — 1500 ₽.".encode())
    response = await client.post(
        "/api/v1/knowledge/documents", content=body, headers={**tenant_a.headers, "content-type": content_type}
    )
    assert response.status_code == 202, response.text
    assert response.json()["filename"] == "прайс.txt"

    objects = await objects_of(client, tenant_a)
    headers = {"Authorization": f"Bearer {objects['visitor']}", "Origin": SITE}
    picture = b"\x89PNG\r\n\x1a\n" + bytes(64)
    body, content_type = multipart("фото\x00.png", picture, client_id="upload-nul-1")
    sent = await client.post(
        f"/widget/v1/{objects['key']}/files", content=body, headers={**headers, "content-type": content_type}
    )
    assert sent.status_code == 202, sent.text
    [message] = (await client.get(f"/widget/v1/{objects['key']}/messages", headers=headers)).json()["messages"]
    assert (message["text"], message["attachments"][0]["name"]) == ("фото.png", "фото.png")

    body, content_type = multipart("фото.png", picture, client_id="upload-nul-2", text=NUL_TEXT)
    refused = await client.post(
        f"/widget/v1/{objects['key']}/files", content=body, headers={**headers, "content-type": content_type}
    )
    assert (
        assert_problem(refused, 400)["detail"]
        == "text: Value error, contains the character U+0000, which text cannot hold"
    )


@pytest.mark.parametrize(
    ("csv", "reason"),
    [
        ("вопрос,ответ\nЧасы работы?,С 9 до 21\nПарковка\x00?,Есть\n".encode(), "Row 2 contains the character U+0000"),
        (b"\xff\x00\xfe,\x00\n", "UTF-8"),
        (('Часы?,"' + "очень длинный ответ " * 10_000).encode(), "could not be read: field larger than field limit"),
    ],
    ids=["nul", "invalid-utf8-and-nul", "unclosed-quote"],
)
async def test_a_qa_csv_that_cannot_be_read_is_refused_and_nothing_imported(
    client: httpx.AsyncClient, tenant_a: TenantFixture, csv: bytes, reason: str
) -> None:
    response = await client.post(
        "/api/v1/knowledge/qa/import", files={"file": ("faq.csv", csv)}, headers=tenant_a.headers
    )
    assert reason in str(assert_problem(response, 400)["detail"])
    assert (await client.get("/api/v1/knowledge/qa", headers=tenant_a.headers)).json()["total"] == 0


LIST_ROUTES = [
    "/api/v1/users",
    "/api/v1/api-keys",
    "/api/v1/assistants",
    "/api/v1/conversations",
    "/api/v1/knowledge/documents",
    "/api/v1/knowledge/qa",
    "/api/v1/channels",
]


@pytest.mark.parametrize("path", LIST_ROUTES)
async def test_offsets_beyond_a_bigint_are_422_and_the_largest_is_an_empty_page(
    client: httpx.AsyncClient, tenant_a: TenantFixture, path: str
) -> None:
    too_far = await client.get(path, params={"offset": 2**63}, headers=tenant_a.headers)
    assert assert_problem(too_far, 422)["errors"][0]["field"] == "query.offset"  # type: ignore[index]
    farthest = await client.get(path, params={"offset": 2**63 - 1}, headers=tenant_a.headers)
    assert farthest.status_code == 200, farthest.text
    assert farthest.json()["items"] == []


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize("depth", [33, 300, 900])
async def test_json_nested_too_deep_is_422(client: httpx.AsyncClient, tenant_a: TenantFixture, depth: int) -> None:
    objects = await objects_of(client, tenant_a)
    path = f"/api/v1/assistants/{objects['assistant']}"
    # Serialized by hand: the standard encoder itself gives up before 900 levels.
    body = '{"knowledge_scope": ' + '{"a": ' * (depth - 1) + "{}" + "}" * depth
    response = await client.patch(
        path, content=body.encode(), headers={**tenant_a.headers, "content-type": "application/json"}
    )
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["field"] == "knowledge_scope"  # type: ignore[index]
    assert "nested deeper than 32" in str(problem["detail"])
    assert (await client.get(path, headers=tenant_a.headers)).json()["knowledge_scope"] == {}


async def test_json_as_deep_as_allowed_is_stored(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    objects = await objects_of(client, tenant_a)
    path = f"/api/v1/assistants/{objects['assistant']}"
    response = await client.patch(path, json={"knowledge_scope": nested(32)}, headers=tenant_a.headers)
    assert response.status_code == 200, response.text
    assert (await client.get(path, headers=tenant_a.headers)).json()["knowledge_scope"] == nested(32)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"model": {"input_price_per_million": 1.8e296}}',
        b'{"model": {"output_price_per_million": 100001}}',
        b'{"model": {"input_price_per_million": -1}}',
        b'{"model": {"temperature": NaN}}',
        b'{"model": {"input_price_per_million": Infinity}}',
    ],
    ids=["huge", "above-the-bound", "negative", "nan", "infinity"],
)
async def test_numbers_out_of_bounds_are_422(client: httpx.AsyncClient, tenant_a: TenantFixture, raw: bytes) -> None:
    objects = await objects_of(client, tenant_a)
    path = f"/api/v1/assistants/{objects['assistant']}"
    response = await client.patch(path, content=raw, headers={**tenant_a.headers, "content-type": "application/json"})
    assert str(assert_problem(response, 422)["errors"][0]["field"]).startswith("model.")  # type: ignore[index]
    assert (await client.get(path, headers=tenant_a.headers)).json()["model"]["input_price_per_million"] == 0


async def test_prices_within_bounds_are_kept(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    objects = await objects_of(client, tenant_a)
    path = f"/api/v1/assistants/{objects['assistant']}"
    prices = {"input_price_per_million": 2.5, "output_price_per_million": 100_000}
    response = await client.patch(path, json={"model": prices}, headers=tenant_a.headers)
    assert response.status_code == 200, response.text
    assert {k: response.json()["model"][k] for k in prices} == prices


async def test_an_unknown_id_with_a_nul_in_the_path_is_422_not_a_query(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    response = await client.get(f"/api/v1/assistants/{uuid.uuid4().hex[:8]}%00", headers=tenant_a.headers)
    assert_problem(response, 422)


async def test_a_scope_stored_too_deep_before_the_rules_reads_as_empty_and_stays_stored(
    client: httpx.AsyncClient, tenant_a: TenantFixture, session: AsyncSession
) -> None:
    """Older versions stored any depth (and then failed every read of the tenant's assistants)."""
    objects = await objects_of(client, tenant_a)
    await enter_system_scope(session)
    deep = '{"a": ' * 299 + "{}" + "}" * 299
    update = "UPDATE assistants SET knowledge_scope = CAST(:deep AS jsonb) WHERE id = :id"
    await session.execute(text(update), {"deep": deep, "id": objects["assistant"]})
    listed = await client.get("/api/v1/assistants", headers=tenant_a.headers)
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"][0]["knowledge_scope"] == {}
    depth = "SELECT length(knowledge_scope::text) FROM assistants WHERE id = :id"
    assert (await session.execute(text(depth), {"id": objects["assistant"]})).scalar_one() == len(deep)
