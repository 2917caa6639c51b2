"""Health checks, metrics, request ids, and logs that never carry secrets."""

from __future__ import annotations

import json

import httpx
import pytest
import structlog

from easyflow.observability.logging import configure_logging
from tests.conftest import TenantFixture


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "migrations": "ok", "pgvector": "ok"}


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    await client.get(f"/api/v1/users/{tenant_a.owner_id}", headers=tenant_a.headers)
    text = (await client.get("/metrics")).text
    assert 'easyflow_http_requests_total{method="GET",route="/api/v1/users/{user_id}",status="200"} 1.0' in text
    assert "easyflow_http_request_duration_seconds_bucket" in text
    assert "easyflow_db_pool_size" in text
    assert str(tenant_a.owner_id) not in text  # ids never become label values


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
