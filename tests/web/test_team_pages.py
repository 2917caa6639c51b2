"""The team page, invitation links and the password change over real HTTP through the app: members listed
with role and status; admins invite by a link, change roles and deactivate, audited as the API does; the
invited person joins by the link once; others see the list read-only; tenants are kept apart."""

from __future__ import annotations

import re
import time
import uuid

import httpx
import pytest

from easyflow.config import Settings
from easyflow.db.database import Database
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from easyflow.web.team import invitation_link
from tests.conftest import TenantFixture, make_member
from tests.doubles.smtp_server import SmtpServer, free_port
from tests.web.dashboard import browser, csrf_of, open_login, sign_in

NEW_PASSWORD = "Brisk-Lantern-Orbit-42"


async def sign_in_as(client: httpx.AsyncClient, email: str, password: str = "member-pass-1") -> httpx.Response:
    token = await open_login(client)
    return await client.post("/app/login", data={"email": email, "password": password, "csrf_token": token})


async def members(client: httpx.AsyncClient, tenant: TenantFixture) -> dict[str, dict[str, object]]:
    answer = await client.get("/api/v1/users", headers=tenant.headers)
    return {item["email"]: item for item in answer.json()["items"]}


async def audit_entries(client: httpx.AsyncClient, tenant: TenantFixture, action: str) -> list[dict[str, object]]:
    answer = await client.get("/api/v1/audit", params={"action": action}, headers=tenant.headers)
    items: list[dict[str, object]] = answer.json()["items"]
    return items


async def invite(client: httpx.AsyncClient, email: str, role: str = "operator", name: str = "") -> str:
    team = await client.get("/app/team")
    created = await client.post(
        "/app/team/invite", data={"csrf_token": csrf_of(team), "email": email, "name": name, "role": role}
    )
    assert created.status_code == 200, created.text
    found = re.search(r'value="http://testserver(/app/invite/[^"]+)"', created.text)
    assert found is not None, created.text
    return found.group(1)


async def test_the_team_page_lists_members_with_role_and_status(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture
) -> None:
    operator = await make_member(database, tenant_a, Role.operator)
    await sign_in(client, tenant_a)
    team = await client.get("/app/team")
    assert team.status_code == 200
    assert f'data-member="{tenant_a.owner_email}"' in team.text and f'data-member="{operator}"' in team.text
    assert 'data-role="owner"' in team.text and 'data-role="operator"' in team.text
    assert "Активен" in team.text and 'href="/app/account/password"' in team.text
    assert "data-invite" in team.text and 'action="/app/team/invite"' in team.text


async def test_an_invited_person_joins_by_the_link_once_and_can_sign_in(
    client: httpx.AsyncClient, settings: Settings, runtime: Runtime, tenant_a: TenantFixture
) -> None:
    await sign_in(client, tenant_a)
    link = await invite(client, "Nadia@Example.com", role="admin", name="Надя")
    [entry] = await audit_entries(client, tenant_a, "member.invited")
    assert entry["details"] == {"email": "nadia@example.com", "role": "admin", "by": "link"}
    team = await client.get("/app/team")
    assert 'data-invitation="nadia@example.com"' in team.text and "Приглашён" in team.text
    async with browser(settings, runtime) as invited:
        page = await invited.get(link)
        assert page.status_code == 200 and "Салон «Лотос»" in page.text and 'value="Надя"' in page.text
        form = {"csrf_token": csrf_of(page), "name": "Надежда", "password": NEW_PASSWORD}
        differ = await invited.post(link, data={**form, "password_repeat": NEW_PASSWORD + "x"})
        assert differ.status_code == 422 and "не совпадают" in differ.text
        weak = await invited.post(link, data={**form, "password": "qwerty12345", "password_repeat": "qwerty12345"})
        assert weak.status_code == 422
        joined = await invited.post(link, data={**form, "password_repeat": NEW_PASSWORD})
        assert joined.status_code == 200 and "data-joined" in joined.text
        assert (await invited.get(link)).status_code == 404, "the link works once"
        assert (await sign_in_as(invited, "nadia@example.com", NEW_PASSWORD)).status_code == 303
        assert (await invited.get("/app/settings")).status_code == 200, "joined with the role offered"
    member = (await members(client, tenant_a))["nadia@example.com"]
    assert member["role"] == "admin" and member["name"] == "Надежда"
    [joined_entry] = await audit_entries(client, tenant_a, "member.joined")
    assert joined_entry["actor"] == "nadia@example.com"
    team = await client.get("/app/team")
    assert 'data-member="nadia@example.com"' in team.text and "data-invitation=" not in team.text


