"""Bad input of every kind gets a clear 4xx problem+json, and nothing is stored half-way."""

from __future__ import annotations

import httpx
import pytest

from easyflow.config import Settings
from tests.conftest import TenantFixture
from tests.support import assert_problem


async def member_emails(client: httpx.AsyncClient, tenant: TenantFixture) -> list[str]:
    return [m["email"] for m in (await client.get("/api/v1/users", headers=tenant.headers)).json()["items"]]


@pytest.mark.parametrize(
    "raw",
    [b'{"email": "a@b.c", "password": ', b"not json at all", b'{"email": "\xff\xfe"}', b"[1, 2", b"\x00\x01"],
    ids=["truncated", "text", "invalid-utf8", "unclosed-array", "binary"],
)
async def test_malformed_json_is_400(client: httpx.AsyncClient, tenant_a: TenantFixture, raw: bytes) -> None:
    before = await member_emails(client, tenant_a)
    response = await client.post(
        "/api/v1/users", content=raw, headers={**tenant_a.headers, "content-type": "application/json"}
    )
    body = assert_problem(response, 400)
    assert body["title"] == "Malformed JSON"
    assert await member_emails(client, tenant_a) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "someone@example.com", "password": 12345678, "role": "viewer"}, "password"),
        ({"email": "not-an-email", "password": "tall-cedar-lantern"}, "email"),
        ({"email": "x@example.com", "password": "tall-cedar-lantern", "role": "god"}, "role"),
        ({"email": "x@example.com", "password": "tall-cedar-lantern", "is_superuser": True}, "is_superuser"),
        ({"email": "x@example.com", "password": "short"}, "password"),
        ([], "body"),
    ],
    ids=["wrong-type", "bad-email", "unknown-role", "unknown-field", "short-password", "array"],
)
async def test_invalid_bodies_are_422_naming_the_field(
    client: httpx.AsyncClient, tenant_a: TenantFixture, body: object, field: str
) -> None:
    before = await member_emails(client, tenant_a)
    response = await client.post("/api/v1/users", json=body, headers=tenant_a.headers)
    problem = assert_problem(response, 422)
    assert any(error["field"] == field for error in problem["errors"]), problem  # type: ignore[attr-defined]
    assert field in str(problem["detail"])
    assert await member_emails(client, tenant_a) == before


async def test_oversized_bodies_are_413_before_being_read(
    client: httpx.AsyncClient, tenant_a: TenantFixture, settings: Settings
) -> None:
    before = await member_emails(client, tenant_a)
    padding = "я" * settings.max_body_bytes
    body = {"email": "big@example.com", "password": "tall-cedar-lantern", "name": padding}
    response = await client.post("/api/v1/users", json=body, headers=tenant_a.headers)
    problem = assert_problem(response, 413)
    assert str(settings.max_body_bytes) in str(problem["detail"])
    assert await member_emails(client, tenant_a) == before


async def test_oversized_streamed_bodies_without_length_are_413(
    client: httpx.AsyncClient, tenant_a: TenantFixture, settings: Settings
) -> None:
    async def chunks():  # no Content-Length: the limit must count the bytes as they arrive
        yield b'{"email": "big@example.com", "password": "tall-cedar-lantern", "name": "'
        for _ in range(settings.max_body_bytes // 65536 + 2):
            yield b"a" * 65536
        yield b'"}'

    before = await member_emails(client, tenant_a)
    response = await client.post(
        "/api/v1/users", content=chunks(), headers={**tenant_a.headers, "content-type": "application/json"}
    )
    assert_problem(response, 413)
    assert await member_emails(client, tenant_a) == before


async def test_unknown_routes_and_methods_are_problems(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/v1/nope"), 404)
    assert_problem(await client.put("/health"), 405)


async def test_duplicated_request_is_a_clear_conflict(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    body = {"email": "twice@example.com", "password": "twice-Дважды-2026", "role": "viewer"}
    assert (await client.post("/api/v1/users", json=body, headers=tenant_a.headers)).status_code == 202
    assert (await client.post("/api/v1/users", json=body, headers=tenant_a.headers)).status_code == 202  # still invited
    login = {"email": "twice@example.com", "password": "twice-Дважды-2026"}
    assert (await client.post("/api/v1/auth/login", json=login)).status_code == 200  # joins on first sign-in
    assert_problem(await client.post("/api/v1/users", json=body, headers=tenant_a.headers), 409)
    assert (await member_emails(client, tenant_a)).count("twice@example.com") == 1


async def test_hostile_strings_are_stored_verbatim_not_interpreted(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    hostile = "Robert'); DROP TABLE tenants;-- <script>alert(1)</script> \u202e"
    response = await client.patch("/api/v1/tenant", json={"name": hostile}, headers=tenant_a.headers)
    assert response.status_code == 200
    assert (await client.get("/api/v1/tenant", headers=tenant_a.headers)).json()["name"] == hostile.strip()
