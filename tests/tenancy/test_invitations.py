"""Adding someone who already has an account is an invitation they accept or decline; the answer to the
admin is the same whether or not the address has an account, and nobody joins a tenant without consent."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.db.session import enter_system_scope, scope_to_tenant
from easyflow.models.tenancy import User
from easyflow.tenancy.repository import UserRepository
from tests.conftest import TenantFixture

USERS = "/api/v1/users"


async def sign_in(client: httpx.AsyncClient, email: str, password: str, tenant_id: uuid.UUID | None = None) -> dict:
    body = {"email": email, "password": password, **({"tenant_id": str(tenant_id)} if tenant_id else {})}
    response = await client.post("/api/v1/auth/login", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def bearer(tokens: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def member_emails(client: httpx.AsyncClient, tenant: TenantFixture) -> list[str]:
    return [m["email"] for m in (await client.get(USERS, headers=tenant.headers)).json()["items"]]


async def test_the_answer_does_not_tell_whether_an_address_has_an_account(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    answers = []
    for email in (tenant_a.owner_email, f"nobody-{uuid.uuid4().hex[:6]}@example.com"):
        for password in ("Ввёл-админ-2026!", None):
            body = {"email": email, "role": "viewer", **({"password": password} if password else {})}
            response = await client.post(USERS, json=body, headers=tenant_b.headers)
            answers.append((response.status_code, sorted(response.json()), response.headers["content-type"]))
            assert response.json()["email"] == email
    assert answers == [(202, ["email", "role"], "application/json")] * 4
    # and nobody was pulled in: the existing account is only invited
    assert tenant_a.owner_email not in await member_emails(client, tenant_b)


async def test_an_existing_user_joins_another_tenant_only_by_accepting(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    body = {"email": tenant_a.owner_email, "password": "overwrite-it-Ⅻ-99", "role": "viewer"}
    assert (await client.post(USERS, json=body, headers=tenant_b.headers)).status_code == 202
    # the password sent with the invitation changes nothing
    tokens = await sign_in(client, tenant_a.owner_email, tenant_a.owner_password)
    assert tokens["tenant_id"] == str(tenant_a.id)
    refused = await client.post(
        "/api/v1/auth/login",
        json={"email": tenant_a.owner_email, "password": tenant_a.owner_password, "tenant_id": str(tenant_b.id)},
    )
    assert refused.status_code == 401  # not a member of B before accepting

    invitations = (await client.get("/api/v1/invitations", headers=bearer(tokens))).json()["items"]
    assert [(i["tenant_id"], i["tenant_name"], i["role"]) for i in invitations] == [
        (str(tenant_b.id), "Tour agency B", "viewer")
    ]
    accepted = await client.post(f"/api/v1/invitations/{invitations[0]['id']}/accept", headers=bearer(tokens))
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {"tenant_id": str(tenant_b.id), "tenant_name": "Tour agency B", "role": "viewer"}
    assert (await client.get("/api/v1/invitations", headers=bearer(tokens))).json()["items"] == []

    into_b = await sign_in(client, tenant_a.owner_email, tenant_a.owner_password, tenant_b.id)
    assert into_b["role"] == "viewer"
    assert tenant_a.owner_email in await member_emails(client, tenant_b)


async def test_a_declined_invitation_is_gone_and_joins_nothing(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await client.post(USERS, json={"email": tenant_a.owner_email, "role": "admin"}, headers=tenant_b.headers)
    tokens = await sign_in(client, tenant_a.owner_email, tenant_a.owner_password)
    [invitation] = (await client.get("/api/v1/invitations", headers=bearer(tokens))).json()["items"]
    declined = await client.delete(f"/api/v1/invitations/{invitation['id']}", headers=bearer(tokens))
    assert declined.status_code == 204
    assert (await client.get("/api/v1/invitations", headers=bearer(tokens))).json()["items"] == []
    again = await client.post(f"/api/v1/invitations/{invitation['id']}/accept", headers=bearer(tokens))
    assert again.status_code == 404
    assert tenant_a.owner_email not in await member_emails(client, tenant_b)


async def test_nobody_else_can_see_or_accept_an_invitation(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await client.post(USERS, json={"email": tenant_a.owner_email, "role": "admin"}, headers=tenant_b.headers)
    invited = await sign_in(client, tenant_a.owner_email, tenant_a.owner_password)
    [invitation] = (await client.get("/api/v1/invitations", headers=bearer(invited))).json()["items"]

    other = await sign_in(client, tenant_b.owner_email, tenant_b.owner_password)  # B's own owner
    assert (await client.get("/api/v1/invitations", headers=bearer(other))).json()["items"] == []
    for request in (
        client.post(f"/api/v1/invitations/{invitation['id']}/accept", headers=bearer(other)),
        client.delete(f"/api/v1/invitations/{invitation['id']}", headers=bearer(other)),
        client.post(f"/api/v1/invitations/{uuid.uuid4()}/accept", headers=bearer(invited)),
    ):
        response = await request
        assert response.status_code == 404, response.text
        assert response.headers["content-type"] == "application/problem+json"
    # an API key speaks for a tenant, not a person: it has no invitations to accept
    assert (await client.get("/api/v1/invitations", headers=tenant_a.headers)).status_code == 403
    accept_by_key = await client.post(f"/api/v1/invitations/{invitation['id']}/accept", headers=tenant_a.headers)
    assert accept_by_key.status_code == 403
    assert (await client.get("/api/v1/invitations")).status_code == 401
    assert tenant_a.owner_email not in await member_emails(client, tenant_b)


async def test_a_new_address_gets_an_account_that_joins_on_first_sign_in(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    body = {"email": "Новичок@Example.com", "name": "Айгуль", "password": "Пароль-для-Айгуль-7", "role": "operator"}
    assert (await client.post(USERS, json=body, headers=tenant_a.headers)).status_code == 202
    assert "новичок@example.com" not in await member_emails(client, tenant_a)
    tokens = await sign_in(client, "новичок@example.com", "Пароль-для-Айгуль-7")
    assert (tokens["tenant_id"], tokens["role"]) == (str(tenant_a.id), "operator")
    assert "новичок@example.com" in await member_emails(client, tenant_a)
    assert (await client.get("/api/v1/invitations", headers=bearer(tokens))).json()["items"] == []


async def test_invitations_are_behind_row_level_security(
    client: httpx.AsyncClient, session: AsyncSession, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    for inviter, invited in ((tenant_a, tenant_b), (tenant_b, tenant_a)):
        body = {"email": invited.owner_email, "role": "viewer"}
        assert (await client.post(USERS, json=body, headers=inviter.headers)).status_code == 202
    await enter_system_scope(session)
    everyone = set((await session.execute(text("SELECT tenant_id FROM invitations"))).scalars())
    assert {tenant_a.id, tenant_b.id} <= everyone
    await scope_to_tenant(session, tenant_a.id)
    visible = (await session.execute(text("SELECT DISTINCT tenant_id FROM invitations"))).scalars().all()
    assert visible == [tenant_a.id]


async def test_an_account_made_a_moment_ago_by_someone_else_is_invited_not_duplicated(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_lookup = UserRepository.get_by_email
    lookups = 0

    async def not_yet_there_at_first(self: UserRepository, email: str) -> User | None:
        nonlocal lookups
        lookups += 1
        return None if lookups == 1 else await real_lookup(self, email)  # as if created concurrently

    monkeypatch.setattr(UserRepository, "get_by_email", not_yet_there_at_first)
    body = {"email": tenant_a.owner_email, "password": "race-Гонка-lantern-9", "role": "viewer"}
    assert (await client.post(USERS, json=body, headers=tenant_b.headers)).status_code == 202
    monkeypatch.undo()
    tokens = await sign_in(client, tenant_a.owner_email, tenant_a.owner_password)  # their own password stands
    assert tokens["tenant_id"] == str(tenant_a.id)
    [invitation] = (await client.get("/api/v1/invitations", headers=bearer(tokens))).json()["items"]
    assert invitation["tenant_id"] == str(tenant_b.id)  # still waits for their consent
    assert tenant_a.owner_email not in await member_emails(client, tenant_b)
