"""Partners through the API: the directory (validation, roles, tenants apart), transfers of deals sent by each
way against the doubles (a signed webhook, SMTP, the tenant's Telegram bot), a webhook that keeps failing ending
`failed` with its error, and the partner's acknowledgement by the summary's link."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from easyflow.app import create_app
from easyflow.config import Settings
from easyflow.db.database import Database
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, make_key
from tests.crm.test_funnel import create_deal, new_contact
from tests.doubles.smtp_server import SmtpServer
from tests.doubles.webhook_receiver import WebhookReceiver

PARTNERS = "/api/v1/partners"
GUIDE_CHAT = 500_300_001
QUALIFICATION = {"needs": "конная прогулка к озеру Сон-Куль", "budget": "до 60 000 сом", "dates": "12–15 июля"}


async def add_partner(client: httpx.AsyncClient, tenant: TenantFixture, **fields: object) -> dict:
    response = await client.post(PARTNERS, json={"name": "Гид Азамат", **fields}, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def tour_deal(client: httpx.AsyncClient, tenant: TenantFixture, runtime: Runtime) -> dict:
    """A deal of Айгуль's (with her phone) for a tour, qualified, with a product."""
    contact_id = await new_contact(client, tenant, runtime, "Айгуль Сатыбалдиева")
    async with runtime.database.tenant_transaction(tenant.id) as session:
        await session.execute(text("UPDATE contacts SET phone = '+996555123456' WHERE id = :id"), {"id": contact_id})
    return await create_deal(
        client,
        tenant,
        contact_id,
        title="Тур на Сон-Куль",
        amount="54000.00",
        currency="KGS",
        qualification=QUALIFICATION,
        products=[{"name": "Юрта на двоих", "quantity": 2}],
    )


async def transfer(
    client: httpx.AsyncClient, tenant: TenantFixture, deal: dict, partner: dict, note: str = ""
) -> httpx.Response:
    return await client.post(
        f"/api/v1/deals/{deal['id']}/transfers",
        json={"partner_id": partner["id"], "note": note},
        headers=tenant.headers,
    )


async def transfers(client: httpx.AsyncClient, tenant: TenantFixture, deal: dict) -> list[dict]:
    response = await client.get(f"/api/v1/deals/{deal['id']}/transfers", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return list(response.json())


async def staff_events(database: Database, tenant: TenantFixture, kind: str) -> list[dict]:
    async with database.tenant_transaction(tenant.id) as session:
        rows = await session.execute(
            text("SELECT payload FROM staff_events WHERE tenant_id = :tenant AND kind = :kind ORDER BY id"),
            {"tenant": tenant.id, "kind": kind},
        )
        return [row.payload for row in rows]


async def queued_transfer_job(runtime: Runtime) -> dict:
    async with runtime.database.session() as session, session.begin():
        row = (
            await session.execute(
                text("SELECT args FROM procrastinate_jobs WHERE task_name = 'crm.send_transfer' AND status = 'todo'")
            )
        ).one()
    return dict(row.args)


@pytest.fixture
def smtp_on(runtime: Runtime, smtp: SmtpServer) -> SmtpServer:
    runtime.settings = runtime.settings.model_copy(update={"smtp_host": smtp.host, "smtp_port": smtp.port})
    return smtp


# The directory


async def test_an_admin_keeps_the_directory_and_phones_are_kept_in_one_form(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    hotel = await add_partner(
        client,
        tenant_a,
        name="Гостиница «Иссык-Куль»",
        kind="hotel",
        phone="+996 (555) 12-34-56",
        email="booking@issyk-kul.example",
        notes="Скидка 10% нашим клиентам",
        reach_by="email",
    )
    assert hotel["phone"] == "+996555123456" and hotel["reach_by"] == "email" and hotel["webhook_secret"] is None
    guide = await add_partner(client, tenant_a, kind="конный гид", phone="8 (912) 345-67-89")
    assert guide["kind"] == "конный гид" and guide["phone"] == "+79123456789" and guide["reach_by"] is None

    listed = (await client.get(PARTNERS, params={"q": "иссык"}, headers=tenant_a.headers)).json()
    assert [partner["name"] for partner in listed["items"]] == ["Гостиница «Иссык-Куль»"] and listed["total"] == 1
    by_kind = (await client.get(PARTNERS, params={"kind": "hotel"}, headers=tenant_a.headers)).json()
    assert [partner["id"] for partner in by_kind["items"]] == [hotel["id"]]

    changed = await client.patch(
        f"{PARTNERS}/{guide['id']}",
        json={"phone": None, "notes": "Говорит по-английски", "reach_by": "telegram", "telegram_chat_id": GUIDE_CHAT},
        headers=tenant_a.headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["phone"] is None and changed.json()["telegram_chat_id"] == GUIDE_CHAT
    assert (await client.get(f"{PARTNERS}/{guide['id']}", headers=tenant_a.headers)).json()["notes"] == (
        "Говорит по-английски"
    )

    assert (await client.delete(f"{PARTNERS}/{guide['id']}", headers=tenant_a.headers)).status_code == 204
    assert (await client.get(f"{PARTNERS}/{guide['id']}", headers=tenant_a.headers)).status_code == 404
    assert (await client.get(PARTNERS, headers=tenant_a.headers)).json()["total"] == 1


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"name": "Гид", "email": "not-an-address"}, "email"),
        ({"name": "Гид", "phone": "позвонить Азамату"}, "phone"),
        ({"name": "Гид\x00Азамат"}, "name"),
        ({"name": "Гид", "notes": "ok\x00"}, "notes"),
        ({"name": "   "}, "name"),
        ({"name": "Гид", "kind": "к" * 41}, "kind"),
        ({"name": "Гид", "telegram_chat_id": 2**63}, "telegram_chat_id"),
        ({"name": "Гид", "webhook_url": "ftp://example.com/x"}, "webhook_url"),
        ({"name": "Гид", "reach_by": "pigeon"}, "reach_by"),
        ({"name": "Гид", "secret": "x"}, "secret"),
    ],
)
async def test_bad_partners_are_refused_naming_the_field(
    client: httpx.AsyncClient, tenant_a: TenantFixture, body: dict, named: str
) -> None:
    response = await client.post(PARTNERS, json=body, headers=tenant_a.headers)
    assert response.status_code == 422, response.text
    assert named in response.text
    assert (await client.get(PARTNERS, headers=tenant_a.headers)).json()["total"] == 0


