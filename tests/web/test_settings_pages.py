"""The workspace's settings, API keys and audit log pages over real HTTP through the app: each page renders for
admins only, each change is stored and audited as the API does, forged and hostile forms change nothing, and one
tenant's keys are out of another's reach."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from easyflow.app import create_app
from easyflow.config import Settings
from easyflow.db.database import Database
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, make_member
from tests.web.dashboard import csrf_of, open_login, sign_in


async def sign_in_as(client: httpx.AsyncClient, email: str, password: str = "member-pass-1") -> None:
    token = await open_login(client)
    signed_in = await client.post("/app/login", data={"email": email, "password": password, "csrf_token": token})
    assert signed_in.status_code == 303, signed_in.text


async def audit_entries(client: httpx.AsyncClient, tenant: TenantFixture, action: str) -> list[dict[str, object]]:
    answer = await client.get("/api/v1/audit", params={"action": action}, headers=tenant.headers)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, object]] = answer.json()["items"]
    return items


async def settings_form(client: httpx.AsyncClient) -> dict[str, str]:
    page = await client.get("/app/settings")
    assert page.status_code == 200, page.text
    return {
        "csrf_token": csrf_of(page),
        "name": "Салон «Лотос»",
        "default_language": "ru",
        "timezone": "Europe/Moscow",
        "csat_enabled": "on",
    }


# --- audit log ---


async def test_the_audit_log_lists_entries_newest_first_and_filters_by_action(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    await sign_in(client, tenant_a)
    created = await client.post("/api/v1/api-keys", json={"name": "Zapier"}, headers=tenant_a.headers)
    assert created.status_code == 201
    log = await client.get("/app/audit")
    assert log.status_code == 200
    actions = re.findall(r'<tr data-action="([^"]+)"', log.text)
    assert actions[0] == "api_key.created" and "auth.signed_in" in actions
    assert tenant_a.owner_email in log.text and "Zapier" in log.text
    only_keys = await client.get("/app/audit", params={"action": "api_key."})
    assert set(re.findall(r'<tr data-action="([^"]+)"', only_keys.text)) == {"api_key.created"}
    signins = await client.get("/app/audit", params={"action": "auth.signed_in"})
    assert set(re.findall(r'<tr data-action="([^"]+)"', signins.text)) == {"auth.signed_in"}


async def test_the_audit_log_is_paged(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    for number in range(51):
        await client.post("/api/v1/api-keys", json={"name": f"key {number}"}, headers=tenant_a.headers)
    await sign_in(client, tenant_a)
    first = await client.get("/app/audit", params={"action": "api_key.created"})
    assert len(re.findall(r"<tr data-action=", first.text)) == 50 and 'rel="next"' in first.text
    assert "key 50" in first.text and "key 0<" not in first.text
    second = await client.get("/app/audit", params={"action": "api_key.created", "page": 2})
    assert len(re.findall(r"<tr data-action=", second.text)) == 1 and "key 0" in second.text


@pytest.mark.parametrize("action", ["DROP TABLE", "a.b.c", "x" * 65, "auth\x00"])
async def test_a_malformed_action_filter_is_refused_with_a_page(
    client: httpx.AsyncClient, tenant_a: TenantFixture, action: str
) -> None:
    await sign_in(client, tenant_a)
    refused = await client.get("/app/audit", params={"action": action})
    assert 400 <= refused.status_code < 500
    assert "<html" in refused.text


async def test_a_bad_page_number_is_refused(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    await sign_in(client, tenant_a)
    for number in ("0", "-1", "abc", "²", "9" * 30):
        answer = await client.get("/app/audit", params={"page": number})
        assert 400 <= answer.status_code < 500, number


# --- settings ---


async def test_settings_are_saved_and_audited_as_the_api_does(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    await sign_in(client, tenant_a)
    form = await settings_form(client)
    assert 'name="two_factor_required"' in (await client.get("/app/settings")).text
    form.update(name="Лотос на Тверской", default_language="en", timezone="Asia/Bishkek")
    del form["csat_enabled"]
    saved = await client.post("/app/settings", data=form)
    assert saved.status_code == 303 and saved.headers["location"] == "/app/settings?saved=1"
    tenant = (await client.get("/api/v1/tenant", headers=tenant_a.headers)).json()
    assert tenant["name"] == "Лотос на Тверской" and tenant["default_language"] == "en"
    assert tenant["timezone"] == "Asia/Bishkek" and tenant["csat_enabled"] is False
    assert tenant["two_factor_required"] is False
    [entry] = await audit_entries(client, tenant_a, "tenant.updated")
    assert entry["details"] == {"changed": ["csat_enabled", "default_language", "name", "timezone"]}
    assert entry["actor"] == tenant_a.owner_email
    again = await client.get("/app/settings?saved=1")
    assert "data-saved" in again.text and 'value="Лотос на Тверской"' in again.text


async def test_requiring_two_factor_sends_the_admin_without_it_to_set_it_up(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    await sign_in(client, tenant_a)
    form = await settings_form(client)
    form["two_factor_required"] = "on"
    assert (await client.post("/app/settings", data=form)).status_code == 303
    tenant = (await client.get("/api/v1/tenant", headers=tenant_a.headers)).json()
    assert tenant["two_factor_required"] is True
    [entry] = await audit_entries(client, tenant_a, "tenant.updated")
    assert entry["details"] == {"changed": ["two_factor_required"]}
    after = await client.get("/app/settings")
    assert after.status_code == 303 and after.headers["location"] == "/app/account/two-factor"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("timezone", "Mars/Olympus", "Неизвестный часовой пояс"),
        ("name", "   ", "Введите название рабочего пространства"),
        ("default_language", "de", "Выберите язык из списка"),
    ],
)
async def test_invalid_settings_show_the_form_again_with_the_reason(
    client: httpx.AsyncClient, tenant_a: TenantFixture, field: str, value: str, message: str
) -> None:
    await sign_in(client, tenant_a)
    form = await settings_form(client)
    form[field] = value
    refused = await client.post("/app/settings", data=form)
    assert refused.status_code == 422
    assert message in refused.text and 'aria-invalid="true"' in refused.text
    tenant = (await client.get("/api/v1/tenant", headers=tenant_a.headers)).json()
    assert tenant["name"] == "Салон «Лотос»" and tenant["timezone"] == "Europe/Moscow"
    assert await audit_entries(client, tenant_a, "tenant.updated") == []


@pytest.mark.parametrize("value", ["x" * 201, "Лотос\x00"])
async def test_an_oversized_or_nul_field_is_refused(
    client: httpx.AsyncClient, tenant_a: TenantFixture, value: str
) -> None:
    await sign_in(client, tenant_a)
    form = await settings_form(client)
    form["name"] = value
    refused = await client.post("/app/settings", data=form)
    assert refused.status_code in (400, 422)
    assert (await client.get("/api/v1/tenant", headers=tenant_a.headers)).json()["name"] == "Салон «Лотос»"


async def test_a_settings_form_without_the_csrf_token_is_refused(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    await sign_in(client, tenant_a)
    form = await settings_form(client)
    form["name"] = "Forged"
    for token in (None, "wrong"):
        if token is None:
            del form["csrf_token"]
        else:
            form["csrf_token"] = token
        assert (await client.post("/app/settings", data=form)).status_code == 403
    assert (await client.get("/api/v1/tenant", headers=tenant_a.headers)).json()["name"] == "Салон «Лотос»"


@pytest.mark.parametrize("role", [Role.operator, Role.viewer])
async def test_members_below_admin_are_refused_the_admin_pages(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, role: Role
) -> None:
    email = await make_member(database, tenant_a, role)
    await sign_in_as(client, email)
    home = await client.get("/app/")
    for path in ("/app/settings", "/app/audit", "/app/api-keys"):
        refused = await client.get(path)
        assert refused.status_code == 403, path
        assert "только администраторы и владельцы" in refused.text
        assert f'href="{path}"' not in home.text
    forged = await client.post("/app/settings", data={"csrf_token": csrf_of(home), "name": "Mine now"})
    assert forged.status_code == 403
    created = await client.post("/app/api-keys", data={"csrf_token": csrf_of(home), "name": "mine"})
    assert created.status_code == 403
    assert (await client.get("/api/v1/tenant", headers=tenant_a.headers)).json()["name"] == "Салон «Лотос»"


async def test_signed_out_visitors_are_sent_to_sign_in(client: httpx.AsyncClient) -> None:
    for path in ("/app/settings", "/app/audit", "/app/api-keys"):
        answer = await client.get(path)
        assert answer.status_code == 303 and answer.headers["location"] == "/app/login"


# --- API keys ---


async def test_an_admin_creates_a_key_shown_once_that_works_and_is_audited(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    await sign_in(client, tenant_a)
    page = await client.get("/app/api-keys")
    assert page.status_code == 200 and "First key" in page.text and "data-secret-key" not in page.text
    created = await client.post(
        "/app/api-keys", data={"csrf_token": csrf_of(page), "name": "CRM sync", "role": "viewer"}
    )
    assert created.status_code == 201
    found = re.search(r'data-secret-key[^>]*|value="(ef_[^"]+)" class="secret"', created.text)
    whole = re.search(r'value="(ef_[A-Za-z0-9_-]+)"', created.text)
    assert found is not None and whole is not None
    key = whole.group(1)
    answer = await client.get("/api/v1/conversations", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200, "the key works, with its role"
    again = await client.get("/app/api-keys")
    assert key not in again.text and "CRM sync" in again.text, "shown only once"
    [entry] = await audit_entries(client, tenant_a, "api_key.created")
    assert entry["details"]["name"] == "CRM sync" and entry["details"]["role"] == "viewer"  # type: ignore[index]
    assert entry["actor"] == tenant_a.owner_email


async def test_an_admin_revokes_a_key_and_it_stops_working(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    created = await client.post("/api/v1/api-keys", json={"name": "Old script"}, headers=tenant_a.headers)
    key, key_id = created.json()["key"], created.json()["id"]
    await sign_in(client, tenant_a)
    token = csrf_of(await client.get("/app/api-keys"))
    revoked = await client.post(f"/app/api-keys/{key_id}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 303 and revoked.headers["location"] == "/app/api-keys"
    assert (await client.get("/api/v1/tenant", headers={"Authorization": f"Bearer {key}"})).status_code == 401
    page = await client.get("/app/api-keys")
    assert "data-revoked" in page.text
    [entry] = await audit_entries(client, tenant_a, "api_key.revoked")
    assert entry["target_id"] == key_id


async def test_key_forms_refuse_bad_input_and_forgeries(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    await sign_in(client, tenant_a)
    token = csrf_of(await client.get("/app/api-keys"))
    for data in (
        {"name": ""},
        {"name": "   "},
        {"name": "n" * 201},
        {"name": "a\x00b"},
        {"name": "x", "role": "owner"},
    ):
        refused = await client.post("/app/api-keys", data={"csrf_token": token, "role": "admin", **data})
        assert refused.status_code == 422, data
        assert 'role="alert"' in refused.text and "ef_" not in re.sub(r"ef_[0-9a-f]+_…", "", refused.text)
    assert (await client.post("/app/api-keys", data={"name": "forged", "role": "admin"})).status_code == 403
    assert await audit_entries(client, tenant_a, "api_key.created") == []
    missing = await client.post(f"/app/api-keys/{uuid.uuid4()}/revoke", data={"csrf_token": token})
    assert missing.status_code == 404
    assert (await client.post("/app/api-keys/not-an-id/revoke", data={"csrf_token": token})).status_code == 422


async def test_another_tenants_key_can_be_neither_seen_nor_revoked(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    theirs = await client.post("/api/v1/api-keys", json={"name": "B's secret sync"}, headers=tenant_b.headers)
    their_id, their_key = theirs.json()["id"], theirs.json()["key"]
    await sign_in(client, tenant_a)
    page = await client.get("/app/api-keys")
    assert "B's secret sync" not in page.text and "B&#39;s secret sync" not in page.text
    refused = await client.post(f"/app/api-keys/{their_id}/revoke", data={"csrf_token": csrf_of(page)})
    assert refused.status_code == 404
    assert (await client.get("/api/v1/tenant", headers={"Authorization": f"Bearer {their_key}"})).status_code == 200
    audit_page = await client.get("/app/audit")
    assert "B&#39;s secret sync" not in audit_page.text


# --- facts, business hours, SLA policies ---


async def test_the_facts_are_saved_and_audited(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    await sign_in(client, tenant_a)
    form = await settings_form(client)
    form["facts"] = "Тверская, 1.\r\nОплата картой."
    assert (await client.post("/app/settings", data=form)).status_code == 303
    tenant = (await client.get("/api/v1/tenant", headers=tenant_a.headers)).json()
    assert tenant["facts"] == "Тверская, 1.\nОплата картой."
    [entry] = await audit_entries(client, tenant_a, "tenant.updated")
    assert entry["details"] == {"changed": ["facts"]}
    assert "Оплата картой." in (await client.get("/app/settings")).text
    form["facts"] = "x" * 20001
    refused = await client.post("/app/settings", data=form)
    assert refused.status_code == 400
    assert (await client.get("/api/v1/tenant", headers=tenant_a.headers)).json()["facts"] == tenant["facts"]


def hours_form(token: str, **days: str) -> dict[str, str]:
    form = {f"hours_{day}": "" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    form.update({f"hours_{day}": value for day, value in days.items() if day != "holidays"})
    return {"csrf_token": token, "holidays": days.get("holidays", ""), **form}


async def test_business_hours_are_stored_as_the_api_takes_them_and_removed(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    await sign_in(client, tenant_a)
    token = csrf_of(await client.get("/app/settings"))
    form = hours_form(token, mon="9:00-13:00, 14:00-18:00", sat="10:00-24:00", holidays="2026-12-31\r\n2027-01-01")
    saved = await client.post("/app/settings/hours", data=form)
    assert saved.status_code == 303, saved.text
    stored = (await client.get("/api/v1/business-hours", headers=tenant_a.headers)).json()
    assert stored["weekly"] == {
        "mon": [{"opens": "09:00", "closes": "13:00"}, {"opens": "14:00", "closes": "18:00"}],
        "sat": [{"opens": "10:00", "closes": "24:00"}],
    }
    assert stored["holidays"] == ["2026-12-31", "2027-01-01"] and stored["always_open"] is False
    page = await client.get("/app/settings")
    assert 'value="09:00-13:00, 14:00-18:00"' in page.text and "2027-01-01" in page.text
    removed = await client.post("/app/settings/hours", data=hours_form(token))
    assert removed.status_code == 303
    assert (await client.get("/api/v1/business-hours", headers=tenant_a.headers)).json()["always_open"] is True


@pytest.mark.parametrize(
    "days",
    [
        {"mon": "18:00-09:00"},
        {"mon": "09:00-13:00, 12:00-18:00"},
        {"mon": "25:00-26:00"},
        {"mon": "nine to five"},
        {"mon": "09:00-18:00", "holidays": "31.12.2026"},
        {"mon": "09:00-18:00", "holidays": "2026-02-30"},
        {"holidays": "2026-12-31"},
        {"mon": "09:00-18:00\x00"},
        {"mon": "09:00-18:00," * 30},
    ],
)
async def test_bad_business_hours_are_refused_and_keep_the_stored_ones(
    client: httpx.AsyncClient, tenant_a: TenantFixture, days: dict[str, str]
) -> None:
    week = {"weekly": {"tue": [{"opens": "10:00", "closes": "19:00"}]}, "holidays": []}
    assert (await client.put("/api/v1/business-hours", json=week, headers=tenant_a.headers)).status_code == 200
    await sign_in(client, tenant_a)
    token = csrf_of(await client.get("/app/settings"))
    refused = await client.post("/app/settings/hours", data=hours_form(token, **days))
    assert refused.status_code == 422
    assert 'id="hours-error"' in refused.text and 'aria-invalid="true"' in refused.text
    stored = (await client.get("/api/v1/business-hours", headers=tenant_a.headers)).json()
    assert stored["weekly"] == week["weekly"]


def sla_form(token: str, **fields: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "name": "VIP",
        "first_response_minutes": "15",
        "next_response_minutes": "",
        "resolution_minutes": "240",
        "team_id": "",
        "label": "vip",
        "business_hours_only": "on",
        **fields,
    }


async def test_sla_policies_are_created_edited_and_deleted_through_the_apis_service(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    team = await client.post("/api/v1/teams", json={"name": "Support"}, headers=tenant_a.headers)
    team_id = team.json()["id"]
    await sign_in(client, tenant_a)
    page = await client.get("/app/settings")
    assert "data-no-policies" in page.text and "Support" in page.text
    token = csrf_of(page)
    created = await client.post("/app/settings/sla", data=sla_form(token))
    assert created.status_code == 303, created.text
    [policy] = (await client.get("/api/v1/sla-policies", headers=tenant_a.headers)).json()
    assert policy["name"] == "VIP" and policy["label"] == "vip" and policy["first_response_minutes"] == 15
    assert policy["next_response_minutes"] is None and policy["business_hours_only"] is True
    listed = await client.get("/app/settings")
    assert f'data-policy="{policy["id"]}"' in listed.text
    edited = await client.post(
        f"/app/settings/sla/{policy['id']}",
        data={**sla_form(token, name="Support SLA", label="", team_id=team_id), "business_hours_only": ""},
    )
    assert edited.status_code == 303
    del_hours = {**sla_form(token, name="Support SLA", label="", team_id=team_id)}
    del del_hours["business_hours_only"]
    assert (await client.post(f"/app/settings/sla/{policy['id']}", data=del_hours)).status_code == 303
    changed = (await client.get(f"/api/v1/sla-policies/{policy['id']}", headers=tenant_a.headers)).json()
    assert changed["name"] == "Support SLA" and changed["team_id"] == team_id and changed["label"] is None
    assert changed["business_hours_only"] is False
    assert "Support SLA" in (await client.get("/app/settings")).text
    deleted = await client.post(f"/app/settings/sla/{policy['id']}/delete", data={"csrf_token": token})
    assert deleted.status_code == 303
    assert (await client.get("/api/v1/sla-policies", headers=tenant_a.headers)).json() == []


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "   "},
        {"name": "n" * 101},
        {"first_response_minutes": "", "resolution_minutes": ""},
        {"first_response_minutes": "0"},
        {"first_response_minutes": "-5"},
        {"first_response_minutes": "1e3"},
        {"resolution_minutes": "99999999"},
        {"team_id": "not-a-team"},
        {"team_id": str(uuid.uuid4()), "label": ""},
        {"label": "x\x00"},
    ],
)
async def test_bad_sla_policies_are_refused_with_the_reason(
    client: httpx.AsyncClient, tenant_a: TenantFixture, fields: dict[str, str]
) -> None:
    await sign_in(client, tenant_a)
    token = csrf_of(await client.get("/app/settings"))
    refused = await client.post("/app/settings/sla", data=sla_form(token, **fields))
    assert refused.status_code == 422
    assert 'id="sla-error"' in refused.text
    assert (await client.get("/api/v1/sla-policies", headers=tenant_a.headers)).json() == []


async def test_a_team_and_a_label_together_are_refused(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    team = await client.post("/api/v1/teams", json={"name": "Support"}, headers=tenant_a.headers)
    await sign_in(client, tenant_a)
    token = csrf_of(await client.get("/app/settings"))
    refused = await client.post("/app/settings/sla", data=sla_form(token, team_id=team.json()["id"]))
    assert refused.status_code == 422 and "не то и другое" in refused.text


async def test_an_edit_that_leaves_no_target_changes_nothing(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    body = {"name": "General", "first_response_minutes": 30}
    policy = (await client.post("/api/v1/sla-policies", json=body, headers=tenant_a.headers)).json()
    await sign_in(client, tenant_a)
    token = csrf_of(await client.get("/app/settings"))
    edit = sla_form(token, name="Renamed", first_response_minutes="", resolution_minutes="", label="")
    refused = await client.post(f"/app/settings/sla/{policy['id']}", data=edit)
    assert refused.status_code == 422
    kept = (await client.get(f"/api/v1/sla-policies/{policy['id']}", headers=tenant_a.headers)).json()
    assert kept["name"] == "General" and kept["first_response_minutes"] == 30


async def test_another_tenants_sla_policy_and_team_are_out_of_reach(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    body = {"name": "B's policy", "first_response_minutes": 30}
    theirs = (await client.post("/api/v1/sla-policies", json=body, headers=tenant_b.headers)).json()
    their_team = (await client.post("/api/v1/teams", json={"name": "B team"}, headers=tenant_b.headers)).json()
    await sign_in(client, tenant_a)
    page = await client.get("/app/settings")
    assert "B&#39;s policy" not in page.text and "B team" not in page.text
    token = csrf_of(page)
    assert (await client.post(f"/app/settings/sla/{theirs['id']}", data=sla_form(token))).status_code == 404
    assert (
        await client.post(f"/app/settings/sla/{theirs['id']}/delete", data={"csrf_token": token})
    ).status_code == 404
    refused = await client.post("/app/settings/sla", data=sla_form(token, team_id=their_team["id"], label=""))
    assert refused.status_code == 422
    kept = (await client.get(f"/api/v1/sla-policies/{theirs['id']}", headers=tenant_b.headers)).json()
    assert kept["name"] == "B's policy"


@pytest.mark.parametrize("role", [Role.operator, Role.viewer])
async def test_members_below_admin_cannot_change_hours_or_sla(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, role: Role
) -> None:
    body = {"name": "General", "first_response_minutes": 30}
    policy = (await client.post("/api/v1/sla-policies", json=body, headers=tenant_a.headers)).json()
    email = await make_member(database, tenant_a, role)
    await sign_in_as(client, email)
    token = csrf_of(await client.get("/app/"))
    assert (await client.post("/app/settings/hours", data=hours_form(token, mon="09:00-18:00"))).status_code == 403
    assert (await client.post("/app/settings/sla", data=sla_form(token))).status_code == 403
    assert (await client.post(f"/app/settings/sla/{policy['id']}", data=sla_form(token))).status_code == 403
    assert (
        await client.post(f"/app/settings/sla/{policy['id']}/delete", data={"csrf_token": token})
    ).status_code == 403
    assert (await client.get("/api/v1/business-hours", headers=tenant_a.headers)).json()["always_open"] is True
    assert len((await client.get("/api/v1/sla-policies", headers=tenant_a.headers)).json()) == 1


# --- webhook ---


async def test_an_admin_sets_the_webhook_with_a_secret_shown_once_and_removes_it(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    await sign_in(client, tenant_a)
    page = await client.get("/app/api-keys")
    assert "data-no-webhook" in page.text
    token = csrf_of(page)
    set_answer = await client.post(
        "/app/api-keys/webhook", data={"csrf_token": token, "url": "https://example.com/hook"}
    )
    assert set_answer.status_code == 200
    secret = re.search(
        r'data-webhook-secret[^>]*value="([^"]+)"|value="([^"]+)"[^>]*data-webhook-secret', set_answer.text
    )
    assert secret is not None
    shown = secret.group(1) or secret.group(2)
    tenant = (await client.get("/api/v1/tenant", headers=tenant_a.headers)).json()
    assert tenant["webhook_url"] == "https://example.com/hook"
    again = await client.get("/app/api-keys")
    assert "https://example.com/hook" in again.text and shown not in again.text, "the secret is shown only once"
    removed = await client.post("/app/api-keys/webhook/remove", data={"csrf_token": token})
    assert removed.status_code == 303
    assert (await client.get("/api/v1/tenant", headers=tenant_a.headers)).json()["webhook_url"] is None


@pytest.mark.parametrize(
    "url", ["not a url", "ftp://example.com/x", "", "https://example.com/" + "a" * 500, "https://a\x00b"]
)
async def test_a_bad_webhook_address_is_refused(client: httpx.AsyncClient, tenant_a: TenantFixture, url: str) -> None:
    await sign_in(client, tenant_a)
    token = csrf_of(await client.get("/app/api-keys"))
    refused = await client.post("/app/api-keys/webhook", data={"csrf_token": token, "url": url})
    assert refused.status_code == 422 and 'id="webhook-error"' in refused.text
    assert (await client.get("/api/v1/tenant", headers=tenant_a.headers)).json()["webhook_url"] is None


async def test_a_private_webhook_address_is_refused_with_the_apis_reason(
    settings: Settings, runtime: Runtime, tenant_a: TenantFixture
) -> None:
    strict = create_app(settings.model_copy(update={"allow_private_webhooks": False}), runtime=runtime)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=strict), base_url="http://testserver") as client:
        await sign_in(client, tenant_a)
        token = csrf_of(await client.get("/app/api-keys"))
        for url in ("http://127.0.0.1/hook", "http://169.254.169.254/latest/meta-data", "http://10.0.0.5/x"):
            refused = await client.post("/app/api-keys/webhook", data={"csrf_token": token, "url": url})
            assert refused.status_code == 422, url
            assert "частный или локальный" in refused.text and "data-webhook-secret" not in refused.text
        assert (await client.get("/api/v1/tenant", headers=tenant_a.headers)).json()["webhook_url"] is None


@pytest.mark.parametrize("role", [Role.operator, Role.viewer])
async def test_members_below_admin_cannot_set_the_webhook(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, role: Role
) -> None:
    put = {"url": "https://example.com/hook"}
    assert (await client.put("/api/v1/tenant/webhook", json=put, headers=tenant_a.headers)).status_code == 200
    email = await make_member(database, tenant_a, role)
    await sign_in_as(client, email)
    token = csrf_of(await client.get("/app/"))
    forged = await client.post("/app/api-keys/webhook", data={"csrf_token": token, "url": "https://evil.example/x"})
    assert forged.status_code == 403
    assert (await client.post("/app/api-keys/webhook/remove", data={"csrf_token": token})).status_code == 403
    assert (await client.get("/api/v1/tenant", headers=tenant_a.headers)).json()["webhook_url"] == put["url"]


async def test_the_webhook_is_one_tenants_own(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    put = {"url": "https://b.example/hook"}
    assert (await client.put("/api/v1/tenant/webhook", json=put, headers=tenant_b.headers)).status_code == 200
    await sign_in(client, tenant_a)
    page = await client.get("/app/api-keys")
    assert "b.example" not in page.text
    assert (await client.post("/app/api-keys/webhook/remove", data={"csrf_token": csrf_of(page)})).status_code == 303
    assert (await client.get("/api/v1/tenant", headers=tenant_b.headers)).json()["webhook_url"] == put["url"]


async def test_booking_settings_are_saved_from_the_settings_page_and_refused_whole_when_wrong(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    await sign_in(client, tenant_a)
    page = await client.get("/app/settings")
    assert 'id="booking-title">Онлайн-запись</h2>' in page.text
    assert 'name="reminders" type="text" maxlength="20" value="24, 2"' in page.text
    token = csrf_of(page)
    form = {
        "csrf_token": token,
        "lead_time_minutes": "30",
        "horizon_days": "90",
        "hold_minutes": "10",
        "slot_step_minutes": "30",
        "reminders": "48; 0,5",
    }
    saved = await client.post("/app/settings/booking", data=form)
    assert saved.status_code == 303 and saved.headers["location"] == "/app/settings?saved=booking#booking"
    stored = (await client.get("/api/v1/booking/settings", headers=tenant_a.headers)).json()
    assert (stored["lead_time_minutes"], stored["horizon_days"], stored["hold_minutes"]) == (30, 90, 10)
    assert stored["slot_step_minutes"] == 30 and stored["reminder_offsets_minutes"] == [2880, 30]
    assert 'value="48, 0.5"' in (await client.get("/app/settings")).text

    for wrong in ({"reminders": "завтра"}, {"reminders": "inf"}, {"hold_minutes": "0"}, {"horizon_days": "x"}):
        refused = await client.post("/app/settings/booking", data=form | wrong)
        assert refused.status_code == 422, wrong
        assert "Онлайн-запись: самая ранняя запись" in refused.text and 'aria-invalid="true"' in refused.text
        assert f'value="{next(iter(wrong.values()))}"' in refused.text  # what was typed comes back
    assert (await client.get("/api/v1/booking/settings", headers=tenant_a.headers)).json() == stored
    untouched = (await client.get("/api/v1/booking/settings", headers=tenant_b.headers)).json()
    assert untouched["reminder_offsets_minutes"] == [1440, 120]
