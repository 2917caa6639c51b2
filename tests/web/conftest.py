from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from easyflow.config import Settings
from easyflow.runtime import Runtime
from tests.web.browser import Dashboard, chromium_page, served_dashboard
from tests.web.dashboard import browser


@pytest.fixture
async def second_client(settings: Settings, runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(settings, runtime) as http:
        yield http


@pytest.fixture(scope="session")
def dashboard(embedded_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """One `easyflow serve` for the browser tests of a test process; each test makes its own workspace."""
    with served_dashboard(embedded_server, tmp_path_factory.mktemp("dashboard-server")) as served:
        yield served


@pytest.fixture
def page() -> Iterator[Any]:
    pytest.importorskip("playwright.sync_api", reason="the `playwright` package is not installed")
    with chromium_page() as opened:
        yield opened