@pytest.mark.parametrize(
    ("way", "needed"), [("telegram", "telegram_chat_id"), ("email", "email"), ("webhook", "webhook_url")]
)
async def test_a_way_to_reach_a_partner_needs_its_field(
    client: httpx.AsyncClient, tenant_a: TenantFixture, way: str, needed: str
) -> None:
    response = await client.post(PARTNERS, json={"name": "Гид", "reach_by": way}, headers=tenant_a.headers)
    assert response.status_code == 422
    assert response.json()["detail"] == f"reach_by: {way} needs {needed}."
    partner = await add_partner(client, tenant_a, email="guide@example.com", reach_by="email")
    cleared = await client.patch(f"{PARTNERS}/{partner['id']}", json={"email": None}, headers=tenant_a.headers)
    assert cleared.status_code == 422 and "reach_by" in cleared.json()["detail"]


async def test_a_private_webhook_is_refused_with_the_setting_that_allows_it(
    settings: Settings, runtime: Runtime, tenant_a: TenantFixture
) -> None:
    strict = create_app(settings.model_copy(update={"allow_private_webhooks": False}), runtime=runtime)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=strict), base_url="http://testserver") as client:
        for url in ("http://127.0.0.1:8000/hook", "http://10.0.0.5/hook", "http://[::1]/hook"):
            refused = await client.post(
                PARTNERS, json={"name": "Отель", "reach_by": "webhook", "webhook_url": url}, headers=tenant_a.headers
            )
            assert refused.status_code == 422, refused.text
            detail = refused.json()["detail"]
            assert detail.startswith("webhook_url:") and "EASYFLOW_ALLOW_PRIVATE_WEBHOOKS" in detail
        assert (await client.get(PARTNERS, headers=tenant_a.headers)).json()["total"] == 0


async def test_the_webhook_secret_is_shown_once_and_stored_encrypted(
    client: httpx.AsyncClient, tenant_a: TenantFixture, database: Database, webhook_receiver: WebhookReceiver
) -> None:
    partner = await add_partner(client, tenant_a, reach_by="webhook", webhook_url=webhook_receiver.url)
    secret = partner["webhook_secret"]
    assert secret and len(secret) >= 32
    assert (await client.get(f"{PARTNERS}/{partner['id']}", headers=tenant_a.headers)).json()["webhook_secret"] is None
    async with database.tenant_transaction(tenant_a.id) as session:
        stored = (
            await session.execute(
                text("SELECT webhook_secret_encrypted FROM partners WHERE id = :id"), {"id": partner["id"]}
            )
        ).scalar_one()
    assert secret not in stored
    same = await client.patch(
        f"{PARTNERS}/{partner['id']}", json={"webhook_url": webhook_receiver.url}, headers=tenant_a.headers
    )
    assert same.json()["webhook_secret"] is None
    moved = await client.patch(
        f"{PARTNERS}/{partner['id']}", json={"webhook_url": webhook_receiver.url + "/v2"}, headers=tenant_a.headers
    )
    assert moved.json()["webhook_secret"] not in (None, secret)


async def test_operators_read_the_directory_and_admins_change_it(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture
) -> None:
    partner = await add_partner(client, tenant_a)
    operator = {"Authorization": f"Bearer {await make_key(database, tenant_a, Role.operator)}"}
    viewer = {"Authorization": f"Bearer {await make_key(database, tenant_a, Role.viewer)}"}
    one = f"{PARTNERS}/{partner['id']}"
    assert (await client.get(PARTNERS)).status_code == 401
    assert (await client.get(one)).status_code == 401
    assert (await client.get(PARTNERS, headers=viewer)).status_code == 403
    assert (await client.get(one, headers=viewer)).status_code == 403
    assert (await client.get(PARTNERS, headers=operator)).json()["total"] == 1
    assert (await client.get(one, headers=operator)).status_code == 200
    assert (await client.post(PARTNERS, json={"name": "Отель"}, headers=operator)).status_code == 403
    assert (await client.patch(one, json={"name": "Отель"}, headers=operator)).status_code == 403
    assert (await client.delete(one, headers=operator)).status_code == 403
    assert (await client.get(one, headers=tenant_a.headers)).json()["name"] == "Гид Азамат"


async def test_another_workspaces_partner_is_not_found(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    partner = await add_partner(client, tenant_a)
    one = f"{PARTNERS}/{partner['id']}"
    assert (await client.get(one, headers=tenant_b.headers)).status_code == 404
    assert (await client.patch(one, json={"name": "Чужой"}, headers=tenant_b.headers)).status_code == 404
    assert (await client.delete(one, headers=tenant_b.headers)).status_code == 404
    assert (await client.get(PARTNERS, headers=tenant_b.headers)).json()["total"] == 0
    assert (await client.get(one, headers=tenant_a.headers)).json()["name"] == "Гид Азамат"
