"""Business hours (the arithmetic, the settings, what a customer handed over after hours is told) and SLA
policies: which applies, the deadlines in business hours, breaches reported once, met and missed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import text

from easyflow.agents.phrases import when_back
from easyflow.conversations.repository import ConversationRepository
from easyflow.db.database import Database
from easyflow.inbox.hours import WEEKDAYS, BusinessHours, deadline
from easyflow.inbox.sla import CHECK_SLA_JOB, SlaClock, sweep_due
from easyflow.models.conversations import Conversation
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, make_key, run_queued_jobs
from tests.inbox.staff import (
    conversation,
    customer_writes,
    events,
    handed_off,
    messages,
    patch,
    send_as_staff,
    sign_in,
)

SALON = {
    "weekly": {
        day: [{"opens": "09:00", "closes": "13:00"}, {"opens": "14:00", "closes": "18:00"}]
        for day in ("mon", "tue", "wed", "thu", "fri")
    },
    "holidays": ["2026-12-31", "2027-01-01"],
}
MOSCOW = ZoneInfo("Europe/Moscow")


def _at(day: str, clock: str, zone: ZoneInfo = MOSCOW) -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=zone)


def salon_hours(zone: str = "Europe/Moscow") -> BusinessHours:
    hours = BusinessHours.from_stored(SALON, zone)
    assert hours is not None
    return hours


# The arithmetic


@pytest.mark.parametrize(
    ("start", "minutes", "due"),
    [
        (("2026-12-07", "10:00"), 60, ("2026-12-07", "11:00")),  # a Monday morning
        (("2026-12-07", "12:30"), 60, ("2026-12-07", "14:30")),  # over the lunch break
        (("2026-12-07", "13:20"), 30, ("2026-12-07", "14:30")),  # handed over during lunch
        (("2026-12-07", "17:30"), 60, ("2026-12-08", "09:30")),  # past closing, into the next morning
        (("2026-12-11", "17:00"), 120, ("2026-12-14", "10:00")),  # Friday evening, over the weekend
        (("2026-12-12", "11:00"), 15, ("2026-12-14", "09:15")),  # written on a Saturday
        (("2026-12-30", "17:00"), 120, ("2027-01-04", "10:00")),  # over the New Year holidays
        (("2026-12-07", "10:00"), 8 * 60, ("2026-12-08", "10:00")),  # a whole working day
    ],
)
def test_deadlines_count_only_business_hours(start: tuple[str, str], minutes: int, due: tuple[str, str]) -> None:
    assert salon_hours().add(_at(*start), timedelta(minutes=minutes)) == _at(*due)
    assert deadline(salon_hours(), _at(*start), minutes, business_time=True) == _at(*due)
    assert deadline(salon_hours(), _at(*start), minutes, business_time=False) == _at(*start) + timedelta(
        minutes=minutes
    )
    assert deadline(None, _at(*start), minutes, business_time=True) == _at(*start) + timedelta(minutes=minutes)


def test_open_now_and_the_next_opening() -> None:
    hours = salon_hours()
    assert hours.is_open(_at("2026-12-07", "09:00")) and hours.is_open(_at("2026-12-07", "17:59"))
    assert not hours.is_open(_at("2026-12-07", "13:30")) and not hours.is_open(_at("2026-12-07", "18:00"))
    assert hours.next_opening(_at("2026-12-07", "13:30")) == _at("2026-12-07", "14:00")
    assert hours.next_opening(_at("2026-12-31", "10:00")) == _at("2027-01-04", "09:00")
    never = BusinessHours(MOSCOW, {}, frozenset())
    assert never.next_opening(_at("2026-12-07", "10:00")) is None
    assert never.add(_at("2026-12-07", "10:00"), timedelta(minutes=1)) is None


def test_local_hours_hold_across_a_daylight_saving_change() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    hours = salon_hours("Europe/Berlin")
    # Clocks go forward on Sunday 29 March 2026: Friday 17:00 plus two hours is Monday 10:00 local time.
    due = hours.add(_at("2026-03-27", "17:00", berlin), timedelta(hours=2))
    assert due == _at("2026-03-30", "10:00", berlin)
    assert due == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)  # summer time: UTC+2, not +1
    midnight = BusinessHours.from_stored({"weekly": {"sat": [{"opens": "20:00", "closes": "24:00"}]}}, "UTC")
    assert midnight is not None
    assert midnight.add(_at("2026-12-12", "23:00", ZoneInfo("UTC")), timedelta(minutes=90)) == _at(
        "2026-12-19", "20:30", ZoneInfo("UTC")
    )


@pytest.mark.parametrize(
    ("at", "language", "said"),
    [
        (("2026-12-07", "14:00"), "ru", "сегодня в 14:00"),
        (("2026-12-08", "09:00"), "ru", "завтра в 09:00"),
        (("2026-12-14", "09:00"), "ru", "в понедельник, 14 декабря, в 09:00"),
        (("2026-12-08", "09:00"), "en", "tomorrow at 09:00"),
        (("2026-12-11", "09:00"), "en", "on Friday 11 December at 09:00"),
    ],
)
def test_when_people_are_back_in_the_customers_words(at: tuple[str, str], language: str, said: str) -> None:
    assert when_back(_at(*at), _at("2026-12-07", "13:15"), language) == said


# Business hours through the API


async def test_business_hours_are_set_read_and_removed(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    before = (await client.get("/api/v1/business-hours", headers=tenant_a.headers)).json()
    assert (before["always_open"], before["open_now"], before["timezone"]) == (True, True, "Europe/Moscow")
    unordered = {
        **SALON,
        "weekly": {"mon": [{"opens": "14:00", "closes": "18:00"}, {"opens": "09:00", "closes": "13:00"}]},
    }
    response = await client.put("/api/v1/business-hours", json=unordered, headers=tenant_a.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["always_open"] is False
    assert body["weekly"] == {"mon": [{"opens": "09:00", "closes": "13:00"}, {"opens": "14:00", "closes": "18:00"}]}
    assert body["holidays"] == ["2026-12-31", "2027-01-01"]
    hours = BusinessHours.from_stored({"weekly": body["weekly"], "holidays": body["holidays"]}, "Europe/Moscow")
    assert hours is not None
    now = datetime.now(UTC)
    if hours.is_open(now):  # on a Monday in working hours: open now, "next" is now
        assert body["open_now"] and abs(_time(body["next_opening"]) - now) < timedelta(minutes=1)
    else:
        assert not body["open_now"] and _time(body["next_opening"]) == hours.next_opening(now)
    assert (await client.get("/api/v1/business-hours", headers=tenant_a.headers)).json()["weekly"] == body["weekly"]
    removed = await client.delete("/api/v1/business-hours", headers=tenant_a.headers)
    assert removed.status_code == 200 and removed.json()["always_open"] is True


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ({"weekly": {"mon": [{"opens": "13:00", "closes": "09:00"}]}}, "must be after"),
        (
            {"weekly": {"mon": [{"opens": "09:00", "closes": "13:00"}, {"opens": "12:00", "closes": "18:00"}]}},
            "overlap",
        ),
        ({"weekly": {"mon": [{"opens": "25:00", "closes": "26:00"}]}}, "opens"),
        ({"weekly": {"someday": [{"opens": "09:00", "closes": "10:00"}]}}, "weekly"),
        ({"weekly": {}}, "no working period"),
        ({"weekly": {"mon": [{"opens": "09:00", "closes": "10:00"}]}, "holidays": ["31.12.2026"]}, "holidays"),
        ({"weekly": {"mon": [{"opens": "09:00\u0000", "closes": "10:00"}]}}, "opens"),
        ({"weekly": {"mon": [{"opens": "09:00", "closes": "10:00"}] * 7}}, "mon"),
    ],
)
async def test_bad_business_hours_are_422_and_keep_what_was_set(
    client: httpx.AsyncClient, tenant_a: TenantFixture, body: dict[str, Any], complaint: str
) -> None:
    assert (await client.put("/api/v1/business-hours", json=SALON, headers=tenant_a.headers)).status_code == 200
    response = await client.put("/api/v1/business-hours", json=body, headers=tenant_a.headers)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert complaint in response.text
    assert (await client.get("/api/v1/business-hours", headers=tenant_a.headers)).json()["holidays"] == SALON[
        "holidays"
    ]


async def test_business_hours_belong_to_their_tenant_and_only_admins_set_them(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, tenant_b: TenantFixture
) -> None:
    assert (await client.put("/api/v1/business-hours", json=SALON, headers=tenant_a.headers)).status_code == 200
    assert (await client.get("/api/v1/business-hours", headers=tenant_b.headers)).json()["always_open"] is True
    operator = {"Authorization": f"Bearer {await make_key(database, tenant_a, Role.operator)}"}
    assert (await client.get("/api/v1/business-hours", headers=operator)).status_code == 200
    assert (await client.put("/api/v1/business-hours", json=SALON, headers=operator)).status_code == 403
    assert (await client.delete("/api/v1/business-hours", headers=operator)).status_code == 403


async def test_a_customer_handed_over_after_hours_is_told_when_people_are_back(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    # Open only two days from now, 10:00-11:00 in the tenant's time zone: closed whatever the time of the run.
    now = datetime.now(MOSCOW)
    opens_on = now.date() + timedelta(days=2)
    hours = {"weekly": {WEEKDAYS[opens_on.weekday()]: [{"opens": "10:00", "closes": "11:00"}]}}
    assert (await client.put("/api/v1/business-hours", json=hours, headers=tenant_a.headers)).status_code == 200
    conversation_id = await handed_off(client, tenant_a, runtime, "Позовите оператора, пожалуйста")
    notice = (await messages(client, tenant_a, conversation_id))[-1]["text"]
    back = when_back(datetime.combine(opens_on, datetime.min.time().replace(hour=10), MOSCOW), now, "ru")
    assert "Сейчас мы не работаем" in notice and back in notice, notice


# SLA policies


async def _policy(client: httpx.AsyncClient, tenant: TenantFixture, **fields: object) -> dict[str, Any]:
    body = {"name": "Обычные обращения", "business_hours_only": False, **fields}
    response = await client.post("/api/v1/sla-policies", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def _check_at(database: Database, tenant: TenantFixture, conversation_id: str, now: datetime) -> list[str]:
    """The SLA check of the conversation, as its job would run at `now`; the targets newly missed."""
    async with database.tenant_transaction(tenant.id) as session:
        found = await ConversationRepository(session).get_for_update(uuid.UUID(conversation_id))
        assert isinstance(found, Conversation)
        return [target.value for target in await SlaClock(session, tenant.id).check(found, now)]


async def _staff_events(database: Database, tenant: TenantFixture, kind: str) -> list[dict[str, Any]]:
    async with database.tenant_transaction(tenant.id) as session:
        rows = await session.execute(
            text("SELECT payload FROM staff_events WHERE tenant_id = :t AND kind = :k ORDER BY seq"),
            {"t": tenant.id, "k": kind},
        )
        return [row[0] for row in rows]


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_a_missed_first_response_is_reported_once_and_the_conversation_shows_it(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    policy = await _policy(client, tenant_a, first_response_minutes=5, resolution_minutes=60)
    conversation_id = await handed_off(client, tenant_a, runtime, "Хочу поговорить с человеком")
    sla = (await conversation(client, tenant_a, conversation_id))["sla"]
    started = _time(sla["started_at"])
    assert (sla["policy_id"], sla["status"], sla["breaches"]) == (policy["id"], "active", [])
    assert _time(sla["first_response_due_at"]) == started + timedelta(minutes=5)
    assert _time(sla["resolution_due_at"]) == started + timedelta(minutes=60)
    async with database.tenant_transaction(tenant_a.id) as session:
        scheduled = await session.execute(
            text(
                "SELECT scheduled_at FROM procrastinate_jobs WHERE task_name = :task AND args->>'conversation_id' = :c"
            ),
            {"task": CHECK_SLA_JOB, "c": conversation_id},
        )
        # The check of the first deadline waits for it (a second later), instead of a sweep minutes later.
        assert [row[0] for row in scheduled] == [started + timedelta(minutes=5, seconds=1)]

    assert await _check_at(database, tenant_a, conversation_id, started + timedelta(minutes=4)) == []
    assert await _check_at(database, tenant_a, conversation_id, started + timedelta(minutes=5)) == ["first_response"]
    assert await _check_at(database, tenant_a, conversation_id, started + timedelta(minutes=6)) == []
    sla = (await conversation(client, tenant_a, conversation_id))["sla"]
    assert (sla["status"], sla["breaches"]) == ("missed", ["first_response"])
    breached = await _staff_events(database, tenant_a, "sla.breached")
    assert [(e["conversation_id"], e["target"]) for e in breached] == [(conversation_id, "first_response")]
    assert [e["kind"] for e in await events(client, tenant_a, conversation_id)][-1] == "sla_breached"


async def test_answered_and_resolved_in_time_is_met(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    await _policy(client, tenant_a, first_response_minutes=5, next_response_minutes=10, resolution_minutes=60)
    anna = await sign_in(client, database, tenant_a)
    conversation_id = await handed_off(client, tenant_a, runtime, "Позовите оператора")
    assert (await send_as_staff(client, anna.headers, conversation_id, "Здравствуйте, я Анна")).status_code == 201
    sla = (await conversation(client, tenant_a, conversation_id))["sla"]
    assert sla["first_response_at"] is not None and sla["next_response_due_at"] is None
    assert (await patch(client, anna.headers, conversation_id, status="resolved")).status_code == 200
    sla = (await conversation(client, tenant_a, conversation_id))["sla"]
    assert (sla["status"], sla["breaches"]) == ("met", [])
    assert await _check_at(database, tenant_a, conversation_id, datetime.now(UTC) + timedelta(days=3)) == []


async def test_a_customer_waiting_again_starts_the_next_response_clock(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    await _policy(client, tenant_a, first_response_minutes=5, next_response_minutes=10)
    anna = await sign_in(client, database, tenant_a)
    conversation_id = await handed_off(client, tenant_a, runtime, "Позовите оператора")
    await send_as_staff(client, anna.headers, conversation_id, "Слушаю вас")
    await customer_writes(client, tenant_a, "Сколько стоит окрашивание?")
    await run_queued_jobs(runtime)  # the reply job finds a person holds it, and asks for an SLA check
    sla = (await conversation(client, tenant_a, conversation_id))["sla"]
    asked = _time((await messages(client, tenant_a, conversation_id))[-1]["created_at"])
    assert _time(sla["next_response_due_at"]) == asked + timedelta(minutes=10)
    assert await _check_at(database, tenant_a, conversation_id, asked + timedelta(minutes=11)) == ["next_response"]
    await send_as_staff(client, anna.headers, conversation_id, "2500 ₽")
    sla = (await conversation(client, tenant_a, conversation_id))["sla"]
    assert (sla["status"], sla["next_response_due_at"], sla["breaches"]) == ("missed", None, ["next_response"])
    await patch(client, anna.headers, conversation_id, status="resolved")
    assert (await conversation(client, tenant_a, conversation_id))["sla"]["status"] == "missed"


async def test_deadlines_count_the_tenants_business_hours(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    assert (await client.put("/api/v1/business-hours", json=SALON, headers=tenant_a.headers)).status_code == 200
    await _policy(client, tenant_a, first_response_minutes=90, business_hours_only=True)
    conversation_id = await handed_off(client, tenant_a, runtime, "Позовите оператора")
    sla = (await conversation(client, tenant_a, conversation_id))["sla"]
    started = _time(sla["started_at"])
    assert _time(sla["first_response_due_at"]) == salon_hours().add(started, timedelta(minutes=90))


async def test_the_team_policy_comes_before_a_label_policy_before_the_general_one(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    team = await client.post("/api/v1/teams", json={"name": "Туры"}, headers=tenant_a.headers)
    general = await _policy(client, tenant_a, name="Все", first_response_minutes=60)
    vip = await _policy(client, tenant_a, name="VIP", first_response_minutes=5, label="vip")
    tours = await _policy(client, tenant_a, name="Туры", first_response_minutes=15, team_id=team.json()["id"])
    anna = await sign_in(client, database, tenant_a)

    async def policy_after_handoff(contact: str, **changes: object) -> str:
        accepted = await customer_writes(client, tenant_a, "Здравствуйте", contact=contact)
        await run_queued_jobs(runtime)
        if changes:
            assert (await patch(client, anna.headers, accepted["conversation_id"], **changes)).status_code == 200
        await customer_writes(client, tenant_a, "Позовите оператора", contact=contact)
        await run_queued_jobs(runtime)
        sla = (await conversation(client, tenant_a, accepted["conversation_id"]))["sla"]
        return str(sla["policy_id"])

    assert await policy_after_handoff("plain") == general["id"]
    assert await policy_after_handoff("vip", labels=["vip"]) == vip["id"]
    assert await policy_after_handoff("both", labels=["vip"], team_id=team.json()["id"]) == tours["id"]


async def test_the_minute_sweep_catches_a_deadline_whose_check_did_not_run(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    await _policy(client, tenant_a, first_response_minutes=5)
    conversation_id = await handed_off(client, tenant_a, runtime, "Позовите оператора")
    assert await sweep_due(runtime) == 0
    async with database.tenant_transaction(tenant_a.id) as session:
        await session.execute(
            text(
                "UPDATE conversations SET sla_started_at = sla_started_at - interval '10 minutes',"
                " sla_next_check_at = now() - interval '5 minutes' WHERE id = :id"
            ),
            {"id": conversation_id},
        )
    assert await sweep_due(runtime) == 1
    assert (await conversation(client, tenant_a, conversation_id))["sla"]["breaches"] == ["first_response"]
    assert await sweep_due(runtime) == 0


async def test_a_conversation_without_a_matching_policy_has_no_sla(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    await _policy(client, tenant_a, first_response_minutes=5, label="vip")
    conversation_id = await handed_off(client, tenant_a, runtime, "Позовите оператора")
    assert (await conversation(client, tenant_a, conversation_id))["sla"] is None


async def test_sla_policies_are_managed_by_admins_and_checked(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture
) -> None:
    created = await _policy(client, tenant_a, first_response_minutes=30)
    changed = await client.patch(
        f"/api/v1/sla-policies/{created['id']}", json={"resolution_minutes": 480}, headers=tenant_a.headers
    )
    assert changed.status_code == 200 and changed.json()["resolution_minutes"] == 480
    listed = (await client.get("/api/v1/sla-policies", headers=tenant_a.headers)).json()
    assert [p["id"] for p in listed] == [created["id"]]
    emptied = await client.patch(
        f"/api/v1/sla-policies/{created['id']}",
        json={"first_response_minutes": None, "resolution_minutes": None},
        headers=tenant_a.headers,
    )
    assert emptied.status_code == 422
    team = (await client.post("/api/v1/teams", json={"name": "Продажи"}, headers=tenant_a.headers)).json()
    for_team = await client.patch(
        f"/api/v1/sla-policies/{created['id']}", json={"team_id": team["id"]}, headers=tenant_a.headers
    )
    assert for_team.status_code == 200
    both = await client.patch(f"/api/v1/sla-policies/{created['id']}", json={"label": "vip"}, headers=tenant_a.headers)
    assert both.status_code == 422 and "not both" in both.text
    read = (await client.get(f"/api/v1/sla-policies/{created['id']}", headers=tenant_a.headers)).json()
    assert (read["first_response_minutes"], read["team_id"], read["label"]) == (30, team["id"], None)
    operator = {"Authorization": f"Bearer {await make_key(database, tenant_a, Role.operator)}"}
    assert (
        await client.post("/api/v1/sla-policies", json={"name": "x", "first_response_minutes": 1}, headers=operator)
    ).status_code == 403
    assert (await client.delete(f"/api/v1/sla-policies/{created['id']}", headers=tenant_a.headers)).status_code == 204
    assert (await client.get(f"/api/v1/sla-policies/{created['id']}", headers=tenant_a.headers)).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Без целей"},
        {"name": "x", "first_response_minutes": 0},
        {"name": "x", "first_response_minutes": 10**19},
        {"name": "x\u0000", "first_response_minutes": 5},
        {"name": "x", "first_response_minutes": 5, "team_id": str(uuid.uuid4())},
        {"name": "x", "first_response_minutes": 5, "label": ""},
        {"name": "x", "first_response_minutes": 5, "label": "vip", "team_id": str(uuid.uuid4())},
        {"name": "x", "first_response_minutes": 5, "colour": "red"},
    ],
)
async def test_bad_sla_policies_are_422(client: httpx.AsyncClient, tenant_a: TenantFixture, body: dict) -> None:
    response = await client.post("/api/v1/sla-policies", json=body, headers=tenant_a.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (await client.get("/api/v1/sla-policies", headers=tenant_a.headers)).json() == []


async def test_another_tenants_sla_policies_are_404_and_never_apply(
    client: httpx.AsyncClient, tenant_a: TenantFixture, tenant_b: TenantFixture, runtime: Runtime
) -> None:
    policy = await _policy(client, tenant_a, first_response_minutes=5)
    path = f"/api/v1/sla-policies/{policy['id']}"
    assert (await client.get(path, headers=tenant_b.headers)).status_code == 404
    assert (await client.patch(path, json={"name": "мой"}, headers=tenant_b.headers)).status_code == 404
    assert (await client.delete(path, headers=tenant_b.headers)).status_code == 404
    assert (await client.get("/api/v1/sla-policies", headers=tenant_b.headers)).json() == []
    conversation_id = await handed_off(client, tenant_b, runtime, "Позовите оператора")
    assert (await conversation(client, tenant_b, conversation_id))["sla"] is None
    assert (await client.get(path, headers=tenant_a.headers)).json()["name"] == policy["name"]


async def test_no_check_waiting_for_a_deadline_holds_the_conversations_jobs(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    """procrastinate runs no job while an earlier one of the same lock waits, even one scheduled for later: a
    check waiting for its deadline under the conversation's lock would hold up its routing and replies."""
    await _policy(client, tenant_a, first_response_minutes=30, next_response_minutes=30, resolution_minutes=600)
    anna = await sign_in(client, database, tenant_a)
    conversation_id = await handed_off(client, tenant_a, runtime, "Позовите оператора")
    await send_as_staff(client, anna.headers, conversation_id, "Слушаю")
    await customer_writes(client, tenant_a, "Хочу перенести запись")
    await run_queued_jobs(runtime)
    async with database.tenant_transaction(tenant_a.id) as session:
        jobs = await session.execute(
            text(
                "SELECT task_name, lock, scheduled_at > now() FROM procrastinate_jobs"
                " WHERE status = 'todo' AND args->>'conversation_id' = :c"
            ),
            {"c": conversation_id},
        )
        waiting = jobs.all()
    assert {row[0] for row in waiting} == {CHECK_SLA_JOB}  # the deadlines' checks, waiting
    assert all(row[2] and row[1] is None for row in waiting), waiting


