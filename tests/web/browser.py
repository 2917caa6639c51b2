"""Helpers of the dashboard's browser tests: `easyflow serve` on a committed database of its own, headless
Chromium pages that fail the test on a console error, the axe-core accessibility check, and screenshots at a
phone's and a laptop's width kept under test-artifacts/screenshots/.

A browser test module marks itself with `pytestmark = BROWSER` and takes the `dashboard` and `page`
fixtures (tests/web/conftest.py)."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support import EASYFLOW, create_database, drop_database, free_port, process_env, run, stop, wait_ready

CHROMIUM = "/usr/bin/chromium"
BROWSER = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is missing (Debian package `chromium`)"),
]
SECONDS = 20_000  # Playwright counts milliseconds
PASSWORD = "лотос-весна-2026-маникюр"
AXE = Path(__file__).resolve().parents[1] / "vendor" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PHONE, LAPTOP = 390, 1280


@dataclass(frozen=True)
class Owner:
    email: str
    tenant_id: str
    business: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@dataclass
class Dashboard:
    """A running `easyflow serve`; `new_owner` makes a workspace of its own for each test."""

    base: str
    env: dict[str, str]
    owners: list[Owner] = field(default_factory=list)

    def new_owner(self, business: str = "Салон «Лотос»") -> Owner:
        email = f"owner-{uuid.uuid4().hex[:8]}@example.com"
        created = self.cli(
            "tenant", "create", "--name", business, "--owner-email", email, "--owner-password", PASSWORD, "--json"
        )
        answer = json.loads(created)
        owner = Owner(email=email, tenant_id=answer["tenant_id"], business=business, api_key=answer["api_key"])
        self.owners.append(owner)
        return owner

    def cli(self, *args: str) -> str:
        """`easyflow ARGS...` against the served database; its standard output."""
        done = run(self.env, *args)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


@contextmanager
def served_dashboard(embedded_server: str, folder: Path) -> Iterator[Dashboard]:
    name = f"easyflow_dashboard_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = create_database(embedded_server, name)
    port = free_port()
    env = process_env(url, str(folder / "data"), EASYFLOW_PUBLIC_URL=f"http://127.0.0.1:{port}")
    server: subprocess.Popen[str] | None = None
    log = (folder / "server.log").open("w")
    try:
        assert run(env, "migrate").returncode == 0
        server = subprocess.Popen(
            [EASYFLOW, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, stdout=log, stderr=log, text=True
        )
        wait_ready(f"http://127.0.0.1:{port}", server, 60)
        yield Dashboard(base=f"http://127.0.0.1:{port}", env=env)
    finally:
        if server is not None:
            stop(server)
        log.close()
        drop_database(embedded_server, name)


@contextmanager
def chromium_page(locale: str = "ru-RU", width: int = LAPTOP) -> Iterator[Any]:
    """A fresh browser page; any console error or uncaught exception on it fails the test at the end."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    # Addresses whose 4xx answers a test provokes on purpose (a refusal the page shows): `expect_refusal`.
    refusals: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        context = browser.new_context(locale=locale, viewport={"width": width, "height": 900})
        page = context.new_page()
        page.expected_refusals = refusals
        page.on("console", lambda message: _console_error(message, errors))
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("response", lambda response: _failed_resource(response, errors, refusals))
        try:
            yield page
        finally:
            context.close()
            browser.close()
    assert errors == [], f"the page logged errors: {errors}"


def _console_error(message: Any, errors: list[str]) -> None:
    # A failed load is judged by `_failed_resource`, which knows what was loaded.
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        errors.append(message.text)


def _failed_resource(response: Any, errors: list[str], refusals: list[str]) -> None:
    """A script, stylesheet, picture or fetch that failed is an error; a page answered 4xx is not (the
    sign-in form answers a wrong password with 401, and says so on the page), nor a refusal the test expects."""
    if response.status >= 400 and response.request.resource_type != "document":
        if response.status < 500 and any(response.url.endswith(path) for path in refusals):
            return
        errors.append(f"{response.status} {response.request.method} {response.url}")


def expect_refusal(page: Any, path: str) -> None:
    """A 4xx answer to a fetch of an address ending in `path` is what the test provokes, not a page error."""
    page.expected_refusals.append(path)


def sign_in(page: Any, dashboard: Dashboard, owner: Owner) -> None:
    from playwright.sync_api import expect

    page.goto(dashboard.url("/app/login"))
    page.fill("input[name=email]", owner.email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form[action='/app/login'] button[type=submit]").click()
    expect(page).to_have_url(dashboard.url("/app/"), timeout=SECONDS)


def assert_accessible(page: Any) -> None:
    """axe-core on the page as it is now: no serious or critical violation (WCAG 2.x A and AA rules)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => { const r = await axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}}); "
        "return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, "
        "nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})); }"
    )
    serious = [violation for violation in result if violation["impact"] in ("serious", "critical")]
    assert serious == [], json.dumps(serious, ensure_ascii=False, indent=1)


def screenshots(page: Any, name: str) -> None:
    """The page as it is now at a phone's and a laptop's width, kept as test artifacts; at the phone's width
    nothing may stick out sideways."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    original = page.viewport_size
    for width in (PHONE, LAPTOP):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
        if width == PHONE:
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 1, f"{name}: the page is {overflow}px wider than a {PHONE}px phone"
    page.set_viewport_size(original)
