"""Helpers of the dashboard tests: the sign-in form, its CSRF tokens, another browser."""

from __future__ import annotations

import re

import httpx

from easyflow.app import create_app
from easyflow.config import Settings
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page: httpx.Response) -> str:
    found = TOKEN.search(page.text)
    assert found is not None, page.text
    return found.group(1)


async def open_login(client: httpx.AsyncClient, **headers: str) -> str:
    page = await client.get("/app/login", headers=headers)
    assert page.status_code == 200, page.text
    assert 'name="email"' in page.text and 'name="password"' in page.text
    return csrf_of(page)


async def sign_in(client: httpx.AsyncClient, tenant: TenantFixture, password: str | None = None) -> httpx.Response:
    token = await open_login(client)
    return await client.post(
        "/app/login",
        data={"email": tenant.owner_email, "password": password or tenant.owner_password, "csrf_token": token},
    )


async def home_csrf(client: httpx.AsyncClient) -> str:
    home = await client.get("/app/")
    assert home.status_code == 200, home.text
    return csrf_of(home)


def browser(settings: Settings, runtime: Runtime, base_url: str = "http://testserver") -> httpx.AsyncClient:
    """Another browser of the same app (its own cookie jar)."""
    transport = httpx.ASGITransport(app=create_app(settings, runtime=runtime), client=("198.51.100.9", 50000))
    return httpx.AsyncClient(transport=transport, base_url=base_url)


def set_cookies(response: httpx.Response) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.get_list("set-cookie")}
