"""Health checks, metrics, request ids, and logs that never carry secrets."""

from __future__ import annotations

import json

import httpx
import pytest
import structlog
from pydantic import SecretStr

from easyflow.app import create_app
from easyflow.config import Settings
from easyflow.observability.logging import configure_logging
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {
        "database": "ok",
        "migrations": "ok",
        "server": "ok",
        "pgvector": "ok",
        "app_login": "ok",  # the app logs in as easyflow_app, which row-level security binds
        "pg_trgm": "ok",
        "btree_gist": "ok",
    }
    assert "warnings" not in ready.json(), "the embedded server lacks nothing"


async def metrics_client(
    settings: Settings, runtime: Runtime, *, client: str = "127.0.0.1", token: str | None = None
) -> httpx.AsyncClient:
    app = create_app(settings.model_copy(update={"metrics_token": token and SecretStr(token)}), runtime=runtime)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(client, 50000)), base_url="http://t")


async def test_metrics_count_requests_by_route_template(
    settings: Settings, runtime: Runtime, tenant_a: TenantFixture
) -> None:
    async with await metrics_client(settings, runtime) as local:
        await local.get(f"/api/v1/users/{tenant_a.owner_id}", headers=tenant_a.headers)
        text = (await local.get("/metrics")).text
    assert 'easyflow_http_requests_total{method="GET",route="/api/v1/users/{user_id}",status="200"} 1.0' in text
    assert "easyflow_http_request_duration_seconds_bucket" in text
    assert "easyflow_db_pool_size" in text
    assert str(tenant_a.owner_id) not in text  # ids never become label values


async def test_without_a_token_metrics_answer_only_this_hosts_clients(
    client: httpx.AsyncClient, settings: Settings, runtime: Runtime
) -> None:
    refused = await client.get("/metrics")  # the test client comes from 203.0.113.7
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert "EASYFLOW_METRICS_TOKEN" in refused.json()["detail"]
    async with await metrics_client(settings, runtime, client="::1") as local:
        assert (await local.get("/metrics")).status_code == 200
        # what a reverse proxy on this host forwards comes from elsewhere
        assert (await local.get("/metrics", headers={"X-Forwarded-For": "198.51.100.1"})).status_code == 403
        assert (await local.get("/metrics", headers={"Forwarded": "for=198.51.100.1"})).status_code == 403


async def test_with_a_token_metrics_need_it_from_everywhere(settings: Settings, runtime: Runtime) -> None:
    async with await metrics_client(settings, runtime, client="203.0.113.9", token="scrape-Секрет-42") as remote:
        assert (await remote.get("/metrics")).status_code == 401
        wrong = await remote.get("/metrics", headers={"Authorization": "Bearer scrape-Секрет-41".encode()})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        assert (await remote.get("/metrics", headers={"Authorization": "Basic c2NyYXBl"})).status_code == 401
        right = await remote.get("/metrics", headers={"Authorization": "Bearer scrape-Секрет-42".encode()})
        assert right.status_code == 200 and "easyflow_http_requests_total" in right.text
    async with await metrics_client(settings, runtime, token="scrape-Секрет-42") as local:
        assert (await local.get("/metrics")).status_code == 401  # the token binds loopback clients too


async def test_request_ids_are_echoed_or_made(client: httpx.AsyncClient) -> None:
    mine = await client.get("/health", headers={"X-Request-ID": "trace-42"})
    assert mine.headers["x-request-id"] == "trace-42"
    hostile = await client.get("/health", headers={"X-Request-ID": "bad id\r\nwith spaces"})
    assert hostile.headers["x-request-id"] != "bad id\r\nwith spaces"
    assert len(hostile.headers["x-request-id"]) == 32
    problem = await client.get("/nowhere", headers={"X-Request-ID": "trace-43"})
    assert problem.json()["request_id"] == "trace-43"


async def test_openapi_describes_the_api(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "/api/v1/auth/login" in spec["paths"]
    assert (await client.get("/docs")).status_code == 200


async def test_logs_mask_secrets(client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    log = structlog.get_logger("test")
    log.info("calling", password="hunter2", api_key="ef_abc_secret", note="Authorization: Bearer ef_abc_secret")
    await client.post("/api/v1/auth/login", json={"email": "a@example.com", "password": "hunter2-password"})
    captured = capsys.readouterr().err
    assert "hunter2" not in captured
    assert "ef_abc_secret" not in captured
    lines = [json.loads(line) for line in captured.splitlines() if line.startswith("{")]
    assert any(line.get("event") == "request" and line.get("status") == 401 for line in lines)
