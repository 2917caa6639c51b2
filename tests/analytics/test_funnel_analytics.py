"""Funnel analytics through the API on a hand-built history: ten deals of November with known moves and times
(one of October outside the span), so conversion ratios, times in stage, won amounts by day (in Moscow time)
and by channel, by the contact's source or by who opened the deal, and loss reasons are exact; the CSV;
another tenant's pipeline not found and its deals not counted."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import text

from easyflow.runtime import Runtime
from tests.conftest import TenantFixture
from tests.web.test_contact_pages import contact_id_of, customer_writes

MOSCOW = ZoneInfo("Europe/Moscow")
CREATED = datetime(2026, 11, 10, 10, 0, tzinfo=MOSCOW)
HOUR = timedelta(hours=1)
# 01:30 on the 16th in Moscow is still the 15th in UTC: the day a deal was won is the workspace's day.
LATE_WIN = datetime(2026, 11, 16, 1, 30, tzinfo=MOSCOW)
NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30"}
FORMULA = '=HYPERLINK("http://example.com")'

# Each deal: its path through the stages (stage, when it entered), amount, currency, channel, loss reason.
DEALS = [
    ([("Квалификация", 24 * HOUR), ("Предложение", 72 * HOUR), ("Продажа", 120 * HOUR)], "100000", "KGS", "telegram"),
    ([("Квалификация", 24 * HOUR), ("Предложение", 72 * HOUR), ("Продажа", 120 * HOUR)], "50000", "KGS", "telegram"),
    ([("Квалификация", 24 * HOUR), ("Предложение", 72 * HOUR), ("Продажа", 120 * HOUR)], "1000", "USD", "whatsapp"),
    ([("Квалификация", 24 * HOUR), ("Предложение", 72 * HOUR), ("Продажа", LATE_WIN - CREATED)], "20000", "KGS", None),
    ([("Квалификация", 48 * HOUR), ("Отказ", 96 * HOUR)], None, "RUB", None),
    ([("Квалификация", 48 * HOUR), ("Отказ", 96 * HOUR)], None, "RUB", None),
    ([("Отказ", 12 * HOUR)], None, "RUB", None),
    ([], None, "RUB", None),
    ([], None, "RUB", None),
    ([], None, "RUB", None),
]
LOSS_REASONS = {4: "Дорого", 5: "Дорого", 6: FORMULA}
# Where each deal's contact came from (the contact's `source`; the rest came from Instagram too).
SOURCES = {1: "Сарафанное радио", 3: None}


async def stage_ids(client: httpx.AsyncClient, tenant: TenantFixture) -> tuple[str, dict[str, str]]:
    (pipeline,) = (await client.get("/api/v1/pipelines", headers=tenant.headers)).json()
    return pipeline["id"], {stage["name"]: stage["id"] for stage in pipeline["stages"]}


async def build_deal(
    client: httpx.AsyncClient,
    runtime: Runtime,
    tenant: TenantFixture,
    contact_id: str,
    stages: dict[str, str],
    path: list[tuple[str, timedelta]],
    *,
    created: datetime,
    amount: str | None = None,
    currency: str = "RUB",
    channel: str | None = None,
    loss_reason: str | None = None,
) -> str:
    """A deal created at `created` in the first stage, moved along `path`, its history's times set as given."""
    body = {"title": "Тур", "contact_id": contact_id, "amount": amount, "currency": currency}
    if channel:
        body["source_channel"] = channel
    deal = (await client.post("/api/v1/deals", json=body, headers=tenant.headers)).json()
    for stage, _ in path:
        moved = await client.patch(
            f"/api/v1/deals/{deal['id']}",
            json={"stage_id": stages[stage], **({"loss_reason": loss_reason} if stage == "Отказ" else {})},
            headers=tenant.headers,
        )
        assert moved.status_code == 200, moved.text
    history = (await client.get(f"/api/v1/deals/{deal['id']}/history", headers=tenant.headers)).json()
    times = [created] + [created + after for _, after in path]
    assert len(history) == len(times)
    async with runtime.database.tenant_transaction(tenant.id) as session:
        for move, at in zip(history, times, strict=True):
            await session.execute(text("UPDATE deal_moves SET at = :at WHERE id = :id"), {"at": at, "id": move["id"]})
        closed = times[-1] if path and path[-1][0] in ("Продажа", "Отказ") else None
        await session.execute(
            text("UPDATE deals SET created_at = :created, closed_at = :closed WHERE id = :id"),
            {"created": created, "closed": closed, "id": deal["id"]},
        )
    return str(deal["id"])


