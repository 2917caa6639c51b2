"""Partners through the API: the directory (validation, roles, tenants apart), transfers of deals sent by each
way against the doubles (a signed webhook, SMTP, the tenant's Telegram bot), a webhook that keeps failing ending
`failed` with its error, and the partner's acknowledgement by the summary's link."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import text

from easyflow.app import create_app
from easyflow.config import Settings
from easyflow.db.database import Database
from easyflow.kit.jobs import run_job
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, make_key, run_queued_jobs
from tests.crm.test_funnel import create_deal, new_contact
from tests.doubles.smtp_server import SmtpServer
from tests.doubles.telegram_server import TelegramServer
from tests.doubles.webhook_receiver import Received, WebhookReceiver
from tests.inbox.test_notifications import BOT_A, connect_bot

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


# Transfers


def verified_body(delivery: Received, secret: str) -> dict:
    headers, body = delivery.headers, delivery.body
    signed = headers["x-easyflow-timestamp"].encode() + b"." + body
    expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-easyflow-signature"], expected)
    return dict(json.loads(body))


def token_of(link: str) -> str:
    path = urlsplit(link).path
    assert path.startswith("/partners/acknowledge/")
    return path.removeprefix("/partners/acknowledge/")


async def test_a_deal_handed_to_a_webhook_partner_is_posted_signed_and_kept_on_the_deal(
    client: httpx.AsyncClient,
    database: Database,
    tenant_a: TenantFixture,
    runtime: Runtime,
    webhook_receiver: WebhookReceiver,
) -> None:
    partner = await add_partner(client, tenant_a, reach_by="webhook", webhook_url=webhook_receiver.url)
    deal = await tour_deal(client, tenant_a, runtime)
    accepted = await transfer(client, tenant_a, deal, partner, note="Клиентка боится высоты")
    assert accepted.status_code == 202, accepted.text
    queued = accepted.json()
    assert (queued["status"], queued["partner_name"], queued["attempts"]) == ("queued", "Гид Азамат", 0)
    (event,) = await staff_events(database, tenant_a, "crm.deal_transferred")
    assert event["deal_id"] == deal["id"] and event["transfer_id"] == queued["id"]

    assert "crm.send_transfer" in await run_queued_jobs(runtime)
    (delivery,) = webhook_receiver.received
    body = verified_body(delivery, partner["webhook_secret"])
    assert delivery.headers["idempotency-key"] == queued["id"]
    assert body["event"] == "partner.transfer" and body["transfer_id"] == queued["id"]
    assert body["contact"] == {"name": "Айгуль Сатыбалдиева", "phone": "+996555123456"}
    assert body["deal"]["title"] == "Тур на Сон-Куль" and body["deal"]["amount"] == "54000.00"
    assert body["deal"]["qualification"] == QUALIFICATION
    assert body["note"] == "Клиентка боится высоты" and body["language"] == "ru"
    assert body["acknowledge_url"].startswith("http://testserver/partners/acknowledge/")
    assert body["acknowledge_url"] in body["summary"]

    (sent,) = await transfers(client, tenant_a, deal)
    assert (sent["status"], sent["sent_via"], sent["attempts"], sent["error"]) == ("sent", "webhook", 1, None)
    assert sent["sent_at"] is not None and sent["acknowledged_at"] is None
    assert body["summary"].startswith(sent["summary"]) and "Клиентка боится высоты" in sent["summary"]
    # The link's token is nowhere in the database: only its hash.
    async with database.tenant_transaction(tenant_a.id) as session:
        stored = (await session.execute(text("SELECT * FROM partner_transfers"))).one()
    assert token_of(body["acknowledge_url"]) not in json.dumps([str(value) for value in stored], ensure_ascii=False)


async def test_the_summary_speaks_the_workspaces_language_with_the_qualification(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, smtp_on: SmtpServer
) -> None:
    partner = await add_partner(
        client, tenant_a, name="Юрточный лагерь «Сон-Куль»", reach_by="email", email="camp@son-kul.example"
    )
    deal = await tour_deal(client, tenant_a, runtime)
    assert (await transfer(client, tenant_a, deal, partner, note="Встретить в Кочкоре")).status_code == 202
    await run_queued_jobs(runtime)
    (mail,) = smtp_on.messages
    assert mail.recipients == ["camp@son-kul.example"]
    assert mail.subject == "Клиент от «Салон «Лотос»»: Айгуль Сатыбалдиева"
    lines = mail.body.splitlines()
    assert lines[0] == "«Салон «Лотос»» передаёт вам клиента."
    for line in (
        "Клиент: Айгуль Сатыбалдиева, +996555123456",
        "Сделка: Тур на Сон-Куль",
        "Сумма: 54000.00 KGS",
        "Услуги: Юрта на двоих × 2",
        "Даты: 12–15 июля",
        "Пожелания: конная прогулка к озеру Сон-Куль",
        "Бюджет: до 60 000 сом",
        "Комментарий: Встретить в Кочкоре",
    ):
        assert line in lines
    assert lines[-1].startswith("Подтвердите, что приняли клиента: http://testserver/partners/acknowledge/")
    (sent,) = await transfers(client, tenant_a, deal)
    assert (sent["status"], sent["sent_via"]) == ("sent", "email")


async def test_an_english_workspace_sends_english(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, smtp_on: SmtpServer
) -> None:
    assert (
        await client.patch("/api/v1/tenant", json={"default_language": "en"}, headers=tenant_a.headers)
    ).status_code == 200
    partner = await add_partner(client, tenant_a, reach_by="email", email="guide@example.com")
    deal = await tour_deal(client, tenant_a, runtime)
    await transfer(client, tenant_a, deal, partner)
    await run_queued_jobs(runtime)
    (mail,) = smtp_on.messages
    assert mail.subject.startswith("A client from ")
    assert "Dates: 12–15 июля" in mail.body and "Budget: до 60 000 сом" in mail.body
    assert "Please confirm you have taken the client: http://testserver/partners/acknowledge/" in mail.body


async def test_a_telegram_partner_is_written_to_by_the_workspaces_bot(
    client: httpx.AsyncClient,
    tenant_a: TenantFixture,
    runtime: Runtime,
    telegram: TelegramServer,
) -> None:
    await connect_bot(client, runtime, telegram, tenant_a, BOT_A, "lotos_salon_bot")
    partner = await add_partner(client, tenant_a, reach_by="telegram", telegram_chat_id=GUIDE_CHAT)
    deal = await tour_deal(client, tenant_a, runtime)
    await transfer(client, tenant_a, deal, partner, note="Нужна лошадь для ребёнка")
    await run_queued_jobs(runtime)
    (message,) = telegram.double.sent_messages(GUIDE_CHAT)
    assert "Клиент: Айгуль Сатыбалдиева, +996555123456" in message["plain_text"]
    assert "Комментарий: Нужна лошадь для ребёнка" in message["plain_text"]
    (sent,) = await transfers(client, tenant_a, deal)
    assert (sent["status"], sent["sent_via"]) == ("sent", "telegram")

    # A partner who blocked the bot: the transfer keeps why, and fails after the last attempt.
    telegram.double.block(GUIDE_CHAT)
    await transfer(client, tenant_a, deal, partner)
    args = await queued_transfer_job(runtime)
    with pytest.raises(Exception, match="start the bot"):
        await run_queued_jobs(runtime)
    retrying = (await transfers(client, tenant_a, deal))[0]
    assert retrying["status"] == "queued" and "start the bot" in retrying["error"]
    with pytest.raises(Exception, match="start the bot"):
        await run_job(runtime, "crm.send_transfer", args, attempt_is_last=True)
    failed = (await transfers(client, tenant_a, deal))[0]
    assert failed["status"] == "failed" and "start the bot" in failed["error"] and failed["attempts"] == 2


async def test_a_failing_webhook_is_retried_and_then_failed_with_its_error(
    client: httpx.AsyncClient,
    database: Database,
    tenant_a: TenantFixture,
    runtime: Runtime,
    webhook_receiver: WebhookReceiver,
) -> None:
    partner = await add_partner(client, tenant_a, reach_by="webhook", webhook_url=webhook_receiver.url)
    deal = await tour_deal(client, tenant_a, runtime)
    await transfer(client, tenant_a, deal, partner)
    args = await queued_transfer_job(runtime)
    webhook_receiver.statuses = [503, 500]
    with pytest.raises(Exception, match="HTTP 503"):
        await run_queued_jobs(runtime)  # procrastinate would retry it with backoff
    (retrying,) = await transfers(client, tenant_a, deal)
    assert (retrying["status"], retrying["attempts"], retrying["error"]) == ("queued", 1, "webhook answered HTTP 503")
    with pytest.raises(Exception, match="HTTP 500"):
        await run_job(runtime, "crm.send_transfer", args, attempt_is_last=True)
    (failed,) = await transfers(client, tenant_a, deal)
    assert (failed["status"], failed["attempts"], failed["error"]) == ("failed", 2, "webhook answered HTTP 500")
    # Both attempts carried the same link and idempotency key.
    first, second = (json.loads(delivery.body) for delivery in webhook_receiver.received)
    assert first["acknowledge_url"] == second["acknowledge_url"]
    assert {delivery.headers["idempotency-key"] for delivery in webhook_receiver.received} == {failed["id"]}
    (event,) = await staff_events(database, tenant_a, "crm.transfer_failed")
    assert event["transfer_id"] == failed["id"] and event["error"] == "webhook answered HTTP 500"
    # A repeated job after the end sends nothing more.
    await run_job(runtime, "crm.send_transfer", args, attempt_is_last=True)
    assert len(webhook_receiver.received) == 2


async def test_a_webhook_that_now_points_inside_is_not_called(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, webhook_receiver: WebhookReceiver
) -> None:
    partner = await add_partner(client, tenant_a, reach_by="webhook", webhook_url=webhook_receiver.url)
    runtime.settings = runtime.settings.model_copy(update={"allow_private_webhooks": False})  # checked again
    deal = await tour_deal(client, tenant_a, runtime)
    await transfer(client, tenant_a, deal, partner)
    args = await queued_transfer_job(runtime)
    with pytest.raises(Exception, match="private or local address"):
        await run_job(runtime, "crm.send_transfer", args, attempt_is_last=True)
    assert webhook_receiver.received == []
    (failed,) = await transfers(client, tenant_a, deal)
    assert failed["status"] == "failed" and "EASYFLOW_ALLOW_PRIVATE_WEBHOOKS" in failed["error"]


async def test_a_partner_who_cannot_be_reached_is_refused_naming_reach_by(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    deal = await tour_deal(client, tenant_a, runtime)
    listed_only = await add_partner(client, tenant_a)
    by_telegram = await add_partner(client, tenant_a, reach_by="telegram", telegram_chat_id=GUIDE_CHAT)
    by_email = await add_partner(client, tenant_a, reach_by="email", email="guide@example.com")
    for partner, why in ((listed_only, "no way"), (by_telegram, "Telegram bot"), (by_email, "SMTP")):
        refused = await transfer(client, tenant_a, deal, partner)
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"].startswith("reach_by:") and why in refused.json()["detail"]
    assert await transfers(client, tenant_a, deal) == []


async def test_transfers_keep_tenants_apart(
    client: httpx.AsyncClient,
    database: Database,
    tenant_a: TenantFixture,
    tenant_b: TenantFixture,
    runtime: Runtime,
    webhook_receiver: WebhookReceiver,
) -> None:
    mine = await add_partner(client, tenant_a, reach_by="webhook", webhook_url=webhook_receiver.url)
    theirs = await add_partner(client, tenant_b, reach_by="webhook", webhook_url=webhook_receiver.url)
    my_deal = await tour_deal(client, tenant_a, runtime)
    await transfer(client, tenant_a, my_deal, mine)
    # My deal to their partner: no such partner here.
    refused = await transfer(client, tenant_a, my_deal, theirs)
    assert refused.status_code == 422 and "partner_id" in refused.json()["detail"]
    # Their key on my deal: no such deal there, whichever partner.
    for partner in (theirs, mine):
        assert (await transfer(client, tenant_b, my_deal, partner)).status_code == 404
    assert (await client.get(f"/api/v1/deals/{my_deal['id']}/transfers", headers=tenant_b.headers)).status_code == 404
    assert len(await transfers(client, tenant_a, my_deal)) == 1
    assert await staff_events(database, tenant_b, "crm.deal_transferred") == []


async def test_transfers_are_for_operators(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    partner = await add_partner(client, tenant_a, reach_by="email", email="guide@example.com")
    deal = await tour_deal(client, tenant_a, runtime)
    viewer = {"Authorization": f"Bearer {await make_key(database, tenant_a, Role.viewer)}"}
    url = f"/api/v1/deals/{deal['id']}/transfers"
    assert (await client.post(url, json={"partner_id": partner["id"]})).status_code == 401
    assert (await client.post(url, json={"partner_id": partner["id"]}, headers=viewer)).status_code == 403
    assert (await client.get(url, headers=viewer)).status_code == 403
    bad = await client.post(url, json={"partner_id": partner["id"], "note": "a\x00b"}, headers=tenant_a.headers)
    assert bad.status_code == 422 and "note" in bad.text
    unknown = await client.post(url, json={"partner_id": str(uuid.uuid4())}, headers=tenant_a.headers)
    assert unknown.status_code == 422


# The partner's acknowledgement


async def sent_link(
    client: httpx.AsyncClient, tenant: TenantFixture, runtime: Runtime, webhook_receiver: WebhookReceiver
) -> tuple[dict, str]:
    partner = await add_partner(client, tenant, reach_by="webhook", webhook_url=webhook_receiver.url)
    deal = await tour_deal(client, tenant, runtime)
    await transfer(client, tenant, deal, partner)
    await run_queued_jobs(runtime)
    return deal, str(json.loads(webhook_receiver.received[-1].body)["acknowledge_url"])


async def test_the_partner_acknowledges_by_the_link_and_opening_it_changes_nothing(
    client: httpx.AsyncClient,
    database: Database,
    tenant_a: TenantFixture,
    runtime: Runtime,
    webhook_receiver: WebhookReceiver,
) -> None:
    deal, link = await sent_link(client, tenant_a, runtime, webhook_receiver)
    path = urlsplit(link).path
    for _ in range(2):  # a mail scanner, then the partner
        opened = await client.get(path)
        assert opened.status_code == 200
        assert "Тур на Сон-Куль" in opened.text and "Салон «Лотос»" in opened.text
        assert f'<form method="post" action="{path}">' in opened.text
        assert "Подтверждаю: клиента принял" in opened.text and '<html lang="ru">' in opened.text
    assert (await transfers(client, tenant_a, deal))[0]["acknowledged_at"] is None

    confirmed = await client.post(path)
    assert confirmed.status_code == 200 and "Спасибо: подтверждение получено." in confirmed.text
    first = (await transfers(client, tenant_a, deal))[0]["acknowledged_at"]
    assert first is not None
    again = await client.post(path, headers={"Accept": "application/json"})  # a webhook partner's system
    assert again.status_code == 200 and again.json()["acknowledged_at"] is not None
    assert (await transfers(client, tenant_a, deal))[0]["acknowledged_at"] == first
    assert len(await staff_events(database, tenant_a, "crm.transfer_acknowledged")) == 1
    assert "<form" not in (await client.get(path)).text


@pytest.mark.parametrize("token", ["wrong-token", "x" * 300, "%00"])
async def test_a_wrong_acknowledgement_link_is_not_found(
    client: httpx.AsyncClient,
    tenant_a: TenantFixture,
    runtime: Runtime,
    webhook_receiver: WebhookReceiver,
    token: str,
) -> None:
    deal, link = await sent_link(client, tenant_a, runtime, webhook_receiver)
    path = f"/partners/acknowledge/{token}"
    assert (await client.get(path)).status_code == 404
    assert (await client.post(path)).status_code == 404
    assert (await client.post(path, headers={"Accept": "application/json"})).status_code == 404
    assert (await client.post(urlsplit(link).path + "x")).status_code == 404
    assert (await transfers(client, tenant_a, deal))[0]["acknowledged_at"] is None