async def test_a_next_response_made_late_before_its_check_ran_is_missed(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    await _policy(client, tenant_a, first_response_minutes=5, next_response_minutes=10)
    anna = await sign_in(client, database, tenant_a)
    conversation_id = await handed_off(client, tenant_a, runtime, "Позовите оператора")
    await send_as_staff(client, anna.headers, conversation_id, "Слушаю")
    asked = await customer_writes(client, tenant_a, "Сколько стоит маникюр?")
    async with database.tenant_transaction(tenant_a.id) as session:
        await session.execute(
            text("UPDATE messages SET created_at = now() - interval '11 minutes' WHERE id = :id"),
            {"id": asked["message_id"]},
        )
    await send_as_staff(client, anna.headers, conversation_id, "1800 ₽")  # before any check ran
    sla = (await conversation(client, tenant_a, conversation_id))["sla"]
    assert (sla["status"], sla["breaches"]) == ("missed", ["next_response"])


async def test_a_conversation_the_customer_reopens_gets_a_new_clock(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    await _policy(client, tenant_a, first_response_minutes=5)
    anna = await sign_in(client, database, tenant_a)
    conversation_id = await handed_off(client, tenant_a, runtime, "Позовите оператора")
    await send_as_staff(client, anna.headers, conversation_id, "Слушаю")
    await patch(client, anna.headers, conversation_id, status="resolved")
    ended = (await conversation(client, tenant_a, conversation_id))["sla"]
    assert ended["status"] == "met"
    reopened = await customer_writes(client, tenant_a, "Ой, забыла спросить про парковку")
    await run_queued_jobs(runtime)
    assert reopened["conversation_id"] == conversation_id
    found = await conversation(client, tenant_a, conversation_id)
    assert found["status"] == "pending"
    assert found["sla"]["status"] == "active" and found["sla"]["started_at"] > ended["started_at"]
    assert found["sla"]["first_response_at"] is None
