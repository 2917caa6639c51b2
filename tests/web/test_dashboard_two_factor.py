"""Setting up two-factor sign-in from the dashboard (/app/account/two-factor): the QR code and the key, the
app's first code, the recovery codes shown once, turning it off with a code; CSRF and sign-in required."""

from __future__ import annotations

import re

import httpx
import pyotp

from tests.conftest import TenantFixture
from tests.tenancy.two_factor_steps import next_step_code
from tests.web.dashboard import csrf_of, sign_in

PAGE = "/app/account/two-factor"
SECRET = re.compile(r"<code data-secret>([A-Z2-7]+)</code>")
RECOVERY = re.compile(r"<li><code>([A-Z0-9-]+)</code></li>")


async def begun(client: httpx.AsyncClient) -> tuple[httpx.Response, pyotp.TOTP]:
    page = await client.get(PAGE)
    assert page.status_code == 200 and 'data-two-factor="off"' in page.text
    setup = await client.post(f"{PAGE}/begin", data={"csrf_token": csrf_of(page)})
    found = SECRET.search(setup.text)
    assert setup.status_code == 200 and found is not None, setup.text
    return setup, pyotp.TOTP(found.group(1))


async def test_an_owner_sets_it_up_with_the_apps_first_code_and_sees_the_recovery_codes_once(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    await sign_in(client, tenant_a)
    setup, app = await begun(client)
    assert "<svg" in setup.text and 'name="code"' in setup.text

    wrong = await client.post(f"{PAGE}/confirm", data={"csrf_token": csrf_of(setup), "code": "000000"})
    assert wrong.status_code == 401 and "Код не подошёл" in wrong.text
    assert SECRET.findall(wrong.text) == [app.secret], "the same key is shown again"

    confirmed = await client.post(f"{PAGE}/confirm", data={"csrf_token": csrf_of(setup), "code": app.now()})
    codes = RECOVERY.findall(confirmed.text)
    assert confirmed.status_code == 200 and len(set(codes)) == 10
    again = await client.get(PAGE)
    assert 'data-two-factor="on"' in again.text and "Осталось 10 резервных кодов." in again.text
    assert not RECOVERY.findall(again.text), "the recovery codes are shown only once"

    await client.post("/app/logout", data={"csrf_token": csrf_of(again)})
    assert (await sign_in(client, tenant_a)).status_code == 401, "signing in now asks for a code"
    audit = (await client.get("/api/v1/audit", params={"action": "auth."}, headers=tenant_a.headers)).json()
    assert "auth.two_factor_enabled" in [event["action"] for event in audit["items"]]


async def test_turning_it_off_needs_a_right_code(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    await sign_in(client, tenant_a)
    setup, app = await begun(client)
    await client.post(f"{PAGE}/confirm", data={"csrf_token": csrf_of(setup), "code": app.now()})
    page = await client.get(PAGE)

    wrong = await client.post(f"{PAGE}/disable", data={"csrf_token": csrf_of(page), "code": "123456"})
    assert wrong.status_code == 401 and 'data-two-factor="on"' in wrong.text
    off = await client.post(f"{PAGE}/disable", data={"csrf_token": csrf_of(page), "code": next_step_code(app)})
    assert off.status_code == 303
    assert 'data-two-factor="off"' in (await client.get(PAGE)).text


async def test_the_page_needs_a_session_and_its_forms_the_csrf_token(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    away = await client.get(PAGE)
    assert away.status_code == 303 and away.headers["location"] == "/app/login"
    await sign_in(client, tenant_a)
    forged = await client.post(f"{PAGE}/begin", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    assert 'data-two-factor="off"' in (await client.get(PAGE)).text, "a refused request changes nothing"
