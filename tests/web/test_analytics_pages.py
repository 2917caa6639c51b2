"""The funnel analytics page over HTTP: the report of a hand-built November as SVG charts with their tables, the
CSV download from the page, another workspace's pipeline not found, bad dates refused."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from easyflow.runtime import Runtime
from tests.analytics.test_funnel_analytics import build_deal, stage_ids
from tests.conftest import TenantFixture
from tests.web.dashboard import sign_in
from tests.web.test_contact_pages import contact_id_of, customer_writes

CREATED = datetime(2026, 11, 10, 10, 0, tzinfo=ZoneInfo("Europe/Moscow"))
NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30"}


async def test_the_page_draws_the_report_and_offers_it_as_csv(
    client: httpx.AsyncClient, runtime: Runtime, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    _, stages = await stage_ids(client, tenant_a)
    conversation = await customer_writes(runtime.database, tenant_a, "analytics-page", "Привет", name="Айгуль")
    contact_id = await contact_id_of(client, tenant_a, conversation)
    won = [("Квалификация", timedelta(days=1)), ("Продажа", timedelta(days=3))]
    await build_deal(
        client, runtime, tenant_a, contact_id, stages, won, created=CREATED, amount="125000", currency="KGS",
        channel="telegram",
    )  # fmt: skip
    await build_deal(
        client, runtime, tenant_a, contact_id, stages, [("Отказ", timedelta(hours=5))], created=CREATED,
        loss_reason="Дорого",
    )  # fmt: skip
    await sign_in(client, tenant_a)

    page = await client.get("/app/analytics/funnel", params=NOVEMBER)
    assert page.status_code == 200, page.text
    assert "Аналитика воронки" in page.text and 'href="/app/analytics/funnel"' in page.text
    assert '<svg class="chart" role="img" aria-labelledby="conversion-title"' in page.text
    assert '<th scope="row">Новый лид</th><td>2</td><td>1</td><td>50 %</td>' in page.text
    assert "125\u00a0000\u00a0KGS" in page.text and "2026-11-13" in page.text
    assert "telegram" in page.text and "Дорого" in page.text
    assert '<th scope="row">Квалификация</th><td>1</td><td>2 дня</td><td>2 дня</td>' in page.text

    # The picker offers the three groupings; by source, a contact with none given is «не указан».
    assert '<option value="source">По источнику контакта</option>' in page.text
    assert '<option value="opened_by">По тому, кто открыл сделку</option>' in page.text
    by_source = await client.get("/app/analytics/funnel", params={**NOVEMBER, "group": "source"})
    assert '<th scope="col">Источник</th>' in by_source.text
    assert '<th scope="row">не указан</th><td>1</td>' in by_source.text
    patched = await client.patch(
        f"/api/v1/contacts/{contact_id}", json={"source": "Сарафанное радио"}, headers=tenant_a.headers
    )
    assert patched.status_code == 200, patched.text
    by_source = await client.get("/app/analytics/funnel", params={**NOVEMBER, "group": "source"})
    assert '<th scope="row">Сарафанное радио</th><td>1</td>' in by_source.text and "не указан" not in by_source.text
    opened_by = await client.get("/app/analytics/funnel", params={**NOVEMBER, "group": "opened_by"})
    assert '<th scope="col">Кто открыл</th>' in opened_by.text

    download = await client.get("/app/analytics/funnel.csv", params=NOVEMBER)
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    assert "conversion,Новый лид,,reached,2" in download.text

    (their_pipeline, _) = await stage_ids(client, tenant_b)
    theirs = await client.get("/app/analytics/funnel", params={**NOVEMBER, "pipeline": their_pipeline})
    assert theirs.status_code == 404
    assert (await client.get("/app/analytics/funnel", params={"from": "30.11.2026"})).status_code == 400
    assert (
        await client.get("/app/analytics/funnel", params={"from": "2026-12-01", "to": "2026-11-01"})
    ).status_code == 400
    assert (await client.get("/app/analytics/funnel", params={"group": "colour"})).status_code == 400
