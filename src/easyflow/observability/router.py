"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from easyflow.db.database import CONTRIB_EXTENSIONS, Capabilities
from easyflow.db.migrate import head_revision
from easyflow.observability.metrics import check_metrics_access

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """The process is up (does not touch the database)."""
    return {"status": "ok"}


@router.get("/health/ready", responses={503: {"description": "Not ready; the body says which check failed."}})
async def ready(request: Request) -> JSONResponse:
    """Ready to serve: the database answers, is PostgreSQL 15 or newer, and its schema is at the latest
    migration. Also says what the server lacks (pgvector 0.8.2+, pg_trgm, btree_gist) and whether the app's
    login bypasses row-level security; those are warnings, not failures: the features that need them say so."""
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
    checks.update(capability_checks(database.capabilities))
    is_ready = checks.get("database") == "ok" and checks.get("migrations") == "ok" and checks["server"] == "ok"
    body = {"status": "ready" if is_ready else "not ready", "checks": checks}
    if database.capabilities.warnings:
        body["warnings"] = database.capabilities.warnings
    return JSONResponse(body, status_code=200 if is_ready else 503)


def capability_checks(capabilities: Capabilities) -> dict[str, str]:
    """One line per requirement of the server: "ok", or what is wrong in a few words."""
    checks = {
        "server": "ok" if capabilities.server_supported else f"PostgreSQL {capabilities.server_version}: needs 15+",
        "pgvector": "ok",
        "app_login": "ok" if not capabilities.bypasses_rls else "bypasses row-level security: see warnings",
    }
    if not capabilities.pgvector:
        checks["pgvector"] = "missing: full-text search only"
    elif not capabilities.pgvector_current:
        checks["pgvector"] = f"{capabilities.pgvector_version}: older than 0.8.2, upgrade it"
    for extension in CONTRIB_EXTENSIONS:
        checks[extension] = "ok" if extension in capabilities.extensions else "missing: see warnings"
    return checks


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    client_host = request.client.host if request.client else None
    check_metrics_access(request.app.state.settings.metrics_token, client_host, request.headers)
    app_metrics = request.app.state.metrics
    app_metrics.observe_pool(request.app.state.runtime.database.engine)
    return Response(generate_latest(app_metrics.registry), media_type=CONTENT_TYPE_LATEST)
