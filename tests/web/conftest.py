from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from easyflow.config import Settings
from easyflow.runtime import Runtime
from tests.web.dashboard import browser


@pytest.fixture
async def second_client(settings: Settings, runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(settings, runtime) as http:
        yield http