@pytest.fixture
async def november(client: httpx.AsyncClient, runtime: Runtime, tenant_a: TenantFixture) -> list[str]:
    """The ten deals of November (and one of October) in tenant A."""
    _, stages = await stage_ids(client, tenant_a)
    contacts: dict[str | None, str] = {}
    for number, (name, source) in enumerate((("Айгуль", "Instagram"), ("Бакыт", "Сарафанное радио"), ("Эрмек", None))):
        conversation = await customer_writes(
            runtime.database, tenant_a, f"analytics-{number}", "Здравствуйте", name=name
        )
        contacts[source] = await contact_id_of(client, tenant_a, conversation)
        if source:
            patched = await client.patch(
                f"/api/v1/contacts/{contacts[source]}", json={"source": source}, headers=tenant_a.headers
            )
            assert patched.status_code == 200, patched.text
    contact_id = contacts["Instagram"]
    deals = []
    for index, (path, amount, currency, channel) in enumerate(DEALS):
        deals.append(
            await build_deal(
                client, runtime, tenant_a, contacts[SOURCES.get(index, "Instagram")], stages, path, created=CREATED,
                amount=amount, currency=currency, channel=channel, loss_reason=LOSS_REASONS.get(index),
            )
        )  # fmt: skip
    await build_deal(
        client, runtime, tenant_a, contact_id, stages, [("Квалификация", HOUR)],
        created=datetime(2026, 10, 1, 12, 0, tzinfo=MOSCOW),
    )  # fmt: skip
    # The third deal was opened by the assistant (its first history row says so).
    async with runtime.database.tenant_transaction(tenant_a.id) as session:
        await session.execute(
            text("UPDATE deal_moves SET actor = 'assistant' WHERE deal_id = :id AND from_stage_id IS NULL"),
            {"id": deals[2]},
        )
    return deals


async def test_conversion_stage_to_stage_of_the_deals_created_in_the_span(
    client: httpx.AsyncClient, tenant_a: TenantFixture, november: list[str]
) -> None:
    report = await client.get("/api/v1/analytics/funnel", params=NOVEMBER, headers=tenant_a.headers)
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["pipeline_name"] == "Продажи" and body["timezone"] == "Europe/Moscow" and body["period"] == "day"
    ladder = {row["name"]: (row["reached"], row["moved_on"], row["conversion"]) for row in body["conversion"]}
    assert "Отказ" not in ladder
    assert ladder["Новый лид"] == (10, 6, 0.6)
    assert ladder["Квалификация"] == (6, 4, pytest.approx(4 / 6))
    # Deals that went from Квалификация straight to Предложение passed Прогрев too.
    assert ladder["Прогрев"] == (4, 4, 1.0)
    assert ladder["Предложение"] == (4, 4, 1.0)
    assert ladder["Переговоры"] == (4, 4, 1.0)
    assert ladder["Продажа"] == (4, 0, 0.0)
    assert ladder["Сервис"] == (0, 0, None)
    assert ladder["Повторная продажа"] == (0, None, None)


async def test_time_in_each_stage_counts_the_stays_that_ended(
    client: httpx.AsyncClient, tenant_a: TenantFixture, november: list[str]
) -> None:
    body = (await client.get("/api/v1/analytics/funnel", params=NOVEMBER, headers=tenant_a.headers)).json()
    times = {row["name"]: row for row in body["time_in_stage"]}
    hours = 3600
    # Новый лид: 12 h once, 24 h four times, 48 h twice (the October deal's stay began outside the span).
    assert times["Новый лид"]["stays"] == 7
    assert times["Новый лид"]["median_seconds"] == 24 * hours
    assert times["Новый лид"]["average_seconds"] == pytest.approx((12 + 4 * 24 + 2 * 48) / 7 * hours)
    assert (times["Квалификация"]["stays"], times["Квалификация"]["median_seconds"]) == (6, 48 * hours)
    assert times["Квалификация"]["average_seconds"] == pytest.approx(48 * hours)
    # Three offers lasted 48 h; the late win's 63.5 h.
    assert times["Предложение"]["stays"] == 4 and times["Предложение"]["median_seconds"] == 48 * hours
    assert times["Предложение"]["average_seconds"] == pytest.approx((3 * 48 + 63.5) / 4 * hours)
    # Won deals are still in Продажа: no stay has ended there.
    assert times["Продажа"] == {**times["Продажа"], "stays": 0, "median_seconds": None, "average_seconds": None}


