"""Signing in to the dashboard over real HTTP through the app, on the real database: sessions in cookies,
CSRF on every unsafe request, signing out here and everywhere, expiry, tenants kept apart, hostile forms."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from easyflow.config import Settings
from easyflow.db.database import Database
from easyflow.models.dashboard import DashboardSession
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, make_member, run_queued_jobs
from tests.inbox.staff import conversation, customer_writes
from tests.tenancy.two_factor_steps import next_step_code, turned_on
from tests.web.dashboard import browser, csrf_of, home_csrf, open_login, set_cookies, sign_in


async def test_signing_in_shows_the_home_page_of_the_tenant(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    signed_in = await sign_in(client, tenant_a)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/app/"
    home = await client.get("/app/")
    assert home.status_code == 200
    assert "Салон «Лотос»" in home.text and tenant_a.owner_email in home.text
    assert 'data-figure="waiting">0<' in home.text
    # Signed in, the sign-in page sends the member home.
    assert (await client.get("/app/login")).headers["location"] == "/app/"


async def test_the_session_cookie_is_httponly_lax_and_secure_only_under_https(
    client: httpx.AsyncClient, settings: Settings, runtime: Runtime, tenant_a: TenantFixture
) -> None:
    cookie = set_cookies(await sign_in(client, tenant_a))["ef_session"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/app" in cookie
    assert "Secure" not in cookie
    async with browser(settings, runtime, "https://testserver") as https:
        form = await https.get("/app/login")
        assert "Secure" in set_cookies(form)["ef_login_nonce"]
        signed_in = await sign_in(https, tenant_a)
        secure = set_cookies(signed_in)["ef_session"]
        assert "Secure" in secure and "HttpOnly" in secure and "SameSite=lax" in secure


async def test_the_session_token_is_stored_only_as_its_hash(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture
) -> None:
    await sign_in(client, tenant_a)
    token = client.cookies["ef_session"]
    async with database.tenant_transaction(tenant_a.id) as session:
        [row] = (await session.execute(select(DashboardSession))).scalars().all()
    assert row.token_hash != token and token not in row.token_hash
    assert row.user_id == tenant_a.owner_id and row.revoked_at is None
    assert timedelta(days=13) < row.expires_at - datetime.now(UTC) <= timedelta(days=14)


@pytest.mark.parametrize(
    ("accept_language", "error"),
    [
        ("en-US,en;q=0.9", "Wrong email or password."),
        ("ru-RU,ru;q=0.9,en;q=0.8", "Неверная почта или пароль."),
        (None, "Неверная почта или пароль."),
    ],
)
async def test_wrong_credentials_show_the_form_again_with_an_error_in_the_browsers_language(
    client: httpx.AsyncClient, tenant_a: TenantFixture, accept_language: str | None, error: str
) -> None:
    headers = {"Accept-Language": accept_language} if accept_language else {}
    token = await open_login(client, **headers)
    for email, password in ((tenant_a.owner_email, "not-the-password"), ("nobody@example.com", "whatever-1")):
        refused = await client.post(
            "/app/login", data={"email": email, "password": password, "csrf_token": token}, headers=headers
        )
        assert refused.status_code == 401
        assert error in refused.text and 'name="password"' in refused.text
        assert f'value="{email}"' in refused.text  # the address is kept, the password is not
        assert "ef_session" not in set_cookies(refused)
    assert (await client.get("/app/")).headers["location"] == "/app/login"


async def test_with_two_factor_on_the_form_asks_for_a_code_and_signs_in_only_with_a_right_one(
    client: httpx.AsyncClient, second_client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    app, recovery_codes, _ = await turned_on(second_client, tenant_a)
    english = {"Accept-Language": "en"}
    asked = await sign_in(client, tenant_a)
    assert asked.status_code == 401 and 'name="code"' in asked.text and "ef_session" not in set_cookies(asked)
    token = csrf_of(asked)
    credentials = {"email": tenant_a.owner_email, "password": tenant_a.owner_password, "csrf_token": token}
    wrong = await client.post("/app/login", data={**credentials, "code": "000000"}, headers=english)
    assert wrong.status_code == 401 and "Wrong code." in wrong.text and "ef_session" not in set_cookies(wrong)
    # A right code with a wrong password does not get through either.
    no_password = await client.post("/app/login", data={**credentials, "password": "nope-1", "code": app.now()})
    assert no_password.status_code == 401 and "ef_session" not in set_cookies(no_password)
    signed_in = await client.post("/app/login", data={**credentials, "code": next_step_code(app)})
    assert signed_in.status_code == 303 and (await client.get("/app/")).status_code == 200
    # A recovery code works once, from another browser too.
    other = await second_client.post(
        "/app/login", data={**credentials, "csrf_token": await open_login(second_client), "code": recovery_codes[0]}
    )
    assert other.status_code == 303


async def test_sign_in_attempts_are_throttled_by_the_apis_own_limiter(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    token = await open_login(client)
    statuses = []
    for _ in range(12):
        response = await client.post(
            "/app/login",
            data={"email": tenant_a.owner_email, "password": "guessing-1", "csrf_token": token},
            headers={"Accept-Language": "en"},
        )
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert "Too many sign-in attempts" in response.text and "retry-after" in response.headers
            break
    assert statuses[-1] == 429 and set(statuses[:-1]) == {401}
    # The right password does not get through while the limit holds.
    blocked = await client.post(
        "/app/login",
        data={"email": tenant_a.owner_email, "password": tenant_a.owner_password, "csrf_token": token},
    )
    assert blocked.status_code == 429 and "ef_session" not in set_cookies(blocked)


async def test_the_login_form_refuses_a_missing_or_wrong_csrf_token(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    token = await open_login(client)
    credentials = {"email": tenant_a.owner_email, "password": tenant_a.owner_password}
    for extra in ({}, {"csrf_token": "0" * 64}, {"csrf_token": token[:-1] + ("0" if token[-1] != "0" else "1")}):
        refused = await client.post("/app/login", data={**credentials, **extra})
        assert refused.status_code == 403, extra
        assert "ef_session" not in set_cookies(refused)
    # Another browser's token (a forged cross-site post carries the attacker's) does not fit this one's nonce.
    client.cookies.delete("ef_login_nonce")
    refused = await client.post("/app/login", data={**credentials, "csrf_token": token})
    assert refused.status_code == 403
    assert (await client.get("/app/")).headers["location"] == "/app/login"


async def test_signing_out_needs_the_csrf_token_and_ends_the_session(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    await sign_in(client, tenant_a)
    token, session_token = await home_csrf(client), client.cookies["ef_session"]
    for refused in (
        await client.post("/app/logout"),
        await client.post("/app/logout", data={"csrf_token": "wrong"}),
        await client.post("/app/logout", headers={"X-CSRF-Token": "wrong"}),
        await client.post("/app/logout-everywhere", data={"csrf_token": ""}),
    ):
        assert refused.status_code == 403
    assert (await client.get("/app/")).status_code == 200  # nothing changed
    signed_out = await client.post("/app/logout", data={"csrf_token": token})
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/app/login"
    assert (await client.get("/app/")).headers["location"] == "/app/login"
    # The old cookie, kept by someone who copied it, is no longer a session.
    client.cookies.set("ef_session", session_token, path="/app")
    assert (await client.get("/app/")).headers["location"] == "/app/login"


async def test_the_csrf_header_is_accepted_for_scripts(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    await sign_in(client, tenant_a)
    signed_out = await client.post("/app/logout", headers={"X-CSRF-Token": await home_csrf(client)})
    assert signed_out.status_code == 303
    assert (await client.get("/app/")).headers["location"] == "/app/login"


async def test_signing_out_everywhere_ends_the_members_other_sessions(
    client: httpx.AsyncClient,
    second_client: httpx.AsyncClient,
    settings: Settings,
    runtime: Runtime,
    tenant_a: TenantFixture,
    tenant_b: TenantFixture,
) -> None:
    await sign_in(client, tenant_a)
    await sign_in(second_client, tenant_a)
    async with browser(settings, runtime) as other_browser:
        await sign_in(other_browser, tenant_b)  # someone else's session stays
        assert (await second_client.get("/app/")).status_code == 200
        done = await client.post("/app/logout-everywhere", data={"csrf_token": await home_csrf(client)})
        assert done.status_code == 303 and done.headers["location"] == "/app/login"
        assert (await second_client.get("/app/")).headers["location"] == "/app/login"
        assert (await client.get("/app/")).headers["location"] == "/app/login"
        assert (await other_browser.get("/app/")).status_code == 200


async def test_an_expired_session_is_signed_out(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture
) -> None:
    await sign_in(client, tenant_a)
    token = await home_csrf(client)
    async with database.tenant_transaction(tenant_a.id) as session:
        await session.execute(update(DashboardSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert (await client.get("/app/")).headers["location"] == "/app/login"
    # Its own CSRF token still fits the cookie, but signing out everywhere needs a live session: nothing is revoked.
    signed_out = await client.post("/app/logout-everywhere", data={"csrf_token": token})
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/app/login"
    async with database.tenant_transaction(tenant_a.id) as session:
        assert await session.scalar(select(DashboardSession.revoked_at)) is None


async def test_a_member_removed_from_the_tenant_is_signed_out(
    client: httpx.AsyncClient, second_client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture
) -> None:
    email = await make_member(database, tenant_a, Role.operator)
    token = await open_login(second_client)
    signed_in = await second_client.post(
        "/app/login", data={"email": email, "password": "member-pass-1", "csrf_token": token}
    )
    assert signed_in.status_code == 303 and (await second_client.get("/app/")).status_code == 200
    members = (await client.get("/api/v1/users", headers=tenant_a.headers)).json()["items"]
    [member] = [m for m in members if m["email"] == email]
    removed = await client.delete(f"/api/v1/users/{member['user_id']}", headers=tenant_a.headers)
    assert removed.status_code == 204
    assert (await second_client.get("/app/")).headers["location"] == "/app/login"


async def test_a_session_sees_only_its_own_tenant(
    client: httpx.AsyncClient,
    second_client: httpx.AsyncClient,
    database: Database,
    runtime: Runtime,
    tenant_a: TenantFixture,
    tenant_b: TenantFixture,
) -> None:
    for contact in ("b-1", "b-2"):
        accepted = await customer_writes(client, tenant_b, "Позовите оператора, пожалуйста", contact=contact)
        await run_queued_jobs(runtime)
        assert (await conversation(client, tenant_b, accepted["conversation_id"]))["status"] == "pending"
    await sign_in(client, tenant_a)
    await sign_in(second_client, tenant_b)
    home_a, home_b = (await client.get("/app/")).text, (await second_client.get("/app/")).text
    assert "Салон «Лотос»" in home_a and "Tour agency B" not in home_a and 'data-figure="waiting">0<' in home_a
    assert "Tour agency B" in home_b and "Лотос" not in home_b and 'data-figure="waiting">2<' in home_b
    assert "2 диалога ждут человека" in home_b and "ждут человека" not in home_a  # Russian plural, only when any
    # Row-level security: tenant B's transaction does not see tenant A's session at all.
    async with database.tenant_transaction(tenant_b.id) as session:
        seen = await session.scalar(select(func.count()).select_from(DashboardSession))
        foreign = await session.scalar(
            select(func.count()).select_from(DashboardSession).where(DashboardSession.tenant_id == tenant_a.id)
        )
    assert (seen, foreign) == (1, 0)


async def test_not_signed_in_or_with_a_made_up_cookie_goes_to_the_sign_in_page(client: httpx.AsyncClient) -> None:
    assert (await client.get("/app/")).headers["location"] == "/app/login"
    for forged in (uuid.uuid4().hex, "x" * 5000, '"\\000nul"'):
        client.cookies.set("ef_session", forged, path="/app")
        response = await client.get("/app/")
        assert response.status_code == 303 and response.headers["location"] == "/app/login"


@pytest.mark.parametrize(
    "fields",
    [
        {"email": "owner\x00@example.com", "password": "whatever-1"},
        {"email": "owner@example.com", "password": "pass\x00word"},
        {"email": "a" * 100_000 + "@example.com", "password": "whatever-1"},
        {"email": "owner@example.com", "password": "p" * 300},
        {"email": "not an address", "password": "whatever-1"},
        {"password": "whatever-1"},
        {"email": "owner@example.com"},
    ],
    ids=["nul-email", "nul-password", "huge-email", "long-password", "not-an-address", "no-email", "no-password"],
)
async def test_hostile_sign_in_forms_are_refused_clearly(client: httpx.AsyncClient, fields: dict[str, str]) -> None:
    token = await open_login(client, **{"Accept-Language": "en"})
    refused = await client.post("/app/login", data={**fields, "csrf_token": token}, headers={"Accept-Language": "en"})
    assert refused.status_code == 400
    assert "Check your email and password" in refused.text and 'name="email"' in refused.text
    assert "\x00" not in refused.text


async def test_other_hostile_requests_get_a_clear_4xx(client: httpx.AsyncClient) -> None:
    token = await open_login(client)
    as_file = await client.post(
        "/app/login",
        data={"password": "whatever-1", "csrf_token": token},
        files={"email": ("email.txt", b"owner@example.com", "text/plain")},
    )
    assert as_file.status_code == 400
    nul_token = await client.post("/app/login", data={"email": "a@example.com", "password": "x", "csrf_token": "\x00"})
    assert nul_token.status_code == 403
    oversized = await client.post(
        "/app/login",
        content=b"a=" + b"x" * (2 * 1024 * 1024),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert 400 <= oversized.status_code < 500
