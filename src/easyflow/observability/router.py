"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from easyflow.db.migrate import head_revision
from easyflow.observability.metrics import check_metrics_access

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """The process is up (does not touch the database)."""
    return {"status": "ok"}


@router.get("/health/ready", responses={503: {"description": "Not ready; the body says which check failed."}})
async def ready(request: Request) -> JSONResponse:
    """Ready to serve: the database answers and its schema is at the latest migration."""
    database = request.app.state.runtime.database
    checks: dict[str, Any] = {}
    try:
        async with database.engine.connect() as connection:
            current = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        checks["database"] = "ok"
        expected = head_revision()
        checks["migrations"] = "ok" if current == expected else f"at {current}, expected {expected}"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    checks["pgvector"] = "ok" if database.capabilities.pgvector else "missing: full-text search only"
    is_ready = checks.get("database") == "ok" and checks.get("migrations") == "ok"
    body = {"status": "ready" if is_ready else "not ready", "checks": checks}
    if database.capabilities.warnings:
        body["warnings"] = database.capabilities.warnings
    return JSONResponse(body, status_code=200 if is_ready else 503)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    client_host = request.client.host if request.client else None
    check_metrics_access(request.app.state.settings.metrics_token, client_host, request.headers)
    app_metrics = request.app.state.metrics
    app_metrics.observe_pool(request.app.state.runtime.database.engine)
    return Response(generate_latest(app_metrics.registry), media_type=CONTENT_TYPE_LATEST)