async def test_an_existing_account_joins_by_the_link_only_with_its_own_password(
    client: httpx.AsyncClient, settings: Settings, runtime: Runtime, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await sign_in(client, tenant_a)
    link = await invite(client, tenant_b.owner_email, role="viewer")
    async with browser(settings, runtime) as holder:
        page = await holder.get(link)
        assert page.status_code == 200 and 'name="password_repeat"' not in page.text
        token = csrf_of(page)
        for password in (NEW_PASSWORD, "", "p\x00" * 5):
            refused = await holder.post(link, data={"csrf_token": token, "name": "x", "password": password})
            assert refused.status_code in (401, 422), password
        assert tenant_b.owner_email not in await members(client, tenant_a)
        assert (await sign_in_as(holder, tenant_b.owner_email, NEW_PASSWORD)).status_code == 401, "unchanged"
        joined = await holder.post(link, data={"csrf_token": token, "password": tenant_b.owner_password})
        assert joined.status_code == 200 and "data-joined" in joined.text
        assert (await holder.get(link)).status_code == 404
    assert (await members(client, tenant_a))[tenant_b.owner_email]["role"] == "viewer"
    assert tenant_a.owner_email not in await members(client, tenant_b), "nothing changed in the other tenant"
    [entry] = await audit_entries(client, tenant_a, "member.joined")
    assert entry["actor"] == tenant_b.owner_email


@pytest.mark.parametrize("suffix", ["0" * 64, "short", "x" * 300])
async def test_a_wrong_invitation_link_is_a_404_page(
    client: httpx.AsyncClient, tenant_a: TenantFixture, suffix: str
) -> None:
    await sign_in(client, tenant_a)
    link = await invite(client, "wrong-link@example.com")
    invitation_id = link.split("/")[3]
    for path in (
        f"/app/invite/{invitation_id}/{suffix}",
        f"/app/invite/{uuid.uuid4()}/{link.split('/')[4]}",
        f"/app/invite/not-a-uuid/{suffix}",
    ):
        answer = await client.get(path)
        assert answer.status_code == 404 and "<html" in answer.text


async def test_the_invitation_form_needs_its_token_and_refuses_nul_and_oversized_input(
    client: httpx.AsyncClient, settings: Settings, runtime: Runtime, tenant_a: TenantFixture
) -> None:
    await sign_in(client, tenant_a)
    link = await invite(client, "careful@example.com")
    async with browser(settings, runtime) as invited:
        page = await invited.get(link)
        form = {"name": "Careful", "password": NEW_PASSWORD, "password_repeat": NEW_PASSWORD}
        assert (await invited.post(link, data=form)).status_code == 403
        assert (await invited.post(link, data={**form, "csrf_token": "forged"})).status_code == 403
        token = csrf_of(page)
        for bad in (
            {"name": "Care\x00ful"},
            {"name": "n" * 201},
            {"password": "p" * 300, "password_repeat": "p" * 300},
        ):
            refused = await invited.post(link, data={**form, "csrf_token": token, **bad})
            assert refused.status_code == 422, bad
        assert (await invited.get(link)).status_code == 200, "still unused"


async def test_invitations_refuse_bad_input_and_forged_forms(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    await sign_in(client, tenant_a)
    token = csrf_of(await client.get("/app/team"))
    for email in ("not-an-address", "a\x00b@example.com", "x" * 400 + "@example.com"):
        refused = await client.post("/app/team/invite", data={"csrf_token": token, "email": email, "role": "operator"})
        assert refused.status_code == 422 and 'role="alert"' in refused.text
    assert (await client.post("/app/team/invite", data={"email": "x@example.com"})).status_code == 403
    assert await audit_entries(client, tenant_a, "member.invited") == []
    already = await client.post(
        "/app/team/invite", data={"csrf_token": token, "email": tenant_a.owner_email, "role": "operator"}
    )
    assert already.status_code == 409


async def test_an_admin_changes_a_role_and_deactivates_a_member_audited(
    client: httpx.AsyncClient, settings: Settings, runtime: Runtime, database: Database, tenant_a: TenantFixture
) -> None:
    operator = await make_member(database, tenant_a, Role.operator)
    user_id = (await members(client, tenant_a))[operator]["user_id"]
    async with browser(settings, runtime) as theirs:
        assert (await sign_in_as(theirs, operator)).status_code == 303
        await sign_in(client, tenant_a)
        token = csrf_of(await client.get("/app/team"))
        changed = await client.post(f"/app/team/{user_id}/role", data={"csrf_token": token, "role": "viewer"})
        assert changed.status_code == 303 and changed.headers["location"] == "/app/team"
        assert (await members(client, tenant_a))[operator]["role"] == "viewer"
        [entry] = await audit_entries(client, tenant_a, "member.changed")
        assert entry["details"] == {"role": "viewer"} and entry["target_id"] == user_id
        bad = await client.post(f"/app/team/{user_id}/role", data={"csrf_token": token, "role": "emperor"})
        assert bad.status_code == 400
        removed = await client.post(f"/app/team/{user_id}/remove", data={"csrf_token": token})
        assert removed.status_code == 303
        assert operator not in await members(client, tenant_a)
        assert len(await audit_entries(client, tenant_a, "member.removed")) == 1
        assert (await theirs.get("/app/")).status_code == 303, "signed out of the workspace"


async def test_an_admin_cannot_make_an_owner_nor_touch_one_and_the_last_owner_stays(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture
) -> None:
    admin = await make_member(database, tenant_a, Role.admin)
    operator = await make_member(database, tenant_a, Role.operator)
    ids = {email: item["user_id"] for email, item in (await members(client, tenant_a)).items()}
    await sign_in_as(client, admin)
    team = await client.get("/app/team")
    assert 'value="owner"' not in team.text
    token = csrf_of(team)
    promote = await client.post(f"/app/team/{ids[operator]}/role", data={"csrf_token": token, "role": "owner"})
    assert promote.status_code == 403 and "владельц" in promote.text
    demote = await client.post(f"/app/team/{ids[tenant_a.owner_email]}/remove", data={"csrf_token": token})
    assert demote.status_code == 403
    assert (await members(client, tenant_a))[tenant_a.owner_email]["role"] == "owner"


@pytest.mark.parametrize("role", [Role.operator, Role.viewer])
async def test_members_below_admin_see_the_team_read_only(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, role: Role
) -> None:
    email = await make_member(database, tenant_a, role)
    await sign_in_as(client, email)
    team = await client.get("/app/team")
    assert team.status_code == 200 and f'data-member="{tenant_a.owner_email}"' in team.text
    assert "/remove" not in team.text and "data-invite" not in team.text and "/role" not in team.text
    token = csrf_of(team)
    owner_id = (await members(client, tenant_a))[tenant_a.owner_email]["user_id"]
    for path, data in (
        ("/app/team/invite", {"email": "friend@example.com", "role": "admin"}),
        (f"/app/team/{owner_id}/role", {"role": "viewer"}),
        (f"/app/team/{owner_id}/remove", {}),
    ):
        refused = await client.post(path, data={"csrf_token": token, **data})
        assert refused.status_code == 403, path
    assert (await members(client, tenant_a))[tenant_a.owner_email]["role"] == "owner"


async def test_another_tenants_member_cannot_be_changed_or_seen(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    theirs = await make_member(database, tenant_b, Role.operator)
    their_id = (await members(client, tenant_b))[theirs]["user_id"]
    await sign_in(client, tenant_a)
    team = await client.get("/app/team")
    assert theirs not in team.text and tenant_b.owner_email not in team.text
    token = csrf_of(team)
    changed = await client.post(f"/app/team/{their_id}/role", data={"csrf_token": token, "role": "viewer"})
    assert changed.status_code == 404
    removed = await client.post(f"/app/team/{their_id}/remove", data={"csrf_token": token})
    assert removed.status_code == 404
    assert (await members(client, tenant_b))[theirs]["role"] == "operator"


# --- password ---


async def test_a_member_changes_their_password_and_their_other_sessions_end(
    client: httpx.AsyncClient, settings: Settings, runtime: Runtime, tenant_a: TenantFixture
) -> None:
    async with browser(settings, runtime) as other:
        await sign_in(other, tenant_a)
        await sign_in(client, tenant_a)
        page = await client.get("/app/account/password")
        assert page.status_code == 200
        form = {"csrf_token": csrf_of(page), "current_password": tenant_a.owner_password}
        wrong = await client.post(
            "/app/account/password",
            data={
                **form,
                "current_password": "not-it-at-all",
                "new_password": NEW_PASSWORD,
                "new_repeat": NEW_PASSWORD,
            },
        )
        assert wrong.status_code == 403 and "Текущий пароль" in wrong.text
        weak = await client.post(
            "/app/account/password", data={**form, "new_password": "password12", "new_repeat": "password12"}
        )
        assert weak.status_code == 422
        differ = await client.post(
            "/app/account/password", data={**form, "new_password": NEW_PASSWORD, "new_repeat": NEW_PASSWORD + "!"}
        )
        assert differ.status_code == 422
        nul = await client.post(
            "/app/account/password", data={**form, "new_password": "a\x00" * 6, "new_repeat": "a\x00" * 6}
        )
        assert nul.status_code == 400
        assert (await client.post("/app/account/password", data={**form, "csrf_token": "x"})).status_code == 403
        changed = await client.post(
            "/app/account/password", data={**form, "new_password": NEW_PASSWORD, "new_repeat": NEW_PASSWORD}
        )
        assert changed.status_code == 303 and changed.headers["location"] == "/app/account/password?changed=1"
        assert (await client.get("/app/")).status_code == 200, "this session stays"
        assert (await other.get("/app/")).status_code == 303, "the other session ended"
        assert (await sign_in(other, tenant_a)).status_code == 401
        assert (await sign_in(other, tenant_a, NEW_PASSWORD)).status_code == 303
    [entry] = await audit_entries(client, tenant_a, "auth.password_changed")
    assert entry["actor"] == tenant_a.owner_email and entry["details"] == {"other_sessions_ended": 1}


async def test_an_invitation_link_expires_after_a_week_and_cannot_be_redated(
    client: httpx.AsyncClient, settings: Settings, tenant_a: TenantFixture
) -> None:
    await sign_in(client, tenant_a)
    link = await invite(client, "late@example.com")
    invitation_id = uuid.UUID(link.split("/")[3])
    issued, signature = link.split("/")[4].split(".")
    week_ago = int(time.time()) - 7 * 24 * 3600 - 60
    expired = await client.get(invitation_link(settings, invitation_id, issued=week_ago))
    assert expired.status_code == 410 and "истёк" in expired.text
    redated = await client.get(f"/app/invite/{invitation_id}/{int(issued) + 3600}.{signature}")
    assert redated.status_code == 404
    assert (await client.get(link)).status_code == 200


async def test_an_admin_withdraws_an_invitation_and_its_link_stops_working(
    client: httpx.AsyncClient, settings: Settings, runtime: Runtime, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await sign_in(client, tenant_a)
    link = await invite(client, "changed-mind@example.com")
    invitation_id = link.split("/")[3]
    team = await client.get("/app/team")
    token = csrf_of(team)
    withdrawn = await client.post(f"/app/team/invitations/{invitation_id}/withdraw", data={"csrf_token": token})
    assert withdrawn.status_code == 303
    assert (await client.get(link)).status_code == 404
    assert "data-invitation=" not in (await client.get("/app/team")).text
    [entry] = await audit_entries(client, tenant_a, "member.invitation_withdrawn")
    assert entry["details"] == {"email": "changed-mind@example.com"}
    # Invited again, the address gets a link that still lets its holder choose the password.
    again = await invite(client, "changed-mind@example.com")
    async with browser(settings, runtime) as invited:
        page = await invited.get(again)
        assert 'name="password_repeat"' in page.text
    # Another tenant's admin cannot withdraw it.
    async with browser(settings, runtime) as other:
        await sign_in(other, tenant_b)
        other_token = csrf_of(await other.get("/app/team"))
        new_id = again.split("/")[3]
        refused = await other.post(f"/app/team/invitations/{new_id}/withdraw", data={"csrf_token": other_token})
        assert refused.status_code == 404
    assert (await client.get(again)).status_code == 200


# --- a forgotten password, reset by an admin ---


async def reset_link(client: httpx.AsyncClient, user_id: object) -> httpx.Response:
    token = csrf_of(await client.get("/app/team"))
    return await client.post(f"/app/team/{user_id}/reset-password", data={"csrf_token": token})


async def test_an_admin_makes_a_reset_link_with_which_the_member_chooses_a_new_password_once(
    client: httpx.AsyncClient, settings: Settings, runtime: Runtime, database: Database, tenant_a: TenantFixture
) -> None:
    operator = await make_member(database, tenant_a, Role.operator)
    user_id = (await members(client, tenant_a))[operator]["user_id"]
    async with browser(settings, runtime) as theirs:
        assert (await sign_in_as(theirs, operator)).status_code == 303
        await sign_in(client, tenant_a)
        made = await reset_link(client, user_id)
        assert made.status_code == 200 and "data-reset-link" in made.text
        found = re.search(r'value="http://testserver(/app/reset/[^"]+)"', made.text)
        assert found is not None
        link = found.group(1)
        [entry] = await audit_entries(client, tenant_a, "member.password_reset_link")
        assert entry["target_id"] == user_id
        page = await theirs.get(link)
        assert page.status_code == 200 and operator in page.text
        token = csrf_of(page)
        assert (
            await theirs.post(link, data={"new_password": NEW_PASSWORD, "new_repeat": NEW_PASSWORD})
        ).status_code == 403
        weak = await theirs.post(
            link, data={"csrf_token": token, "new_password": "1234567890", "new_repeat": "1234567890"}
        )
        assert weak.status_code == 422
        nul = await theirs.post(
            link, data={"csrf_token": token, "new_password": "a\x00" * 6, "new_repeat": "a\x00" * 6}
        )
        assert nul.status_code == 400
        done = await theirs.post(
            link, data={"csrf_token": token, "new_password": NEW_PASSWORD, "new_repeat": NEW_PASSWORD}
        )
        assert done.status_code == 200 and "data-password-reset" in done.text
        assert (await theirs.get("/app/")).status_code == 303, "signed out everywhere"
        assert (await theirs.get(link)).status_code == 404, "the link works once"
        assert (await sign_in_as(theirs, operator)).status_code == 401
        assert (await sign_in_as(theirs, operator, NEW_PASSWORD)).status_code == 303
    [reset_entry] = await audit_entries(client, tenant_a, "auth.password_reset")
    assert reset_entry["actor"] == operator


async def test_a_reset_link_expires_after_a_day(
    client: httpx.AsyncClient, settings: Settings, database: Database, tenant_a: TenantFixture
) -> None:
    operator = await make_member(database, tenant_a, Role.operator)
    user_id = (await members(client, tenant_a))[operator]["user_id"]
    await sign_in(client, tenant_a)
    found = re.search(r'value="http://testserver(/app/reset/[^"]+)"', (await reset_link(client, user_id)).text)
    assert found is not None
    issued, signature = found.group(1).split("/")[4].split(".")
    assert (await client.get(found.group(1))).status_code == 200
    day_ago = int(issued) - 24 * 3600 - 60
    assert (await client.get(f"/app/reset/{user_id}/{day_ago}.{signature}")).status_code == 404
    assert (await client.get(f"/app/reset/{user_id}/not-a-token")).status_code == 404
    assert (await client.get(f"/app/reset/not-a-uuid/{issued}.{signature}")).status_code == 404


async def test_no_reset_link_for_an_owner_by_an_admin_another_workspaces_member_or_another_tenant(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    admin = await make_member(database, tenant_a, Role.admin)
    theirs = await make_member(database, tenant_b, Role.operator)
    ids_a = {email: item["user_id"] for email, item in (await members(client, tenant_a)).items()}
    their_id = (await members(client, tenant_b))[theirs]["user_id"]
    await sign_in_as(client, admin)
    refused = await reset_link(client, ids_a[tenant_a.owner_email])
    assert refused.status_code == 403
    assert (await reset_link(client, their_id)).status_code == 404
    # B's owner joins A too: A's owner may not reset the password of an account B relies on.
    await client.post("/app/logout", data={"csrf_token": csrf_of(await client.get("/app/team"))})
    await sign_in(client, tenant_a)
    link = await invite(client, tenant_b.owner_email)
    form = {"csrf_token": csrf_of(await client.get(link)), "password": tenant_b.owner_password}
    assert (await client.post(link, data=form)).status_code == 200
    b_owner = (await members(client, tenant_a))[tenant_b.owner_email]["user_id"]
    shared = await reset_link(client, b_owner)
    assert shared.status_code == 403 and "других рабочих пространствах" in shared.text
    assert await audit_entries(client, tenant_a, "member.password_reset_link") == []


# --- capacity and teams ---


async def test_an_admin_sets_a_members_capacity_audited_and_used_by_the_inbox(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture
) -> None:
    email = await make_member(database, tenant_a, Role.operator)
    user_id = (await members(client, tenant_a))[email]["user_id"]
    await sign_in(client, tenant_a)
    page = await client.get("/app/team")
    assert f'action="/app/team/{user_id}/capacity"' in page.text
    token = csrf_of(page)
    saved = await client.post(f"/app/team/{user_id}/capacity", data={"csrf_token": token, "capacity": "3"})
    assert saved.status_code == 303
    assert (await members(client, tenant_a))[email]["capacity"] == 3
    operators = (await client.get("/api/v1/operators", headers=tenant_a.headers)).json()
    assert {o["email"]: o["capacity"] for o in operators}[email] == 3
    [entry] = await audit_entries(client, tenant_a, "member.changed")
    assert entry["details"] == {"capacity": 3} and entry["target_id"] == user_id
    assert 'data-capacity="3"' in (await client.get("/app/team")).text
    back = await client.post(f"/app/team/{user_id}/capacity", data={"csrf_token": token, "capacity": ""})
    assert back.status_code == 303 and (await members(client, tenant_a))[email]["capacity"] is None
    for bad in ("0", "101", "-1", "2.5", "many", "9" * 9, "3\x00"):
        refused = await client.post(f"/app/team/{user_id}/capacity", data={"csrf_token": token, "capacity": bad})
        assert refused.status_code == 422, bad
    assert (await members(client, tenant_a))[email]["capacity"] is None


async def test_the_api_sets_capacity_too(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture
) -> None:
    email = await make_member(database, tenant_a, Role.operator)
    user_id = (await members(client, tenant_a))[email]["user_id"]
    changed = await client.patch(f"/api/v1/users/{user_id}", json={"capacity": 7}, headers=tenant_a.headers)
    assert changed.status_code == 200 and changed.json()["capacity"] == 7
    refused = await client.patch(f"/api/v1/users/{user_id}", json={"capacity": 0}, headers=tenant_a.headers)
    assert refused.status_code == 422


async def test_an_admin_creates_renames_staffs_and_deletes_a_team(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture
) -> None:
    email = await make_member(database, tenant_a, Role.operator)
    user_id = (await members(client, tenant_a))[email]["user_id"]
    await sign_in(client, tenant_a)
    page = await client.get("/app/team")
    assert "data-no-teams" in page.text
    token = csrf_of(page)
    assert (await client.post("/app/team/teams", data={"csrf_token": token, "name": "Support"})).status_code == 303
    [team] = (await client.get("/api/v1/teams", headers=tenant_a.headers)).json()
    assert team["name"] == "Support" and team["member_ids"] == []
    staffed = await client.post(
        f"/app/team/teams/{team['id']}/members",
        data={"csrf_token": token, "user_ids": [user_id, str(tenant_a.owner_id)]},
    )
    assert staffed.status_code == 303
    read = (await client.get(f"/api/v1/teams/{team['id']}", headers=tenant_a.headers)).json()
    assert set(read["member_ids"]) == {user_id, str(tenant_a.owner_id)}
    renamed = await client.post(f"/app/team/teams/{team['id']}/rename", data={"csrf_token": token, "name": "Sales"})
    assert renamed.status_code == 303
    listed = await client.get("/app/team")
    assert 'data-team="Sales"' in listed.text and email in listed.text
    assert (await client.post("/app/team/teams", data={"csrf_token": token, "name": "sales"})).status_code == 409
    emptied = await client.post(f"/app/team/teams/{team['id']}/members", data={"csrf_token": token})
    assert emptied.status_code == 303
    assert (await client.get(f"/api/v1/teams/{team['id']}", headers=tenant_a.headers)).json()["member_ids"] == []
    deleted = await client.post(f"/app/team/teams/{team['id']}/delete", data={"csrf_token": token})
    assert deleted.status_code == 303
    assert (await client.get("/api/v1/teams", headers=tenant_a.headers)).json() == []


async def test_team_forms_refuse_hostile_input(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture
) -> None:
    viewer = await make_member(database, tenant_a, Role.viewer)
    viewer_id = (await members(client, tenant_a))[viewer]["user_id"]
    team = (await client.post("/api/v1/teams", json={"name": "Support"}, headers=tenant_a.headers)).json()
    await sign_in(client, tenant_a)
    token = csrf_of(await client.get("/app/team"))
    for name in ("", "   ", "n" * 101, "a\x00b"):
        refused = await client.post("/app/team/teams", data={"csrf_token": token, "name": name})
        assert refused.status_code == 422, name
    for ids in (["not-an-id"], [viewer_id], [str(uuid.uuid4())]):
        refused = await client.post(
            f"/app/team/teams/{team['id']}/members", data={"csrf_token": token, "user_ids": ids}
        )
        assert refused.status_code == 422, ids
    missing = uuid.uuid4()
    assert (await client.post(f"/app/team/teams/{missing}/delete", data={"csrf_token": token})).status_code == 404
    assert (await client.post("/app/team/teams", data={"name": "forged"})).status_code == 403
    assert [t["name"] for t in (await client.get("/api/v1/teams", headers=tenant_a.headers)).json()] == ["Support"]


async def test_another_tenants_team_and_member_are_out_of_reach(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    theirs = (await client.post("/api/v1/teams", json={"name": "B team"}, headers=tenant_b.headers)).json()
    their_member = await make_member(database, tenant_b, Role.operator)
    their_id = (await members(client, tenant_b))[their_member]["user_id"]
    mine = (await client.post("/api/v1/teams", json={"name": "Mine"}, headers=tenant_a.headers)).json()
    await sign_in(client, tenant_a)
    page = await client.get("/app/team")
    assert "B team" not in page.text
    token = csrf_of(page)
    for path in (f"/app/team/teams/{theirs['id']}/delete", f"/app/team/teams/{theirs['id']}/members"):
        assert (await client.post(path, data={"csrf_token": token})).status_code == 404, path
    renamed = await client.post(f"/app/team/teams/{theirs['id']}/rename", data={"csrf_token": token, "name": "x"})
    assert renamed.status_code == 404
    staffed = await client.post(
        f"/app/team/teams/{mine['id']}/members", data={"csrf_token": token, "user_ids": [their_id]}
    )
    assert staffed.status_code == 422
    capacity = await client.post(f"/app/team/{their_id}/capacity", data={"csrf_token": token, "capacity": "2"})
    assert capacity.status_code == 404
    assert (await members(client, tenant_b))[their_member]["capacity"] is None
    assert (await client.get(f"/api/v1/teams/{theirs['id']}", headers=tenant_b.headers)).json()["name"] == "B team"


@pytest.mark.parametrize("role", [Role.operator, Role.viewer])
async def test_members_below_admin_see_teams_but_cannot_change_them(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, role: Role
) -> None:
    team = (await client.post("/api/v1/teams", json={"name": "Support"}, headers=tenant_a.headers)).json()
    email = await make_member(database, tenant_a, role)
    await sign_in_as(client, email)
    page = await client.get("/app/team")
    assert page.status_code == 200 and 'data-team="Support"' in page.text and "data-new-team" not in page.text
    token = csrf_of(page)
    own_id = str((await members(client, tenant_a))[email]["user_id"])
    for path, data in (
        ("/app/team/teams", {"name": "Mine"}),
        (f"/app/team/teams/{team['id']}/rename", {"name": "Mine"}),
        (f"/app/team/teams/{team['id']}/members", {"user_ids": own_id}),
        (f"/app/team/teams/{team['id']}/delete", {}),
        (f"/app/team/{own_id}/capacity", {"capacity": "50"}),
    ):
        assert (await client.post(path, data={"csrf_token": token, **data})).status_code == 403, path
    assert (await client.get(f"/api/v1/teams/{team['id']}", headers=tenant_a.headers)).json()["name"] == "Support"


# --- links by e-mail ---


@pytest.fixture
def smtp_on(runtime: Runtime, smtp: SmtpServer) -> SmtpServer:
    runtime.settings = runtime.settings.model_copy(update={"smtp_host": smtp.host, "smtp_port": smtp.port})
    return smtp


async def test_with_smtp_the_invitation_link_is_shown_and_mailed_in_the_workspaces_language(
    client: httpx.AsyncClient, smtp_on: SmtpServer, tenant_a: TenantFixture
) -> None:
    await sign_in(client, tenant_a)
    path = await invite(client, "newcomer@example.com")
    page = await client.get("/app/team")
    assert 'data-mailed="sent"' not in page.text
    [mail] = smtp_on.messages
    assert mail.recipients == ["newcomer@example.com"]
    assert "Салон «Лотос»" in mail.subject and "Приглашение" in mail.subject
    assert f"http://testserver{path}" in mail.body and "7 дней" in mail.body


async def test_the_page_says_whether_the_link_was_mailed(
    client: httpx.AsyncClient, runtime: Runtime, smtp: SmtpServer, tenant_a: TenantFixture
) -> None:
    await sign_in(client, tenant_a)
    token = csrf_of(await client.get("/app/team"))
    data = {"csrf_token": token, "email": "a@example.com", "name": "", "role": "operator"}
    off = await client.post("/app/team/invite", data=data)
    assert 'data-mailed="off"' in off.text and "не отправлено" in off.text and "data-invite-link" in off.text
    runtime.settings = runtime.settings.model_copy(update={"smtp_host": smtp.host, "smtp_port": smtp.port})
    sent = await client.post("/app/team/invite", data={**data, "email": "b@example.com"})
    assert 'data-mailed="sent"' in sent.text and "data-invite-link" in sent.text
    runtime.settings = runtime.settings.model_copy(update={"smtp_port": free_port()})  # nothing listens there
    failed = await client.post("/app/team/invite", data={**data, "email": "c@example.com"})
    assert failed.status_code == 200 and 'data-mailed="failed"' in failed.text and "data-invite-link" in failed.text
    assert [m.recipients for m in smtp.messages] == [["b@example.com"]]


async def test_with_smtp_a_password_reset_link_is_mailed_too(
    client: httpx.AsyncClient, smtp_on: SmtpServer, database: Database, tenant_a: TenantFixture
) -> None:
    operator = await make_member(database, tenant_a, Role.operator)
    user_id = (await members(client, tenant_a))[operator]["user_id"]
    await sign_in(client, tenant_a)
    answer = await reset_link(client, user_id)
    assert answer.status_code == 200 and 'data-mailed="sent"' in answer.text
    shown = re.search(r'value="(http://testserver/app/reset/[^"]+)"', answer.text)
    assert shown is not None
    [mail] = smtp_on.messages
    assert mail.recipients == [operator] and shown.group(1) in mail.body and "Сброс пароля" in mail.subject
