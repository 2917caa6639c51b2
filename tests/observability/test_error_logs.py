"""An unexpected error is logged for the operators without what the request carried: a failed statement's
parameters are not quoted, and tracebacks show no local variables."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.app import create_app
from easyflow.config import Settings
from easyflow.observability.logging import configure_logging
from easyflow.runtime import Runtime
from easyflow.tenancy.service import TenantService
from tests.conftest import TenantFixture

CUSTOMERS_TEXT = "Мой номер +7 900 123-45-67, адрес Ленина 5"


@pytest.mark.parametrize("fmt", ["json", "console"])
async def test_a_failed_statement_is_logged_without_the_request_data(
    settings: Settings,
    runtime: Runtime,
    tenant_a: TenantFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    fmt: str,
) -> None:
    async def failing_update(service: TenantService, tenant_id: object, changes: Any) -> None:
        # Stands for any statement the database refuses while it carries what the customer sent.
        await service.session.execute(text("SELECT CAST(:facts AS integer)"), {"facts": changes.facts})

    monkeypatch.setattr(TenantService, "update", failing_update)
    configure_logging("INFO", fmt)
    app = create_app(settings, runtime=runtime)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.patch("/api/v1/tenant", json={"facts": CUSTOMERS_TEXT}, headers=tenant_a.headers)
    assert response.status_code == 500
    logged = capsys.readouterr().err
    assert "request.unhandled_error" in logged and "DataError" in logged  # the operators still learn what failed
    assert "+7 900" not in logged and "Ленина" not in logged


@pytest.mark.parametrize("fmt", ["json", "console"])
async def test_servers_and_libraries_logging_a_database_error_do_not_quote_it_either(
    session: AsyncSession, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    """What uvicorn logs after an unhandled error, and procrastinate after a failed job, goes through the
    standard library's logging."""
    configure_logging("INFO", fmt)
    with pytest.raises(DBAPIError) as failed:
        async with session.begin_nested():
            await session.execute(text("SELECT CAST(:facts AS integer)"), {"facts": CUSTOMERS_TEXT})
    logging.getLogger("uvicorn.error").error("Exception in ASGI application", exc_info=failed.value)
    logged = capsys.readouterr().err
    assert "Exception in ASGI application" in logged and "Traceback" in logged and "DataError" in logged
    assert "+7 900" not in logged and "Ленина" not in logged