async def test_won_amounts_by_day_channel_source_and_opener_and_the_loss_reasons(
    client: httpx.AsyncClient, tenant_a: TenantFixture, november: list[str]
) -> None:
    body = (await client.get("/api/v1/analytics/funnel", params=NOVEMBER, headers=tenant_a.headers)).json()
    by_day = [(row["key"], row["currency"], row["deals"], row["amount"]) for row in body["won_by_period"]]
    assert by_day == [
        ("2026-11-15", "KGS", 2, "150000.00"),
        ("2026-11-15", "USD", 1, "1000.00"),
        ("2026-11-16", "KGS", 1, "20000.00"),
    ]
    by_channel = [(row["key"], row["currency"], row["deals"], row["amount"]) for row in body["won_by_group"]]
    assert by_channel == [
        ("telegram", "KGS", 2, "150000.00"),
        ("", "KGS", 1, "20000.00"),
        ("whatsapp", "USD", 1, "1000.00"),
    ]
    assert [(row["reason"], row["deals"]) for row in body["lost_reasons"]] == [("Дорого", 2), (FORMULA, 1)]

    # By the contact's source: a contact with none given is a group of its own (an empty key).
    by_source = (
        await client.get("/api/v1/analytics/funnel", params={**NOVEMBER, "group": "source"}, headers=tenant_a.headers)
    ).json()
    assert by_source["group"] == "source"
    assert [(row["key"], row["currency"], row["deals"], row["amount"]) for row in by_source["won_by_group"]] == [
        ("Instagram", "KGS", 1, "100000.00"),
        ("Сарафанное радио", "KGS", 1, "50000.00"),
        ("", "KGS", 1, "20000.00"),
        ("Instagram", "USD", 1, "1000.00"),
    ]
    opened_by = (
        await client.get(
            "/api/v1/analytics/funnel", params={**NOVEMBER, "group": "opened_by"}, headers=tenant_a.headers
        )
    ).json()
    assert [(row["key"], row["currency"], row["deals"], row["amount"]) for row in opened_by["won_by_group"]] == [
        ("member", "KGS", 3, "170000.00"),
        ("assistant", "USD", 1, "1000.00"),
    ]
    by_month = (
        await client.get("/api/v1/analytics/funnel", params={**NOVEMBER, "period": "month"}, headers=tenant_a.headers)
    ).json()
    assert [(row["key"], row["currency"], row["amount"]) for row in by_month["won_by_period"]] == [
        ("2026-11-01", "KGS", "170000.00"),
        ("2026-11-01", "USD", "1000.00"),
    ]
    october = (
        await client.get(
            "/api/v1/analytics/funnel", params={"from": "2026-10-01", "to": "2026-10-31"}, headers=tenant_a.headers
        )
    ).json()
    assert october["conversion"][0]["reached"] == 1 and october["won_by_period"] == []


async def test_the_csv_has_one_figure_a_row_and_defuses_formulas(
    client: httpx.AsyncClient, tenant_a: TenantFixture, november: list[str]
) -> None:
    response = await client.get("/api/v1/analytics/funnel.csv", params=NOVEMBER, headers=tenant_a.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="funnel-2026-11-01-2026-11-30.csv"' in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["section", "key", "currency", "metric", "value"]
    assert ["conversion", "Новый лид", "", "reached", "10"] in rows
    assert ["conversion", "Новый лид", "", "conversion", "0.6000"] in rows
    assert ["time_in_stage", "Квалификация", "", "median_hours", "48.00"] in rows
    assert ["won_by_day", "2026-11-16", "KGS", "amount", "20000.00"] in rows
    assert ["won_by_channel", "telegram", "KGS", "deals", "2"] in rows
    assert ["lost_reason", "'" + FORMULA, "", "deals", "1"] in rows
    by_source = await client.get(
        "/api/v1/analytics/funnel.csv", params={**NOVEMBER, "group": "source"}, headers=tenant_a.headers
    )
    rows = list(csv.reader(io.StringIO(by_source.text)))
    assert ["won_by_source", "Сарафанное радио", "KGS", "amount", "50000.00"] in rows
    assert ["won_by_source", "", "KGS", "amount", "20000.00"] in rows


async def test_another_tenants_pipeline_is_not_found_and_its_deals_not_counted(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture, november: list[str]
) -> None:
    pipeline_a, _ = await stage_ids(client, tenant_a)
    for path in ("/api/v1/analytics/funnel", "/api/v1/analytics/funnel.csv"):
        theirs = await client.get(path, params={**NOVEMBER, "pipeline_id": pipeline_a}, headers=tenant_b.headers)
        assert theirs.status_code == 404, path
    own = (await client.get("/api/v1/analytics/funnel", params=NOVEMBER, headers=tenant_b.headers)).json()
    assert [row["reached"] for row in own["conversion"]] == [0] * len(own["conversion"])
    assert own["won_by_period"] == own["won_by_group"] == own["lost_reasons"] == []


async def test_bad_spans_are_refused_and_anonymous_callers_turned_away(
    client: httpx.AsyncClient, tenant_a: TenantFixture
) -> None:
    for params in (
        {"from": "2026-11-30", "to": "2026-11-01"},
        {"from": "2020-01-01", "to": "2026-11-01"},
        {"from": "31.11.2026"},
        {"to": "9999-12-31"},
        {"from": "0001-01-01", "to": "0001-01-02"},
        {"group": "colour"},
        {"period": "year"},
        {"pipeline_id": "not-an-id"},
    ):
        assert (
            await client.get("/api/v1/analytics/funnel", params=params, headers=tenant_a.headers)
        ).status_code == 422
    assert (await client.get("/api/v1/analytics/funnel")).status_code == 401
    missing = await client.get(
        "/api/v1/analytics/funnel", params={"pipeline_id": str(uuid.uuid4())}, headers=tenant_a.headers
    )
    assert missing.status_code == 404
