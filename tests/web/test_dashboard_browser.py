"""Signing in to the dashboard in a real browser (headless Chromium via Playwright) against `easyflow serve`
on a committed database of its own: the form, the cookie it sets, the home page it lands on."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
import pytest

from tests.support import EASYFLOW, create_database, drop_database, free_port, process_env, run, stop, wait_ready

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing (Debian package `chromium`)"),
]
playwright_api = pytest.importorskip("playwright.sync_api", reason="the `playwright` package is not installed")
expect = playwright_api.expect
SECONDS = 20_000  # Playwright counts milliseconds
TENANT_NAME = "Салон «Лотос»"
PASSWORD = "лотос-весна-2026-маникюр"


@dataclass(frozen=True)
class Dashboard:
    base: str
    email: str
    env: dict[str, str]

    def new_owner(self, business: str) -> str:
        """Another tenant's owner (with PASSWORD), for a test that changes how its owner signs in."""
        email = f"owner-{uuid.uuid4().hex[:8]}@example.com"
        created = run(
            self.env, "tenant", "create", "--name", business, "--owner-email", email, "--owner-password", PASSWORD
        )
        assert created.returncode == 0, created.stderr
        return email


@pytest.fixture(scope="module")
def dashboard(embedded_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    name = f"easyflow_dashboard_{os.getpid()}"
    url = create_database(embedded_server, name)
    folder: Path = tmp_path_factory.mktemp("dashboard-server")
    port = free_port()
    env = process_env(url, str(folder / "data"), EASYFLOW_PUBLIC_URL=f"http://127.0.0.1:{port}")
    server: subprocess.Popen[str] | None = None
    log = (folder / "server.log").open("w")
    try:
        assert run(env, "migrate").returncode == 0
        email = f"owner-{uuid.uuid4().hex[:8]}@example.com"
        created = run(
            env,
            "tenant",
            "create",
            "--name",
            TENANT_NAME,
            "--owner-email",
            email,
            "--owner-password",
            PASSWORD,
            "--json",
        )
        assert created.returncode == 0, created.stderr
        assert json.loads(created.stdout)["tenant_id"]
        server = subprocess.Popen(
            [EASYFLOW, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, stdout=log, stderr=log, text=True
        )
        wait_ready(f"http://127.0.0.1:{port}", server, 60)
        yield Dashboard(base=f"http://127.0.0.1:{port}", email=email, env=env)
    finally:
        if server is not None:
            stop(server)
        log.close()
        drop_database(embedded_server, name)


@pytest.fixture
def page() -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        context = browser.new_context(locale="ru-RU")
        yield context.new_page()
        context.close()
        browser.close()


def test_an_owner_signs_in_and_sees_the_home_page_of_their_business(page: Any, dashboard: Dashboard) -> None:
    page.goto(f"{dashboard.base}/app/")
    expect(page).to_have_url(f"{dashboard.base}/app/login", timeout=SECONDS)
    expect(page.get_by_role("heading", name="Войти")).to_be_visible()
    page.fill("input[name=email]", dashboard.email)
    page.fill("input[name=password]", "not-the-password")
    page.get_by_role("button", name="Войти").click()
    expect(page.get_by_role("alert")).to_have_text("Неверная почта или пароль.", timeout=SECONDS)

    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Войти").click()
    expect(page).to_have_url(f"{dashboard.base}/app/", timeout=SECONDS)
    expect(page.get_by_role("heading", name=TENANT_NAME)).to_be_visible()
    expect(page.locator("[data-figure=waiting]")).to_have_text("0")
    [cookie] = [c for c in page.context.cookies() if c["name"] == "ef_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert page.evaluate("document.cookie").find("ef_session") == -1  # out of reach of scripts

    page.get_by_role("button", name="Выйти", exact=True).click()
    expect(page).to_have_url(f"{dashboard.base}/app/login", timeout=SECONDS)
    page.goto(f"{dashboard.base}/app/")
    expect(page).to_have_url(f"{dashboard.base}/app/login", timeout=SECONDS)


def test_an_owner_turns_on_two_factor_and_then_signs_in_with_the_apps_code(page: Any, dashboard: Dashboard) -> None:
    email = dashboard.new_owner("Тур-агентство «Ала-Тоо»")
    page.goto(f"{dashboard.base}/app/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Войти").click()
    page.get_by_role("link", name="Двухфакторный вход").click()
    page.get_by_role("button", name="Включить двухфакторный вход").click()
    expect(page.locator("figure.qr svg")).to_be_visible(timeout=SECONDS)
    app = pyotp.TOTP(page.locator("[data-secret]").inner_text())
    page.fill("input[name=code]", app.now())
    page.get_by_role("button", name="Включить", exact=True).click()
    expect(page.locator("[data-recovery-codes] li")).to_have_count(10, timeout=SECONDS)

    page.goto(f"{dashboard.base}/app/")
    page.get_by_role("button", name="Выйти", exact=True).click()
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Войти").click()
    expect(page.locator("input[name=code]")).to_be_visible(timeout=SECONDS)
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=code]", app.at(time.time() + app.interval))  # the setup used the current step
    page.get_by_role("button", name="Войти").click()
    expect(page).to_have_url(f"{dashboard.base}/app/", timeout=SECONDS)
    expect(page.get_by_role("heading", name="Тур-агентство «Ала-Тоо»")).to_be_visible()
