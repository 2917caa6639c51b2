"""Connecting YCLIENTS through the API (checked with YCLIENTS, the user token encrypted and never shown), tenants
kept apart, and the record webhooks authenticated by the secret in their URL."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import text
from structlog.testing import capture_logs

from easyflow.booking.connection.repository import BookingConnectionRepository, BookingSyncEventRepository
from easyflow.booking.yclients import yclients_backend
from easyflow.db.database import Database
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from tests.booking.yclients_steps import USER_TOKEN, Salon
from tests.conftest import TenantFixture, make_key
from tests.doubles.yclients import YRecord

CONNECTION = "/api/v1/booking/connection"


def _body(salon: Salon, **changes: Any) -> dict[str, Any]:
    return {"kind": "yclients", "company_id": salon.company.id, "user_token": USER_TOKEN, **changes}


async def connect(client: httpx.AsyncClient, tenant: TenantFixture, salon: Salon) -> dict[str, Any]:
    response = await client.put(CONNECTION, json=_body(salon), headers=tenant.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _hook_path(created: dict[str, Any]) -> tuple[str, str]:
    url = urlsplit(created["webhook_url"])
    return url.path, parse_qs(url.query)["token"][0]


async def test_connecting_checks_the_token_stores_it_encrypted_and_never_shows_it(
    yc_client: httpx.AsyncClient, yc_runtime: Runtime, database: Database, tenant_a: TenantFixture, salon: Salon
) -> None:
    with capture_logs() as logs:
        created = await connect(yc_client, tenant_a, salon)
    assert created["company_id"] == salon.company.id and created["company_title"] == "Салон «Лотос»"
    assert created["webhook_url"].startswith(f"http://testserver/hooks/yclients/{created['id']}?token=")
    assert USER_TOKEN not in str(created)
    assert ("GET", f"/api/v1/records/{salon.company.id}") in salon.double.calls  # the user token was tried

    read = await yc_client.get(CONNECTION, headers=tenant_a.headers)
    assert read.status_code == 200
    assert read.json() == {k: v for k, v in created.items() if k != "webhook_url"}
    _, secret = _hook_path(created)
    assert USER_TOKEN not in read.text and secret not in read.text
    assert USER_TOKEN not in str(logs) and secret not in str(logs)
    assert salon.double.partner_token not in str(logs) + read.text + str(created)

    async with database.tenant_transaction(tenant_a.id) as session:
        stored = (await session.execute(text("SELECT * FROM booking_connections"))).mappings().one()
        assert USER_TOKEN not in str(dict(stored)) and secret not in str(dict(stored))
        connection = await BookingConnectionRepository(session).current()
        assert connection is not None
    # What the backend registry will do with the stored connection: book through it.
    services = await yclients_backend(yc_runtime, connection).services()
    assert {s.name for s in services} == {"Стрижка женская", "Окрашивание"}

    again = await connect(yc_client, tenant_a, salon)
    assert again["id"] == created["id"] and again["webhook_url"] != created["webhook_url"]
    stale_path, stale_secret = _hook_path(created)
    hook = salon.double.record_webhook(_record(salon), "create")
    refused = await yc_client.post(stale_path, params={"token": stale_secret}, json=hook)
    assert refused.status_code == 401  # connecting again retired the old secret

    assert (await yc_client.delete(CONNECTION, headers=tenant_a.headers)).status_code == 204
    assert (await yc_client.get(CONNECTION, headers=tenant_a.headers)).status_code == 404
    assert (await yc_client.delete(CONNECTION, headers=tenant_a.headers)).status_code == 404


async def test_refused_and_bad_connections_are_422(
    yc_client: httpx.AsyncClient, tenant_a: TenantFixture, salon: Salon
) -> None:
    other = salon.double.add_company("Чужой салон")
    cases = [
        _body(salon, user_token="wrong0token0for0yclients"),
        _body(salon, company_id=other.id),  # a real token, but not this company's user
        _body(salon, company_id=999_999_999),
        _body(salon, kind="bitrix24"),
        _body(salon, company_id=0),
        _body(salon, company_id=10**13),
        _body(salon, company_id="12; DROP TABLE"),
        _body(salon, user_token="short"),
        _body(salon, user_token="x" * 257),
        _body(salon, user_token="token with spaces\r\nX-Injected: 1"),
        _body(salon, user_token=USER_TOKEN + "\u0000"),
        {**_body(salon), "partner_token": "mine"},
        {"kind": "yclients", "company_id": salon.company.id},
    ]
    for body in cases:
        response = await yc_client.put(CONNECTION, json=body, headers=tenant_a.headers)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert USER_TOKEN not in response.text
    malformed = await yc_client.put(
        CONNECTION, content=b'{"kind": "yclients", ', headers={**tenant_a.headers, "Content-Type": "application/json"}
    )
    assert malformed.status_code == 400  # the house answer to unparseable JSON
    huge = await yc_client.put(CONNECTION, json=_body(salon, user_token="a" * 2_000_000), headers=tenant_a.headers)
    assert huge.status_code == 413
    assert (await yc_client.get(CONNECTION, headers=tenant_a.headers)).status_code == 404


async def test_yclients_down_while_connecting_is_503_and_nothing_is_stored(
    yc_client: httpx.AsyncClient, tenant_a: TenantFixture, salon: Salon
) -> None:
    salon.double.fail_next(500, 500, 500, 500)
    response = await yc_client.put(CONNECTION, json=_body(salon), headers=tenant_a.headers)
    assert response.status_code == 503 and "booking-backend-unavailable" in response.json()["type"]
    assert (await yc_client.get(CONNECTION, headers=tenant_a.headers)).status_code == 404


async def test_tenants_never_see_or_use_each_others_connection(
    yc_client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture, salon: Salon
) -> None:
    created = await connect(yc_client, tenant_a, salon)
    assert (await yc_client.get(CONNECTION, headers=tenant_b.headers)).status_code == 404
    assert (await yc_client.delete(CONNECTION, headers=tenant_b.headers)).status_code == 404
    assert (await yc_client.get(CONNECTION, headers=tenant_a.headers)).status_code == 200

    b_company = salon.double.add_company("Tour agency B")
    salon.double.authorize("user0token0of0tenant0b", b_company)
    b_created = await yc_client.put(
        CONNECTION,
        json={"kind": "yclients", "company_id": b_company.id, "user_token": "user0token0of0tenant0b"},
        headers=tenant_b.headers,
    )
    assert b_created.status_code == 200
    a_path, _ = _hook_path(created)
    _, b_secret = _hook_path(b_created.json())
    hook = salon.double.record_webhook(_record(salon), "create")
    assert (await yc_client.post(a_path, params={"token": b_secret}, json=hook)).status_code == 401
    assert (await yc_client.get(CONNECTION, headers=tenant_a.headers)).json()["company_id"] == salon.company.id


async def test_only_admins_manage_the_connection(
    yc_client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, salon: Salon
) -> None:
    viewer = {"Authorization": f"Bearer {await make_key(database, tenant_a, Role.viewer)}"}
    for method in ("GET", "PUT", "DELETE"):
        body = _body(salon) if method == "PUT" else None
        assert (await yc_client.request(method, CONNECTION, json=body)).status_code == 401
        assert (await yc_client.request(method, CONNECTION, json=body, headers=viewer)).status_code == 403
    assert salon.double.calls == []


async def test_record_webhooks_are_authenticated_kept_and_logged(
    yc_client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, salon: Salon
) -> None:
    created = await connect(yc_client, tenant_a, salon)
    path, secret = _hook_path(created)
    record = _record(salon)
    with capture_logs() as logs:
        for status in ("create", "update", "delete"):
            answer = await yc_client.post(
                path, params={"token": secret}, json=salon.double.record_webhook(record, status)
            )
            assert answer.status_code == 200, answer.text
    assert [e["event"] for e in logs if e["event"].startswith("booking.yclients")] == [
        "booking.yclients.record_create",
        "booking.yclients.record_update",
        "booking.yclients.record_delete",
    ]
    assert secret not in str(logs)
    redelivered = salon.double.record_webhook(record, "update")
    assert (await yc_client.post(path, params={"token": secret}, json=redelivered)).status_code == 200
    record.comment = "Перенесли на час"
    changed_again = salon.double.record_webhook(record, "update")
    assert (await yc_client.post(path, params={"token": secret}, json=changed_again)).status_code == 200
    client_hook = {**salon.double.record_webhook(record, "update"), "resource": "client"}
    assert (await yc_client.post(path, params={"token": secret}, json=client_hook)).status_code == 200

    refusals = [
        ({"token": "wrong"}, salon.double.record_webhook(record, "create"), 401),
        ({}, salon.double.record_webhook(record, "create"), 401),
        ({"token": secret + "x"}, salon.double.record_webhook(record, "create"), 401),
        ({"token": secret}, {**salon.double.record_webhook(record, "create"), "company_id": 1}, 422),
        ({"token": secret}, {**salon.double.record_webhook(record, "create"), "status": "explode"}, 400),
        ({"token": secret}, ["not", "an", "object"], 400),
        ({"token": secret}, {"resource": "record"}, 400),
    ]
    for params, body, expected in refusals:
        response = await yc_client.post(path, params=params, json=body)
        assert response.status_code == expected, (params, body, response.text)
    unknown = await yc_client.post(f"/hooks/yclients/{uuid.uuid4()}", params={"token": secret}, json={})
    assert unknown.status_code == 404
    assert (await yc_client.post("/hooks/yclients/not-a-uuid", params={"token": secret}, json={})).status_code == 422

    async with database.tenant_transaction(tenant_a.id) as session:
        events = await BookingSyncEventRepository(session).of_connection(uuid.UUID(created["id"]))
    assert sorted(e.status for e in events) == ["create", "delete", "update", "update"]  # the repeat kept once
    assert {(e.resource, e.resource_id) for e in events} == {("record", str(record.id))}
    assert {e.starts_at for e in events} == {record.start}
    async with database.tenant_transaction(tenant_a.id) as session:
        others = await BookingSyncEventRepository(session, uuid.uuid4()).of_connection(uuid.UUID(created["id"]))
    assert others == []


def _record(salon: Salon) -> YRecord:
    record = YRecord(
        4242,
        salon.company.id,
        salon.anna.id,
        [salon.haircut.id],
        salon.regular.id,
        salon.at(salon.tomorrow(), 12),
        3600,
    )
    salon.double.records[record.id] = record
    return record


@pytest.fixture(autouse=True)
def _quiet_double(salon: Salon) -> None:
    """Connection tests count calls from a clean log."""
    salon.double.calls.clear()
