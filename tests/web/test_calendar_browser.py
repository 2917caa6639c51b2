"""The calendar in a real browser (headless Chromium via Playwright) against `easyflow serve`: an operator books
from an empty half hour through the form, drags the appointment to another time (and into the lunch break,
refused with the server's Russian message and put back), and sees a colleague's booking appear without a
reload; the calendar and the form pass the accessibility check and fit a phone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from playwright.sync_api import expect

from tests.web.browser import BROWSER, SECONDS, Dashboard, assert_accessible, expect_refusal, screenshots, sign_in

pytestmark = BROWSER

MOSCOW = ZoneInfo("Europe/Moscow")  # a new workspace's zone
HOURS = [
    {"weekday": weekday, "start": "10:00", "end": "19:00", "breaks": [{"start": "14:00", "end": "15:00"}]}
    for weekday in range(7)
]


def instant(day: date, clock: str) -> datetime:
    hour, minute = (int(part) for part in clock.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=MOSCOW).astimezone(UTC)


def drag(page: Any, item: Any, target: Any) -> None:
    """Press on the appointment, move to the target half hour in small steps, let go."""
    start, goal = item.locator(".appointment-customer").bounding_box(), target.bounding_box()
    x, y = start["x"] + start["width"] / 2, start["y"] + start["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 10, y + 10, steps=5)
    page.mouse.move(goal["x"] + goal["width"] / 2, goal["y"] + goal["height"] / 2, steps=25)
    page.mouse.up()


def test_an_operator_books_drags_and_sees_a_colleagues_booking_live(page: Any, dashboard: Dashboard) -> None:
    owner = dashboard.new_owner()
    api = httpx.Client(base_url=dashboard.base, headers=owner.headers, timeout=10)
    service = api.post("/api/v1/services", json={"name": "Маникюр", "duration_minutes": 60, "price": "2000"}).json()
    staff = api.post(
        "/api/v1/staff", json={"name": "Айгерим", "services": [service["id"]], "working_hours": HOURS}
    ).json()
    day = (datetime.now(UTC) + timedelta(days=7)).astimezone(MOSCOW).date()

    sign_in(page, dashboard, owner)
    page.get_by_role("link", name="Календарь").click()
    expect(page.locator("h1")).to_have_text("Календарь", timeout=SECONDS)
    page.goto(dashboard.url(f"/app/calendar?day={day.isoformat()}"))
    expect(page.locator("body")).to_have_attribute("data-live", "connected", timeout=SECONDS)
    column = page.locator(f"[data-staff-id='{staff['id']}']")

    def slot(clock: str) -> Any:
        return column.locator(f"[data-slot][data-start='{instant(day, clock).isoformat()}']")

    # Booking from the empty 10:00 half hour: the form comes with the member and the time filled in.
    column.get_by_role("link", name="Записать на 10:00").click()
    expect(page.locator("#appointment-start")).to_have_value(f"{day.isoformat()}T10:00", timeout=SECONDS)
    assert_accessible(page)
    screenshots(page, "calendar-new")
    page.locator("#appointment-name").fill("Гульнара")
    page.locator("#appointment-phone").fill("+996 700 123 456")
    page.get_by_role("button", name="Записать").click()
    booked = slot("10:00").locator("[data-appointment-id]")
    expect(booked).to_contain_text("Гульнара", timeout=SECONDS)
    expect(booked).to_contain_text("10:00–11:00 · Маникюр")
    (made,) = api.get("/api/v1/appointments", params={"day": day.isoformat()}).json()["items"]
    assert made["source"] == "dashboard" and made["staff_id"] == staff["id"]
    assert_accessible(page)
    screenshots(page, "calendar")

    # Dragged to 12:00: moved, and shown there with its new times.
    expect(page.locator("body")).to_have_attribute("data-live", "connected", timeout=SECONDS)
    drag(page, booked, slot("12:00"))
    expect(slot("12:00").locator(f"[data-appointment-id='{made['id']}']")).to_contain_text(
        "12:00–13:00", timeout=SECONDS
    )
    expect(slot("10:00").locator("[data-appointment-id]")).to_have_count(0)
    moved = api.get(f"/api/v1/appointments/{made['id']}").json()
    assert datetime.fromisoformat(moved["start"]) == instant(day, "12:00")

    # Into the lunch break: refused, put back, and the page says why in Russian.
    expect_refusal(page, f"/app/calendar/appointments/{made['id']}/move")
    drag(page, slot("12:00").locator("[data-appointment-id]"), slot("14:00"))
    expect(page.locator("#calendar-status")).to_contain_text("вне рабочих часов", timeout=SECONDS)
    expect(slot("12:00").locator(f"[data-appointment-id='{made['id']}']")).to_be_visible()
    assert api.get(f"/api/v1/appointments/{made['id']}").json()["start"] == moved["start"]

    # A colleague books 16:00 (here through the API): it appears without a reload, then their cancellation.
    other = api.post(
        "/api/v1/appointments",
        json={
            "service_id": service["id"],
            "staff_id": staff["id"],
            "start": instant(day, "16:00").isoformat(),
            "contact": {"name": "Дина", "phone": "+79161234567"},
        },
    )
    assert other.status_code == 201, other.text
    expect(slot("16:00").locator(f"[data-appointment-id='{other.json()['id']}']")).to_contain_text(
        "Дина", timeout=SECONDS
    )
    cancelled = api.patch(f"/api/v1/appointments/{other.json()['id']}", json={"status": "cancelled"})
    assert cancelled.status_code == 200, cancelled.text
    expect(slot("16:00").locator("[data-appointment-id]")).to_have_count(0, timeout=SECONDS)

    # The appointment's page: its "Move" form is the way without a mouse.
    page.goto(dashboard.url(f"/app/calendar/appointments/{made['id']}"))
    page.locator("#move-start").fill(f"{day.isoformat()}T17:00")
    page.locator("#move-start").press("Enter")
    expect(page.locator("dd").first).to_contain_text("17:00–18:00", timeout=SECONDS)
    assert_accessible(page)
    screenshots(page, "calendar-appointment")
    api.close()
